"""Fuzz the endpoint (bounded): whatever arrives, no 500, no stack trace, always the declared error shape."""
import json
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SPARQL_BITS = st.sampled_from([
    "SELECT", "ASK", "CONSTRUCT", "DESCRIBE", "WHERE", "{", "}", "?s", "?p", "?o", "<http://x/>", "FILTER(", ")",
    "SERVICE", "FROM", "GRAPH", "OPTIONAL", "UNION", "LIMIT 1", '"lit"', "PREFIX a: <http://a/>", "a:b", "*", ".",
    "INSERT DATA", "LOAD", "#", "\n", "\\", "'", "BIND(1 AS ?x)", "VALUES ?x { 1 }", "COUNT(*)", "GROUP BY ?s",
])
QUERIES = st.one_of(st.text(max_size=200), st.lists(SPARQL_BITS, max_size=25).map(" ".join))
MEDIA = st.sampled_from(["application/sparql-results+json", "text/csv", "text/turtle", "image/png", "*/*", "",
                         "text/html;q=0.5, application/xml", "application/ld+json;q=0", "garbage/;;;q=x"])
CONTENT_TYPES = st.sampled_from(["application/sparql-query", "application/x-www-form-urlencoded", "text/plain",
                                 "application/sparql-update", "multipart/form-data; boundary=x", "", "application/json"])
FUZZ = settings(max_examples=int(os.environ.get("IJDP_FUZZ_EXAMPLES", "120")), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def check(response):
    assert response.status_code < 500 or response.status_code == 503, response.get_data(as_text=True)[:300]
    body = response.get_data(as_text=True)
    assert "Traceback" not in body
    if response.status_code >= 400:
        assert response.mimetype == "application/problem+json"
        assert json.loads(body)["status"] == response.status_code


@FUZZ
@given(query=QUERIES, accept=MEDIA)
def test_fuzz_get(client, query, accept):
    check(client.get("/sparql", query_string={"query": query}, headers={"Accept": accept}))


@FUZZ
@given(body=st.one_of(st.binary(max_size=300), QUERIES.map(str.encode)), content_type=CONTENT_TYPES, accept=MEDIA)
def test_fuzz_post_bodies(client, body, content_type, accept):
    check(client.post("/sparql", data=body, headers={"Content-Type": content_type, "Accept": accept}))


@FUZZ
@given(fields=st.dictionaries(st.sampled_from(["query", "update", "format", "default-graph-uri", "named-graph-uri",
                                               "output", "x"]), QUERIES, max_size=4), accept=MEDIA)
def test_fuzz_form_fields(client, fields, accept):
    check(client.post("/sparql", data=fields, headers={"Accept": accept}))


@FUZZ
@given(path=st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60), accept=MEDIA)
def test_fuzz_resource_paths(client, path, accept):
    check(client.get("/doc/" + path.replace("?", "").replace("#", ""), headers={"Accept": accept}))
