"""Dereferenceable IRIs, negotiated documents with their quotes, ontology, shapes, dumps and VoID (test client)."""
import hashlib
import json

import pytest
import rdflib
from rdflib import RDF, URIRef

MOC_PATH = "agreement/semiconductor-supply-chain-moc-2023"
MOC = "https://w3id.org/ijdp/id/" + MOC_PATH
VOID = rdflib.Namespace("http://rdfs.org/ns/void#")
DCAT = rdflib.Namespace("http://www.w3.org/ns/dcat#")
SPDX = rdflib.Namespace("http://spdx.org/rdf/terms#")

RDF_DOCS = [("text/turtle", "ttl", "turtle"), ("application/ld+json", "jsonld", "json-ld"),
            ("application/n-triples", "nt", "nt"), ("application/rdf+xml", "rdf", "xml")]


def test_resource_iri_answers_303_to_its_document(client):
    response = client.get("/id/" + MOC_PATH)
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/doc/" + MOC_PATH)


def test_unknown_iri_is_404(client):
    assert client.get("/id/agreement/no-such-thing").status_code == 404
    assert client.get("/doc/agreement/no-such-thing").status_code == 404
    assert client.get("/doc/agreement/no-such-thing.ttl").status_code == 404


@pytest.mark.parametrize("media,extension,parser", RDF_DOCS)
def test_document_negotiates_rdf_by_accept_and_by_suffix(client, media, extension, parser):
    negotiated = client.get("/doc/" + MOC_PATH, headers={"Accept": media})
    assert negotiated.status_code == 200 and negotiated.mimetype == media
    assert negotiated.headers["Vary"] == "Accept"
    by_suffix = client.get(f"/doc/{MOC_PATH}.{extension}")
    assert by_suffix.mimetype == media
    graph = rdflib.Graph().parse(data=by_suffix.data, format=parser)
    assert (URIRef(MOC), RDF.type, URIRef("https://w3id.org/ijdp/ontology#MemorandumOfCooperation")) in graph
    # the document carries the quotes behind its facts
    oa = rdflib.Namespace("http://www.w3.org/ns/oa#")
    assert any("signed in July, 2023" in str(o) for o in graph.objects(None, oa.exact))


def test_q_values_choose_the_format(client):
    response = client.get("/doc/" + MOC_PATH, headers={"Accept": "text/html;q=0.5, text/turtle;q=0.9"})
    assert response.mimetype == "text/turtle"
    response = client.get("/doc/" + MOC_PATH, headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert response.mimetype == "text/html"


def test_406_when_no_format_fits(client):
    response = client.get("/doc/" + MOC_PATH, headers={"Accept": "image/png"})
    assert response.status_code == 406 and response.mimetype == "application/problem+json"


def test_link_alternates_etag_last_modified_and_304(client):
    response = client.get("/doc/" + MOC_PATH, headers={"Accept": "text/html"})
    links = response.headers["Link"]
    for extension in ("ttl", "jsonld", "nt", "rdf"):
        assert f'</doc/{MOC_PATH}.{extension}>; rel="alternate"' in links
    assert 'rel="describedby"' in links
    assert response.headers["ETag"] and response.headers["Last-Modified"]
    again = client.get("/doc/" + MOC_PATH, headers={"Accept": "text/html", "If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304


def test_html_page_shows_each_fact_with_its_quote(client):
    page = client.get("/doc/" + MOC_PATH, headers={"Accept": "text/html"}).get_data(as_text=True)
    assert "<h1>Memorandum of Cooperation on Japan-India Semiconductor" in page
    assert "Ministry of Electronics and Information Technology" in page
    # the signing quote, with its position in the snapshot as an RFC 5147 fragment
    assert "signed in July, 2023 between the Ministry of Electronics" in page
    assert "/source/india-japan-semiconductor-moc.txt#char=162,359" in page
    assert "What links here" in page and "Union Cabinet apprised" in page
    assert "/sparql?query=DESCRIBE" in page
    embedded = page.split('<script type="application/ld+json">', 1)[1].split("</script>", 1)[0]
    graph = rdflib.Graph().parse(data=embedded, format="json-ld")
    assert (URIRef(MOC), None, None) in graph


def test_dates_are_shown_as_the_source_states_them(client):
    page = client.get("/doc/event/moc-signing", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert "July 2023" in page
    page = client.get("/doc/interval/moc-period-in-force", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert "5 years (P5Y)" in page


def test_derived_facts_say_so_and_show_what_they_come_from(client):
    page = client.get("/doc/instant/moc-period-in-force-end", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert "July 2028" in page and "derived" in page
    assert "Computed by ijdp build, not stated by the source." in page
    assert "shall be remain in force for a period of five years." in page


def test_links_out_to_other_datasets(client):
    page = client.get("/doc/country/india", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert "http://www.wikidata.org/entity/Q668" in page
    assert "https://sws.geonames.org/1269750/" in page


def test_iri_that_ends_like_a_suffix_is_still_found(client):
    page = client.get("/doc/distribution/ijdp.ttl", headers={"Accept": "text/html"})
    assert page.status_code == 200 and page.mimetype == "text/html"
    turtle = client.get("/doc/distribution/ijdp.ttl.ttl")
    assert turtle.mimetype == "text/turtle"


def test_mapping_set_is_served_as_sssom_and_described(client, dist):
    table = client.get("/mappings/links", headers={"Accept": "text/tab-separated-values"})
    assert table.mimetype == "text/tab-separated-values"
    assert table.data == (dist / "ijdp-links.sssom.tsv").read_bytes()
    page = client.get("/mappings/links", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert "Identity links from the India-Japan semiconductor MoC publication" in page


def test_graph_iris_are_described(client):
    response = client.get("/graph/facts", headers={"Accept": "text/turtle"})
    graph = rdflib.Graph().parse(data=response.data, format="turtle")
    assert (None, VOID.subset, URIRef("https://w3id.org/ijdp/graph/facts")) in graph


def test_ontology_at_its_namespace(client):
    page = client.get("/ontology", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert 'id="MemorandumOfCooperation"' in page and "Aligned to" in page and "org:Organization" in page
    turtle = client.get("/ontology", headers={"Accept": "text/turtle"})
    graph = rdflib.Graph().parse(data=turtle.data, format="turtle")
    assert (URIRef("https://w3id.org/ijdp/ontology"), RDF.type, rdflib.OWL.Ontology) in graph
    assert client.get("/ontology.rdf").mimetype == "application/rdf+xml"
    assert client.get("/ontology/1.0.0", headers={"Accept": "text/turtle"}).status_code == 200
    assert client.get("/ontology/9.9.9").status_code == 404


def test_shapes_and_report_are_published(client):
    shapes = client.get("/shapes.ttl")
    graph = rdflib.Graph().parse(data=shapes.data, format="turtle")
    sh = rdflib.Namespace("http://www.w3.org/ns/shacl#")
    assert len(list(graph.subjects(RDF.type, sh.NodeShape))) >= 25
    report = rdflib.Graph().parse(data=client.get("/shapes/report").data, format="turtle")
    assert (None, sh.conforms, rdflib.Literal(True)) in report
    assert "the data conforms" in client.get("/shapes", headers={"Accept": "text/html"}).get_data(as_text=True)


def test_source_snapshot_is_served_unchanged(client):
    from conftest import MOC_FOLDER
    response = client.get("/source/india-japan-semiconductor-moc.txt")
    assert response.mimetype == "text/plain"
    assert response.data == (MOC_FOLDER / "snapshot.txt").read_bytes()


# ------------------------------------------------------------------ dumps

def test_dumps_listing(client, dist, publication):
    page = client.get("/dumps/").get_data(as_text=True)
    row = page.split('href="/dumps/latest/ijdp.nt"', 1)[1].split("</tr>", 1)[0]
    assert f"<td>{len(publication.merged())}</td>" in row
    for name in ("ijdp.ttl", "ijdp.nt.gz", "ijdp.trig", "ijdp.nq", "ijdp.jsonld", "ijdp.rdf", "SHA256SUMS"):
        assert f'href="/dumps/latest/{name}"' in page
    assert "CC BY 4.0" in page


@pytest.mark.parametrize("name,media", [("ijdp.ttl", "text/turtle"), ("ijdp.nt", "application/n-triples"),
                                        ("ijdp.trig", "application/trig"), ("ijdp.nq", "application/n-quads"),
                                        ("ijdp.jsonld", "application/ld+json"), ("ijdp.rdf", "application/rdf+xml"),
                                        ("ijdp.ttl.gz", "application/gzip"), ("SHA256SUMS", "text/plain")])
def test_dump_files_have_media_type_length_and_etag(client, dist, name, media):
    response = client.get(f"/dumps/latest/{name}")
    assert response.status_code == 200 and response.mimetype == media
    assert int(response.headers["Content-Length"]) == (dist / name).stat().st_size
    assert response.data == (dist / name).read_bytes()
    assert response.headers["ETag"]
    assert client.get(f"/dumps/latest/{name}", headers={"If-None-Match": response.headers["ETag"]}).status_code == 304


def test_dated_version_and_range_requests(client, dist):
    date = json.loads((dist / "build.json").read_text())["built_at"][:10]
    dated = client.get(f"/dumps/{date}/ijdp.nt")
    assert dated.status_code == 200
    assert client.get("/dumps/1999-01-01/ijdp.nt").status_code == 404
    partial = client.get("/dumps/latest/ijdp.nt", headers={"Range": "bytes=0-99"})
    assert partial.status_code == 206 and len(partial.data) == 100
    assert partial.data == (dist / "ijdp.nt").read_bytes()[:100]
    assert client.get("/dumps/latest/secrets.txt").status_code == 404


def test_checksums_match_what_is_served(client):
    sums = client.get("/dumps/latest/SHA256SUMS").get_data(as_text=True).splitlines()
    for line in sums[:4]:
        digest, name = line.split("  ")
        assert hashlib.sha256(client.get(f"/dumps/latest/{name}").data).hexdigest() == digest


def test_void_describes_dataset_dumps_endpoint_and_linksets(client, dist, publication):
    response = client.get("/.well-known/void", headers={"Accept": "text/turtle"})
    assert response.mimetype == "text/turtle"
    g = rdflib.Graph().parse(data=response.data, format="turtle")
    dataset = URIRef("https://w3id.org/ijdp/id/dataset/ijdp")
    assert (dataset, RDF.type, VOID.Dataset) in g and (dataset, RDF.type, DCAT.Dataset) in g
    for predicate in (VOID.triples, VOID.entities, VOID.classes, VOID.properties, VOID.sparqlEndpoint, VOID.uriSpace):
        assert g.value(dataset, predicate) is not None, predicate
    dumps = set(g.objects(dataset, VOID.dataDump))
    assert len(dumps) == 12
    linksets = set(g.subjects(RDF.type, VOID.Linkset))
    assert {str(l).rsplit("/", 1)[1] for l in linksets} == {"wikidata", "geonames", "eu-authority", "gbizinfo"}
    for distribution in g.objects(dataset, DCAT.distribution):
        name = str(distribution).rsplit("/", 1)[1]
        if name == "sparql":    # the endpoint, reached through its data service: no file, no size
            assert g.value(distribution, DCAT.accessService) == URIRef("https://w3id.org/ijdp/id/service/sparql")
            continue
        assert int(g.value(distribution, DCAT.byteSize)) == (dist / name).stat().st_size
        checksum = g.value(distribution, SPDX.checksum)
        assert str(g.value(checksum, SPDX.checksumValue)) == hashlib.sha256((dist / name).read_bytes()).hexdigest()
        assert g.value(distribution, DCAT.mediaType) is not None
        assert g.value(distribution, rdflib.namespace.DCTERMS.license) is not None
    prov = rdflib.Namespace("http://www.w3.org/ns/prov#")
    build = g.value(dataset, prov.wasGeneratedBy)
    assert g.value(build, prov.endedAtTime) is not None
    used = {str(u) for u in g.objects(build, prov.used)}
    assert "https://w3id.org/ijdp/source/india-japan-semiconductor-moc.txt" in used
    assert "https://w3id.org/ijdp/ontology/1.0.0" in used


def test_every_page_links_to_the_void(client):
    page = client.get("/doc/" + MOC_PATH, headers={"Accept": "text/html"}).get_data(as_text=True)
    assert 'href="/.well-known/void"' in page


# ----------------------------------------------------------------- the UI

def test_home_and_sparql_serve_the_query_editor(client):
    from ijdp.ui import yasgui_folder
    for path in ("/", "/sparql"):
        page = client.get(path, headers={"Accept": "text/html"}).get_data(as_text=True)
        assert 'id="plain-form"' in page  # works without JavaScript
        if yasgui_folder() is not None:
            assert '/ui/vendor/yasgui.min.js' in page
    if yasgui_folder() is not None:
        script = client.get("/ui/vendor/yasgui.min.js")
        assert script.status_code == 200 and len(script.data) > 100_000


def test_plain_form_fallback_without_yasgui(client, monkeypatch):
    import ijdp.ui
    monkeypatch.setattr(ijdp.ui, "yasgui_folder", lambda: None)
    page = client.get("/", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert "yasgui" not in page.lower() and '<form method="get" action="/sparql"' in page
    assert client.get("/ui/vendor/yasgui.min.js").status_code == 404


def test_timeline_and_graph_pages_work_without_javascript(client):
    timeline = client.get("/timeline").get_data(as_text=True)
    assert "October 2018" in timeline and "July 2023" in timeline and "July 2028" in timeline
    graph = client.get("/graph-view").get_data(as_text=True)
    assert "India-Japan Digital Partnership" in graph and "based on" in graph


def test_example_queries_are_served(client):
    response = client.get("/queries/01-parties.rq")
    assert response.status_code == 200 and "SELECT" in response.get_data(as_text=True)
    assert client.get("/queries/nope.rq").status_code == 404


@pytest.mark.parametrize("path,title,first", [
    ("/.well-known/void", "The dataset, described", "dcat:distribution"),
    ("/sparql/description", "The SPARQL service, described", "sd:resultFormat"),
])
def test_void_and_the_service_description_are_readable_pages_in_a_browser(client, path, title, first):
    browser = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
    page = client.get(path, headers=browser)
    assert page.status_code == 200 and page.mimetype == "text/html"
    text = page.get_data(as_text=True)
    assert f"<h1>{title}</h1>" in text and first in text
    assert f'href="{path}.ttl"' in text                       # the RDF, one click away
    as_turtle = client.get(path + ".ttl")
    assert as_turtle.status_code == 200 and as_turtle.mimetype == "text/turtle"
    assert len(rdflib.Graph().parse(data=as_turtle.data, format="turtle")) > 10
    # RDF clients and curl's */* still get RDF from the same address
    for accept in ("text/turtle", "*/*"):
        assert client.get(path, headers={"Accept": accept}).mimetype == "text/turtle"


def test_the_navigation_void_link_opens_a_page(client):
    home = client.get("/", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert 'href="/.well-known/void"' in home
    assert client.get("/.well-known/void", headers={"Accept": "text/html"}).mimetype == "text/html"


def test_codes_name_their_code_system_and_links_appear_once(client):
    page = client.get("/doc/country/japan", headers={"Accept": "text/html"}).get_data(as_text=True)
    for code in ("ISO 3166-1 alpha-2 code: JP", "ISO 3166-1 alpha-3 code: JPN", "ISO 3166-1 numeric code: 392"):
        assert code in page
    assert page.count(">http://www.wikidata.org/entity/Q17<") == 1      # listed once, in "the same thing elsewhere"


def test_link_text_is_never_a_bare_iri_and_inverse_wording_reads_naturally(client):
    import re
    for path in ("/doc/country/japan", "/doc/agreement/semiconductor-supply-chain-moc-2023",
                 "/doc/concept/facility-type/display-fab", "/doc/organization/meity"):
        page = client.get(path, headers={"Accept": "text/html"}).get_data(as_text=True)
        main = page.split('<h2 id="statements">', 1)[-1]
        texts = re.findall(r'<a href="[^"]*">([^<]*)</a>', main)
        assert texts and not [t for t in texts if re.match(r"https?://\S+#\S*$", t) or re.fullmatch(r"[0-9a-f]{16}", t)]
        assert " of of" not in page and "is about of" not in page and "is between of" not in page
        assert "annotated source" not in page


@pytest.mark.parametrize("path", ["/doc/dataset/ijdp", "/doc/document/press-release"])
def test_the_dataset_and_the_source_say_how_to_cite_the_publication(client, dist, path):
    import html
    build = json.loads((dist / "build.json").read_text())
    page = client.get(path, headers={"Accept": "text/html"}).get_data(as_text=True)
    assert "How to cite" in page
    bibtex = html.unescape(page.split('<pre id="citation-bibtex">', 1)[1].split("</pre>", 1)[0])
    assert bibtex.startswith("@dataset{") and f"version = {{{build['version']}}}" in bibtex
    assert "url = {https://w3id.org/ijdp/id/dataset/ijdp}" in bibtex and "CC BY 4.0" in bibtex
    csl = json.loads(html.unescape(page.split('<pre id="citation-csl">', 1)[1].split("</pre>", 1)[0]))
    item = csl[0]
    assert item["type"] == "dataset" and item["version"] == build["version"]
    assert item["URL"] == "https://w3id.org/ijdp/id/dataset/ijdp"
    assert item["issued"]["date-parts"][0] == [int(p) for p in build["built_at"][:10].split("-")]
    assert client.get("/citation.bib").get_data(as_text=True) == bibtex
    assert json.loads(client.get("/citation.json").data) == csl


def test_other_pages_carry_no_citation_block(client):
    assert "How to cite" not in client.get("/doc/country/japan", headers={"Accept": "text/html"}).get_data(as_text=True)


def test_the_source_is_called_what_it_is_a_news_article(client, publication):
    meta = publication.graphs["metadata"]
    texts = " ".join(str(o) for o in meta.objects() if isinstance(o, rdflib.Literal))
    assert "the press release as published" not in texts and "news article" in texts
    page = client.get("/", headers={"Accept": "text/html"}).get_data(as_text=True)
    # What the document is, as its metadata says; that it reports a press release no reference says.
    assert ">the press release</a>" not in page and "press release" not in page
    assert "a news article on the Union Cabinet being apprised" in page


def test_curated_statements_show_who_why_and_the_reference_not_a_quote(client):
    page = client.get("/doc/organization/meti", headers={"Accept": "text/html"}).get_data(as_text=True)
    acronym = page[page.index(">alternative label</a></dt>"):]
    acronym = acronym[:acronym.index("</dd>")]
    assert "METI" in acronym and '<span class="badge">curated</span>' in acronym
    assert 'href="https://www.meti.go.jp/english/"' in acronym and "ijdp maintainers" in acronym
    assert "<blockquote" not in acronym
    curation = client.get("/doc/curation/meti-acronym", headers={"Accept": "text/turtle"})
    graph = rdflib.Graph().parse(data=curation.data, format="turtle")
    assert (rdflib.URIRef("https://w3id.org/ijdp/id/curation/meti-acronym"), rdflib.namespace.DCTERMS.references,
            rdflib.URIRef("https://www.meti.go.jp/english/")) in graph
