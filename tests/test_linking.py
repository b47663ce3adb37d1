"""ijdp link: scored candidates against small extracts shaped like Wikidata, GeoNames and a ministry list."""
import pytest
from click.testing import CliRunner

from conftest import DATA, SHARED
from ijdp.cli import main
from ijdp.knowledge import assemble
from ijdp.linking import find_candidates, normalise, our_entities
from ijdp.links import read_sssom

TARGETS = DATA / "link-targets"
ID = "https://w3id.org/ijdp/id/"


@pytest.fixture(scope="module")
def ours():
    return our_entities(assemble().merged(("facts", "ontology")))


def pairs(candidates):
    return {(c.ours.iri[len(ID):], c.target): c for c in candidates}


@pytest.mark.parametrize("label,expected", [
    ("Ministry of Économy, Trade & Industry", "ministry of economy trade and industry"),
    ("Economy, Trade and Industry Ministry", "ministry of economy trade and industry"),
    ("Ministry for External Affairs", "ministry of external affairs"),
    ("The Union Cabinet", "union cabinet"),
])
def test_normalisation(label, expected):
    assert normalise(label) == expected


def test_wikidata_like_extract(ours):
    found = pairs(find_candidates(ours, TARGETS / "wikidata-extract.ttl"))
    wd = "http://www.wikidata.org/entity/"
    expected = {("country/india", wd + "Q668"), ("country/japan", wd + "Q17"), ("person/narendra-modi", wd + "Q1058"),
                ("organization/meity", wd + "Q999000001"), ("organization/meti", wd + "Q999000003"),
                ("organization/meti", wd + "Q999000006"), ("organization/digital-india-corporation", wd + "Q999000005")}
    assert expected <= set(found)
    # must not match: another ministry sharing words, a person called India
    assert ("organization/meity", wd + "Q999000002") not in found
    assert ("country/india", wd + "Q999000004") not in found
    # exact label with agreeing types scores highest; unknown type is discounted and says so
    assert found[("country/japan", wd + "Q17")].score == 1.0
    assert "types agree (country)" in found[("country/japan", wd + "Q17")].kind_note
    dic = found[("organization/digital-india-corporation", wd + "Q999000005")]
    assert dic.score < 1.0 and "unknown" in dic.kind_note
    assert "word" in found[("organization/meti", wd + "Q999000003")].evidence or \
        "equals" in found[("organization/meti", wd + "Q999000003")].evidence


def test_geonames_like_extract(ours):
    found = pairs(find_candidates(ours, TARGETS / "geonames-extract.rdf"))
    gn = "https://sws.geonames.org/"
    assert ("country/india", gn + "1269750/") in found and ("country/japan", gn + "1861060/") in found
    assert ("country/japan", gn + "9990001/") not in found      # a town called Japan is not the country
    assert not [k for k in found if k[1] == gn + "9990002/"]    # India Gate is not India


def test_ministry_list_csv(ours):
    found = pairs(find_candidates(ours, TARGETS / "ministries.csv"))
    assert ("organization/meity", "https://data.example.gov.in/ministry/meity") in found
    assert ("organization/meity", "https://data.example.gov.in/ministry/mib") not in found
    assert not [k for k in found if k[1].endswith(("/mea", "/moc"))]


def test_cli_writes_an_sssom_table_best_first(tmp_path):
    out = tmp_path / "candidates.sssom.tsv"
    result = CliRunner().invoke(main, ["link", "--target", str(TARGETS / "wikidata-extract.ttl"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    metadata, rows = read_sssom(out)
    scores = [float(r["confidence"]) for r in rows]
    assert scores == sorted(scores, reverse=True) and min(scores) >= 0.7
    assert all(r["mapping_justification"] == "semapv:LexicalMatching" and r["comment"] for r in rows)
    assert metadata["mapping_set_id"].endswith("/candidates")


def test_min_score_filters(tmp_path):
    result = CliRunner().invoke(main, ["link", "--target", str(TARGETS / "wikidata-extract.ttl"), "--min-score", "0.99"])
    assert result.exit_code == 0
    body = [line for line in result.output.splitlines() if not line.startswith("#")][1:]
    assert body and all(float(line.split("\t")[6]) >= 0.99 for line in body)


@pytest.mark.parametrize("content,name,message", [
    ("id,title\nx,y\n", "bad.csv", "needs an id column and a name column"),
    ("<a> <b> .\n", "bad.ttl", "bad.ttl:1:"),
])
def test_bad_targets_get_a_clear_error(tmp_path, content, name, message):
    path = tmp_path / name
    path.write_text(content)
    result = CliRunner().invoke(main, ["link", "--target", str(path)])
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


def test_large_input_streams_with_a_progress_bar(tmp_path, ours, monkeypatch):
    import ijdp.linking as linking
    monkeypatch.setattr(linking, "LARGE_INPUT", 1000)
    big = tmp_path / "big.nt"
    with big.open("w") as out:
        for i in range(20000):
            out.write(f'<http://example.org/x{i}> <http://www.w3.org/2000/01/rdf-schema#label> "Thing {i}"@en .\n')
        out.write('<http://example.org/japan> <http://www.w3.org/2000/01/rdf-schema#label> "Japan"@en .\n')
    found = pairs(find_candidates(ours, big, show_progress=True))
    assert set(found) == {("country/japan", "http://example.org/japan")}


# ----------------------------------------------------------------- real authority tables

EU_COUNTRIES = SHARED / "linking" / "eu-countries-skos.rdf"


@pytest.fixture(scope="module")
def ours_with_codes():
    """Our entities with their identifiers (ISO codes, corporate number, verified Wikidata items)."""
    return our_entities(assemble().merged(("facts", "curated", "ontology", "links")))


def deprecated_in(path):
    import pyoxigraph
    flagged = set()
    for quad in pyoxigraph.parse(path=str(path), format=pyoxigraph.RdfFormat.RDF_XML):
        if quad.predicate.value.endswith(("authority/deprecated", "owl#deprecated")) and quad.object.value == "true":
            flagged.add(quad.subject.value)
    return flagged


@pytest.mark.parametrize("with_codes", [True, False], ids=["identifiers", "labels-only"])
def test_the_real_eu_countries_table(ours, ours_with_codes, with_codes):
    """India and Japan are the top candidates at >= 0.9, by codes or by labels alone; nothing deprecated."""
    candidates = find_candidates(ours_with_codes if with_codes else ours, EU_COUNTRIES)
    top = {}
    for c in candidates:
        top.setdefault(c.ours.iri[len(ID):], c)
    eu = "http://publications.europa.eu/resource/authority/country/"
    assert top["country/india"].target == eu + "IND" and top["country/india"].score >= 0.9
    assert top["country/japan"].target == eu + "JPN" and top["country/japan"].score >= 0.9
    assert "types agree (country)" in top["country/india"].kind_note      # a concept in the country scheme
    deprecated = deprecated_in(EU_COUNTRIES)
    assert len(deprecated) > 10 and not {c.target for c in candidates} & deprecated
    if with_codes:
        assert "ISO 3166-1 alpha-3 code 'IND'" in top["country/india"].evidence
    else:
        assert "other language(s) agree" in top["country/india"].evidence


def test_evaluate_prints_precision_recall_and_misses(tmp_path):
    result = CliRunner().invoke(main, ["link", "--target", str(EU_COUNTRIES), "--evaluate"])
    assert result.exit_code == 0, result.output
    assert "2 verified link(s) point into eu-countries-skos.rdf" in result.output
    assert result.output.strip().endswith("precision 1.000, recall 1.000")
    # with a threshold nothing reaches, both verified links are reported missed
    missed = CliRunner().invoke(main, ["link", "--target", str(EU_COUNTRIES), "--evaluate", "--min-score", "1.0"])
    assert missed.exit_code == 0
    many = CliRunner().invoke(main, ["link", "--target", str(TARGETS / "wikidata-extract.ttl"), "--evaluate"])
    assert "missed:" not in many.output and "not verified:" in many.output and "precision" in many.output


def test_acronyms_are_written_as_acronyms_never_just_short():
    from ijdp.linking import is_acronym
    assert [w for w in ("MoC", "MeitY", "IJDP", "G2G", "ISM", "India", "Japan", "Modi", "IT") if is_acronym(w)] == \
        ["MoC", "MeitY", "IJDP", "G2G", "ISM", "IT"]


def test_a_scheme_says_what_its_concepts_are():
    from ijdp.linking import scheme_kind
    assert scheme_kind("http://publications.europa.eu/resource/authority/country") == "country"
    assert scheme_kind("http://publications.europa.eu/resource/authority/corporate-body") == "organisation"
    assert scheme_kind("http://publications.europa.eu/resource/authority/language") == "language"
    assert scheme_kind("https://example.org/s", ["Sovereign countries of the world"]) == "country"
    assert scheme_kind("https://example.org/colours", ["Colours"]) is None


def test_deprecated_replaced_hidden_and_identifier_evidence(ours_with_codes):
    found = pairs(find_candidates(ours_with_codes, TARGETS / "authority-with-deprecated.ttl", min_score=0.5))
    ex = "https://authority.example.org/"
    assert ("country/japan", ex + "states-JPN-OLD") not in found             # deprecated: never proposed
    assert found[("country/japan", ex + "states-JPN")].score == 1.0
    replaced = found[("country/india", ex + "states-IND")]                     # the replacement, not the old entry
    assert not [k for k in found if k[1] == ex + "states-IND-1950"]
    assert replaced.score == 1.0 and "ISO 3166-1 alpha-3 code 'IND'" in replaced.evidence
    hidden = found[("country/japan", ex + "states-hidden")]
    assert hidden.score < 0.7 and "hidden label" in hidden.evidence             # weak: below the default threshold
    other = found[("country/japan", ex + "states-fr")]
    assert other.score < found[("country/japan", ex + "states-JPN")].score and "'de' only" in other.evidence
    colour = found.get(("country/india", ex + "colour-india"))
    assert colour is not None and "unknown" in colour.kind_note                  # not a country, but not known otherwise
    assert not [k for k in find_candidates(ours_with_codes, TARGETS / "authority-with-deprecated.ttl")
                if k.target == ex + "states-hidden"]


def test_a_list_of_wikidata_countries_matches_by_id(ours_with_codes, tmp_path):
    """A real-shaped (id, name) list: 'India' is a name, not an acronym, and the Wikidata id decides."""
    table = tmp_path / "wikidata-countries.csv"
    table.write_text("id,name\nhttp://www.wikidata.org/entity/Q668,India\nhttp://www.wikidata.org/entity/Q17,Japan\n"
                     "http://www.wikidata.org/entity/Q1000,Gabon\n")
    found = pairs(find_candidates(ours_with_codes, table))
    india = found[("country/india", "http://www.wikidata.org/entity/Q668")]
    assert india.score >= 0.9 and "acronym" not in india.evidence and "Wikidata item Q668" in india.evidence
    label_only = pairs(find_candidates(our_entities(assemble().merged(("facts", "ontology"))), table))
    assert "acronym" not in label_only[("country/india", "http://www.wikidata.org/entity/Q668")].evidence


def test_the_iso_3166_table_from_a_package_end_to_end(tmp_path, monkeypatch):
    """ISO 3166-1 as pycountry ships it: its entries are concepts of a code list, so the matcher proposes
    schema:sameAs with its own justification and confidence; their IRIs are ISO's web application pages, not
    identifiers, so accept-links refuses them, naming the candidates file and line, and the table is unchanged."""
    import shutil
    from conftest import REPO

    data = tmp_path / "data"
    shutil.copytree(REPO / "data", data)
    monkeypatch.setenv("IJDP_DATA_DIR", str(data))
    iso = tmp_path / "iso3166.csv"
    assert CliRunner().invoke(main, ["authority-table", "iso3166", "--out", str(iso)]).exit_code == 0
    candidates = tmp_path / "candidates.sssom.tsv"
    assert CliRunner().invoke(main, ["link", "--target", str(iso), "--out", str(candidates)]).exit_code == 0
    _, rows = read_sssom(candidates)
    assert {(r["subject_id"], r["predicate_id"], r["object_id"]) for r in rows} == {
        ("ijdp:country/india", "schema:sameAs", "https://www.iso.org/obp/ui/#iso:code:3166:IN"),
        ("ijdp:country/japan", "schema:sameAs", "https://www.iso.org/obp/ui/#iso:code:3166:JP")}
    assert {r["mapping_justification"] for r in rows} == {"semapv:LexicalMatching"}
    assert all(float(r["confidence"]) == 1.0 for r in rows)
    before = (data / "links.sssom.tsv").read_bytes()
    refused = CliRunner().invoke(main, ["accept-links", str(candidates), "--reviewer", "a test", "--how", "codes agree."])
    assert refused.exit_code == 2
    message = refused.output.strip()
    assert len(message.splitlines()) == 1 and f"{candidates}:" in message
    line = int(message.split(f"{candidates}:", 1)[1].split(":", 1)[0])
    assert "iso.org" in candidates.read_text().splitlines()[line - 1]
    assert "not an identifier in a known namespace" in message
    assert (data / "links.sssom.tsv").read_bytes() == before


def test_the_accepted_links_show_on_the_pages(client):
    """The EU links, in data/links.sssom.tsv, are on India's page; ISO's web pages are not links."""
    page = client.get("/doc/country/india", headers={"Accept": "text/html"}).get_data(as_text=True)
    elsewhere = page[page.index("The same thing elsewhere"):]
    assert "https://www.iso.org/obp/ui/#iso:code:3166:IN" not in elsewhere
    assert "http://publications.europa.eu/resource/authority/country/IND" in elsewhere


def test_eu_candidates_are_the_verified_links(tmp_path, monkeypatch):
    """Accepting the EU table's candidates again adds nothing: they are the links already verified."""
    import shutil
    from conftest import REPO

    data = tmp_path / "data"
    shutil.copytree(REPO / "data", data)
    monkeypatch.setenv("IJDP_DATA_DIR", str(data))
    candidates = tmp_path / "eu.sssom.tsv"
    assert CliRunner().invoke(main, ["link", "--target", str(EU_COUNTRIES), "--out", str(candidates)]).exit_code == 0
    result = CliRunner().invoke(main, ["accept-links", str(candidates), "--reviewer", "r", "--how", "h."])
    assert result.exit_code == 0 and "accepted 0 link(s)" in result.output and result.output.count("already verified") == 2
    assert (data / "links.sssom.tsv").read_bytes() == (REPO / "data" / "links.sssom.tsv").read_bytes()
