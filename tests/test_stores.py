"""The same endpoint and linked-data behaviour on every store: memory, on-disk oxigraph, and a SPARQL
server as backend (a second ijdp server, and a real Virtuoso from Debian's packages)."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SHARED, make_app, read_json
from ijdp import resources
from test_live_server import free_port, stop, wait_healthy

pytestmark = pytest.mark.live
VIRTUOSO_SH = SHARED / "backends" / "virtuoso.sh"
IJDP = Path(sys.executable).with_name("ijdp")
QUERIES = sorted(resources.queries_folder().glob("*.rq"))
MOC_PATH = "agreement/semiconductor-supply-chain-moc-2023"

# What Virtuoso answers differently, with why. Strict: should it start agreeing, the test says so.
KNOWN_DIFFERENCES = {
    ("sparql-virtuoso", "03-term"): "Virtuoso stores xsd:duration as a number of months: P5Y comes back as 60",
    ("sparql-virtuoso", "19-timeline"): "Virtuoso returns xsd:boolean values as the integers 0 and 1",
}


@pytest.fixture(scope="module")
def ijdp_endpoint(dist, tmp_path_factory):
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    log = tmp_path_factory.mktemp("backend") / "server.log"
    process = subprocess.Popen([str(IJDP), "serve", "--port", str(port), "--dist", str(dist)],
                               stdout=open(log, "wb"), stderr=subprocess.STDOUT)
    wait_healthy(base, process)
    yield base + "sparql"
    stop(process)


def virtuoso_available() -> str | None:
    """None when Virtuoso can run here, else why not."""
    if not VIRTUOSO_SH.exists():
        return f"{VIRTUOSO_SH} is missing"
    if shutil.which("virtuoso-t") is None:
        result = subprocess.run(["bash", str(VIRTUOSO_SH), "install"], capture_output=True, text=True, timeout=900)
        if result.returncode != 0 or shutil.which("virtuoso-t") is None:
            return "Debian's virtuoso-opensource could not be installed: " + result.stderr.strip()[-300:]
    return None


@pytest.fixture(scope="module")
def virtuoso(dist, tmp_path_factory):
    why = virtuoso_available()
    if why:
        pytest.skip(why)
    home = tmp_path_factory.mktemp("virtuoso")
    env = {**os.environ, "VIRT_HOME": str(home), "VIRT_HTTP_PORT": str(free_port()), "VIRT_SQL_PORT": str(free_port()),
           "VIRT_BUFFERS": "20000"}
    subprocess.run(["bash", str(VIRTUOSO_SH), "start"], env=env, check=True, capture_output=True, timeout=300)
    http = f"http://127.0.0.1:{env['VIRT_HTTP_PORT']}"
    try:
        yield {"query": http + "/sparql", "auth": http + "/sparql-auth", "gsp": http + "/sparql-graph-crud-auth",
               "user": "app", "password": (home / "app-password").read_text().strip()}
    finally:
        subprocess.run(["bash", str(VIRTUOSO_SH), "stop"], env=env, capture_output=True, timeout=300)


def load_into_virtuoso(virtuoso, dist, gsp=False):
    args = [str(IJDP), "load", "--dist", str(dist), "--store", "sparql:" + virtuoso["auth"],
            "--user", virtuoso["user"], "--password", virtuoso["password"]]
    if gsp:
        args += ["--gsp-url", virtuoso["gsp"]]
    return subprocess.run(args, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module", params=["memory", "oxigraph", "sparql-ijdp", "sparql-virtuoso"])
def store_app(request, dist, prepared_store):
    if request.param == "memory":
        spec = "memory"
    elif request.param == "oxigraph":
        spec = "oxigraph:" + prepared_store
    elif request.param == "sparql-ijdp":
        spec = "sparql:" + request.getfixturevalue("ijdp_endpoint")
    else:
        virtuoso = request.getfixturevalue("virtuoso")
        loaded = load_into_virtuoso(virtuoso, dist)
        assert loaded.returncode == 0, loaded.stderr
        spec = "sparql:" + virtuoso["query"]
    app = make_app(spec, dist)
    yield request.param, app
    app.extensions["ijdp_pool"].close()


def rows_of(response):
    data = json.loads(response.data)
    if "boolean" in data:
        return data["boolean"]
    return [[b.get(v, {}).get("value") for v in data["head"]["vars"]] for b in data["results"]["bindings"]]


@pytest.mark.parametrize("query", QUERIES, ids=[q.stem for q in QUERIES])
def test_example_queries_on_every_store(store_app, query, request):
    name, app = store_app
    if (name, query.stem) in KNOWN_DIFFERENCES:
        request.applymarker(pytest.mark.xfail(reason=KNOWN_DIFFERENCES[(name, query.stem)], strict=True))
    expected = read_json(query.with_suffix(".expected.json"))
    response = app.test_client().post("/sparql", data={"query": query.read_text()},
                                      headers={"Accept": "application/sparql-results+json"})
    assert response.status_code == 200, response.get_data(as_text=True)
    got = rows_of(response)
    if "boolean" in expected:
        assert got is expected["boolean"]
        return
    ordered = "ORDER BY" in query.read_text().upper()
    want = expected["rows"]
    assert (got if ordered else sorted(got, key=str)) == (want if ordered else sorted(want, key=str)), name


def test_protocol_errors_are_the_same_on_every_store(store_app):
    _, app = store_app
    client = app.test_client()
    malformed = client.get("/sparql", query_string={"query": "SELECT * WHERE {"})
    assert malformed.status_code == 400 and malformed.mimetype == "application/problem+json"
    assert client.get("/sparql", query_string={"query": "ASK {}"}, headers={"Accept": "image/png"}).status_code == 406
    assert client.post("/sparql", data={"update": "CLEAR ALL"}).status_code == 403


def test_linked_data_pages_on_every_store(store_app):
    _, app = store_app
    client = app.test_client()
    assert client.get("/id/" + MOC_PATH).status_code == 303
    page = client.get("/doc/" + MOC_PATH, headers={"Accept": "text/html"}).get_data(as_text=True)
    assert "signed in July, 2023 between the Ministry of Electronics" in page
    assert client.get("/doc/agreement/nothing", headers={"Accept": "text/html"}).status_code == 404


def test_backend_going_away_is_a_503_not_a_hang(dist):
    app = make_app(f"sparql:http://127.0.0.1:{free_port()}/sparql", dist, wait_ready=False)
    client = app.test_client()
    response = client.get("/sparql", query_string={"query": "ASK {}"})
    assert response.status_code == 503 and response.mimetype == "application/problem+json"
    assert client.get("/healthz").status_code == 503


def test_load_replaces_graphs_and_a_failure_keeps_the_previous_version(virtuoso, dist, monkeypatch):
    first = load_into_virtuoso(virtuoso, dist, gsp=True)
    assert first.returncode == 0, first.stderr
    assert "loaded <https://w3id.org/ijdp/graph/provenance>" in first.stderr and "(verified)" in first.stderr
    from ijdp import loading
    remote = loading.Remote(virtuoso["auth"], None, None, virtuoso["user"], virtuoso["password"])
    before = {g: remote.count(g) for g in loading.graphs_of(dist)}
    original = loading.Remote.update

    def failing(self, text, what):
        if "provenance" in what and "INSERT" in text:
            raise loading.IjdpError(f"{what}: HTTP 500: simulated failure")
        return original(self, text, what)
    monkeypatch.setattr(loading.Remote, "update", failing)
    with pytest.raises(loading.IjdpError) as caught:
        list(loading.push_graphs(dist, virtuoso["auth"], user=virtuoso["user"], password=virtuoso["password"]))
    assert "graph provenance" in str(caught.value) and "previous version" in str(caught.value)
    assert {g: remote.count(g) for g in before} == before
    assert before["https://w3id.org/ijdp/graph/facts"] == 165 or before["https://w3id.org/ijdp/graph/facts"] > 100


def test_pages_of_a_backend_that_went_away_are_503(dist):
    app = make_app(f"sparql:http://127.0.0.1:{free_port()}/sparql", dist, wait_ready=False)
    response = app.test_client().get("/doc/" + MOC_PATH, headers={"Accept": "text/html"})
    # A browser gets the problem as a page of the site; a program gets problem+json.
    assert response.status_code == 503 and response.mimetype == "text/html"
    assert "503" in response.get_data(as_text=True)
    response = app.test_client().get("/doc/" + MOC_PATH, headers={"Accept": "text/turtle"})
    assert response.status_code == 503 and response.mimetype == "application/problem+json"


class _CountingEndpoint:
    """A stand-in SPARQL endpoint on 127.0.0.1 that counts the TCP connections it was sent queries on."""

    def __init__(self, close_after: int | None = None, port: int = 0):
        import http.server
        import socketserver
        import threading

        endpoint = self
        self.connections, self.requests, self.methods = set(), 0, []

        self.open_sockets = []

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                endpoint.open_sockets.append(self.connection)

            def do_GET(self):
                endpoint.methods.append("GET")
                self.answer()

            def do_POST(self):
                self.rfile.read(int(self.headers["Content-Length"]))
                endpoint.methods.append("POST")
                self.answer()

            def answer(self):
                endpoint.connections.add(self.client_address)
                endpoint.requests += 1
                body = b'{"head": {"vars": ["x"]}, "results": {"bindings": [{"x": {"type": "literal", "value": "1"}}]}}'
                self.send_response(200)
                self.send_header("Content-Type", "application/sparql-results+json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                # Closing without saying so, as a server does with an idle keep-alive connection.
                if close_after and endpoint.requests % close_after == 0:
                    self.close_connection = True

            def log_message(self, *args):
                pass

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sparql"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        """Stop listening and drop every open connection, as a server that went away does."""
        import socket
        self.server.shutdown()
        self.server.server_close()
        for connection in self.open_sockets:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


@pytest.mark.parametrize("close_after, expected_connections", [(None, 1), (2, 3)])
def test_remote_backend_keeps_its_connection_and_reconnects_when_the_backend_closed_it(close_after, expected_connections):
    import time

    from ijdp.querypool import Job
    from ijdp.remote import RemoteBackend
    stand_in = _CountingEndpoint(close_after)
    try:
        backend = RemoteBackend(stand_in.url)
        job = Job(query="SELECT ?x WHERE { ?s ?p ?x }", results_format="application/sparql-results+json",
                  graph_format=None, max_rows=10)
        for _ in range(6):
            outcome = backend.run(job, timeout=5)
            assert outcome.kind == "ok" and json.loads(outcome.body)["results"]["bindings"][0]["x"]["value"] == "1"
            time.sleep(0.05)   # lets the stand-in close its side before the next query
        assert stand_in.requests == 6
        assert len(stand_in.connections) == expected_connections
        # a query too long for a URL goes as a form POST
        long_job = Job(query=job.query + " " + "#" * 3000 + "\n", results_format=job.results_format, graph_format=None,
                       max_rows=10)
        assert backend.run(long_job, timeout=5).kind == "ok"
        assert stand_in.methods == ["GET"] * 6 + ["POST"]
    finally:
        stand_in.close()


def test_a_backend_that_goes_away_and_comes_back_is_used_again_without_a_restart(dist):
    stand_in = _CountingEndpoint()
    app = make_app(f"sparql:{stand_in.url}", dist)
    client = app.test_client()
    query = {"query": "SELECT ?x WHERE { ?s ?p ?x }"}
    try:
        before = stand_in.requests
        assert client.get("/sparql", query_string=query).status_code == 200
        assert client.get("/sparql", query_string=query).status_code == 200
        assert stand_in.requests == before + 2   # a remote store's answers are never cached: asked again
        stand_in.close()
        gone = client.get("/sparql", query_string=query)
        assert gone.status_code == 503 and gone.mimetype == "application/problem+json"
        stand_in = _CountingEndpoint(port=stand_in.port)
        back = client.get("/sparql", query_string=query)
        assert back.status_code == 200 and json.loads(back.data)["results"]["bindings"][0]["x"]["value"] == "1"
    finally:
        stand_in.close()
