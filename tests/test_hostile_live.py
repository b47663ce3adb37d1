"""Hostile input against a live `ijdp serve`: framing, sizes, slow clients, runaways, signals, damaged dumps.

Raw sockets on 127.0.0.1, because what is tested here is what an HTTP client
library would never send.
"""
from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from test_live_server import RUNAWAY, free_port, start_server, stop

pytestmark = pytest.mark.live
IJDP = Path(sys.executable).with_name("ijdp")


@pytest.fixture(scope="module")
def server(dist, tmp_path_factory):
    log = tmp_path_factory.mktemp("hostile") / "server.log"
    process, base = start_server(dist, "--query-timeout", "5", log_path=log)
    yield base
    stop(process)


def exchange(base: str, raw: bytes, timeout: float = 20) -> tuple[int, dict, bytes]:
    """Send raw bytes, read until the server closes or one whole answer has arrived."""
    port = urllib.parse.urlsplit(base).port
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as connection:
        try:
            connection.sendall(raw)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before reading everything
        data = b""
        while True:
            try:
                chunk = connection.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            length = [line.split(b":", 1)[1].strip() for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:")]
            if length and len(body) >= int(length[0]):
                break
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:] if ":" in line)}
    return int(lines[0].split()[1]), headers, body


def assert_problem(status, headers, body, expected):
    assert status == expected, body[:300]
    assert headers["content-type"].startswith("application/problem+json")
    assert json.loads(body)["status"] == expected


def chunked(payload: bytes, size: int = 4096) -> bytes:
    parts = [b"%x\r\n%s\r\n" % (len(payload[i:i + size]), payload[i:i + size]) for i in range(0, len(payload), size)]
    return b"".join(parts) + b"0\r\n\r\n"


def test_a_chunked_body_counts_toward_the_size_limit(server):
    query = b"SELECT * WHERE { ?s ?p ?o } " + b"#" * 1_100_000 + b"\nLIMIT 1"
    request = (b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: application/sparql-query\r\n"
               b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + chunked(query))
    assert_problem(*exchange(server, request), 413)


def test_a_chunked_body_under_the_limit_is_read_whole(server):
    query = b"SELECT * WHERE { ?s ?p ?o } " + b"#" * 200_000 + b"\nLIMIT 1"
    request = (b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: application/sparql-query\r\n"
               b"Accept: application/sparql-results+json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
               + chunked(query))
    status, _, body = exchange(server, request)
    assert status == 200
    assert len(json.loads(body)["results"]["bindings"]) == 1   # the LIMIT past the first chunks was kept


@pytest.mark.parametrize("name,raw,expected", [
    ("url too long", b"GET /sparql?query=" + b"A" * 20_000 + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 414),
    ("url past the header limit", b"GET /sparql?query=" + b"A" * 70_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 431),
    ("headers too large", b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-Big: " + b"b" * 70_000 + b"\r\n\r\n", 431),
    ("body too large", b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: application/sparql-query\r\n"
                       b"Content-Length: 2000000\r\n\r\n" + b"x" * 10, 413),
    ("malformed chunk", b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: application/sparql-query\r\n"
                        b"Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", 400),
    ("malformed header line", b"GET /healthz HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n", 400),
    ("bad content length", b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n", 400),
])
def test_errors_of_the_http_layer_are_problems_too(server, name, raw, expected):
    assert_problem(*exchange(server, raw), expected)


def test_head_on_a_query_answers_like_get(server):
    request = urllib.request.Request(server + "sparql?query=ASK%20%7B%7D", method="HEAD")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200 and response.read() == b""
        assert response.headers["Content-Type"].startswith("application/sparql-results+json")


def timed_get(url: str, timeout: float = 10) -> tuple[float, int]:
    started = time.monotonic()
    with urllib.request.urlopen(url, timeout=timeout) as response:
        response.read()
        return time.monotonic() - started, response.status


def test_64_trickling_clients_starve_no_one(server):
    port = urllib.parse.urlsplit(server).port
    stop_event = threading.Event()
    sockets = []
    for _ in range(64):   # from another address than the victim's: one address may hold only 64 connections
        connection = socket.create_connection(("127.0.0.1", port), timeout=5, source_address=("127.0.0.3", 0))
        sockets.append(connection)

    def trickle():
        message = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 1000
        for index in range(len(message)):
            if stop_event.is_set():
                return
            for connection in sockets:
                try:
                    connection.send(message[index:index + 1])
                except OSError:
                    pass
            time.sleep(0.05)
    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    try:
        time.sleep(1.0)
        for _ in range(5):
            elapsed, status = timed_get(server + "healthz")
            assert status == 200 and elapsed < 1.0, elapsed
            elapsed, status = timed_get(server + "sparql?query=ASK%20%7B%7D")
            assert status == 200 and elapsed < 1.0, elapsed
    finally:
        stop_event.set()
        thread.join(5)
        for connection in sockets:
            connection.close()


def test_20_runaway_queries_starve_no_one(server):
    import http.client
    results = []

    def runaway():
        # From another address (another client): a client's own queries over its share get 429.
        connection = http.client.HTTPConnection("127.0.0.1", urllib.parse.urlsplit(server).port, timeout=30,
                                                source_address=("127.0.0.2", 0))
        connection.request("GET", "/sparql?" + urllib.parse.urlencode({"query": RUNAWAY}))
        results.append(connection.getresponse().status)
        connection.close()
    threads = [threading.Thread(target=runaway, daemon=True) for _ in range(20)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1.5)   # all twenty are in flight
        for index in range(3):
            elapsed, status = timed_get(server + "healthz")
            assert status == 200 and elapsed < 1.0, elapsed
            ask = f"ASK {{ ?s ?p {index} }}"   # a different query each time: never from the cache
            elapsed, status = timed_get(server + "sparql?" + urllib.parse.urlencode({"query": ask}))
            assert status == 200 and elapsed < 1.0, elapsed
    finally:
        for thread in threads:
            thread.join(40)
    # each runaway was stopped at the timeout, not left running; those over the client's share were refused at once
    assert 503 in results and set(results) <= {429, 503}


def test_an_idle_server_stops_within_a_second_of_sigterm(dist):
    process, base = start_server(dist)
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    process.wait(10)
    assert time.monotonic() - started < 1.0
    assert process.returncode == 0


def test_sigterm_lets_requests_in_flight_finish(dist):
    process, base = start_server(dist)
    outcome = {}
    slow = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . VALUES ?x { 1 2 3 4 } }"  # about 2 s of work

    def ask():
        try:
            outcome["status"] = timed_get(base + "sparql?" + urllib.parse.urlencode({"query": slow}), timeout=30)[1]
        except Exception as err:  # noqa: BLE001 - the test reports it
            outcome["error"] = err
    thread = threading.Thread(target=ask)
    thread.start()
    time.sleep(0.5)
    process.send_signal(signal.SIGTERM)
    thread.join(30)
    process.wait(20)
    assert outcome.get("status") == 200, outcome


@pytest.mark.parametrize("damage,expected", [
    (lambda data: data[:len(data) // 2] + b"\xff\xfe" + data[len(data) // 2:], "not UTF-8"),
    (lambda data: data.replace(b" .\n", b" \n", 1), "syntax error"),
    (lambda data: b"", "holds no statements"),
])
def test_a_damaged_or_empty_dump_stops_serve_with_file_and_line(dist, tmp_path, damage, expected):
    copy = tmp_path / "dist"
    shutil.copytree(dist, copy, ignore=shutil.ignore_patterns("stores"))
    dump = copy / "ijdp.nq"
    dump.write_bytes(damage(dump.read_bytes()))
    done = subprocess.run([str(IJDP), "serve", "--port", str(free_port()), "--dist", str(copy)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    message = done.stderr.strip().splitlines()[-1]
    assert message.startswith(f"ijdp: {dump}:") and expected in message, message
    assert "Traceback" not in done.stderr
