"""/browse groups the classes (the domain first, the dataset's own description last); each class is a table of
its members with their main properties as columns, facets that narrow it, pages, and CSV and JSON of the same
rows and columns."""
from __future__ import annotations

import csv
import io
import json
from urllib.parse import parse_qsl, urlsplit

import pytest
import rdflib
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from htmltree import parse

BASE = "https://w3id.org/ijdp/"
ORGANISATIONS = "/browse/org:Organization"
DESCRIPTION = ("http://rdfs.org/ns/void#", "http://www.w3.org/ns/dcat#", "http://www.w3.org/ns/prov#")


def get(client, path: str, accept: str = "text/html"):
    response = client.get(path, headers={"Accept": accept})
    assert response.status_code == 200, (path, response.status_code, response.get_data(as_text=True)[:300])
    return response


def html_table(client, path: str) -> tuple[list, list, object]:
    """(header, rows as [iri, label, cell texts…], the page tree) of a class table page."""
    page = parse(get(client, path).get_data(as_text=True))
    table = page.first("table", class_="members")
    header = ["iri", "label"] + [th.words() for th in table.first("thead").all("th")][1:]
    rows = []
    for tr in table.first("tbody").all("tr"):
        name = tr.first("th").first("a")
        cells = ["\n".join(v.words() for v in td.all("span", class_="cell-value")) for td in tr.all("td")]
        rows.append([BASE + name.attrs["href"].lstrip("/"), name.words()] + cells)
    return header, rows, page


def test_the_domain_comes_first_and_the_datasets_description_last(client):
    page = parse(get(client, "/browse").get_data(as_text=True))
    domain = [a.attrs["href"] for a in page.first("ul", class_="domain").all("a")]
    description = [a.attrs["href"] for a in page.first("ul", class_="description").all("a")]
    for wanted in ("ijdp:MemorandumOfCooperation", "org:Organization", "foaf:Person", "ijdp:Programme",
                   "ijdp:Partnership", "ijdp:FacilityType", "schema:Event", "ijdp:Ministry"):
        assert f"/browse/{wanted}" in domain, wanted
    for plumbing in ("void:Dataset", "dcat:Distribution", "prov:Entity", "prov:SoftwareAgent", "ijdp:Curation"):
        assert f"/browse/{plumbing}" in description, plumbing
    assert not [href for href in domain if href.startswith(("/browse/void:", "/browse/dcat:", "/browse/prov:"))]
    text = str(get(client, "/browse").get_data(as_text=True))
    assert text.index('class="classes domain"') < text.index('class="classes description"')


def test_the_organisations_table(client, publication):
    header, rows, _ = html_table(client, ORGANISATIONS)
    labels = {row[1] for row in rows}
    assert {"Ministry of Electronics and Information Technology", "Ministry of Economy, Trade and Industry",
            "Union Cabinet", "Digital India Corporation"} <= labels
    assert len(rows) == len({row[0] for row in rows})                     # each member once
    assert "type" in header and "alternative label" in header
    altlabels = {row[1]: row[header.index("alternative label")] for row in rows}
    assert altlabels["Ministry of Electronics and Information Technology"] == "MeitY"
    # Every column is a property at least half the members have.
    everything = rdflib.ConjunctiveGraph()
    for graph in publication.graphs.values():
        everything += graph
    columns = json.loads(get(client, ORGANISATIONS + ".json").data)["columns"]
    for column in columns:
        having = sum(1 for row in rows if (rdflib.URIRef(row[0]), rdflib.URIRef(column["iri"]), None) in everything)
        assert 2 * having >= len(rows), column


def test_a_facet_narrows_the_rows_and_counts_them(client):
    _, rows, page = html_table(client, ORGANISATIONS)
    facets = page.first("section", class_="facets").all("a", class_="facet")
    assert facets
    for facet in facets:
        count = int(facet.attrs["data-count"])
        assert 1 < count < len(rows)
        header, narrowed, narrowed_page = html_table(client, facet.attrs["href"])
        assert len(narrowed) == count
        key, value = parse_qsl(urlsplit(facet.attrs["href"]).query)[0]
        kept = json.loads(get(client, facet.attrs["href"] + "&_format=json").data)
        assert all(value in [c["value"] for c in row["cells"][key]] for row in kept["rows"])
        assert {row[0] for row in narrowed} < {row[0] for row in rows}
        remove = narrowed_page.first("a", class_="remove-filter").attrs["href"]
        assert remove == ORGANISATIONS


@pytest.mark.parametrize("path", [ORGANISATIONS, "/browse/ijdp:FacilityType", "/browse/skos:Concept",
                                  "/browse/dcat:Distribution"])
def test_csv_and_json_are_the_html_table(client, path):
    header, rows, page = html_table(client, path)
    for facet in [None] + page.all("a", class_="facet")[:2]:
        target = facet.attrs["href"] if facet else path
        header, rows, _ = html_table(client, target)
        split = urlsplit(target)
        as_csv = get(client, f"{split.path}.csv" + (f"?{split.query}" if split.query else ""), accept="*/*")
        assert as_csv.headers["Content-Type"] == "text/csv; charset=utf-8"
        parsed = list(csv.reader(io.StringIO(as_csv.get_data(as_text=True))))
        assert parsed[0] == header and parsed[1:] == rows
        as_json = get(client, f"{split.path}.json" + (f"?{split.query}" if split.query else ""), accept="*/*")
        assert as_json.headers["Content-Type"] == "application/json"
        document = json.loads(as_json.data)
        assert ["iri", "label"] + [c["label"] for c in document["columns"]] == header
        assert [[r["iri"], r["label"]] + ["\n".join(v["label"] for v in r["cells"].get(c["key"], []))
                                          for c in document["columns"]] for r in document["rows"]] == rows
        assert document["total"] == len(rows)


def test_formats_by_parameter_and_by_accept(client):
    by_parameter = get(client, ORGANISATIONS + "?_format=csv")
    assert by_parameter.mimetype == "text/csv"
    by_accept = get(client, ORGANISATIONS, accept="text/csv")
    assert by_accept.mimetype == "text/csv" and "Accept" in by_accept.headers["Vary"]
    assert get(client, ORGANISATIONS, accept="application/json").mimetype == "application/json"
    assert "Accept" in get(client, ORGANISATIONS).headers["Vary"]
    assert "Accept" not in get(client, ORGANISATIONS + ".csv").headers.get("Vary", "")   # a suffix fixes it
    assert client.get(ORGANISATIONS, headers={"Accept": "image/png"}).status_code == 406
    assert by_accept.get_etag()[0] != get(client, ORGANISATIONS).get_etag()[0]


def test_pages_cover_the_table_once(client):
    _, everyone, _ = html_table(client, ORGANISATIONS)
    seen, path = [], ORGANISATIONS + "?_size=3"
    while path:
        _, rows, page = html_table(client, path)
        assert len(rows) <= 3
        seen.extend(rows)
        following = [a for a in page.all("a") if a.attrs.get("rel") == "next"]
        path = following[0].attrs["href"] if following else None
    assert seen == everyone
    link = client.get(ORGANISATIONS + ".csv?_size=3").headers["Link"]
    assert link == f'<{ORGANISATIONS}.csv?_size=3&_page=2>; rel="next"'


@pytest.mark.parametrize("query,words", [
    ("?nothing=1", "no column 'nothing'"), ("?_page=0", "_page"), ("?_page=99", "no page 99"),
    ("?_size=101", "_size"), ("?_size=x", "_size"),
])
def test_bad_table_requests_are_400(client, query, words):
    response = client.get(ORGANISATIONS + query)
    assert response.status_code == 400 and response.mimetype == "application/problem+json"
    assert words in response.get_json()["detail"]


def test_unknown_classes_are_404(client):
    assert client.get("/browse/nothing:Here").status_code == 404
    assert client.get("/browse?type=https%3A%2F%2Fexample.org%2FNothing").status_code == 404


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.text(max_size=40))
def test_any_filter_value_is_data_never_query_text(client, value):
    response = client.get(ORGANISATIONS, query_string={"rdf:type": value, "_format": "json"})
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert json.loads(response.data)["total"] == 0 or value.startswith("http")


@pytest.mark.parametrize("value", ['"} } SELECT * WHERE { ?s ?p ?o', "\\", '\\"', "\\u0022) }", "'''", "\n\r\t"])
def test_hostile_filter_values_match_nothing(client, value):
    response = client.get(ORGANISATIONS, query_string={"rdf:type": value, "_format": "json"})
    assert response.status_code == 200 and json.loads(response.data)["total"] == 0
