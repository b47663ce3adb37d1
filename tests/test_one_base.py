"""One base IRI everywhere, on a server started the way `make serve` starts it.

The example queries of queries/ (and the README's curl example) name
https://w3id.org/ijdp/… and must answer as they are; the dumps, VoID, the
service description, the pages and the endpoint all carry the build's base.
"""
from __future__ import annotations

import json
import re
import subprocess
import urllib.parse
import urllib.request

import pytest
import rdflib

from conftest import REPO, read_json
from ijdp import resources
from test_live_server import start_server, stop

pytestmark = pytest.mark.live
QUERIES = sorted(resources.queries_folder().glob("*.rq"))
BASE = "https://w3id.org/ijdp/"


@pytest.fixture(scope="module")
def served(dist, tmp_path_factory):
    # The Makefile's own command line, with this test's port.
    recipe = (REPO / "Makefile").read_text(encoding="utf-8").split("\nserve:", 1)[1].split("\n\n", 1)[0]
    arguments = re.search(r"ijdp serve (.*)", recipe).group(1).split()
    assert arguments == ["--host", "$(HOST)", "--port", "$(PORT)", "--dist", "$(DIST)"], arguments
    process, base = start_server(dist, "--host", "127.0.0.1", log_path=tmp_path_factory.mktemp("serve") / "log")
    yield base
    stop(process)


def fetch(url: str, accept: str, data: bytes | None = None) -> bytes:
    request = urllib.request.Request(url, data=data, headers={"Accept": accept})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read()


@pytest.mark.parametrize("query", QUERIES, ids=[q.stem for q in QUERIES])
def test_every_example_query_answers_as_it_is(served, query):
    expected = read_json(query.with_suffix(".expected.json"))
    body = fetch(served + "sparql", "application/sparql-results+json",
                 urllib.parse.urlencode({"query": query.read_text(encoding="utf-8")}).encode())
    answer = json.loads(body)
    if "boolean" in expected:
        assert answer["boolean"] is expected["boolean"]
        return
    columns = answer["head"]["vars"]
    assert columns == expected["columns"]
    rows = [[(b[c]["value"] if c in b else None) for c in columns] for b in answer["results"]["bindings"]]
    assert sorted(rows, key=str) == sorted(expected["rows"], key=str)


def test_the_readme_curl_example_answers(served):
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    example = re.search(r"```sh\n(curl [^`]*?)\n```", readme).group(1)
    command = example.replace("http://127.0.0.1:8000/", served).replace("\\\n", " ")
    done = subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert "2023-07" in done.stdout


def test_dumps_void_service_description_pages_and_endpoint_agree_on_the_base(served, dist):
    assert json.loads((dist / "build.json").read_text())["base_iri"] == BASE
    dump = (dist / "ijdp.nt").read_text(encoding="utf-8")
    assert f"<{BASE}id/agreement/semiconductor-supply-chain-moc-2023>" in dump
    description = rdflib.Graph().parse(data=fetch(served + "sparql", "text/turtle"), format="turtle")
    sd = rdflib.Namespace("http://www.w3.org/ns/sparql-service-description#")
    assert set(description.objects(None, sd.endpoint)) == {rdflib.URIRef(BASE + "sparql")}
    assert (None, rdflib.URIRef(BASE + "ontology#maxResultRows"), None) in description
    void = rdflib.Graph().parse(data=fetch(served + ".well-known/void", "text/turtle"), format="turtle")
    spaces = {str(o) for o in void.objects(None, rdflib.URIRef("http://rdfs.org/ns/void#uriSpace"))}
    assert BASE + "id/" in spaces and not [space for space in spaces if served in space]
    page = fetch(served + "doc/agreement/semiconductor-supply-chain-moc-2023", "text/html").decode()
    embedded = re.search(r'<script type="application/ld\+json">(.*?)</script>', page, re.S).group(1)
    subjects = set(rdflib.Graph().parse(data=embedded, format="json-ld").subjects())
    assert rdflib.URIRef(BASE + "id/agreement/semiconductor-supply-chain-moc-2023") in subjects
    assert 'href="/id/agreement/' in page or 'href="/doc/agreement/' in page   # browsable here
    answer = json.loads(fetch(served + "sparql?" + urllib.parse.urlencode(
        {"query": "SELECT ?s WHERE { ?s a ?t } LIMIT 50"}), "application/sparql-results+json"))
    assert all(b["s"]["value"].startswith((BASE, "http", "urn")) and served not in b["s"]["value"]
               for b in answer["results"]["bindings"])


def test_derived_statements_keep_their_badge_and_rule(served):
    page = fetch(served + "doc/instant/moc-period-in-force-end", "text/html").decode()
    assert 'class="badge">derived' in page
    assert "rule" in page.lower()


def test_a_mirror_built_under_another_base_keeps_one_base_and_its_derived_badges(tmp_path):
    import sys
    from pathlib import Path

    from conftest import make_app
    from ijdp.store import prepare_store, store_db

    mirror = "http://mirror.example/ijdp/"
    ijdp = Path(sys.executable).with_name("ijdp")
    done = subprocess.run([str(ijdp), "build", "--out", str(tmp_path / "dist"), "--base-iri", mirror, "--skip-reasoner"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    dist = tmp_path / "dist"
    app = make_app(str(store_db(prepare_store(dist, mirror))), dist)
    try:
        client = app.test_client()
        page = client.get("/doc/instant/moc-period-in-force-end", headers={"Accept": "text/html"}).get_data(as_text=True)
        assert 'class="badge">derived' in page
        description = client.get("/sparql", headers={"Accept": "text/turtle"}).get_data(as_text=True)
        assert f"<{mirror}sparql>" in description and "w3id.org" not in description.split("void:")[0]
        rows = client.get("/sparql", query_string={"query": f"ASK {{ <{mirror}id/country/japan> ?p ?o }}"}).get_json()
        assert rows["boolean"] is True
    finally:
        app.extensions["ijdp_pool"].close()
