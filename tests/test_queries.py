"""Every example query in queries/ returns its expected answer."""
import pytest

from conftest import read_json, term_text
from ijdp import resources
from ijdp.sparql import execute

QUERIES = sorted(resources.queries_folder().glob("*.rq"))


def test_there_are_at_least_fifteen_competency_questions():
    assert len(QUERIES) >= 15
    for query in QUERIES:
        assert query.read_text().startswith("# title: ")
        assert query.with_suffix(".expected.json").exists()


@pytest.mark.parametrize("query", QUERIES, ids=[q.stem for q in QUERIES])
def test_query_returns_expected_answer(query, store):
    expected = read_json(query.with_suffix(".expected.json"))
    results = execute(store, query.read_text())
    if "boolean" in expected:
        assert bool(results) is expected["boolean"]
        return
    columns = [v.value for v in results.variables]
    assert columns == expected["columns"]
    rows = [[term_text(solution[c]) for c in columns] for solution in results]
    ordered = "ORDER BY" in query.read_text().upper()
    assert (rows if ordered else sorted(rows, key=str)) == (expected["rows"] if ordered else sorted(expected["rows"], key=str))


def test_the_readme_names_the_properties_and_examples_of_the_first_questions():
    """Each first question is answerable from the README: its row names the path, and its examples walk it."""
    from conftest import REPO

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("### The properties a first query needs", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and ".rq`" in line]
    assert len(rows) == 5
    for row in rows:
        _, _, path, examples, _ = row.split("|")
        text = "".join((resources.queries_folder() / name.strip("` ")).read_text() for name in examples.split(","))
        named = {step for code in path.split("`")[1::2] for step in code.split("/")
                 if ":" in step and " " not in step and step.split(":")[1][:1].islower()
                 and not step.startswith(("graph:", "xsd:"))}
        assert named, row
        # rdf:object is how a statement names the object; the example asks by subject and predicate.
        missing = {step for step in named - {"rdf:object"} if step not in text}
        assert not missing, (missing, examples)
