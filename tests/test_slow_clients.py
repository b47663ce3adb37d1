"""Clients that hold a lone `ijdp serve`: non-readers, pipeliners, tricklers, many connections, big HTML pages.

One server with small caps, so that the attacks are cheap: attackers bind to
127.0.1.x (one address each, so that no per-client share stops them first),
the victim to 127.0.0.2.
"""
from __future__ import annotations

import os
import resource
import select
import socket
import threading
import time
import urllib.parse

import pytest

from test_live_server import start_server, stop

pytestmark = pytest.mark.live

MIB = 1024 * 1024
TOTAL = 96 * MIB                 # --buffer-total-bytes
REQUEST_TIMEOUT = 3              # --request-timeout (seconds)
KEEPALIVE_TIMEOUT = 2            # --keepalive-timeout
SEND_TIMEOUT = 5                 # --send-timeout
# About 6 MB of SPARQL JSON, cached after its first run (so that attackers cost no query time).
LARGE = "SELECT ?a ?b ?c ?d ?e ?f WHERE { ?a ?b ?c . ?d ?e ?f } LIMIT 10000"
# About 20 MB: 10,000 rows of 2 KB strings.
HUGE = ("SELECT ?x WHERE { ?a ?b ?c . ?d ?e ?f BIND(CONCAT(STR(?a), STR(?b), STR(?c), STR(?d), STR(?e), STR(?f)) AS ?y) "
        "BIND(CONCAT(?y, ?y, ?y, ?y, ?y, ?y, ?y, ?y) AS ?x) } LIMIT 10000")


@pytest.fixture(scope="module")
def server(dist, tmp_path_factory):
    log = tmp_path_factory.mktemp("slow") / "server.log"
    process, base = start_server(dist, "--request-timeout", str(REQUEST_TIMEOUT), "--buffer-total-bytes", str(TOTAL),
                                 "--keepalive-timeout", str(KEEPALIVE_TIMEOUT), "--send-timeout", str(SEND_TIMEOUT),
                                 "--max-answer-bytes", str(24 * MIB), "--connection-buffer-bytes", str(48 * MIB),
                                 "--result-cache-bytes", str(256 * MIB), "--max-pipelined-requests", "4",
                                 log_path=log)
    yield process, urllib.parse.urlsplit(base).port
    stop(process)


def connect(port: int, source: str, timeout: float = 10) -> socket.socket:
    connection = socket.socket()
    connection.settimeout(timeout)
    connection.bind((source, 0))
    connection.connect(("127.0.0.1", port))
    return connection


def get(port: int, target: str, source: str = "127.0.0.2", accept: str = "*/*", timeout: float = 30) -> tuple[int, bytes]:
    """One request on a fresh connection from source; (status, body)."""
    with connect(port, source, timeout) as connection:
        connection.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nAccept: {accept}\r\nConnection: close\r\n\r\n".encode())
        data = bytearray()
        while chunk := connection.recv(1 << 20):
            data += chunk
    head, _, body = bytes(data).partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def sparql(query: str) -> str:
    return "/sparql?" + urllib.parse.urlencode({"query": query})


def assert_victim_answers(port: int, rounds: int = 3) -> None:
    """/healthz and a fresh (never cached) ASK from 127.0.0.2, each within 1 s."""
    for index in range(rounds):
        for target in ("/healthz", sparql(f"ASK {{ ?s ?p {time.monotonic_ns() + index} }}")):
            started = time.monotonic()
            status, _ = get(port, target, timeout=5)
            elapsed = time.monotonic() - started
            assert status == 200 and elapsed < 1.0, (target[:40], status, elapsed)


def deleted_bytes(pid: int) -> int:
    """Bytes of the deleted files (waitress's spilled answers) the process holds open."""
    total = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}").endswith("(deleted)"):
                total += os.stat(f"/proc/{pid}/fd/{fd}").st_size
        except OSError:
            pass        # closed meanwhile
    return total


def rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmRSS:"))


def closed_by_peer(connection: socket.socket) -> bool:
    """Whether the server has closed this connection (whatever it sent before is read and dropped)."""
    poller = select.poll()
    poller.register(connection, select.POLLIN)
    while poller.poll(0):
        try:
            if not connection.recv(1 << 16):
                return True
        except OSError:
            return True
    return False


def test_48_non_readers_pipelining_large_answers_hold_no_one_and_stay_under_the_cap(server):
    process, port = server
    status, body = get(port, sparql(LARGE), source="127.0.0.3")
    assert status == 200 and len(body) > 4 * MIB
    request = f"GET {sparql(LARGE)} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    peak, done = [0], threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], deleted_bytes(process.pid))
            time.sleep(0.05)
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    attackers = []
    try:
        for index in range(48):
            connection = socket.socket()
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            connection.bind((f"127.0.1.{index + 1}", 0))
            connection.connect(("127.0.0.1", port))
            connection.sendall(request * 6)             # and never read
            attackers.append(connection)
        deadline = time.monotonic() + 20
        while peak[0] < TOTAL // 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert peak[0] >= TOTAL // 2, "the attack never filled the buffers"
        assert_victim_answers(port)
        time.sleep(1)
        assert_victim_answers(port, rounds=1)
    finally:
        done.set()
        sampler.join(5)
        for connection in attackers:
            connection.close()
    assert peak[0] <= TOTAL, f"{peak[0] / MIB:.0f} MiB of temporary files, over the {TOTAL / MIB:.0f} MiB cap"


def test_a_pipelining_client_gets_the_limit_answered_then_the_connection_closes(server):
    _, port = server
    with connect(port, "127.0.0.4") as connection:
        connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" * 10)
        data = bytearray()
        while chunk := connection.recv(65536):
            data += chunk
    assert data.count(b"HTTP/1.1 200 OK") == 4


def read_answer(connection: socket.socket) -> bytes:
    """One answer with a Content-Length, read off a kept-alive connection."""
    data = bytearray()
    while b"\r\n\r\n" not in data:
        data += connection.recv(65536)
    head, _, body = bytes(data).partition(b"\r\n\r\n")
    length = int(next(line.split(b":", 1)[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")))
    while len(body) < length:
        body += connection.recv(65536)
    return head


def test_a_connection_in_use_stays_open_and_an_idle_one_is_closed_after_the_keepalive_timeout(server):
    _, port = server
    with connect(port, "127.0.0.7") as connection:
        for _ in range(2 * KEEPALIVE_TIMEOUT + 1):      # in use for longer than the idle timeout
            connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert read_answer(connection).startswith(b"HTTP/1.1 200")
            time.sleep(0.5)
        deadline = time.monotonic() + KEEPALIVE_TIMEOUT + 5
        while not closed_by_peer(connection) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert closed_by_peer(connection)


def test_one_address_holds_64_connections_and_gets_more_as_it_closes_some(server):
    _, port = server

    def open_ones(connections) -> int:
        deadline = time.monotonic() + 5
        while sum(not closed_by_peer(c) for c in connections) > 64 and time.monotonic() < deadline:
            time.sleep(0.1)
        return sum(not closed_by_peer(c) for c in connections)
    connections = [connect(port, "127.0.0.10") for _ in range(70)]
    try:
        assert open_ones(connections) == 64
        kept = [c for c in connections if not closed_by_peer(c)]
        for connection in kept[:10]:
            connection.close()
        time.sleep(0.5)                                    # the server sees them go
        more = [connect(port, "127.0.0.10") for _ in range(10)]
        connections += more
        time.sleep(0.3)
        assert not any(closed_by_peer(c) for c in more)
        assert get(port, "/healthz", source="127.0.0.11")[0] == 200
    finally:
        for connection in connections:
            connection.close()


def test_1100_trickling_connections_from_one_address_hold_no_one_and_are_closed_by_the_deadline(server):
    _, port = server
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1500:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(4096, hard), hard))
    tricklers = []
    try:
        for _ in range(1100):
            connection = connect(port, "127.0.0.1")
            tricklers.append(connection)
            try:
                connection.sendall(b"G")
            except OSError:
                pass             # closed at accept
        message = b"ET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100

        def trickle(index: int) -> None:
            for connection in tricklers:
                try:
                    connection.send(message[index:index + 1])
                except OSError:
                    pass         # closed by the server
        # The server closes all but 64 (its per-client cap) at once: the others see the end of the stream.
        deadline = time.monotonic() + 10
        while sum(not closed_by_peer(c) for c in tricklers) > 64 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert sum(not closed_by_peer(c) for c in tricklers) <= 64
        trickle(0)
        assert_victim_answers(port)
        # A byte every half second does not extend the deadline: all are closed once it has passed.
        for index in range(1, 2 * REQUEST_TIMEOUT + 10):
            time.sleep(0.5)
            trickle(index)
            if all(closed_by_peer(c) for c in tricklers):
                break
        assert all(closed_by_peer(c) for c in tricklers)
    finally:
        for connection in tricklers:
            connection.close()


def test_8_concurrent_html_renderings_of_a_huge_answer_show_its_first_rows_in_bounded_memory(server):
    process, port = server
    status, body = get(port, sparql(HUGE), source="127.0.0.5", accept="application/sparql-results+json")
    assert status == 200 and len(body) > 16 * MIB
    before = rss(process.pid)
    pages = []

    def render(index: int) -> None:
        pages.append(get(port, sparql(HUGE), source=f"127.0.2.{index + 1}", accept="text/html"))
    threads = [threading.Thread(target=render, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    growth = rss(process.pid) - before
    assert [status for status, _ in pages] == [200] * 8
    page = pages[0][1].decode()
    assert 1 < page.count("<tr>") <= 1 + 500
    assert 'id="more"' in page and "format=csv" in page and "format=json" in page
    assert len(page) < 4 * MIB
    assert growth < 200 * MIB, f"the web process grew by {growth / MIB:.0f} MiB"


def test_an_html_graph_shows_its_first_triples_as_turtle_and_links_to_all_of_it(client):
    import html
    import re

    import pyoxigraph

    def shown(query: str) -> tuple[list, str]:
        page = client.get("/sparql", query_string={"query": query}, headers={"Accept": "text/html"}).get_data(as_text=True)
        text = html.unescape(re.search(r'<pre id="graph-result">(.*?)</pre>', page, re.S).group(1))
        return list(pyoxigraph.parse(text, format=pyoxigraph.RdfFormat.TURTLE)), page
    triples, page = shown("CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }")
    assert len(triples) == 500 and 'id="more"' in page and "format=turtle" in page and "format=nt" in page
    triples, page = shown("CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o } LIMIT 3")
    assert len(triples) == 3 and 'id="more"' not in page


def test_an_answer_left_unread_is_dropped_after_the_send_timeout(server):
    _, port = server
    status, whole = get(port, sparql(HUGE), source="127.0.0.6", accept="application/sparql-results+json")
    with connect(port, "127.0.0.6", timeout=20) as connection:
        request = f"GET {sparql(HUGE)} HTTP/1.1\r\nHost: x\r\nAccept: application/sparql-results+json\r\n\r\n"
        connection.sendall(request.encode())
        time.sleep(SEND_TIMEOUT + 3)                       # read nothing meanwhile (more than the kernel buffers)
        received = 0
        try:
            while chunk := connection.recv(1 << 20):     # kept open, it would send the whole answer, then wait
                received += len(chunk)
        except ConnectionResetError:
            pass
    assert status == 200 and received < len(whole)


def test_connections_count_per_client_and_a_trusted_proxy_is_not_capped():
    from ijdp.fairness import trusted_networks
    from ijdp.serve import client_key

    trusted = trusted_networks(["127.0.0.1", "10.0.0.0/8"])
    assert client_key("127.0.0.1", trusted) is None and client_key("10.1.2.3", trusted) is None
    assert client_key("::ffff:127.0.0.1", trusted) is None
    assert client_key("127.0.0.2", trusted) == "127.0.0.2"
    assert client_key("2001:db8::1", ()) == client_key("2001:db8::2", ()) == "2001:db8::/64"


def test_an_answer_over_the_per_connection_cap_closes_the_connection():
    import waitress.wasyncore as asyncore

    from ijdp.config import Settings
    from ijdp.serve import make_server

    def app(environ, start_response):
        size = int(environ["PATH_INFO"].strip("/"))
        start_response("200 OK", [("Content-Length", str(size))])
        return [b"x" * size]
    server = make_server(app, Settings(port=0, threads=2, connection_buffer_bytes=256 * 1024))
    running = threading.Event()
    running.set()

    def loop():
        while running.is_set():
            asyncore.loop(timeout=0.05, map=server._map, use_poll=True, count=1)
    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        status, body = get(int(server.effective_port), "/1000", source="127.0.0.8")
        assert status == 200 and len(body) == 1000
        with connect(int(server.effective_port), "127.0.0.8") as connection:
            connection.sendall(b"GET /1048576 HTTP/1.1\r\nHost: x\r\n\r\n")
            data = bytearray()
            while chunk := connection.recv(65536):
                data += chunk
        assert data.startswith(b"HTTP/1.1 200") and len(data) < 1048576     # headers only, then closed
    finally:
        running.clear()
        thread.join(5)
        server.task_dispatcher.shutdown()
        asyncore.close_all(server._map)
