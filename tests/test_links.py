"""The published links: verified only, justified, valid SSSOM, round-tripping with the links graph."""
import csv

import pytest
import rdflib
from rdflib import OWL, URIRef

from conftest import DATA, REPO
from ijdp.links import MAPPING_PREDICATES, SCHEMA_SAME_AS, links_graph, read_sssom, rows_from_graph, write_sssom
from ijdp.metadata import LINK_TARGETS

TABLE = REPO / "data" / "links.sssom.tsv"
REVIEW = REPO / "data" / "links-review.tsv"


def sssom_report(path):
    from sssom.constants import SchemaValidationType
    from sssom.parsers import parse_sssom_table
    from sssom.validators import validate

    msdf = parse_sssom_table(str(path))
    kinds = [SchemaValidationType.JsonSchema, SchemaValidationType.PrefixMapCompleteness,
             SchemaValidationType.StrictCurieFormat]
    reports = validate(msdf, kinds, fail_on_error=False)
    problems = [result for report in reports.values() for result in report.results]
    # the parser drops rows that are not well-formed (with a warning): that is a failure too
    rows = [line for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")][1:]
    if len(msdf.df) != len(rows):
        problems.append(f"{len(rows) - len(msdf.df)} of {len(rows)} rows are not well-formed SSSOM")
    return msdf, problems


def test_links_table_is_valid_sssom():
    msdf, problems = sssom_report(TABLE)
    assert problems == []
    assert len(msdf.df) == 9


def test_the_validator_rejects_an_invalid_table():
    _, problems = sssom_report(DATA / "sssom" / "invalid-justification.sssom.tsv")
    assert problems, "a table whose mapping_justification is not a CURIE must not validate"


def test_published_table_is_valid_sssom_too(dist):
    msdf, problems = sssom_report(dist / "ijdp-links.sssom.tsv")
    assert problems == [] and len(msdf.df) == 9


def test_table_and_links_graph_round_trip(publication):
    metadata, rows = read_sssom(TABLE)
    graph = links_graph(metadata, rows)
    back = rows_from_graph(graph, metadata["curie_map"])
    key = lambda r: (r["subject_id"], r["predicate_id"], r["object_id"])
    assert sorted(map(key, back)) == sorted(map(key, rows))
    for original, returned in zip(sorted(rows, key=key), back):
        assert {k: v.strip() for k, v in original.items()} == returned
    again = links_graph(metadata, back)
    assert rdflib.compare.isomorphic(graph, again)
    # the build's links graph holds exactly these mappings
    published = {(s, p, o) for s, p, o in publication.graphs["links"] if p in MAPPING_PREDICATES}
    assert published == {(s, p, o) for s, p, o in graph if p in MAPPING_PREDICATES}


def test_table_text_round_trips(tmp_path):
    metadata, rows = read_sssom(TABLE)
    path = tmp_path / "again.sssom.tsv"
    path.write_text(write_sssom(metadata, rows_from_graph(links_graph(metadata, rows), metadata["curie_map"])))
    metadata2, rows2 = read_sssom(path)
    assert metadata2 == metadata
    assert sorted(r["object_id"] for r in rows2) == sorted(r["object_id"] for r in rows)


@pytest.mark.parametrize("subject,predicate,target", [
    ("country/india", OWL.sameAs, "http://www.wikidata.org/entity/Q668"),
    ("country/india", OWL.sameAs, "https://sws.geonames.org/1269750/"),
    ("country/india", SCHEMA_SAME_AS, "http://publications.europa.eu/resource/authority/country/IND"),
    ("country/japan", OWL.sameAs, "http://www.wikidata.org/entity/Q17"),
    ("country/japan", OWL.sameAs, "https://sws.geonames.org/1861060/"),
    ("country/japan", SCHEMA_SAME_AS, "http://publications.europa.eu/resource/authority/country/JPN"),
    ("person/narendra-modi", OWL.sameAs, "http://www.wikidata.org/entity/Q1058"),
    ("post/prime-minister", SCHEMA_SAME_AS, "http://www.wikidata.org/entity/Q192711"),
])
def test_verified_links_are_published(publication, subject, predicate, target):
    assert (URIRef("https://w3id.org/ijdp/id/" + subject), predicate, URIRef(target)) in publication.graphs["links"]


def test_a_memorandum_of_cooperation_is_not_mapped_to_treaty(publication):
    # No source says it binds its parties: no treaty, not even broader.
    moc = URIRef("https://w3id.org/ijdp/ontology#MemorandumOfCooperation")
    assert list(publication.graphs["links"].predicate_objects(moc)) == []
    assert not [t for t in publication.graphs["links"] if "Treaty" in str(t[2]) or str(t[2]).endswith("Q131569")]


def test_posts_are_matched_not_made_identical(publication, built):
    post = URIRef("https://w3id.org/ijdp/id/post/prime-minister")
    wikidata = URIRef("http://www.wikidata.org/entity/Q192711")
    assert (post, OWL.sameAs, None) not in publication.graphs["links"]
    # so the reasoner pushes no local type onto Wikidata's node
    assert (wikidata, rdflib.RDF.type, None) not in publication.graphs["derived"]
    nt = (built[2] / "ijdp.nt").read_text(encoding="utf-8")
    assert f"<{wikidata}> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type>" not in nt


def test_iso_codes_of_the_countries(publication):
    skos = rdflib.Namespace("http://www.w3.org/2004/02/skos/core#")
    india = {str(v) for v in publication.graphs["links"].objects(URIRef("https://w3id.org/ijdp/id/country/india"), skos.notation)}
    japan = {str(v) for v in publication.graphs["links"].objects(URIRef("https://w3id.org/ijdp/id/country/japan"), skos.notation)}
    assert india == {"IN", "IND", "356"} and japan == {"JP", "JPN", "392"}


def test_every_link_records_who_asserted_it_and_how_it_was_checked():
    _, rows = read_sssom(TABLE)
    for row in rows:
        assert row["mapping_justification"].startswith("semapv:")
        assert row["author_label"] and row["reviewer_label"] and row["comment"]


def test_unverified_candidates_stay_out_of_the_published_links(publication):
    lines = [line for line in REVIEW.read_text().splitlines() if not line.startswith("#")]
    rows = list(csv.DictReader(lines, delimiter="\t"))
    assert {r["subject_id"] for r in rows} >= {"ijdp:organization/meity", "ijdp:organization/meti",
                                               "ijdp:organization/digital-india-corporation",
                                               "ijdp:mission/india-semiconductor-mission", "ijdp:organization/union-cabinet"}
    for row in rows:
        assert row["candidate_object_id"] == ""  # never a guessed identifier
        assert row["how_to_verify"]
        subject = URIRef("https://w3id.org/ijdp/id/" + row["subject_id"].split(":", 1)[1])
        # nothing published into the dataset the candidate waits for (a verified link elsewhere may exist)
        prefix = LINK_TARGETS[row["target_dataset"].lower()][1]
        assert not [o for p, o in publication.graphs["links"].predicate_objects(subject)
                    if p in MAPPING_PREDICATES and str(o).startswith(prefix)]


def test_void_counts_links_per_target(publication):
    void = rdflib.Namespace("http://rdfs.org/ns/void#")
    meta = publication.graphs["metadata"]
    counts = {str(ls).rsplit("/", 1)[1]: int(meta.value(ls, void.triples)) for ls in meta.subjects(rdflib.RDF.type, void.Linkset)}
    assert counts == {"wikidata": 4, "geonames": 2, "eu-authority": 2, "gbizinfo": 1}


def japanese_corporate_check_digit(base: str) -> int:
    """The National Tax Agency's rule: 9 - (sum of the 12 digits weighted 1, 2, 1, 2… from the right) mod 9."""
    total = sum(int(digit) * (1 if position % 2 else 2) for position, digit in enumerate(reversed(base), start=1))
    return 9 - total % 9


def test_meti_carries_its_corporate_number_and_links_to_gbizinfo(publication, client):
    meti = URIRef("https://w3id.org/ijdp/id/organization/meti")
    skos = rdflib.Namespace("http://www.w3.org/2004/02/skos/core#")
    numbers = [n for n in publication.graphs["links"].objects(meti, skos.notation)
               if str(n.datatype).endswith("#JapaneseCorporateNumber")]
    assert [str(n) for n in numbers] == ["4000012090001"]
    number = str(numbers[0])
    assert len(number) == 13 and japanese_corporate_check_digit(number[1:]) == int(number[0])
    target = URIRef("http://hojin-info.go.jp/data/basic/" + number)
    assert (meti, SCHEMA_SAME_AS, target) in publication.graphs["links"]
    page = client.get("/doc/organization/meti", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert "Japanese corporate number: 4000012090001" in page and f'href="{target}"' in page


def test_the_check_digit_rule_rejects_a_wrong_number():
    assert japanese_corporate_check_digit("000012090001") == 4
    assert japanese_corporate_check_digit("000012090002") != 4
