"""Parser messages that do not mislead: what was found where, and what is missing when the tokens show it."""
import pyoxigraph
import pytest

from ijdp.sparql import readable_syntax_error

CASES = [
    # (query, words the message must hold, words it must not)
    ("SELECT * WHERE { ?s ?p ?o ", ["a '}' is missing", "line 1, column 16"], ["OPTIONAL"]),
    ("PREFIX ex: <http://ex/>\nSELECT * WHERE {\n  ?s ex:p ?o .\n  OPTIONAL { ?s ex:q ?x }\n",
     ["a '}' is missing", "line 2, column 16"], ["expected OPTIONAL"]),
    ("SELCT * WHERE { ?s ?p ?o }", ["unexpected 'SELCT' at line 1, column 1", "did you mean SELECT?"], ["CONSTRUCT."]),
    ("SELECT * WHERE { ?s ?p }", ["unexpected '}' at line 1, column 24", "no object"], ["LATERAL", "SERVICE"]),
    ("SELECT * WHERE { ?s foaf:name ?o }", ["undeclared prefix 'foaf:'", "line 1, column 21"],
     ["Prefix not found", "expected"]),
    ("SELECT * WHERE { ?s ?p ?o ?s2 ?p2 ?o2 }", ["a '.' is missing after '?o'", "line 1, column 27"], ["OPTIONAL"]),
    ("SELECT * WHERE { ?s ?p ?o FILTER(?o > ) }", ["an operand is missing after '>'", "column 39"], ["ABS"]),
    ("SELECT * WHERE ?s ?p ?o }", ["'{' is missing", "line 1, column 16"], ["DISTINCT"]),
    ('SELECT * WHERE { ?s ?p "abc }', ["string", "not closed", "line 1, column 24"], []),
    ("SELECT * WHERE { ?s ?p ?o } }", ["nothing is open here to close", "column 29"], []),
    ("SELECT * WHERE { ?s ?p ?o } LIMT 3", ["unexpected 'LIMT' at line 1, column 29"], []),
    ("", ["the query is empty"], []),
    ("SELECT * WHERE { ?s ?p << ?a ?b ?c", ["a '>>' is missing"], []),
    ("SELECT * WHERE { ?s ?p ?o {| ?a ?b", ["is missing"], []),
]


@pytest.mark.parametrize("query, said, unsaid", CASES, ids=[c[0][:30] or "empty" for c in CASES])
def test_the_message_names_the_mistake(query, said, unsaid):
    with pytest.raises(SyntaxError) as err:
        pyoxigraph.Store().query(query)
    message = readable_syntax_error(query, err.value)
    for words in said:
        assert words in message, message
    for words in unsaid:
        assert words not in message, message


@pytest.mark.parametrize("query", [
    "SELECT ?x WHERE { VALUES ?x { 1 2 } }",
    "SELECT ?x WHERE { VALUES (?x ?y) { (1 2) (3 4) } ?x ?p ?y }",
    "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }",
    "SELECT * WHERE { ?s <http://ex/p>/<http://ex/q>* ?o ; <http://ex/r> ?x , ?y . [ <http://ex/s> ?z ] <http://ex/t> ?w }",
])
def test_valid_queries_raise_no_hint(query):
    """The hints fire on mistakes only: these parse, and a trailing error after them is reported as such."""
    pyoxigraph.Store().query(query)
    broken = query + " garbage"
    with pytest.raises(SyntaxError) as err:
        pyoxigraph.Store().query(broken)
    assert "unexpected 'garbage'" in readable_syntax_error(broken, err.value)
