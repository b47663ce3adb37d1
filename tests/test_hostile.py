"""Hostile input through the app: an adversarial corpus per class, over GET, POST form and POST body.

Every SERVICE, LOAD and FROM below names a loopback listener that must see no
connection at all; the live-server side (framing, slow clients, runaways,
signals) is in test_hostile_live.py, generated inputs in test_hostile_fuzz.py.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from conftest import Listener, make_app




@pytest.fixture(scope="module")
def listener():
    found = Listener()
    yield found
    found.socket.close()


def sent(client, how: str, query: str, **headers):
    if how == "GET":
        return client.get("/sparql", query_string={"query": query}, headers=headers)
    if how == "form":
        return client.post("/sparql", data={"query": query}, headers=headers)
    return client.post("/sparql", data=query.encode(), content_type="application/sparql-query", headers=headers)


def problem_of(response, status):
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:400])
    assert response.mimetype == "application/problem+json"
    return json.loads(response.data)


HOW = ["GET", "form", "body"]
T = "http://127.0.0.1:{port}/x"

# SERVICE by every spelling found so far: each must be refused (403) and fetch nothing.
SERVICE_SPELLINGS = [
    "SELECT * WHERE { SERVICE<" + T + ">{ ?s ?p ?o } }",
    "SELECT * WHERE { SERVICE SILENT<" + T + ">{ ?s ?p ?o } }",
    "SELECT * WHERE {\tSERVICE\n\tSILENT\r\n<" + T + "> {} }",
    "SELECT * WHERE { sErViCe <" + T + "> {} }",
    "SELECT * WHERE { SERVICE #a comment\n <" + T + "> {} }",
    "PREFIX é: <http://127.0.0.1:{port}/> SELECT * WHERE { SERVICE é:x { ?s ?p ?o } }",
    "PREFIX 日本: <http://127.0.0.1:{port}/> SELECT * WHERE { SERVICE 日本:x {} }",
    "PREFIX : <http://127.0.0.1:{port}/> SELECT * WHERE { SERVICE :x {} }",
    "BASE <http://127.0.0.1:{port}/> SELECT * WHERE { SERVICE <x> {} }",
    r"SELECT * WHERE { SERVICE <http://127.0.0.1\u003A{port}/x> {} }",
    r"SELECT * WHERE { \u0053ERVICE <" + T + "> {} }",
    "SELECT * WHERE { ?s ?p ?o FILTER EXISTS { SERVICE <" + T + "> { ?s ?p ?o } } }",
    "SELECT * WHERE { ?s ?p ?o FILTER NOT EXISTS { SERVICE SILENT <" + T + "> { ?s ?p ?o } } }",
    "DESCRIBE ?s WHERE { SERVICE <" + T + "> { ?s ?p ?o } }",
    "CONSTRUCT { ?s ?p ?o } WHERE { SERVICE <" + T + "> { ?s ?p ?o } }",
    "ASK { SERVICE <" + T + "> {} }",
    "SELECT * WHERE { { SELECT * WHERE { SERVICE <" + T + "> {} } } }",
    "SELECT * WHERE { OPTIONAL { SERVICE <" + T + "> {} } }",
    "SELECT * WHERE { {} UNION { SERVICE <" + T + "> {} } }",
    "SELECT * WHERE { ?s ?p ?o MINUS { SERVICE <" + T + "> { ?s ?p ?o } } }",
    "SELECT * WHERE { GRAPH ?g { SERVICE <" + T + "> {} } }",
    "SELECT * WHERE { SERVICE ?endpoint { ?s ?p ?o } }",
    "SELECT * WHERE { BIND(<" + T + "> AS ?e) SERVICE ?e { } }",
    "SELECT * WHERE { VALUES ?e { <" + T + "> } SERVICE SILENT ?e { } }",
]
# Updates on the public endpoint: refused (403) from the parse, never run, never fetched.
UPDATE_SPELLINGS = [
    "LOAD <" + T + ">",
    "LOAD<" + T + ">",
    "LOAD SILENT <" + T + ">",
    "load <" + T + "> INTO GRAPH <http://g>",
    "CLEAR ALL ; LOAD <" + T + ">",
    "INSERT { <a:b> <a:b> <a:b> } WHERE { SERVICE<" + T + ">{} }",
    "PREFIX p: <http://127.0.0.1:{port}/> LOAD p:x",
]


REFUSALS = [(spelling, "service-refused") for spelling in SERVICE_SPELLINGS] + \
           [(spelling, "update-refused") for spelling in UPDATE_SPELLINGS]


@pytest.mark.parametrize("how", HOW)
@pytest.mark.parametrize("spelling,kind", REFUSALS)
def test_service_update_and_load_by_any_spelling_are_refused_and_fetch_nothing(client, listener, how, spelling, kind):
    body = problem_of(sent(client, how, spelling.replace("{port}", str(listener.port))), 403)
    assert body["type"].endswith("/" + kind)
    assert listener.connections == 0


@pytest.mark.parametrize("how", HOW)
def test_from_and_dataset_parameters_name_stored_graphs_and_fetch_nothing(client, listener, how):
    target = T.replace("{port}", str(listener.port))
    for query in (f"SELECT * FROM <{target}> WHERE {{ ?s ?p ?o }}",
                  f"SELECT * FROM NAMED <{target}> WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }}"):
        response = sent(client, how, query)
        assert response.status_code == 200
        assert json.loads(response.data)["results"]["bindings"] == []
    response = client.get("/sparql", query_string={"query": "SELECT * WHERE { ?s ?p ?o }", "default-graph-uri": target})
    assert response.status_code == 200 and json.loads(response.data)["results"]["bindings"] == []
    assert listener.connections == 0


def test_query_workers_cannot_open_network_sockets(app):
    """The operating system's layer: every query worker runs under a seccomp filter."""
    pids = app.extensions["ijdp_pool"].worker_pids()
    assert pids
    for pid in pids:
        with open(f"/proc/{pid}/status") as status:
            fields = dict(line.split(":", 1) for line in status if ":" in line)
        assert fields["Seccomp"].strip() == "2", f"worker {pid} is not under a seccomp filter"
        assert fields["NoNewPrivs"].strip() == "1"


SANDBOXED_SERVICE = """
import sys, pyoxigraph
from ijdp.sandbox import restrict_network
restrict_network()
try:
    list(pyoxigraph.Store().query("SELECT * WHERE { SERVICE <http://127.0.0.1:%d/x> { ?s ?p ?o } }"))
except OSError as err:
    print("refused:", err)
"""


def test_the_sandbox_alone_stops_a_service_the_parse_did_not_see(listener):
    # No parse-based check at all here: pyoxigraph is asked to call the listener
    # directly, in a process under the same filter as the query workers.
    done = subprocess.run([sys.executable, "-c", SANDBOXED_SERVICE % listener.port], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert "refused:" in done.stdout and "Permission denied" in done.stdout
    assert listener.connections == 0


FEDERATION_SANDBOX = """
import socket, sys, threading, http.server
class Endpoint(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._answer()
    def do_GET(self):
        self._answer()
    def _answer(self):
        body = b'{"head":{"vars":["x"]},"results":{"bindings":[{"x":{"type":"literal","value":"hi"}}]}}'
        self.send_response(200)
        self.send_header("Content-Type", "application/sparql-results+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Endpoint)
threading.Thread(target=server.serve_forever, daemon=True).start()
allowed = "http://127.0.0.1:%d/sparql" % server.server_address[1]
from ijdp.sandbox import restrict_network
restrict_network((allowed,))
import pyoxigraph
store = pyoxigraph.Store()
print("allowed:", [str(r["x"].value) for r in store.query("SELECT ?x WHERE { SERVICE <%s> { ?x ?p ?o } }" % allowed)])
try:
    list(store.query("SELECT * WHERE { SERVICE <http://127.0.0.1:LISTENER_PORT/x> { ?s ?p ?o } }"))
except OSError as err:
    print("service refused:", err)
for attempt in ("tcp", "udp"):
    try:
        if attempt == "tcp":
            socket.create_connection(("127.0.0.1", LISTENER_PORT), timeout=2)
        else:
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("127.0.0.1", LISTENER_PORT))
    except OSError as err:
        print(attempt, "refused:", err.errno)
"""


def test_the_federation_sandbox_reaches_the_allowed_endpoint_and_nothing_else(listener):
    # The federation workers' filter: TCP is allowed, but every connect() and every send to an
    # explicit address is checked against the allow-list's addresses by the operating system.
    script = FEDERATION_SANDBOX.replace("LISTENER_PORT", str(listener.port))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "allowed: ['hi']" in lines
    assert any(line.startswith("service refused:") and "Permission denied" in line for line in lines)
    assert "tcp refused: 13" in lines and "udp refused: 13" in lines
    assert listener.connections == 0


# ------------------------------------------------------------------ crashes

DEEP = {
    "braces": "SELECT * WHERE " + "{" * 10000 + "}" * 10000,
    "groups": "SELECT * WHERE { " + "{ ?s ?p ?o " * 3000 + "}" * 3000 + " }",
    "parentheses": "SELECT * WHERE { FILTER(" + "(" * 10000 + "1" + ")" * 10000 + ") }",
    "negations": "SELECT * WHERE { FILTER(" + "!" * 10000 + "true) }",
    "additions": "SELECT * WHERE { FILTER(1" + "+1" * 20000 + ") }",
    "disjunctions": "SELECT * WHERE { FILTER(true" + "||true" * 20000 + ") }",
    "unions": "SELECT * WHERE { {}" + " UNION {}" * 20000 + " }",
    "binds": "SELECT * WHERE { BIND(1 AS ?v0) " + " ".join(f"BIND(?v{i}+1 AS ?v{i + 1})" for i in range(5000)) + " }",
    "path alternatives": "SELECT * WHERE { ?s " + "|".join(["<http://x/p>"] * 20000) + " ?o }",
    "update braces": "INSERT DATA " + "{" * 2600 + "}" * 2600,
}


@pytest.mark.parametrize("how", HOW)
@pytest.mark.parametrize("name", sorted(DEEP))
def test_deep_nesting_is_a_clear_400_before_the_engine_sees_it(client, how, name):
    body = problem_of(sent(client, how, DEEP[name]), 400)
    assert body["type"].endswith("/too-deeply-nested") and "too deeply nested" in body["detail"]


def test_nesting_just_under_the_limit_runs(client):
    for query in ("SELECT * WHERE " + "{" * 400 + "}" * 400,
                  "SELECT * WHERE { FILTER(1" + "+1" * 900 + ") }",
                  "SELECT * WHERE { FILTER(" + "!" * 900 + "true) }"):
        assert sent(client, "GET", query).status_code == 200


RUNAWAY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"


@pytest.fixture
def lone_worker_app(prepared_store, dist):
    application = make_app(prepared_store, dist, query_workers=1, query_timeout=60.0, result_cache_bytes=0)
    yield application
    application.extensions["ijdp_pool"].close()


@pytest.mark.parametrize("signal_number", [signal.SIGSEGV, signal.SIGKILL])
def test_a_worker_that_dies_mid_query_gives_a_problem_that_says_so(lone_worker_app, signal_number):
    pool = lone_worker_app.extensions["ijdp_pool"]
    outcome = {}
    thread = threading.Thread(target=lambda: outcome.setdefault(
        "response", lone_worker_app.test_client().get("/sparql", query_string={"query": RUNAWAY})))
    thread.start()
    time.sleep(0.5)
    for pid in pool.worker_pids():
        os.kill(pid, signal_number)
    thread.join(30)
    body = problem_of(outcome["response"], 500)
    assert body["type"].endswith("/query-crashed") and signal.Signals(signal_number).name in body["detail"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not pool.ready:
        time.sleep(0.1)
    assert lone_worker_app.test_client().get("/sparql", query_string={"query": "ASK {}"}).status_code == 200


# ------------------------------------------------------------- unbounded work

DOUBLINGS = 'BIND("aaaaaaaaaaaaaaaa" AS ?a0) ' + " ".join(f"BIND(CONCAT(?a{i}, ?a{i}) AS ?a{i + 1})" for i in range(24))


def test_a_query_past_the_memory_limit_is_stopped_with_a_problem_that_says_so(prepared_store, dist):
    app = make_app(prepared_store, dist, query_workers=1, query_memory_mb=400, result_cache_bytes=0)
    try:
        query = f"SELECT (STRLEN(?a24) AS ?n) WHERE {{ {DOUBLINGS} BIND(CONCAT(?a24, ?a24, ?a24) AS ?b) }}"
        body = problem_of(app.test_client().get("/sparql", query_string={"query": query}), 422)
        assert body["type"].endswith("/memory-limit") and "too much memory" in body["detail"]
        assert body["memory_limit_mib"] == 400
        assert app.test_client().get("/sparql", query_string={"query": "ASK {}"}).status_code == 200
    finally:
        app.extensions["ijdp_pool"].close()


def test_the_answer_byte_cap_truncates_and_says_so(prepared_store, dist):
    app = make_app(prepared_store, dist, max_answer_bytes=20_000, result_cache_bytes=0)
    try:
        client = app.test_client()
        many = client.get("/sparql", query_string={"query": "SELECT * WHERE { ?s ?p ?o }"})
        assert many.status_code == 200 and len(many.data) <= 20_000
        assert many.headers["X-SPARQL-Truncated"] == "true" and many.headers["X-SPARQL-MaxBytes"] == "20000"
        assert json.loads(many.data)["head"]["link"] and json.loads(many.data)["results"]["bindings"]
        # One row bigger than the cap: no row at all, still said to be truncated.
        huge = f"SELECT ?a12 WHERE {{ {DOUBLINGS.split(' BIND(CONCAT(?a12')[0]} }}"
        one = client.get("/sparql", query_string={"query": huge})
        assert one.status_code == 200 and len(one.data) <= 20_000
        assert one.headers["X-SPARQL-Truncated"] == "true" and json.loads(one.data)["results"]["bindings"] == []
        graph = client.get("/sparql", query_string={"query": "CONSTRUCT WHERE { ?s ?p ?o }"},
                           headers={"Accept": "application/n-triples"})
        assert graph.status_code == 200 and 0 < len(graph.data) <= 20_000 and graph.headers["X-SPARQL-Truncated"] == "true"
        description = client.get("/sparql", headers={"Accept": "text/turtle"}).get_data(as_text=True)
        assert "maxResultBytes" in description and "20000" in description
    finally:
        app.extensions["ijdp_pool"].close()


def test_a_body_of_repeated_keywords_costs_the_web_process_nothing(client):
    # 990 KB of keywords: read by a worker in linear time (and refused there), not by regexes here.
    body = ("SELECT " + "SERVICE LOAD FROM " * 55000)[:990_000]
    started = time.monotonic()
    response = sent(client, "body", body)
    assert response.status_code == 400
    assert time.monotonic() - started < 10


# ------------------------------------------------------------------- protocol

def test_head_works_wherever_get_does(client):
    for path in ("/sparql?query=ASK%20%7B%7D", "/sparql", "/healthz", "/", "/.well-known/void"):
        get, head = client.get(path), client.head(path)
        assert head.status_code == get.status_code == 200, path
        assert head.data == b""
        assert head.headers["Content-Type"] == get.headers["Content-Type"]


# --------------------------------------------------------------- Host header

def test_the_host_header_never_reaches_an_answer_or_a_cache(client):
    evil = client.get("/sparql", headers={"Host": "evil.example", "Accept": "text/turtle"})
    normal = client.get("/sparql", headers={"Accept": "text/turtle"})
    for response in (evil, normal):
        assert response.status_code == 200
        assert b"evil.example" not in response.data
        assert b"<https://w3id.org/ijdp/sparql>" in response.data
    query = {"query": "SELECT * WHERE { ?s ?p ?o } LIMIT 1"}
    client.get("/sparql", query_string=query, headers={"Host": "evil.example"})
    assert b"evil.example" not in client.get("/sparql", query_string=query).data


# ------------------------------------------------------------------------ HTML

@pytest.mark.parametrize("iri", ["javascript:alert(document.domain)", "JaVaScRiPt:alert(1)",
                                 "data:text/html,<script>alert(1)</script>", "vbscript:msgbox"])
def test_only_http_https_and_mailto_iris_become_links(client, iri):
    query = f'SELECT ?x ?y WHERE {{ BIND(IRI("{iri}") AS ?x) BIND(<mailto:someone@example.org> AS ?y) }}'
    response = client.get("/sparql", query_string={"query": query}, headers={"Accept": "text/html"})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert f'href="{iri.split("<")[0]}' not in page and 'href="javascript' not in page.lower()
    assert 'href="mailto:someone@example.org"' in page


@pytest.mark.parametrize("path", ["/", "/sparql", "/timeline", "/graph-view", "/doc/country/japan", "/ontology",
                                  "/sparql?query=ASK%20%7B%7D"])
def test_every_html_page_has_a_content_security_policy(client, path):
    response = client.get(path, headers={"Accept": "text/html"})
    assert response.status_code == 200 and response.mimetype == "text/html"
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "unsafe-inline" not in policy.split("style-src")[0]
    assert "frame-ancestors 'none'" in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    page = response.get_data(as_text=True)
    # No inline script: every <script> either loads a file or is a data block.
    for tag in page.split("<script")[1:]:
        opening = tag.split(">", 1)[0]
        assert "src=" in opening or 'type="application/' in opening, opening


def test_non_html_answers_are_not_sniffed(client):
    for response in (client.get("/sparql", query_string={"query": "ASK {}"}), client.get("/healthz"),
                     client.get("/sparql", query_string={"query": "SELEKT"})):
        assert response.headers["X-Content-Type-Options"] == "nosniff"


# ---------------------------------------------------------------------- faults

def test_a_store_that_disappears_turns_health_to_503_and_comes_back_by_itself(prepared_store, dist, tmp_path):
    import shutil

    store = tmp_path / "store"
    shutil.copytree(prepared_store, store)
    app = make_app(str(store), dist, query_workers=1, result_cache_bytes=0)
    client = app.test_client()
    try:
        assert client.get("/healthz").status_code == 200
        store.rename(tmp_path / "away")
        assert client.get("/healthz").status_code == 503
        (tmp_path / "away").rename(store)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and client.get("/healthz").status_code != 200:
            time.sleep(0.2)
        assert client.get("/healthz").status_code == 200
        assert client.get("/sparql", query_string={"query": "ASK { ?s ?p ?o }"}).status_code == 200
    finally:
        app.extensions["ijdp_pool"].close()


# ------------------------------------------- the ways in added with sources, the catalogue and caching

@pytest.mark.parametrize("path", [
    "/dumps/latest/../build.json", "/dumps/latest/sources/../../data/curated.trig", "/dumps/latest/%2e%2e/SHA256SUMS",
    "/dumps/latest/sources/..%2f..%2fpyproject.toml", "/dumps/latest//etc/passwd", "/dumps/latest/sources/",
    "/source/..%2f..%2fetc%2fpasswd.txt", "/source/../build.json", "/source/%00.txt", "/source/x.txt/coverage",
    "/source/india-japan-semiconductor-moc.txt/../../build.json", "/source/INDIA-JAPAN-SEMICONDUCTOR-MOC.txt",
    "/catalog.exe", "/catalog.ttl/x", "/.well-known/void.%2e%2e",
])
def test_file_routes_serve_only_what_the_build_lists(client, path):
    """Dumps and snapshots are looked up by name in build.json and sources.json, never by joining paths."""
    response = client.get(path)
    assert response.status_code in (301, 308, 404), (path, response.status_code)
    assert b"root:" not in response.data and b"[project]" not in response.data and b"@prefix c:" not in response.data


@pytest.mark.parametrize("value", [
    '"' + "a" * 60_000 + '"', ", ".join(f'"{i}"' for i in range(5_000)), "*", 'W/"x", "y"', "\x00\x01", '"' * 1000,
])
def test_any_if_none_match_gets_an_answer_and_never_a_crash(client, value):
    response = client.get("/sparql", query_string={"query": "ASK {}"},
                          headers={"Accept": "application/sparql-results+json", "If-None-Match": value})
    assert response.status_code in (200, 304)
    if value == "*":
        assert response.status_code == 304      # "*" matches any current representation


class _Planted:
    """Unpickling this writes a file: what a compromised worker would send to run code in the web process."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_the_web_process_unpickles_nothing_a_worker_sends(tmp_path):
    import multiprocessing

    from ijdp.querypool import MalformedMessage, Outcome, _answer, _answer_header

    parent, child = multiprocessing.Pipe()
    planted = tmp_path / "ran-in-the-web-process"
    child.send(_Planted(str(planted)))                      # a pickle, as the old protocol read them
    with pytest.raises(MalformedMessage):
        _answer_header(parent)
    assert not planted.exists()
    child.send_bytes(b'{"kind": "ok", "size": -1}')          # JSON of another shape
    with pytest.raises(MalformedMessage):
        _answer_header(parent)
    _answer(child, Outcome(kind="ok", body=b"{}", media_type="application/sparql-results+json", truncated=True))
    header = _answer_header(parent)
    assert header == {"kind": "ok", "media_type": "application/sparql-results+json", "truncated": True, "count": 0,
                      "message": "", "form": "SELECT", "size": 2}
    assert parent.recv_bytes(2) == b"{}"
