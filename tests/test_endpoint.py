"""The SPARQL 1.1 Protocol at /sparql, through the Flask test client."""
import io
import json
import threading
import time

import pyoxigraph
import pytest
import rdflib

from conftest import make_app

SKOS = "http://www.w3.org/2004/02/skos/core#"
MOC = "https://w3id.org/ijdp/id/agreement/semiconductor-supply-chain-moc-2023"
ACRONYMS = f"SELECT ?a WHERE {{ ?s <{SKOS}altLabel> ?a }} ORDER BY ?a"
DESCRIBE = f"DESCRIBE <{MOC}>"
RUNAWAY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"


def values(response):
    assert response.status_code == 200, response.get_data(as_text=True)
    data = json.loads(response.data)
    return [b["a"]["value"] for b in data["results"]["bindings"]]


def problem(response, status):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = json.loads(response.data)
    assert body["status"] == status and body["title"] and body["detail"] and body["type"]
    assert "Traceback" not in body["detail"]
    return body


# ------------------------------------------------------------- the three ways to ask

def test_get_post_form_and_post_body_give_the_same_answer(client):
    accept = {"Accept": "application/sparql-results+json"}
    by_get = values(client.get("/sparql", query_string={"query": ACRONYMS}, headers=accept))
    by_form = values(client.post("/sparql", data={"query": ACRONYMS}, headers=accept))
    by_body = values(client.post("/sparql", data=ACRONYMS, content_type="application/sparql-query", headers=accept))
    assert by_get == by_form == by_body
    assert {"MoC", "MeitY", "METI", "IJDP", "G2G"} <= set(by_get)


def test_default_graph_is_the_union_of_the_data_graphs(client, publication):
    response = client.get("/sparql", query_string={"query": "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"},
                          headers={"Accept": "application/sparql-results+json"})
    count = int(json.loads(response.data)["results"]["bindings"][0]["n"]["value"])
    assert count == len(publication.merged())


def test_default_graph_uri_and_named_graph_uri_are_honoured(client, publication):
    links = "https://w3id.org/ijdp/graph/links"
    facts = "https://w3id.org/ijdp/graph/facts"
    count = client.get("/sparql", query_string={"query": "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }",
                                                "default-graph-uri": links})
    assert json.loads(count.data)["results"]["bindings"][0]["n"]["value"] == str(len(publication.graphs["links"]))
    named = client.post("/sparql", data={"query": "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }",
                                          "named-graph-uri": [facts, links]})
    graphs = {b["g"]["value"] for b in json.loads(named.data)["results"]["bindings"]}
    assert graphs == {facts, links}


# ------------------------------------------------------------------ formats

@pytest.mark.parametrize("media,parser", [
    ("application/sparql-results+json", "json"),
    ("application/sparql-results+xml", "xml"),
    ("text/csv", "csv"),
    ("text/tab-separated-values", "tsv"),
])
def test_select_results_in_every_format(client, media, parser):
    response = client.get("/sparql", query_string={"query": ACRONYMS}, headers={"Accept": media})
    assert response.status_code == 200 and response.mimetype == media
    assert response.headers["Vary"] == "Accept"
    if parser == "csv":  # lossy: plain values, one per line after the header
        import csv
        rows = list(csv.reader(io.StringIO(response.data.decode("utf-8"))))
        assert rows[0] == ["a"]
        acronyms = [r[0] for r in rows[1:]]
    else:
        parsed = pyoxigraph.parse_query_results(response.data, format=pyoxigraph.QueryResultsFormat.from_media_type(media))
        acronyms = [s["a"].value for s in parsed]
    assert "MeitY" in acronyms and len(acronyms) >= 11


@pytest.mark.parametrize("media,parser", [
    ("text/turtle", "turtle"), ("application/n-triples", "nt"), ("application/ld+json", "json-ld"),
    ("application/rdf+xml", "xml"), ("application/trig", "trig"), ("application/n-quads", "nquads"),
])
def test_describe_in_every_rdf_format(client, media, parser):
    response = client.get("/sparql", query_string={"query": DESCRIBE}, headers={"Accept": media})
    assert response.status_code == 200 and response.mimetype == media
    graph = rdflib.Dataset() if parser in ("trig", "nquads") else rdflib.Graph()
    graph.parse(data=response.data, format=parser)
    triples = list(graph.quads((rdflib.URIRef(MOC), None, None, None))) if parser in ("trig", "nquads") \
        else list(graph.triples((rdflib.URIRef(MOC), None, None)))
    assert len(triples) >= 15


def test_ask_result(client):
    response = client.get("/sparql", query_string={"query": f"ASK {{ <{MOC}> ?p ?o }}"},
                          headers={"Accept": "application/sparql-results+json"})
    assert json.loads(response.data) == {"head": {}, "boolean": True}


def test_q_values_decide(client):
    response = client.get("/sparql", query_string={"query": ACRONYMS},
                          headers={"Accept": "text/csv;q=0.5, application/sparql-results+xml;q=0.9, */*;q=0.1"})
    assert response.mimetype == "application/sparql-results+xml"


def test_format_parameter_wins_over_accept(client):
    response = client.get("/sparql", query_string={"query": ACRONYMS, "format": "tsv"},
                          headers={"Accept": "application/sparql-results+json"})
    assert response.mimetype == "text/tab-separated-values"
    response = client.get("/sparql", query_string={"query": DESCRIBE, "format": "nt"})
    assert response.mimetype == "application/n-triples"


@pytest.mark.parametrize("media,parser", [("text/turtle", "turtle"), ("application/trig", "trig"),
                                          ("application/rdf+xml", "xml")])
def test_graph_answers_use_the_publication_prefixes(client, media, parser):
    query = {"query": "DESCRIBE <https://w3id.org/ijdp/id/country/japan>"}
    response = client.get("/sparql", query_string=query, headers={"Accept": media})
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    if parser == "xml":
        assert 'xmlns:skos="http://www.w3.org/2004/02/skos/core#"' in text
    else:
        assert "@prefix country: <https://w3id.org/ijdp/id/country/> ." in text and "country:japan" in text
        assert "@prefix dcat:" not in text   # only the prefixes the answer uses
    plain = client.get("/sparql", query_string=query, headers={"Accept": "application/n-triples"}).data
    same = rdflib.Dataset().parse(data=text, format=parser)
    assert len(same) == len(rdflib.Graph().parse(data=plain, format="nt")) > 5


@pytest.mark.parametrize("query,start,line,column", [
    ("PREFIX ijdp: <https://w3id.org/ijdp/ontology#>\nSELECT * WHERE {\n  ?m ijpd:party ?p .\n}",
     "Malformed query: undeclared prefix 'ijpd:' in 'ijpd:party' at line 3, column 6 (declared: ijdp:)", 3, 6),
    ("SELECT * WHERE {\n  ?s ?p ?o .\n}\n?a ?b .\n", "Malformed query: unexpected '?a' at line 4, column 1", 4, 1),
    ("SELECT * WHERE { ?s ?p ?o } LIMT 3", "Malformed query: unexpected 'LIMT' at line 1, column 29", 1, 29),
])
def test_syntax_errors_say_what_and_where_first(client, query, start, line, column):
    body = problem(client.post("/sparql", data={"query": query}), 400)
    assert body["detail"].startswith(start), body["detail"]
    assert (body["line"], body["column"]) == (line, column)
    first_line = body["detail"].splitlines()[0]
    assert len(first_line) < 200 and "u{" not in first_line   # no lists of Unicode ranges up front
    assert len(body["detail"].splitlines()) <= 3


def test_unknown_format_parameter_is_a_400(client):
    problem(client.get("/sparql", query_string={"query": ACRONYMS, "format": "docx"}), 400)


def test_406_when_nothing_acceptable(client):
    body = problem(client.get("/sparql", query_string={"query": ACRONYMS}, headers={"Accept": "image/png"}), 406)
    assert "application/sparql-results+json" in body["available"]
    assert body["type"].endswith("/not-acceptable")


def test_a_client_that_accepts_only_results_types_gets_the_default_graph_format(client):
    # rdflib's SPARQLStore asks a DESCRIBE for SPARQL JSON; Fuseki and Virtuoso answer such requests, so do we.
    response = client.get("/sparql", query_string={"query": DESCRIBE},
                          headers={"Accept": "application/sparql-results+json"})
    assert response.status_code == 200 and response.mimetype == "text/turtle"
    assert response.headers["Vary"] == "Accept"
    # The other way round no client means: a SELECT asked only as Turtle is a 406 naming the results formats.
    response = client.get("/sparql", query_string={"query": ACRONYMS}, headers={"Accept": "text/turtle"})
    assert response.status_code == 406 and "application/sparql-results+json" in response.get_json()["available"]


# ------------------------------------------------------- UI and service description

def test_browser_without_query_gets_the_query_ui(client):
    response = client.get("/sparql", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "<textarea" in page and "Who are the parties to the MoC?" in page


def test_browser_with_query_gets_an_html_table(client):
    response = client.get("/sparql", query_string={"query": ACRONYMS}, headers={"Accept": "text/html"})
    page = response.get_data(as_text=True)
    assert response.mimetype == "text/html" and "<table id=\"results\">" in page and "MeitY" in page


@pytest.mark.parametrize("media,parser", [("text/turtle", "turtle"), ("application/ld+json", "json-ld"),
                                          ("application/rdf+xml", "xml")])
def test_rdf_client_gets_the_service_description(client, media, parser):
    response = client.get("/sparql", headers={"Accept": media})
    assert response.status_code == 200 and response.mimetype == media
    g = rdflib.Graph().parse(data=response.data, format=parser)
    sd = rdflib.Namespace("http://www.w3.org/ns/sparql-service-description#")
    service = g.value(None, rdflib.RDF.type, sd.Service)
    assert service is not None
    assert (service, sd.supportedLanguage, sd.SPARQL11Query) in g
    assert (service, sd.feature, sd.UnionDefaultGraph) in g
    assert (service, sd.resultFormat, rdflib.URIRef("http://www.w3.org/ns/formats/SPARQL_Results_CSV")) in g
    assert int(g.value(service, rdflib.URIRef("https://w3id.org/ijdp/ontology#maxResultRows"))) == 10000
    void = rdflib.Namespace("http://rdfs.org/ns/void#")
    assert (None, void.sparqlEndpoint, None) in g and (None, void.triples, None) in g


# ------------------------------------------------------------------- errors

def test_malformed_query_is_a_400_with_the_parsers_message_and_position(client):
    body = problem(client.get("/sparql", query_string={"query": "SELECT * WHERE {\n  ?s ?p \n}"}), 400)
    assert body["detail"].startswith("Malformed query:")
    assert body["line"] == 3 and body["column"] >= 1


def test_repeated_query_parameter_is_a_400(client):
    problem(client.get("/sparql?query=ASK%7B%7D&query=ASK%7B%7D"), 400)


def test_missing_query_on_post_is_a_400(client):
    problem(client.post("/sparql", data={"default-graph-uri": "x"}), 400)


@pytest.mark.parametrize("request_kwargs", [
    {"data": {"update": "INSERT DATA { <http://a> <http://b> <http://c> }"}},
    {"data": "INSERT DATA { <http://a> <http://b> <http://c> }", "content_type": "application/sparql-update"},
    {"data": {"query": "INSERT DATA { <http://a> <http://b> <http://c> }"}},
    {"data": {"query": "LOAD <http://example.org/data.ttl>"}},
    {"data": {"query": "# comment\nPREFIX ex: <http://ex/>\nDELETE WHERE { ?s ?p ?o }"}},
])
def test_updates_and_load_are_refused_with_403(client, request_kwargs):
    problem(client.post("/sparql", **request_kwargs), 403)
    still = client.get("/sparql", query_string={"query": "ASK { <http://a> <http://b> <http://c> }"})
    assert json.loads(still.data)["boolean"] is False


@pytest.mark.parametrize("query", [
    "SELECT * WHERE { SERVICE <http://127.0.0.1:9/sparql> { ?s ?p ?o } }",
    "PREFIX remote: <http://127.0.0.1:9/> SELECT * WHERE { SERVICE SILENT remote:sparql { ?s ?p ?o } }",
    "SELECT * WHERE { VALUES ?e { <http://127.0.0.1:9/sparql> } SERVICE ?e { ?s ?p ?o } }",
])
def test_service_is_refused_unless_allowed(client, query):
    body = problem(client.get("/sparql", query_string={"query": query}), 403)
    assert "SERVICE" in body["detail"]


def test_an_update_on_the_public_endpoint_is_parsed_never_run(client):
    # Malformed: 400 with the parser's message; well-formed: 403. Neither runs: the
    # WHERE below would build 91 million solutions if it were evaluated.
    problem(client.post("/sparql", data={"query": "INSERT DATA { <http://a> <http://b> }"}), 400)
    problem(client.post("/sparql", data={"query": "LOAD ;"}), 400)
    problem(client.post("/sparql", data={"query": "INSERT DATA { <http://a> § }"}), 400)
    values = " ".join(str(i) for i in range(450))
    product = f"INSERT {{ ?a ?b ?c }} WHERE {{ VALUES ?a {{ {values} }} VALUES ?b {{ {values} }} VALUES ?c {{ {values} }} }}"
    started = time.monotonic()
    problem(client.post("/sparql", data={"query": product}), 403)
    assert time.monotonic() - started < 5


def test_service_inside_a_string_is_not_a_service(client):
    response = client.get("/sparql", query_string={"query": 'SELECT ("SERVICE <http://x/>" AS ?a) WHERE {}'})
    assert response.status_code == 200


def test_from_names_a_graph_in_the_store_and_fetches_nothing(client, publication):
    query = "SELECT (COUNT(*) AS ?n) FROM <https://w3id.org/ijdp/graph/links> WHERE { ?s ?p ?o }"
    response = client.get("/sparql", query_string={"query": query})
    assert json.loads(response.data)["results"]["bindings"][0]["n"]["value"] == str(len(publication.graphs["links"]))
    query = "SELECT (COUNT(*) AS ?n) FROM <http://127.0.0.1:9/remote.ttl> WHERE { ?s ?p ?o }"
    response = client.get("/sparql", query_string={"query": query})
    assert json.loads(response.data)["results"]["bindings"][0]["n"]["value"] == "0"


def test_body_too_large_is_a_413(prepared_store, dist):
    app = make_app(prepared_store, dist, max_request_bytes=2000)
    try:
        response = app.test_client().post("/sparql", data="ASK {}" + " " * 5000, content_type="application/sparql-query")
        problem(response, 413)
    finally:
        app.extensions["ijdp_pool"].close()


def test_wrong_content_type_is_a_415(client):
    problem(client.post("/sparql", data="ASK {}", content_type="text/plain"), 415)


def test_unknown_path_is_a_problem_404(client):
    problem(client.get("/no/such/page"), 404)


def test_cors_is_open_for_reads(client):
    response = client.get("/sparql", query_string={"query": "ASK {}"})
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    preflight = client.options("/sparql", headers={"Origin": "https://example.org",
                                                    "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 200
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]


# ----------------------------------------------------------- limits and timeout

def test_row_cap_is_signalled_not_silent(prepared_store, dist):
    app = make_app(prepared_store, dist, max_rows=5)
    try:
        client = app.test_client()
        response = client.get("/sparql", query_string={"query": "SELECT * WHERE { ?s ?p ?o }"},
                              headers={"Accept": "application/sparql-results+json"})
        data = json.loads(response.data)
        assert len(data["results"]["bindings"]) == 5
        assert response.headers["X-SPARQL-Truncated"] == "true"
        assert response.headers["X-SPARQL-MaxRows"] == "5"
        assert data["head"]["link"] == ["https://w3id.org/ijdp/sparql#truncated"]
        xml = client.get("/sparql", query_string={"query": "SELECT * WHERE { ?s ?p ?o }"},
                         headers={"Accept": "application/sparql-results+xml"})
        assert b'<link href="https://w3id.org/ijdp/sparql#truncated"/>' in xml.data
        pyoxigraph.parse_query_results(xml.data, format=pyoxigraph.QueryResultsFormat.XML)
        small = client.get("/sparql", query_string={"query": "SELECT * WHERE { ?s ?p ?o } LIMIT 3"})
        assert "X-SPARQL-Truncated" not in small.headers
        construct = client.get("/sparql", query_string={"query": "CONSTRUCT WHERE { ?s ?p ?o }"},
                               headers={"Accept": "application/n-triples"})
        assert construct.headers["X-SPARQL-Truncated"] == "true"
        assert len(construct.data.decode().strip().splitlines()) == 5
    finally:
        app.extensions["ijdp_pool"].close()


def test_runaway_query_is_stopped_while_others_are_answered(prepared_store, dist):
    app = make_app(prepared_store, dist, query_timeout=2.0, query_workers=2)
    try:
        outcome = {}

        def runaway():
            started = time.monotonic()
            outcome["response"] = app.test_client().get("/sparql", query_string={"query": RUNAWAY})
            outcome["seconds"] = time.monotonic() - started

        thread = threading.Thread(target=runaway)
        thread.start()
        time.sleep(0.3)
        quick = app.test_client().get("/sparql", query_string={"query": ACRONYMS})
        assert quick.status_code == 200 and thread.is_alive()
        thread.join(30)
        body = problem(outcome["response"], 503)
        assert "stopped" in body["detail"]
        assert outcome["seconds"] < 10
        # the killed worker is replaced: the pool keeps answering
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if app.test_client().get("/sparql", query_string={"query": ACRONYMS}).status_code == 200:
                break
        assert app.test_client().get("/sparql", query_string={"query": ACRONYMS}).status_code == 200
    finally:
        app.extensions["ijdp_pool"].close()


def test_the_pool_grows_only_while_a_worker_is_stuck_and_shrinks_back(prepared_store, dist):
    app = make_app(prepared_store, dist, query_timeout=8.0, query_workers=1, result_cache_bytes=0)
    pool = app.extensions["ijdp_pool"]
    try:
        # a queue of ordinary queries does not grow the pool
        threads = [threading.Thread(target=lambda: app.test_client().get("/sparql", query_string={"query": ACRONYMS}))
                   for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert len(pool.worker_pids()) == 1
        # a runaway holding the only worker: once it has run 0.25 s, another worker starts
        runaway = threading.Thread(target=lambda: app.test_client().get("/sparql", query_string={"query": RUNAWAY}))
        runaway.start()
        time.sleep(0.3)
        started = time.monotonic()
        # (from another client: the runaway's own client waits while the last idle worker is kept for others)
        quick = app.test_client().get("/sparql", query_string={"query": ACRONYMS},
                                      environ_base={"REMOTE_ADDR": "127.0.0.9"})
        waited = time.monotonic() - started
        assert quick.status_code == 200
        assert waited < 1.5, waited      # answered by the extra worker, long before the runaway is stopped
        assert len(pool.worker_pids()) == 2
        runaway.join(30)
        # the runaway's worker is killed and not replaced: the pool is back to its size
        assert len(pool.worker_pids()) == 1
        assert app.test_client().get("/sparql", query_string={"query": ACRONYMS}).status_code == 200
    finally:
        pool.close()


# ------------------------------------------------------------------- health

def test_healthz_reports_the_dataset_version(client, dist):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert json.loads(response.data)["version"] == json.loads((dist / "build.json").read_text())["version"]


def test_healthz_is_503_until_the_store_is_open(prepared_store, dist, monkeypatch):
    from ijdp import querypool
    gate = threading.Event()
    original = querypool.QueryPool._spawn
    monkeypatch.setattr(querypool.QueryPool, "_spawn", lambda self: (gate.wait(30), original(self))[1])
    from ijdp.app import create_app
    from ijdp.config import Settings
    app = create_app({"IJDP_SETTINGS": Settings(dist_dir=str(dist)), "IJDP_STORE": prepared_store})
    try:
        assert app.test_client().get("/healthz").status_code == 503
        gate.set()
        deadline = time.monotonic() + 30
        while not app.extensions["ijdp_pool"].ready and time.monotonic() < deadline:
            time.sleep(0.05)
        assert app.test_client().get("/healthz").status_code == 200
    finally:
        gate.set()
        app.extensions["ijdp_pool"].close()


# ------------------------------------------------------------- admin updates



def test_admin_update_needs_the_token_and_then_is_visible(admin_app):
    client = admin_app.test_client()
    insert = "INSERT DATA { <http://example.org/a> <http://example.org/b> <http://example.org/c> }"
    ask = {"query": "ASK { <http://example.org/a> <http://example.org/b> ?c }"}
    assert json.loads(client.get("/sparql", query_string=ask).data)["boolean"] is False  # now in the caches
    problem(client.post("/sparql/update", data={"update": insert}), 403)
    problem(client.post("/sparql/update", data={"update": insert}, headers={"Authorization": "Bearer wrong"}), 403)
    ok = client.post("/sparql/update", data=insert, content_type="application/sparql-update",
                     headers={"Authorization": "Bearer s3cret"})
    assert ok.status_code == 200, ok.get_data(as_text=True)
    assert json.loads(client.get("/sparql", query_string=ask).data)["boolean"] is True
    assert json.loads(client.post("/sparql", data=ask).data)["boolean"] is True
    problem(client.post("/sparql/update", data={"update": "LOAD <http://127.0.0.1:9/x.ttl>"},
                        headers={"Authorization": "Bearer s3cret"}), 403)
    problem(client.post("/sparql/update", data={"update": "INSERT DATA {"},
                        headers={"Authorization": "Bearer s3cret"}), 400)
    # a LOAD that does not even parse is malformed (400), not forbidden
    problem(client.post("/sparql/update", data={"update": "LOAD ;"}, headers={"Authorization": "Bearer s3cret"}), 400)
    # LOAD SILENT fails silently: nothing is fetched, nothing changes, the update succeeds
    before = client.get("/sparql", query_string={"query": "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"}).data
    silent = client.post("/sparql/update", data={"update": "LOAD SILENT <http://127.0.0.1:9/x.ttl> INTO GRAPH <http://g>"},
                         headers={"Authorization": "Bearer s3cret"})
    assert silent.status_code == 200
    assert client.get("/sparql", query_string={"query": "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"}).data == before


def test_update_path_is_closed_without_a_configured_token(client):
    problem(client.post("/sparql/update", data={"update": "CLEAR ALL"}, headers={"Authorization": "Bearer "}), 403)


@pytest.mark.parametrize("query", [
    "SELECT ?from WHERE { ?from ?p ?o } LIMIT 1",
    "SELECT ?service WHERE { ?service ?p <https://w3id.org/ijdp/id/country/japan> } LIMIT 1",
    "PREFIX ex: <http://example.org/> SELECT ?load WHERE { ?load ?p ?o . OPTIONAL { ?load ex:load ?x } } LIMIT 1",
])
def test_variables_named_like_keywords_are_not_keywords(client, query):
    """?from is not FROM (which would drop the union default graph), ?service is not SERVICE."""
    response = client.get("/sparql", query_string={"query": query})
    assert response.status_code == 200
    assert len(json.loads(response.data)["results"]["bindings"]) == 1
