"""An agreement's page opens with its fact sheet: parties and their countries, signed, in force from and until,
based on, subject; each value with its evidence, and derived values with the rule and what they were computed from."""
from __future__ import annotations

import rdflib

from htmltree import parse

MOC = "https://w3id.org/ijdp/id/agreement/semiconductor-supply-chain-moc-2023"
IJDP = rdflib.Namespace("https://w3id.org/ijdp/ontology#")


def sheet(client, path: str) -> dict:
    """{row label: [dd element]} of the page's fact sheet ({} when it has none)."""
    response = client.get(path, headers={"Accept": "text/html"}, follow_redirects=True)
    assert response.status_code == 200, (path, response.status_code)
    sections = parse(response.get_data(as_text=True)).all("section", class_="fact-sheet")
    if not sections:
        return {}
    rows, label = {}, None
    for element in sections[0].first("dl").elements():
        if element.tag == "dt":
            label = element.words()
            rows[label] = []
        elif element.tag == "dd":
            rows[label].append(element)
    return rows


def quotes(element) -> list[str]:
    return [q.words() for q in element.all("blockquote", class_="quote")]


def own_quotes(dd) -> list[str]:
    """The quotes of the value itself, not those of its country."""
    inner = {id(q) for c in dd.all("div", class_="country") for q in c.all("blockquote")}
    return [q.words() for q in dd.all("blockquote", class_="quote") if id(q) not in inner]


def test_the_moc_page_opens_with_its_fact_sheet(client):
    rows = sheet(client, "/id/agreement/semiconductor-supply-chain-moc-2023")     # as a reader arrives: /id/ → 303
    assert list(rows) == ["Parties", "Signed", "In force from", "In force until", "In force for", "Based on", "Subject"]

    parties = {dd.first("a").words(): dd for dd in rows["Parties"]}
    assert set(parties) == {"Ministry of Electronics and Information Technology", "Ministry of Economy, Trade and Industry"}
    for party, country in (("Ministry of Electronics and Information Technology", "India"),
                           ("Ministry of Economy, Trade and Industry", "Japan")):
        dd = parties[party]
        assert any(party in q for q in own_quotes(dd)), "the party's own quote"
        where = dd.first("div", class_="country")
        assert country in where.first("a").words()
        assert where.first("a").attrs["href"].startswith("/id/country/")
        assert any(country in q for q in quotes(where)), "the country's own evidence"

    signed = rows["Signed"][0]
    assert signed.first("time").attrs["datetime"] == "2023-07"
    assert any("signed in July, 2023" in q for q in quotes(signed))
    assert rows["In force from"][0].first("time").attrs["datetime"] == "2023-07"

    based_on = {dd.first("a").words(): dd for dd in rows["Based on"]}
    assert set(based_on) == {"India-Japan Digital Partnership", "India-Japan Industrial Competitiveness Partnership"}
    for dd in based_on.values():
        assert any(q.startswith("“Based on the ongoing IJDP") for q in quotes(dd))
    assert rows["Subject"][0].first("a").words() == "Japan-India Semiconductor Supply Chain Partnership"
    assert quotes(rows["Subject"][0])


def test_the_end_of_the_period_in_force_says_how_it_was_derived(client, publication):
    until = sheet(client, "/doc/agreement/semiconductor-supply-chain-moc-2023")["In force until"][0]
    assert until.first("time").attrs["datetime"] == "2028-07"
    assert until.first("span", class_="badge").words() == "derived"
    # The rule is the data's own, read by SPARQL, not written into the page code.
    end = rdflib.URIRef("https://w3id.org/ijdp/id/instant/moc-period-in-force-end")
    provenance = publication.graphs["provenance"]
    statement = next(s for s in provenance.subjects(rdflib.RDF.subject, end)
                     if (s, rdflib.RDF.predicate, rdflib.URIRef("http://www.w3.org/2006/time#inXSDgYearMonth")) in provenance)
    rule = str(provenance.value(statement, IJDP.derivationRule))
    assert until.first("p", class_="derivation").words() == " ".join(rule.split())
    premises = [li.words() for li in until.first("ul", class_="premises").all("li")]
    assert any("date" in p and "July 2023" in p for p in premises)      # the signing date…
    assert any("5 years (P5Y)" in p for p in premises)                  # …plus its duration
    assert any("shall be remain in force for a period of five years." in q for q in quotes(until))


def test_only_agreements_have_a_fact_sheet(client):
    assert sheet(client, "/doc/country/india") == {}
    assert sheet(client, "/doc/organization/meity") == {}


def test_a_document_holds_the_resource_its_neighbours_labels_and_its_provenance_only(client):
    """The description's labels are of the resource, what it links to or from, its properties and datatypes:
    the query once added every labelled thing of the store to any resource with a literal value."""
    response = client.get("/doc/country/india.ttl")
    graph = rdflib.Graph().parse(data=response.data, format="turtle")
    india = rdflib.URIRef("https://w3id.org/ijdp/id/country/india")
    near = {india} | set(graph.objects(india)) | set(graph.subjects(None, india)) | set(graph.predicates(india)) \
        | set(graph.predicates(None, india)) | {o.datatype for o in graph.objects(india) if isinstance(o, rdflib.Literal)}
    labelled = set(graph.subjects(rdflib.RDFS.label)) | set(graph.subjects(rdflib.SKOS.prefLabel))
    assert labelled and labelled <= near, sorted(labelled - near)[:5]


def test_a_curated_value_says_who_added_it_and_why(admin_app):
    """A value no source states (added here through the admin update path, as a curation is recorded) is
    labelled curated on the fact sheet, with its curation's justification and reference."""
    partnership = "https://w3id.org/ijdp/id/partnership/india-japan-digital-partnership"
    curation = "https://w3id.org/ijdp/id/curation/test-subject"
    update = f"""PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#>
PREFIX prov: <http://www.w3.org/ns/prov#>
PREFIX dcterms: <http://purl.org/dc/terms/>
INSERT DATA {{
  GRAPH <https://w3id.org/ijdp/graph/curated> {{ <{MOC}> dcterms:subject <{partnership}> }}
  GRAPH <https://w3id.org/ijdp/graph/provenance> {{
    <https://w3id.org/ijdp/id/statement/test-subject> a rdf:Statement ; rdf:subject <{MOC}> ;
      rdf:predicate dcterms:subject ; rdf:object <{partnership}> ; prov:wasDerivedFrom <{curation}> .
    <{curation}> <{IJDP.justification}> "Added by a test, to see it shown." ; dcterms:creator "the tests" ;
      dcterms:references <https://example.org/why> }} }}"""
    client = admin_app.test_client()
    done = client.post("/sparql/update", data=update, content_type="application/sparql-update",
                       headers={"Authorization": "Bearer s3cret"})
    assert done.status_code == 200, done.get_data(as_text=True)
    subjects = {dd.first("a").words(): dd for dd in sheet(client, "/doc/agreement/semiconductor-supply-chain-moc-2023")["Subject"]}
    curated = subjects["India-Japan Digital Partnership"]
    assert curated.first("span", class_="badge").words() == "curated"
    note = curated.first("p", class_="curation").words()
    assert "the tests" in note and "Added by a test, to see it shown." in note and "https://example.org/why" in note
    assert not quotes(curated)
    quoted = subjects["Japan-India Semiconductor Supply Chain Partnership"]
    assert quotes(quoted) and not quoted.all("span", class_="badge")
