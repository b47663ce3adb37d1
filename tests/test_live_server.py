"""The SPARQL endpoint on a live server, through real clients: SPARQLWrapper, rdflib's SPARQLStore, curl."""
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
import rdflib

pytestmark = pytest.mark.live

RUNAWAY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, process, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {process.stdout.read() if process.stdout else ''}")
        try:
            with urllib.request.urlopen(url + "healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("server did not become healthy")


def start_server(dist, *args, log_path=None):
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    ijdp = Path(sys.executable).with_name("ijdp")
    log = open(log_path or os.devnull, "wb")
    process = subprocess.Popen([str(ijdp), "serve", "--port", str(port), "--dist", str(dist), *args],
                               stdout=log, stderr=subprocess.STDOUT)
    wait_healthy(base, process)
    return process, base


def stop(process):
    process.terminate()
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="module")
def live(dist, tmp_path_factory):
    log = tmp_path_factory.mktemp("live") / "server.log"
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    ijdp = Path(sys.executable).with_name("ijdp")
    process = subprocess.Popen([str(ijdp), "serve", "--port", str(port), "--dist", str(dist),
                                "--query-timeout", "3"],
                               stdout=open(log, "wb"), stderr=subprocess.STDOUT)
    wait_healthy(base, process)
    yield base
    stop(process)


def test_sparqlwrapper_select_in_json_xml_csv(live):
    from SPARQLWrapper import CSV, GET, JSON, POST, XML, SPARQLWrapper

    query = "SELECT ?a WHERE { ?s <http://www.w3.org/2004/02/skos/core#altLabel> ?a } ORDER BY ?a"
    for method in (GET, POST):
        client = SPARQLWrapper(live + "sparql")
        client.setMethod(method)
        client.setQuery(query)
        client.setReturnFormat(JSON)
        rows = client.query().convert()["results"]["bindings"]
        assert "MeitY" in [r["a"]["value"] for r in rows]
    client.setReturnFormat(XML)
    document = client.query().convert()
    assert "MeitY" in document.toxml()
    client.setReturnFormat(CSV)
    assert b"MeitY" in client.query().convert()


def test_sparqlwrapper_construct_uses_the_published_iris(live):
    from SPARQLWrapper import TURTLE, SPARQLWrapper

    client = SPARQLWrapper(live + "sparql")
    moc = "https://w3id.org/ijdp/id/agreement/semiconductor-supply-chain-moc-2023"
    client.setQuery(f"DESCRIBE <{moc}>")
    client.setReturnFormat(TURTLE)
    graph = rdflib.Graph().parse(data=client.query().convert(), format="turtle")
    assert (rdflib.URIRef(moc), None, None) in graph
    assert not [t for t in graph if live in str(t[0])]   # one base everywhere: the build's


def test_rdflib_sparqlstore(live):
    from rdflib.plugins.stores.sparqlstore import SPARQLStore

    graph = rdflib.Graph(store=SPARQLStore(live + "sparql", returnFormat="json"))
    # the local server publishes the build's IRIs, ontology terms included
    rows = list(graph.query(
        "SELECT ?date WHERE { ?moc <https://w3id.org/ijdp/ontology#signing>/<http://purl.org/dc/terms/date> ?date }"))
    assert [(str(r[0]), str(r[0].datatype)) for r in rows] == [("2023-07", "http://www.w3.org/2001/XMLSchema#gYearMonth")]
    assert graph.query("ASK { ?s ?p ?o }").askAnswer is True


def curl(*args):
    return subprocess.run(["curl", "-s", "-S", *args], capture_output=True, text=True, timeout=30)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_protocol_behaviours(live):
    out = curl("-H", "Accept: text/csv", "--data-urlencode", "query=SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }", live + "sparql")
    assert out.stdout.splitlines()[0] == "n" and int(out.stdout.splitlines()[1]) > 2000
    out = curl("-H", "Content-Type: application/sparql-query", "-H", "Accept: application/sparql-results+json",
               "--data-binary", "ASK { ?s ?p ?o }", live + "sparql")
    assert json.loads(out.stdout)["boolean"] is True
    out = curl("-i", "-G", "--data-urlencode", "query=SELECT * WHERE {", live + "sparql")
    assert " 400 " in out.stdout.splitlines()[0] and "application/problem+json" in out.stdout
    out = curl("-o", "/dev/null", "-w", "%{http_code}", "--data-urlencode", "update=CLEAR ALL", live + "sparql")
    assert out.stdout == "403"
    out = curl("-o", "/dev/null", "-w", "%{http_code}", "-H", "Accept: image/png", "-G",
               "--data-urlencode", "query=ASK {}", live + "sparql")
    assert out.stdout == "406"
    out = curl("-o", "/dev/null", "-w", "%{http_code}", "-H", "Content-Type: text/plain", "--data", "ASK {}", live + "sparql")
    assert out.stdout == "415"
    big = "ASK {}" + " " * 1_100_000
    out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Content-Type: application/sparql-query",
                          "--data-binary", "@-", live + "sparql"], input=big, capture_output=True, text=True, timeout=30)
    assert out.stdout == "413"
    out = curl("-H", "Accept: text/turtle", live + "sparql")
    assert "sd:Service" in out.stdout


def test_live_timeout_stops_the_query_and_the_server_keeps_answering(live):
    results = {}

    def runaway():
        out = curl("-o", "/dev/null", "-w", "%{http_code} %{time_total}", "-G", "--data-urlencode", f"query={RUNAWAY}",
                   live + "sparql")
        results["runaway"] = out.stdout.split()

    thread = threading.Thread(target=runaway)
    thread.start()
    time.sleep(0.5)
    for _ in range(5):
        out = curl("-o", "/dev/null", "-w", "%{http_code}", "-G", "--data-urlencode", "query=ASK {}", live + "sparql")
        assert out.stdout == "200"
    thread.join(60)
    status, seconds = results["runaway"]
    assert status == "503" and float(seconds) < 15
    out = curl("-o", "/dev/null", "-w", "%{http_code}", "-G", "--data-urlencode", "query=ASK {}", live + "sparql")
    assert out.stdout == "200"


def test_healthz_and_cors_live(live):
    with urllib.request.urlopen(live + "healthz") as response:
        assert response.status == 200 and json.loads(response.read())["status"] == "ok"
        assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_service_reaches_an_allow_listed_endpoint_only(dist, tmp_path):
    """A second server on 127.0.0.1 stands in for a remote endpoint."""
    remote, remote_base = start_server(dist, log_path=tmp_path / "remote.log")
    try:
        local, local_base = start_server(dist, "--allow-service", remote_base + "sparql", log_path=tmp_path / "local.log")
        try:
            query = (f"SELECT ?a WHERE {{ SERVICE <{remote_base}sparql> "
                     "{ ?s <http://www.w3.org/2004/02/skos/core#altLabel> ?a } } ORDER BY ?a")
            out = curl("-H", "Accept: text/csv", "-G", "--data-urlencode", f"query={query}", local_base + "sparql")
            assert "MeitY" in out.stdout.splitlines()
            other = query.replace(remote_base, "http://127.0.0.1:9/")
            out = curl("-o", "/dev/null", "-w", "%{http_code}", "-G", "--data-urlencode", f"query={other}",
                       local_base + "sparql")
            assert out.stdout == "403"
            description = rdflib.Graph().parse(data=curl("-H", "Accept: text/turtle", local_base + "sparql").stdout,
                                               format="turtle")
            sd = rdflib.Namespace("http://www.w3.org/ns/sparql-service-description#")
            assert (None, sd.feature, sd.BasicFederatedQuery) in description
        finally:
            stop(local)
    finally:
        stop(remote)
