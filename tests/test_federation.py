"""Federated queries: SERVICE reaches allow-listed endpoints only, with its own timeout.

Local servers on 127.0.0.1 stand in for Wikidata and the EU Publications Office:
the cookbook's queries (docs/federation/*.rq) run with the real endpoint IRIs
replaced by the stand-ins, and must return the answers the cookbook shows.
"""
import json
import subprocess
import sys
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


@pytest.fixture(scope="module")
def federation(dist, tmp_path_factory):
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
                               "--allow-service", endpoints["eu"], "--service-timeout", "3"], tmp / "local.log")
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
