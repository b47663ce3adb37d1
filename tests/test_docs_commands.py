"""Every shell command the README and docs/ show, run as written.

The commands run from a folder laid out like the checkout (with ../shared beside it) on a copy of data/, so
that `ijdp accept-links` changes the copy; `ijdp` is the project's own (.venv/bin first on PATH); a command
that names the local server reaches a live one. Output the docs show (a plain block after the command, or
`# ` lines after it in its block) must be what the command prints.
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, SHARED
from test_live_server import free_port, stop, wait_healthy

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
# Commands that a test elsewhere runs the way the docs say, or that cannot run inside a test.
ELSEWHERE = {
    "make serve": "tests/test_site_live.py starts the server as the Makefile does (from the checkout, relative --dist)",
    "make test": "this suite is `make test`",
}
LOCAL_SERVER = "http://127.0.0.1:8000"


def shell_blocks(path: Path):
    """(lang, text, the plain block right after it or None) for each fenced block of path."""
    blocks = list(re.finditer(r"^```(\w*)\n(.*?)^```", path.read_text(encoding="utf-8"), re.S | re.M))
    for index, block in enumerate(blocks):
        if block.group(1) in ("sh", "bash"):
            after = blocks[index + 1] if index + 1 < len(blocks) else None
            follows = after is not None and after.group(1) == "" and after.start() - block.end() < 40
            yield block.group(2), after.group(2) if follows else None


def commands(text: str):
    """(command, the `# ` lines that follow it as its output) for each command of a block.

    A command goes on over lines while it ends with a backslash or a quote is open (a query spelled out).
    """
    found, pending = [], ""
    for line in text.splitlines():
        if not pending and line.startswith("#"):
            if found and found[-1][0].startswith("ijdp ") and not line.rstrip().endswith(":"):
                found[-1][1].append(line[1:].strip())
            continue
        if not pending and not line.strip():
            continue
        pending = f"{pending}\n{line}" if pending else line.strip()
        if pending.endswith("\\"):
            pending = pending[:-1].rstrip() + " "
            continue
        try:
            shlex.split(pending, comments=True)
        except ValueError:
            continue    # a quote is still open
        found.append((pending, []))
        pending = ""
    return found


def every_command():
    for path in DOCS:
        for text, output in shell_blocks(path):
            for command, said in commands(text):
                yield path, command, said or (output.strip().splitlines() if output else [])


ALL = list(every_command())


def test_the_docs_show_commands():
    names = {path.name for path, _, _ in ALL}
    assert {"README.md", "linking.md", "federation.md"} <= names
    assert any(c.startswith("curl ") for _, c, _ in ALL) and any(c.startswith("ijdp link") for _, c, _ in ALL)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A folder laid out like the checkout: main/ (the working directory) beside shared/, and a copy of data/."""
    root = tmp_path_factory.mktemp("docs")
    (root / "main").mkdir()
    (root / "shared").symlink_to(SHARED)
    shutil.copytree(REPO / "data", root / "data")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "IJDP_DATA_DIR": str(root / "data")}
    return root / "main", env


@pytest.fixture(scope="module")
def local_server(dist, tmp_path_factory):
    port = free_port()
    log = tmp_path_factory.mktemp("docs-server") / "server.log"
    process = subprocess.Popen([str(Path(sys.executable).with_name("ijdp")), "serve", "--port", str(port),
                                "--dist", str(dist)], stdout=open(log, "wb"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    wait_healthy(base + "/", process)
    yield base
    stop(process)


def run(command: str, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(shlex.split(command, comments=True), cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.live
def test_every_command_of_the_docs_runs_as_written(workdir, local_server, request):
    """In the docs' order (later commands read what earlier ones wrote), each exits 0 and prints what is shown."""
    cwd, env = workdir
    ran = []
    for path, command, shown in ALL:
        if shlex.join(shlex.split(command, comments=True)) in ELSEWHERE:
            continue
        if command.startswith("ijdp serve"):
            # Allow-listed endpoints on the internet: the server must start with these options as written
            # (on a free port; no query is sent, so nothing leaves the machine).
            port = free_port()
            server = subprocess.Popen(shlex.split(command, comments=True) + ["--port", str(port), "--dist",
                                                              str(request.getfixturevalue("dist"))],
                                      cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            try:
                wait_healthy(f"http://127.0.0.1:{port}/", server)
            finally:
                stop(server)
            ran.append(command)
            continue
        done = run(command.replace(LOCAL_SERVER, local_server), cwd, env)
        assert done.returncode == 0, f"{path.name}: {command}\n{done.stderr[-2000:]}"
        printed = [line.strip() for line in (done.stdout + done.stderr).splitlines()]
        for line in shown:
            assert line.strip() in printed, f"{path.name}: {command} did not print {line!r}:\n{done.stdout[-2000:]}"
        ran.append(command)
    assert len(ran) >= 7, ran
