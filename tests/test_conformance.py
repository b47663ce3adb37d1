"""The W3C SPARQL 1.1 suite through `ijdp query` and through the live /sparql endpoint.

Fails on any test that is not in the recorded known failures, and on any drop
of the pass count below the recorded one (tests/conformance/expected.json).
"""
import json
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SHARED, TESTS
from test_live_server import free_port, stop, wait_healthy

pytestmark = pytest.mark.conformance

HARNESS = SHARED / "conformance" / "run_sparql11.py"
RECORDED = TESTS / "conformance"
IJDP = Path(sys.executable).with_name("ijdp")

if not HARNESS.exists():
    pytest.skip(f"the W3C harness is not at {HARNESS} (../shared beside the checkout)", allow_module_level=True)


def run_harness(engine: str, name: str, out_dir: Path, *extra) -> tuple[int, int, str]:
    out = out_dir / f"results-{name}.txt"
    completed = subprocess.run(
        [sys.executable, str(HARNESS), "--engine", engine, "--out", str(out), "-q",
         "--known-failures", str(RECORDED / f"known-failures-{name}.txt"), "--strict", *extra],
        capture_output=True, text=True, timeout=1200)
    last = completed.stdout.strip().splitlines()[-1]
    passed, failed = (int(part.split()[0]) for part in last.split(",")[:2])
    unexpected = [line for line in out.read_text().splitlines() if line.startswith(("FAIL", "ERROR"))]
    known = set((RECORDED / f"known-failures-{name}.txt").read_text().split())
    surprises = [line[:300] for line in unexpected if line.split("\t")[2] not in known]
    return passed, completed.returncode, "\n".join(surprises)


def expected(name: str) -> int:
    return json.loads((RECORDED / "expected.json").read_text())[name]["passed"]


def test_suite_through_ijdp_query(tmp_path):
    passed, status, surprises = run_harness(f"cmd:{IJDP} query", "cmd", tmp_path)
    assert not surprises, surprises
    assert status == 0
    assert passed >= expected("cmd")


def test_suite_through_the_live_endpoint(tmp_path):
    port, token = free_port(), secrets.token_hex(16)
    base = f"http://127.0.0.1:{port}/"
    server = subprocess.Popen(
        [str(IJDP), "serve", "--port", str(port), "--store", str(tmp_path / "store"), "--admin-token", token,
         "--no-union-default-graph"],
        stdout=open(tmp_path / "server.log", "wb"), stderr=subprocess.STDOUT)
    try:
        wait_healthy(base, server)
        passed, status, surprises = run_harness(
            f"http:{base}sparql", "http", tmp_path,
            "--update-url", f"{base}sparql/update", "--header", f"Authorization: Bearer {token}")
    finally:
        stop(server)
    assert not surprises, surprises
    assert status == 0
    assert passed >= expected("http")
