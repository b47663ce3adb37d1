"""Negotiation that says no: a 406 listing what would fit, q=0 honoured, format= meaning what it names."""
import json

import pytest
import rdflib

SELECT = "SELECT ?s WHERE { ?s ?p ?o } LIMIT 2"
CONSTRUCT = "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o } LIMIT 2"
RESULTS_TYPES = {"application/sparql-results+json", "application/sparql-results+xml", "text/csv",
                 "text/tab-separated-values"}


def ask(client, query, accept=None, **params):
    headers = {"Accept": accept} if accept is not None else {}
    return client.get("/sparql", query_string={"query": query, **params}, headers=headers)


def problem_of(response):
    assert response.mimetype == "application/problem+json", response.get_data(as_text=True)[:300]
    return json.loads(response.get_data())


@pytest.mark.parametrize("accept", ["text/turtle", "application/n-triples", "application/ld+json;q=1, */*;q=0"])
def test_a_select_asked_only_in_graph_formats_is_406_listing_the_results_formats(client, accept):
    response = ask(client, SELECT, accept)
    assert response.status_code == 406
    body = problem_of(response)
    assert RESULTS_TYPES <= set(body["available"])
    assert all(media in body["detail"] for media in RESULTS_TYPES)
    assert "Accept" in response.headers.get("Vary", "")


@pytest.mark.parametrize("query", [SELECT, CONSTRUCT])
def test_nothing_acceptable_at_all_is_406(client, query):
    for accept in ("*/*;q=0", "image/png", "text/turtle;q=0, application/sparql-results+json;q=0, */*;q=0"):
        assert ask(client, query, accept).status_code == 406, accept


def test_q_zero_refuses_a_format_a_wildcard_would_otherwise_give(client):
    response = ask(client, SELECT, "application/sparql-results+json;q=0, */*;q=0.5")
    assert response.status_code == 200
    assert response.mimetype != "application/sparql-results+json"
    assert response.mimetype in RESULTS_TYPES


def test_format_names_one_format_and_a_form_it_cannot_carry_is_406(client):
    assert ask(client, SELECT, format="turtle").status_code == 406
    assert ask(client, CONSTRUCT, format="csv").status_code == 406
    turtle = ask(client, CONSTRUCT, format="turtle")
    assert turtle.status_code == 200 and turtle.mimetype == "text/turtle"
    assert len(rdflib.Graph().parse(data=turtle.get_data(as_text=True), format="turtle")) == 2
    csv = ask(client, SELECT, format="csv")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    assert csv.get_data(as_text=True).splitlines()[0].strip() == "s"


def test_format_html_is_the_results_page(client):
    response = ask(client, SELECT, "application/json", format="html")
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert "<table" in response.get_data(as_text=True)


def test_sparql_clients_that_accept_only_results_types_still_get_graphs(client):
    """rdflib's SPARQLStore (returnFormat json) asks a CONSTRUCT for SPARQL JSON only: it gets Turtle, as from Fuseki."""
    response = ask(client, CONSTRUCT, "application/sparql-results+json")
    assert response.status_code == 200
    assert len(rdflib.Graph().parse(data=response.get_data(as_text=True), format=response.mimetype)) == 2
