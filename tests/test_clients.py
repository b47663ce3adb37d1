"""Real clients with their defaults: every SPARQLWrapper return format × query form, with and without setOnlyConneg."""
from __future__ import annotations

import csv
import io
import json
import urllib.error
import warnings
import xml.dom.minidom

import pytest
import rdflib

from test_live_server import live  # noqa: F401 - the live server fixture

pytestmark = pytest.mark.live

MOC = "https://w3id.org/ijdp/id/agreement/semiconductor-supply-chain-moc-2023"
QUERIES = {
    "SELECT": "SELECT ?s ?p WHERE { ?s ?p ?o } LIMIT 5",
    "ASK": "ASK { ?s ?p ?o }",
    "CONSTRUCT": "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o } LIMIT 5",
    "DESCRIBE": "DESCRIBE ?s WHERE { ?s a ?type } LIMIT 1",
}
RETURN_FORMATS = ["json", "xml", "turtle", "n3", "rdf", "rdf+xml", "csv", "tsv", "json-ld"]
GRAPHS_ONLY = {"turtle", "n3", "rdf", "rdf+xml", "json-ld"}     # names of formats only graphs have
RESULTS_ONLY = {"csv", "tsv"}
RDF_PARSERS = {"text/turtle": "turtle", "application/rdf+xml": "xml", "application/ld+json": "json-ld",
               "application/n-triples": "nt"}


def answered_rows(content_type: str, body: bytes, form: str) -> int:
    """How many rows (or triples; 1 for a true ASK) the answer holds, read by its content type."""
    media = content_type.split(";")[0].strip()
    if media in RDF_PARSERS:
        assert form in ("CONSTRUCT", "DESCRIBE"), (form, media)
        return len(rdflib.Graph().parse(data=body, format=RDF_PARSERS[media]))
    assert form in ("SELECT", "ASK"), (form, media)
    if media == "application/sparql-results+json":
        data = json.loads(body)
        return int(data["boolean"]) if "boolean" in data else len(data["results"]["bindings"])
    if media == "application/sparql-results+xml":
        document = xml.dom.minidom.parseString(body)
        booleans = document.getElementsByTagName("boolean")
        return int(booleans[0].firstChild.data == "true") if booleans else len(document.getElementsByTagName("result"))
    if media in ("text/csv", "text/tab-separated-values"):
        rows = list(csv.reader(io.StringIO(body.decode()), delimiter="," if media == "text/csv" else "\t"))
        return 1 if form == "ASK" and rows else len(rows) - 1
    raise AssertionError(f"unexpected content type {content_type}")


@pytest.mark.parametrize("only_conneg", [False, True])
@pytest.mark.parametrize("return_format", RETURN_FORMATS)
@pytest.mark.parametrize("form", sorted(QUERIES))
def test_every_sparqlwrapper_return_format_and_form(live, form, return_format, only_conneg):  # noqa: F811
    from SPARQLWrapper import SPARQLWrapper

    client = SPARQLWrapper(live + "sparql")
    client.setQuery(QUERIES[form])
    client.setReturnFormat(return_format)
    client.setOnlyConneg(only_conneg)
    graph_form = form in ("CONSTRUCT", "DESCRIBE")
    unusual = return_format in (RESULTS_ONLY if graph_form else GRAPHS_ONLY)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)   # SPARQLWrapper's own note on unusual pairs
        if unusual and not only_conneg:
            # SPARQLWrapper sends format=<name> (and Accept: */*): a format that cannot carry the form is a 406
            # that lists what would, never another format than the one named.
            from SPARQLWrapper.SPARQLExceptions import SPARQLWrapperException
            with pytest.raises((SPARQLWrapperException, urllib.error.HTTPError)) as refused:
                client.query()
            assert "406" in str(refused.value)
            return
        result = client.query()
    body = result.response.read()
    assert answered_rows(result.info()["content-type"], body, form) > 0


def test_sparqlwrapper_default_construct_is_rdf_xml(live):  # noqa: F811
    from SPARQLWrapper import SPARQLWrapper

    client = SPARQLWrapper(live + "sparql")
    client.setQuery(QUERIES["CONSTRUCT"])
    graph = client.query().convert()           # the default return format: XML, meaning RDF/XML here
    assert len(graph) == 5


@pytest.mark.parametrize("return_format", ["json", "xml"])
def test_rdflib_sparqlstore_with_its_return_formats(live, return_format):  # noqa: F811
    from rdflib.plugins.stores.sparqlstore import SPARQLStore

    graph = rdflib.Graph(store=SPARQLStore(live + "sparql", returnFormat=return_format))
    assert len(list(graph.query("SELECT ?s WHERE { ?s ?p ?o } LIMIT 3"))) == 3
    assert graph.query("ASK { ?s ?p ?o }").askAnswer is True
    assert len(graph.query("CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o } LIMIT 4").graph) == 4
