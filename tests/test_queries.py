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
