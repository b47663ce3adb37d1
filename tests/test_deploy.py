"""The tested deployment: deploy/cluster.py runs replicas of `ijdp serve` behind Debian's nginx on 127.0.0.1.

Checked against the live processes: repeated queries come from the cache without reaching a replica;
killing a replica under load fails no request; slow clients delay no one; the rate limit answers 429
with Retry-After; with every replica down, cached answers are still served (stale).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import pytest

from conftest import REPO

pytestmark = pytest.mark.skipif(shutil.which("nginx") is None,
                                reason="nginx is not installed (`make nginx` installs Debian's nginx-light)")
CLUSTER = REPO / "deploy" / "cluster.py"
JSON = {"Accept": "application/sparql-results+json"}


def _cluster_module():
    import importlib.util
    spec = importlib.util.spec_from_file_location("deploy_cluster", CLUSTER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


DEPLOY = _cluster_module()
start_cluster, stop_cluster = DEPLOY.launch, DEPLOY.shutdown


@pytest.fixture(scope="module")
def cluster(dist, tmp_path_factory):
    """Two replicas behind nginx; answers stay fresh for 2 s so that staleness can be tested."""
    process, state = start_cluster(tmp_path_factory.mktemp("cluster"), dist, "--replicas", "2", "--rate", "1000",
                                   "--burst", "1000", env={"IJDP_CACHE_MAX_AGE": "2"})
    yield state
    stop_cluster(process)


def get(url: str, headers=None, timeout: float = 30):
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def replica_requests(state) -> int:
    total = 0
    for replica in state["replicas"]:
        status, _, body = get(f"http://127.0.0.1:{replica['port']}/healthz", timeout=5)
        total += json.loads(body)["requests"] if status == 200 else 0
    return total


def sparql_url(state, query: str) -> str:
    return f"{state['url']}sparql?query={quote(query)}"


def test_a_repeated_query_is_answered_by_the_cache_without_reaching_a_replica(cluster):
    url = sparql_url(cluster, "SELECT ?p ?o WHERE { <https://w3id.org/ijdp/id/country/japan> ?p ?o }")
    before = replica_requests(cluster)
    first = get(url, JSON)
    assert first[0] == 200 and first[1]["X-Cache-Status"] in ("MISS", "EXPIRED")
    for _ in range(5):
        again = get(url, JSON)
        assert again[0] == 200 and again[1]["X-Cache-Status"] == "HIT" and again[2] == first[2]
    assert replica_requests(cluster) == before + 1
    # another representation of the same query is another cache entry (Vary: Accept)
    xml = get(url, {"Accept": "application/sparql-results+xml"})
    assert xml[0] == 200 and xml[2].startswith(b"<?xml") and replica_requests(cluster) == before + 2


def test_64_slow_clients_delay_no_one(cluster):
    host, port = cluster["url"].split("//")[1].rstrip("/").split(":")
    slow = []
    try:
        for _ in range(64):
            sock = socket.create_connection((host, int(port)), timeout=5)
            sock.sendall(b"GET /sparql?query=ASK%20%7B%7D HTTP/1.1\r\nHost: x\r\n")   # and never the end
            slow.append(sock)
        for round_ in range(3):
            for sock in slow:
                sock.sendall(b"X-Slow: 1\r\n")
            started = time.monotonic()
            status, _, _ = get(sparql_url(cluster, f"ASK {{ ?s ?p {round_ + 100} }}"), JSON)
            assert status == 200 and time.monotonic() - started < 1.0
    finally:
        for sock in slow:
            sock.close()


def test_the_rate_limit_answers_429_with_retry_after(cluster, tmp_path):
    upstreams = ",".join(f"127.0.0.1:{r['port']}" for r in cluster["replicas"])
    process, state = start_cluster(tmp_path / "limited", "unused", "--upstreams", upstreams, "--rate", "5",
                                   "--burst", "5")
    try:
        answers = [get(sparql_url(state, "ASK {}"), JSON) for _ in range(30)]
        limited = [a for a in answers if a[0] == 429]
        assert limited and any(a[0] == 200 for a in answers)
        status, headers, body = limited[0]
        assert headers["Retry-After"] == "1" and headers["Content-Type"] == "application/problem+json"
        assert json.loads(body)["status"] == 429
    finally:
        stop_cluster(process)


def test_bodies_and_headers_are_bounded_with_problem_json(cluster):
    host, port = cluster["url"].split("//")[1].rstrip("/").split(":")
    # A declared 2 MB body is refused from its Content-Length, before a byte of it is read.
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: application/sparql-query\r\n"
                     b"Content-Length: 2000000\r\n\r\n")
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += sock.recv(4096)
    head = answer.split(b"\r\n\r\n")[0].decode()
    assert head.startswith("HTTP/1.1 413") and "application/problem+json" in head
    status, headers, _ = get(f"{cluster['url']}healthz", {"X-Long": "y" * 20_000})
    assert status == 431 and headers["Content-Type"] == "application/problem+json"


def test_killing_a_replica_under_load_fails_no_request(cluster):
    queries = [sparql_url(cluster, f'ASK {{ ?s ?p "load {i} {time.time_ns()}" }}') for i in range(240)]
    victim = cluster["replicas"][0]

    def one(index_url):
        index, url = index_url
        if index == 60:
            os.kill(victim["pid"], signal.SIGKILL)
        return get(url, JSON)[0]

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(one, enumerate(queries)))
    assert statuses.count(200) == len(queries), {s: statuses.count(s) for s in set(statuses)}
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", victim["port"]), timeout=1).close()


def test_with_every_replica_down_cached_answers_are_still_served(cluster):
    url = sparql_url(cluster, "SELECT ?label WHERE { <https://w3id.org/ijdp/id/country/india> ?p ?label }")
    fresh = get(url, JSON)
    assert fresh[0] == 200
    time.sleep(2.5)                                   # past max-age: only stale-if-error may serve it now
    for replica in cluster["replicas"]:
        try:
            os.kill(replica["pid"], signal.SIGKILL)
        except ProcessLookupError:
            pass
    time.sleep(0.5)
    stale = get(url, JSON)
    assert stale[0] == 200 and stale[2] == fresh[2] and stale[1]["X-Cache-Status"] in ("STALE", "UPDATING")
    never_cached = get(sparql_url(cluster, "ASK { ?s ?p 'never asked before' }"), JSON)
    assert never_cached[0] == 503 and never_cached[1]["Content-Type"] == "application/problem+json"
