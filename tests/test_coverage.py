"""The coverage report: every sentence covered by a quote, excluded with a reason, or uncovered."""
from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from conftest import DATA
from ijdp.cli import main
from ijdp.coverage import coverage, read_exclusions, sentences
from ijdp.errors import IjdpError

INVENTED = (DATA / "coverage" / "invented-three-sentences.txt").read_text(encoding="utf-8")


def test_sentences_keep_their_exact_offsets():
    found = sentences(INVENTED)
    assert [s.text for s in found] == [
        "INVENTED FOR THE TESTS ONLY.", "This document is not a source of the publication.",
        "The Ministry signed a memorandum in May 2024.", "Please enter your comment!",
        "Nobody quoted this sentence, so it stays uncovered."]
    assert all(INVENTED[s.start:s.end] == s.text for s in found)


def test_each_sentence_is_covered_excluded_or_uncovered():
    signed = INVENTED.index("signed a memorandum")
    report = coverage(INVENTED, [(signed, signed + 19)], {
        "INVENTED FOR THE TESTS ONLY.": "a marker", "This document is not a source of the publication.": "a marker",
        "Please enter your comment!": "the comment form"}, "invented")
    assert [s.status for s in report.sentences] == ["excluded", "excluded", "covered", "excluded", "uncovered"]
    assert report.sentences[2].quotes == [[signed, signed + 19]]
    assert report.sentences[3].reason == "the comment form"
    assert report.summary() == "5 sentences: 1 covered, 3 excluded, 1 uncovered"
    assert not report.complete
    text = report.as_text().splitlines()
    assert text[-1] == "5 sentences: 1 covered, 3 excluded, 1 uncovered"
    assert any("uncovered 5" in line and "Nobody quoted" in line for line in text)


def test_an_exclusion_without_a_reason_names_its_file_and_line(tmp_path):
    path = tmp_path / "coverage-exclusions.tsv"
    path.write_text("# comment\nPlease enter your comment!\tthe comment form\nA sentence with no reason\n")
    with pytest.raises(IjdpError, match=rf"{re.escape(str(path))}:3: expected a sentence and a reason"):
        read_exclusions(path)


def test_the_published_source_has_no_uncovered_sentence():
    result = CliRunner().invoke(main, ["coverage"])
    last = result.output.strip().splitlines()[-1]
    numbers = re.fullmatch(r"(\d+) sentences: (\d+) covered, (\d+) excluded, (\d+) uncovered", last)
    assert numbers, last
    total, covered, excluded, uncovered = map(int, numbers.groups())
    assert uncovered == 0 and total == covered + excluded and covered > excluded
    assert result.exit_code == 0
    as_json = json.loads(CliRunner().invoke(main, ["coverage", "--format", "json"]).output)
    assert as_json["counts"] == {"covered": covered, "excluded": excluded, "uncovered": 0}
    assert [s["source"] for s in as_json["sources"]] == ["india-japan-semiconductor-moc"]
    assert all(s["reason"] for s in as_json["sources"][0]["sentences"] if s["status"] == "excluded")
    assert CliRunner().invoke(main, ["coverage", "--source", "no-such-source"]).exit_code == 2


def test_the_coverage_page_shades_every_sentence_and_links_its_facts(client):
    source = client.get("/doc/document/press-release", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert 'href="/source/india-japan-semiconductor-moc/coverage"' in source
    old = client.get("/source/india-japan-semiconductor-moc.txt/coverage")
    assert old.status_code == 301 and old.headers["Location"].endswith("/source/india-japan-semiconductor-moc/coverage")
    page = client.get("/source/india-japan-semiconductor-moc/coverage").get_data(as_text=True)
    assert "0 uncovered" in page
    covered = re.findall(r'<span class="sentence covered" id="s\d+" title="[^"]*"><a href="([^"]+)">', page)
    assert covered and 'class="sentence excluded"' in page and 'class="sentence uncovered"' not in page.split("</p>", 2)[2]
    facts = client.get(covered[1].replace("&amp;", "&"), headers={"Accept": "application/sparql-results+json"})
    assert facts.status_code == 200 and json.loads(facts.data)["results"]["bindings"]
