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


class Harness:
    """One run of the W3C harness in the background: started at once, read when its test asks."""

    def __init__(self, engine: str, name: str, out_dir: Path, *extra):
        self.name, self.out = name, out_dir / f"results-{name}.txt"
        self.process = subprocess.Popen(
            [sys.executable, str(HARNESS), "--engine", engine, "--out", str(self.out), "-q",
             "--known-failures", str(RECORDED / f"known-failures-{name}.txt"), "--strict", *extra],
            stdout=open(out_dir / f"stdout-{name}.txt", "w"), stderr=subprocess.STDOUT, text=True)
        self.said = out_dir / f"stdout-{name}.txt"

    def result(self) -> tuple[int, int, str]:
        """(passed, exit status, the failures not recorded as known)."""
        self.process.wait(timeout=1200)
        last = [line for line in self.said.read_text().splitlines() if " passed, " in line][-1]
        passed, failed = (int(part.split()[0]) for part in last.split(",")[:2])
        unexpected = [line for line in self.out.read_text().splitlines() if line.startswith(("FAIL", "ERROR"))]
        known = set((RECORDED / f"known-failures-{self.name}.txt").read_text().split())
        surprises = [line[:300] for line in unexpected if line.split("\t")[2] not in known]
        return passed, self.process.returncode, "\n".join(surprises)


def expected(name: str) -> int:
    return json.loads((RECORDED / "expected.json").read_text())[name]["passed"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Both runs of the suite at once (the live one mostly waits on its server, the other on process starts):
    together they take about as long as the longer one alone."""
    tmp_path = tmp_path_factory.mktemp("conformance")
    port, token = free_port(), secrets.token_hex(16)
    base = f"http://127.0.0.1:{port}/"
    server = subprocess.Popen(
        [str(IJDP), "serve", "--port", str(port), "--store", str(tmp_path / "store"), "--admin-token", token,
         "--no-union-default-graph"],
        stdout=open(tmp_path / "server.log", "wb"), stderr=subprocess.STDOUT)
    try:
        wait_healthy(base, server)
        started = {
            "http": Harness(f"http:{base}sparql", "http", tmp_path,
                            "--update-url", f"{base}sparql/update", "--header", f"Authorization: Bearer {token}"),
            "cmd": Harness(f"cmd:{IJDP} query", "cmd", tmp_path),
        }
        yield started
        for harness in started.values():
            if harness.process.poll() is None:
                harness.process.kill()
    finally:
        stop(server)


def test_suite_through_ijdp_query(runs):
    passed, status, surprises = runs["cmd"].result()
    assert not surprises, surprises
    assert status == 0
    assert passed >= expected("cmd")


def test_suite_through_the_live_endpoint(runs):
    passed, status, surprises = runs["http"].result()
    assert not surprises, surprises
    assert status == 0
    assert passed >= expected("http")
