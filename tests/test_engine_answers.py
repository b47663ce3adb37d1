"""Queries that the engine cannot answer as asked get answers, or a 4xx that says why, never a crash or a 500."""
import json
import socket
import subprocess
import sys
from decimal import Decimal

import pyoxigraph
import pytest
import rdflib
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import Listener, make_app

XSD = "http://www.w3.org/2001/XMLSchema#"
JSON = {"Accept": "application/sparql-results+json"}


def answer(response):
    assert response.status_code == 200, response.get_data(as_text=True)[:400]
    return json.loads(response.data)


def problem(response, status):
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:400])
    assert response.mimetype == "application/problem+json"
    body = json.loads(response.data)
    assert body["status"] == status and "Traceback" not in body["detail"]
    return body


# ------------------------------------------------------------------ ORDER BY on any data

# The order of section 15.1, as tests/test_engine_answers reads it: kind first, then, within the kinds whose
# members SPARQL's `<` compares, by value.
KIND = {None: 0, "bnode": 1, "uri": 2, "literal": 3, "triple": 4}
NUMERIC = {XSD + name for name in ("integer", "decimal", "float", "double")}


def family_value(term):
    """(family, value) where `<` orders the family's members by value; None where it does not."""
    if term is None or term["type"] != "literal":
        return None
    datatype = term.get("datatype", XSD + "string")
    if datatype in NUMERIC and term["value"] not in ("NaN", "INF", "-INF"):
        try:
            return "number", Decimal(term["value"])
        except ArithmeticError:
            return None
    if "xml:lang" in term:
        return "lang:" + term["xml:lang"].lower(), term["value"]
    if datatype == XSD + "string":
        return "string", term["value"]
    if datatype in (XSD + "date", XSD + "gYearMonth") and term["value"][:1].isdigit() and len(term["value"]) in (7, 10):
        return datatype, term["value"]   # no timezone, four-digit years: the text is the value
    return None


def assert_sparql_order(terms, descending=False):
    """Each pair in the order section 15.1 defines for it (and every kind in its place)."""
    terms = list(reversed(terms)) if descending else terms
    kinds = [KIND[t["type"] if t else None] for t in terms]
    assert kinds == sorted(kinds)
    iris = [t["value"] for t in terms if t and t["type"] == "uri"]
    assert iris == sorted(iris)
    families = {}
    for term in terms:
        found = family_value(term)
        if found:
            families.setdefault(found[0], []).append(found[1])
    for family, values in families.items():
        assert values == sorted(values), family
    return families


def column(data, name):
    return [row.get(name) for row in data["results"]["bindings"]]


def test_order_by_any_object_answers_in_sparql_order_on_the_built_store(client):
    # The query that crashed the worker (SIGABRT in the engine's sort) on every run.
    full = answer(client.get("/sparql", query_string={"query": "SELECT * WHERE { ?s ?p ?o } ORDER BY ?o"}, headers=JSON))
    objects = column(full, "o")
    assert len(objects) > 2000
    families = assert_sparql_order(objects)
    assert {"number", "string", "lang:en", XSD + "gYearMonth", XSD + "date"} <= set(families)
    limited = answer(client.get("/sparql", query_string={"query": "SELECT * WHERE { ?s ?p ?o } ORDER BY ?o LIMIT 10"},
                                headers=JSON))
    assert column(limited, "o") == objects[:10]


def test_order_by_descending_and_in_a_subquery_with_limit(client):
    query = "SELECT ?o WHERE { { SELECT DISTINCT ?o WHERE { ?s ?p ?o } ORDER BY DESC(?o) LIMIT 40 } } "
    top = column(answer(client.get("/sparql", query_string={"query": query}, headers=JSON)), "o")
    everything = column(answer(client.get("/sparql", query_string={
        "query": "SELECT DISTINCT ?o WHERE { ?s ?p ?o } ORDER BY DESC(?o)"}, headers=JSON)), "o")
    assert_sparql_order(everything, descending=True)
    assert sorted(map(json.dumps, top)) == sorted(map(json.dumps, everything[:40]))


def test_order_by_expressions_aggregates_and_several_keys(client):
    query = ("SELECT ?p (COUNT(*) AS ?n) WHERE { ?s ?p ?o } GROUP BY ?p "
             "ORDER BY DESC(COUNT(*)) STR(?p)")
    rows = answer(client.get("/sparql", query_string={"query": query}, headers=JSON))["results"]["bindings"]
    keys = [(-int(row["n"]["value"]), row["p"]["value"]) for row in rows]
    assert keys == sorted(keys) and len(keys) > 20


MIXED = [f'"{text}"^^<{XSD}{kind}>' for text, kind in [
    ("38", "integer"), ("1005", "integer"), ("1101", "integer"), ("2028-07", "gYearMonth"), ("2026-11-25", "date"),
    ("P5Y", "duration"), ("356", "string"), ("NaN", "double"), ("-0.5", "decimal"), ("1e3", "double"), ("true", "boolean"),
    ("2023-07-01T10:00:00+05:00", "dateTime"), ("2023-07-01T06:00:00Z", "dateTime"), ("abc", "integer")]] + \
    ['"2028"@en', "<http://a/b>", '"x"^^<http://ex/custom>']


def test_the_crashing_mix_of_literals_is_ordered_as_section_15_1_says(client):
    # 38 < 1005 by value, "1005" < "2028-07"^^gYearMonth < "38" by text: the cycle that aborted the engine's sort.
    query = (f"SELECT ?x WHERE {{ {{ VALUES ?x {{ {' '.join(MIXED * 3)} UNDEF }} }} UNION {{ BIND(BNODE() AS ?x) }} "
             "UNION { BIND(<<( <http://a> <http://b> 1 )>> AS ?x) } } ORDER BY ?x")
    terms = column(answer(client.get("/sparql", query_string={"query": query}, headers=JSON)), "x")
    assert terms[0] is None and terms[1]["type"] == "bnode" and terms[-1]["type"] == "triple"
    assert_sparql_order(terms)
    values = [t["value"] for t in terms if t and t.get("datatype") == XSD + "dateTime"]
    assert values == ["2023-07-01T10:00:00+05:00"] * 3 + ["2023-07-01T06:00:00Z"] * 3   # 05:00Z before 06:00Z


def test_every_example_query_answers_exactly_through_the_worker(client):
    from ijdp import resources

    for path in sorted(resources.queries_folder().glob("*.rq")):
        expected = json.loads(path.with_suffix(".expected.json").read_text())
        data = answer(client.get("/sparql", query_string={"query": path.read_text()}, headers=JSON))
        if "boolean" in expected:
            assert data["boolean"] is expected["boolean"]
            continue
        rows = [[row.get(c, {}).get("value") for c in expected["columns"]] for row in data["results"]["bindings"]]
        if "ORDER BY" not in path.read_text().upper():
            rows, expected["rows"] = sorted(rows, key=str), sorted(expected["rows"], key=str)
        assert rows == expected["rows"], path.name


LITERALS = st.one_of(
    st.integers(-10 ** 20, 10 ** 20).map(lambda n: f'"{n}"^^<{XSD}integer>'),
    st.decimals(allow_nan=False, allow_infinity=False, places=3).map(lambda d: f'"{d}"^^<{XSD}decimal>'),
    st.floats(allow_nan=True, width=64).map(lambda f: f'"{repr(f).replace("inf", "INF").replace("nan", "NaN")}"^^<{XSD}double>'),
    st.dates().map(lambda d: f'"{d.isoformat()}"^^<{XSD}date>'),
    st.tuples(st.datetimes(), st.sampled_from(["", "Z", "+05:30", "-14:00"])).map(
        lambda t: f'"{t[0].isoformat(timespec="seconds")}{t[1]}"^^<{XSD}dateTime>'),
    st.tuples(st.integers(1000, 9999), st.integers(1, 12), st.sampled_from(["", "Z", "+09:00"])).map(
        lambda t: f'"{t[0]}-{t[1]:02d}{t[2]}"^^<{XSD}gYearMonth>'),
    st.sampled_from(["P5Y", "P1M", "P30D", "PT36H", "-P1D", "P1Y2M3DT4H5M6.5S"]).map(lambda d: f'"{d}"^^<{XSD}duration>'),
    st.sampled_from(["true", "false", "1", "0", "maybe"]).map(lambda b: f'"{b}"^^<{XSD}boolean>'),
    st.text(alphabet="0123456789-:TZP. abcé", max_size=8).map(lambda s: json.dumps(s)),
    st.text(alphabet="0123456789-abc", max_size=5).map(lambda s: json.dumps(s) + "@en"),
    st.sampled_from(["<http://a/1>", "<http://a/10>", '"7"^^<http://ex/t>', "UNDEF"]),
)


@settings(max_examples=60, deadline=None)
@given(terms=st.lists(LITERALS, min_size=2, max_size=40))
def test_order_by_is_total_and_agrees_with_less_than_wherever_it_is_defined(terms):
    from ijdp.ordering import totally_ordered
    from ijdp.sparql import query_store

    store = pyoxigraph.Store()
    query = f"SELECT ?x WHERE {{ VALUES ?x {{ {' '.join(terms)} }} }} ORDER BY ?x"
    assert "order-key" in totally_ordered(query)     # the engine itself never compares these terms here
    rows = [r["x"] for r in query_store(store, query)]
    assert len(rows) == len(terms)
    again = [r["x"] for r in query_store(store, f"SELECT ?x WHERE {{ VALUES ?x {{ {' '.join(reversed(terms))} }} }} "
                                                "ORDER BY ?x")]
    assert [str(t) for t in again] == [str(t) for t in rows]       # a total order: the input's order does not show
    values = " ".join(f"({i} {t or 'UNDEF'})" for i, t in enumerate(rows))
    inverted = list(store.query(f"SELECT ?i ?j WHERE {{ VALUES (?i ?a) {{ {values} }} VALUES (?j ?b) {{ {values} }} "
                                "FILTER(?i < ?j && ?b < ?a) }"))
    assert not inverted, [(str(rows[int(r["i"].value)]), str(rows[int(r["j"].value)])) for r in inverted]


# ------------------------------------------------------------------ formats the engine cannot write

TRIPLE_TERM = "CONSTRUCT { ?s <http://ex/says> <<( ?s <http://ex/p> ?o )>> } WHERE { ?s ?p ?o } LIMIT 2"


def test_a_triple_term_asked_as_json_ld_is_a_406_that_says_why(client):
    body = problem(client.get("/sparql", query_string={"query": TRIPLE_TERM}, headers={"Accept": "application/ld+json"}),
                   406)
    assert "JSON-LD" in body["detail"] and "RDF 1.2" in body["detail"]
    assert "text/turtle" in body["available"]
    turtle = client.get("/sparql", query_string={"query": TRIPLE_TERM}, headers={"Accept": "text/turtle"})
    assert turtle.status_code == 200 and b"<<(" in turtle.data


# ------------------------------------------------------------------ wide answers

def test_a_select_wider_than_the_cap_is_refused_before_it_runs(client):
    wide = "SELECT " + " ".join(f"?v{i}" for i in range(90_000)) + " WHERE {}"
    body = problem(client.post("/sparql", data=wide.encode(), content_type="application/sparql-query", headers=JSON), 400)
    assert body["type"].endswith("/too-wide") and "90000 variables" in body["detail"] and "1000" in body["detail"]
    star = "SELECT * WHERE { VALUES (" + " ".join(f"?v{i}" for i in range(1001)) + ") { } }"
    assert "SELECT *" in problem(client.post("/sparql", data={"query": star}, headers=JSON), 400)["detail"]
    at_the_cap = "SELECT " + " ".join(f"?v{i}" for i in range(1000)) + " WHERE {}"
    assert len(answer(client.post("/sparql", data={"query": at_the_cap}, headers=JSON))["head"]["vars"]) == 1000


def test_the_service_description_declares_the_cap(client):
    g = rdflib.Graph().parse(data=client.get("/sparql", headers={"Accept": "text/turtle"}).data, format="turtle")
    caps = list(g.objects(None, rdflib.URIRef("https://w3id.org/ijdp/ontology#maxProjectedVariables")))
    assert [int(cap) for cap in caps] == [1000]


def test_the_cap_is_a_setting(prepared_store, dist):
    app = make_app(prepared_store, dist, max_projected_variables=3)
    try:
        client = app.test_client()
        problem(client.get("/sparql", query_string={"query": "SELECT ?a ?b ?c ?d WHERE {}"}, headers=JSON), 400)
        answer(client.get("/sparql", query_string={"query": "SELECT ?a ?b (1 AS ?c) WHERE {}"}, headers=JSON))
    finally:
        app.extensions["ijdp_pool"].close()


# ------------------------------------------------------------------ unknown functions

def test_many_unknown_functions_are_a_400_that_names_them(client):
    query = "SELECT ?x WHERE { BIND(" + " + ".join(f"<http://ex/f{i}>(1)" for i in range(64)) + " AS ?x) }"
    body = problem(client.get("/sparql", query_string={"query": query}, headers=JSON), 400)
    assert body["type"].endswith("/unknown-function")
    assert "<http://ex/f" in body["detail"] and "do" in body["detail"]


def test_a_few_unknown_functions_are_expression_errors_as_sparql_says(client):
    # SPARQL 1.1, section 17.3: the call is an error, so ?x stays unbound (the W3C syntax tests call such functions).
    query = "PREFIX ex: <http://ex/> SELECT ?x ?y WHERE { BIND(ex:f(1) AS ?x) BIND(2 AS ?y) }"
    rows = answer(client.get("/sparql", query_string={"query": query}, headers=JSON))["results"]["bindings"]
    assert rows == [{"y": {"type": "literal", "value": "2", "datatype": XSD + "integer"}}]


# ------------------------------------------------------------------ outbound calls the sandbox refused



@pytest.fixture
def listener():
    found = Listener()
    yield found
    found.socket.close()


UNSEEN_SERVICE = """
import json, sys
import pyoxigraph
from ijdp import results, sandbox
from ijdp.querypool import Job, WorkerLimits

sandbox.restrict_network()
results.screen = lambda job, limits, syntax_store=None: (None, results.analyse("SELECT * {}"))   # the token layer blind
for target in sys.argv[1:]:
    job = Job(query=f"SELECT * WHERE {{ SERVICE <{target}> {{ ?s ?p ?o }} }}", results_format="application/sparql-results+json",
              graph_format=None, max_rows=10)
    print(json.dumps(results.run_job(pyoxigraph.Store(), job, WorkerLimits()).kind))
"""


def test_a_service_the_token_layer_missed_is_a_403_from_the_sandbox_refusal(listener):
    targets = [f"http://127.0.0.1:{listener.port}/sparql", "http://example.org/sparql", "http://127.0.0.1:9/x"]
    done = subprocess.run([sys.executable, "-c", UNSEEN_SERVICE, *targets], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert [json.loads(line) for line in done.stdout.split()] == ["service-refused"] * 3
    assert listener.connections == 0


@pytest.mark.parametrize("spelling", ["1.SERVICE <{t}> {{ }}", "true.SERVICE <{t}> {{ }}", "1.5.SERVICE <{t}> {{ }}",
                                      "1e0.SERVICE <{t}> {{ }}", "?o . SERVICE <{t}> {{ }}"])
def test_a_hidden_service_is_a_403_never_a_500(client, listener, spelling):
    query = "SELECT * WHERE { ?s ?p " + spelling.format(t=f"http://127.0.0.1:{listener.port}/sparql") + " }"
    body = problem(client.get("/sparql", query_string={"query": query}, headers=JSON), 403)
    assert body["type"].endswith("/service-refused")
    assert listener.connections == 0


def test_the_refusal_is_recognised_from_the_engine_error_only():
    from ijdp.results import refused_outbound

    assert refused_outbound(PermissionError("Permission denied (os error 13)"))
    assert refused_outbound(OSError("failed to lookup address information: Temporary failure in name resolution"))
    assert not refused_outbound(OSError("IO error: No space left on device"))

