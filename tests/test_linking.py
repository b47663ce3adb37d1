"""ijdp link: scored candidates against small extracts shaped like Wikidata, GeoNames and a ministry list."""
import pytest
from click.testing import CliRunner

from conftest import DATA
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
