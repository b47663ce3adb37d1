"""Sources as a list: two documents (the real one and an invented one) through build, pages, queries, dumps,
coverage and the link tools; quotes tied to their own document; adding a document with one command."""
from __future__ import annotations

import json
import os
import re
import shutil
import tomllib

import pytest
from click.testing import CliRunner
from rdflib import Literal, URIRef

from conftest import DATA, MOC, REPO, make_app
from ijdp.cli import main
from ijdp.errors import IjdpError
from ijdp.vocab import OA, PROV, SPDX

INVENTED = "invented-meity-skills-mou"
FIRST = "india-japan-semiconductor-moc"
BASE = "https://w3id.org/ijdp/"
MEITY = URIRef(BASE + "id/organization/meity")


def two_source_data(folder):
    """A copy of data/ with the invented second document added."""
    shutil.copytree(REPO / "data", folder)
    shutil.copytree(DATA / "sources" / INVENTED, folder / "sources" / INVENTED)
    return folder


@pytest.fixture(scope="module")
def two(tmp_path_factory):
    """(data folder, publication, dist) of a full build (reasoner included) of the two documents."""
    from ijdp.build import build_publication, write_dumps

    folder = two_source_data(tmp_path_factory.mktemp("two") / "data")
    previous = os.environ.get("IJDP_DATA_DIR")
    os.environ["IJDP_DATA_DIR"] = str(folder)
    try:
        publication, report = build_publication()
        dist = tmp_path_factory.mktemp("two-dist") / "dist"
        write_dumps(publication, report, dist)
    finally:
        if previous is None:
            os.environ.pop("IJDP_DATA_DIR", None)
        else:
            os.environ["IJDP_DATA_DIR"] = previous
    return folder, publication, dist


@pytest.fixture(scope="module")
def two_client(two, tmp_path_factory):
    from ijdp.store import prepare_store, store_db

    _, _, dist = two
    store = str(store_db(prepare_store(dist, BASE, cache_dir=tmp_path_factory.mktemp("two-store"))))
    app = make_app(store, dist)
    yield app.test_client()
    app.extensions["ijdp_pool"].close()


def test_the_published_data_holds_only_real_documents():
    folders = sorted(p for p in (REPO / "data" / "sources").iterdir() if p.is_dir())
    assert [p.name for p in folders] == [FIRST]
    for folder in folders:
        assert tomllib.loads((folder / "source.toml").read_text())["invented"] is False
    invented = tomllib.loads((DATA / "sources" / INVENTED / "source.toml").read_text())
    assert invented["invented"] is True
    assert (DATA / "sources" / INVENTED / "snapshot.txt").read_text().startswith("INVENTED FOR THE TESTS")


def test_two_documents_build_with_one_quote_graph_each(two):
    _, publication, _ = two
    assert [s.slug for s in publication.sources] == [FIRST, INVENTED]
    prov = publication.graphs["provenance"]
    sources = {str(o) for o in prov.objects(None, OA.hasSource)}
    assert sources == {f"{BASE}source/{FIRST}.txt", f"{BASE}source/{INVENTED}.txt"}
    # every quote is located in its own document, at its offsets
    texts = {f"{BASE}source/{s.slug}.txt": s.text for s in publication.sources}
    for target in prov.subjects(OA.hasSource, None):
        text = texts[str(prov.value(target, OA.hasSource))]
        selectors = list(prov.objects(target, OA.hasSelector))
        exact = next(str(prov.value(s, OA.exact)) for s in selectors if prov.value(s, OA.exact) is not None)
        start = next(int(prov.value(s, OA.start)) for s in selectors if prov.value(s, OA.start) is not None)
        assert text[start:start + len(exact)] == exact


def test_a_fact_two_documents_state_carries_both_quotes(two):
    _, publication, _ = two
    from ijdp.knowledge import statement_iri

    purpose = (MEITY, URIRef("http://www.w3.org/ns/org#purpose"),
               Literal("create a conducive environment for electronics manufacturing", lang="en"))
    assert purpose in publication.graphs["facts"]
    prov = publication.graphs["provenance"]
    annotations = list(prov.objects(statement_iri(purpose), PROV.wasDerivedFrom))
    documents = {str(prov.value(prov.value(a, OA.hasTarget), OA.hasSource)) for a in annotations}
    assert documents == {f"{BASE}source/{FIRST}.txt", f"{BASE}source/{INVENTED}.txt"}


def test_each_source_is_described_with_its_checksum(two):
    _, publication, dist = two
    meta = publication.graphs["metadata"]
    checksums = {str(s): str(meta.value(meta.value(s, SPDX.checksum), SPDX.checksumValue))
                 for s in meta.subjects(SPDX.checksum, None) if "/source/" in str(s)}
    assert checksums == {f"{BASE}source/{s.slug}.txt": s.sha256 for s in publication.sources}
    dataset = URIRef(BASE + "id/dataset/ijdp")
    assert set(map(str, meta.objects(dataset, PROV.wasDerivedFrom))) == set(checksums)
    invented = URIRef(f"{BASE}source/{INVENTED}.txt")
    assert any("INVENTED" in str(o) for o in meta.objects(invented, None))
    listed = json.loads((dist / "sources.json").read_text())
    assert [s["slug"] for s in listed] == [FIRST, INVENTED]
    info = json.loads((dist / "build.json").read_text())
    assert info["sources"] == {s.slug: s.sha256 for s in publication.sources}


def test_dumps_hold_both_documents_and_their_snapshots(two):
    folder, publication, dist = two
    quads = (dist / "ijdp.nq").read_text()
    assert f"<{BASE}source/{INVENTED}.txt>" in quads and f"<{BASE}source/{FIRST}.txt>" in quads
    assert f"<{BASE}id/agreement/invented-digital-skills-moc-2024>" in quads
    for source in publication.sources:
        assert (dist / "sources" / f"{source.slug}.txt").read_bytes() == source.snapshot.read_bytes()
    sums = (dist / "SHA256SUMS").read_text()
    assert f"sources/{INVENTED}.txt" in sums


def test_validate_and_coverage_take_every_source(two, monkeypatch):
    folder, _, _ = two
    monkeypatch.setenv("IJDP_DATA_DIR", str(folder))
    assert CliRunner().invoke(main, ["validate"]).exit_code == 0
    result = CliRunner().invoke(main, ["coverage"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[-1] == "27 sentences: 20 covered, 7 excluded, 0 uncovered"
    assert FIRST in lines and INVENTED in lines
    one = CliRunner().invoke(main, ["coverage", "--source", INVENTED, "--format", "json"])
    body = json.loads(one.output)
    assert [s["source"] for s in body["sources"]] == [INVENTED] and body["counts"]["uncovered"] == 0


def test_the_link_tool_reads_every_source(two, monkeypatch, tmp_path):
    folder, _, _ = two
    monkeypatch.setenv("IJDP_DATA_DIR", str(folder))
    target = tmp_path / "agreements.csv"
    target.write_text("id,name\nhttps://example.org/a/1,Memorandum of Cooperation on digital skills\n"
                      "https://example.org/a/2,Agreement on fisheries\n")
    result = CliRunner().invoke(main, ["link", "--target", str(target)])
    assert result.exit_code == 0, result.output
    rows = [line.split("\t") for line in result.output.splitlines() if line and not line.startswith("#")]
    pairs = {(r[0], r[3]) for r in rows[1:]} if rows else set()
    assert any(s.endswith("invented-digital-skills-moc-2024") and o == "https://example.org/a/1" for s, o in pairs), rows


def test_pages_list_both_sources_and_tell_where_each_quote_comes_from(two_client):
    index = two_client.get("/source/").get_data(as_text=True)
    assert f'href="/source/{FIRST}"' in index and f'href="/source/{INVENTED}"' in index
    assert "invented, for tests" in index and index.count("0 uncovered") == 2
    page = two_client.get(f"/source/{INVENTED}", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert "Invented." in page and "2024-05" in page and "0 uncovered" in page
    snapshot = two_client.get(f"/source/{INVENTED}.txt")
    assert snapshot.status_code == 200 and snapshot.data == (DATA / "sources" / INVENTED / "snapshot.txt").read_bytes()
    turtle = two_client.get(f"/source/{INVENTED}", headers={"Accept": "text/turtle"})
    assert turtle.mimetype == "text/turtle" and b"spdx" in turtle.data.lower()
    meity = two_client.get("/doc/organization/meity", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert f">{FIRST}, characters" in meity and f">{INVENTED}, characters" in meity
    document = two_client.get("/doc/document/invented-meity-skills-moc", headers={"Accept": "text/html"})
    assert f'href="/source/{INVENTED}/coverage"' in document.get_data(as_text=True)
    assert two_client.get("/source/no-such-source").status_code == 404
    assert two_client.get("/source/no-such-source.txt").status_code == 404
    assert two_client.get(f"/dumps/latest/sources/{INVENTED}.txt").status_code == 200


def test_queries_and_the_timeline_span_both_documents(two_client):
    query = ("PREFIX oa: <http://www.w3.org/ns/oa#> PREFIX prov: <http://www.w3.org/ns/prov#> "
             "SELECT ?source (COUNT(DISTINCT ?statement) AS ?facts) WHERE { ?statement prov:wasDerivedFrom ?a . "
             "?a oa:hasTarget/oa:hasSource ?source } GROUP BY ?source ORDER BY ?source")
    answer = two_client.get("/sparql", query_string={"query": query},
                            headers={"Accept": "application/sparql-results+json"})
    rows = {b["source"]["value"]: int(b["facts"]["value"]) for b in json.loads(answer.data)["results"]["bindings"]}
    assert set(rows) == {f"{BASE}source/{FIRST}.txt", f"{BASE}source/{INVENTED}.txt"}
    assert rows[f"{BASE}source/{INVENTED}.txt"] >= 10 and rows[f"{BASE}source/{FIRST}.txt"] > 100
    timeline = two_client.get("/timeline").get_data(as_text=True)
    assert "Signing of the memorandum of cooperation on digital skills" in timeline
    assert "Signing of the India-Japan semiconductor supply chain MoC" in timeline


def test_a_quote_from_another_document_is_refused_with_file_and_line(tmp_path, monkeypatch):
    from ijdp.knowledge import assemble

    folder = two_source_data(tmp_path / "data")
    facts = folder / "sources" / INVENTED / "facts.trig"
    text = facts.read_text()
    # Evidence for a fact filed under the invented document, in words only the first document has.
    borrowed = "MeitY has also been mandated to promote international cooperation"
    text = text.replace('q:environment  ijdp:quote "MeitY has been actively working to create a conducive environment '
                        'for electronics manufacturing." .', f'q:environment  ijdp:quote "{borrowed}" .')
    facts.write_text(text)
    line = next(n for n, row in enumerate(text.splitlines(), 1) if borrowed in row)
    monkeypatch.setenv("IJDP_DATA_DIR", str(folder))
    with pytest.raises(IjdpError) as caught:
        assemble()
    message = str(caught.value)
    assert message.startswith(f"{facts}:{line}: ") and f"but in that of '{FIRST}'" in message


def test_a_snapshot_that_differs_from_its_checksum_is_refused(tmp_path, monkeypatch):
    from ijdp.knowledge import assemble

    folder = two_source_data(tmp_path / "data")
    snapshot = folder / "sources" / INVENTED / "snapshot.txt"
    snapshot.write_text(snapshot.read_text().replace("May, 2024", "June, 2024"))
    monkeypatch.setenv("IJDP_DATA_DIR", str(folder))
    toml = folder / "sources" / INVENTED / "source.toml"
    line = next(n for n, row in enumerate(toml.read_text().splitlines(), 1) if row.startswith("sha256"))
    with pytest.raises(IjdpError, match=rf"^{re.escape(str(toml))}:{line}: sha256 .* does not match snapshot.txt"):
        assemble()


def test_two_sources_cannot_share_a_quote_name(tmp_path, monkeypatch):
    from ijdp.knowledge import assemble

    folder = two_source_data(tmp_path / "data")
    facts = folder / "sources" / INVENTED / "facts.trig"
    facts.write_text(facts.read_text().replace("id/annotation/invented-meity-skills-mou/", "id/annotation/"))
    monkeypatch.setenv("IJDP_DATA_DIR", str(folder))
    with pytest.raises(IjdpError, match="already a quote of another source"):
        assemble()


def test_new_source_makes_the_folder_and_the_build_says_what_is_missing(tmp_path, monkeypatch):
    folder = tmp_path / "data"
    shutil.copytree(REPO / "data", folder)
    monkeypatch.setenv("IJDP_DATA_DIR", str(folder))
    document = tmp_path / "next-release.txt"
    document.write_text("MeitY And Another Ministry Sign An MoU\n\nThe MoU was signed in May 2024.\n")
    made = CliRunner().invoke(main, ["new-source", str(document), "--slug", "next-release"])
    assert made.exit_code == 0, made.output
    new = folder / "sources" / "next-release"
    assert sorted(p.name for p in new.iterdir()) == ["exclusions.tsv", "facts.trig", "snapshot.txt", "source.toml"]
    assert (new / "snapshot.txt").read_bytes() == document.read_bytes()
    metadata = tomllib.loads((new / "source.toml").read_text())
    assert metadata["title"] == "MeitY And Another Ministry Sign An MoU" and metadata["invented"] is False
    assert "id/annotation/next-release/" in (new / "facts.trig").read_text()
    # the stub leaves the kind to the person adding the document; the build says so
    result = CliRunner().invoke(main, ["build", "--out", str(tmp_path / "dist"), "--skip-reasoner"])
    assert result.exit_code == 2 and f"{new / 'source.toml'}: 'kind' is required" in result.output
    (new / "source.toml").write_text((new / "source.toml").read_text().replace('kind = ""', 'kind = "press release"'))
    result = CliRunner().invoke(main, ["build", "--out", str(tmp_path / "dist"), "--skip-reasoner"])
    assert result.exit_code == 0, result.output
    # nothing quoted yet: every sentence of the new document is uncovered, and coverage says so
    coverage = CliRunner().invoke(main, ["coverage", "--source", "next-release"])
    assert coverage.exit_code == 1 and coverage.output.strip().endswith("2 sentences: 0 covered, 0 excluded, 2 uncovered")
    again = CliRunner().invoke(main, ["new-source", str(document), "--slug", "other-name"])
    assert again.exit_code == 2 and "already the source 'next-release'" in again.output
    bad = CliRunner().invoke(main, ["new-source", str(document), "--slug", "Bad Slug"])
    assert bad.exit_code == 2 and "lower-case letters" in bad.output


def test_the_first_source_is_where_it_was_published(client):
    """The snapshot's IRI is unchanged by the move to a folder per source."""
    assert client.get(f"/source/{FIRST}.txt").data == (REPO / "data" / MOC / "snapshot.txt").read_bytes()
    page = client.get(f"/source/{FIRST}", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert "not stated by the document" in page and "df4b52c94c30" in page


@pytest.mark.parametrize("change,message", [
    (lambda t: t.replace('invented = true', 'invented = true\npublished_by = "x"'), "unknown field 'published_by'"),
    (lambda t: t.replace('date = "2024-05"', 'date = "May 2024"'), "date must be YYYY-MM-DD or YYYY-MM"),
    (lambda t: t.replace('title = "', 'title = '), "Invalid"),
    (lambda t: t.replace('kind = "news article"', 'kind = ""'), "'kind' is required"),
])
def test_a_bad_metadata_file_stops_the_build_with_its_name(tmp_path, monkeypatch, change, message):
    from ijdp.knowledge import assemble

    folder = two_source_data(tmp_path / "data")
    toml = folder / "sources" / INVENTED / "source.toml"
    toml.write_text(change(toml.read_text()))
    monkeypatch.setenv("IJDP_DATA_DIR", str(folder))
    with pytest.raises(IjdpError) as caught:
        assemble()
    assert str(caught.value).startswith(str(toml)) and message in str(caught.value), str(caught.value)


@pytest.mark.parametrize("change,message", [
    (lambda t: t.replace('\n    dcterms:references <https://www.meti.go.jp/english/> .', '')
                .replace('the name most readers search for."@en ;', 'the name most readers search for."@en .'),
     "must say who added it, why and from where; missing dcterms:references"),
    (lambda t: t + '\nc:nothing a ijdp:Curation ; dcterms:creator "x" ; ijdp:justification "y"@en ;'
                   ' dcterms:references <https://example.org/> .\n', "adds no statements"),
    (lambda t: t.replace('organization:meti skos:altLabel "METI"@en .',
                         'organization:meti skos:altLabel "METI"@en ; '
                         'skos:prefLabel "Ministry of Economy, Trade and Industry"@en .'),
     "is stated by a source already"),
])
def test_a_curation_without_who_why_and_reference_or_with_quoted_facts_is_refused(tmp_path, monkeypatch, change,
                                                                                   message):
    from ijdp.knowledge import assemble

    folder = tmp_path / "data"
    shutil.copytree(REPO / "data", folder)
    curated = folder / "curated.trig"
    curated.write_text(change(curated.read_text()))
    monkeypatch.setenv("IJDP_DATA_DIR", str(folder))
    with pytest.raises(IjdpError) as caught:
        assemble()
    assert re.match(rf"{re.escape(str(curated))}:\d+: ", str(caught.value)) and message in str(caught.value), \
        str(caught.value)
