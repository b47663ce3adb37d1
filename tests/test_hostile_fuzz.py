"""Generated attacks: queries built from the SPARQL grammar against the safety decisions.

Each generated query hides a SERVICE (or a LOAD) to a loopback listener behind
random spellings: keyword case, whitespace and comments, prefixes with
non-ASCII names, BASE-relative IRIs, \\u escapes, SILENT, a value and a dot
glued before it (`1.SERVICE`, `true.SERVICE`, `1e0SERVICE`), keywords glued
to names (`SERVICEex:x`, `SERVICE:x`, `PREFIXex:`, `SERVICE SILENTex:x`), and
nesting inside FILTER EXISTS, OPTIONAL, UNION, MINUS, GRAPH, sub-selects and
DESCRIBE. The tokens must find it, the endpoint must refuse it, and the
listener must see no connection; run on pyoxigraph itself (a second listener),
every call the engine makes must be one the tokens reported. `make test` runs
a bounded number of examples; `make fuzz` runs many more (IJDP_FUZZ_EXAMPLES).
"""
from __future__ import annotations

import json
import os

import pyoxigraph

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ijdp.structure import LexicalError, analyse
from test_hostile import Listener, sent

EXAMPLES = int(os.environ.get("IJDP_FUZZ_EXAMPLES", "100"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
LISTENER = Listener()
TARGET = f"http://127.0.0.1:{LISTENER.port}/x"

# Between tokens: any SPARQL whitespace, comments included, or nothing where the grammar allows.
GAP = st.lists(st.sampled_from([" ", "\t", "\n", "\r\n", "  ", "# SERVICE <http://decoy/> {}\n"]), min_size=1,
               max_size=3).map("".join)
TIGHT = st.one_of(st.just(""), GAP)
PREFIX_NAMES = st.text(alphabet="abcxyzéüñ日本語ΩЖ", min_size=0, max_size=4).filter(
    lambda name: not name or not name[0].isdigit())


def cased(keyword: str):
    return st.lists(st.booleans(), min_size=len(keyword), max_size=len(keyword)).map(
        lambda flags: "".join(c.upper() if up else c.lower() for c, up in zip(keyword, flags)))


def escaped(text: str):
    """Some characters of text as \\u escapes (inside an IRI, which pyoxigraph decodes)."""
    return st.lists(st.booleans(), min_size=len(text), max_size=len(text)).map(
        lambda flags: "".join(f"\\u{ord(c):04X}" if flag and c not in "<>" else c for c, flag in zip(text, flags)))


@st.composite
def service_target(draw, port=LISTENER.port):
    """(prologue, how the target is written) for a target on the listener at port."""
    kind = draw(st.sampled_from(["iri", "escaped", "prefixed", "glued prefix", "base", "variable"]))
    namespace = f"<http://127.0.0.1:{port}/>"
    if kind == "iri":
        return "", f"<{namespace[1:-1]}x>"
    if kind == "escaped":
        return "", "<" + draw(escaped(f"{namespace[1:-1]}x")) + ">"
    if kind == "prefixed":
        name = draw(PREFIX_NAMES)
        return f"PREFIX {name}:{draw(GAP)}{namespace}{draw(GAP)}", f"{name}:x"
    if kind == "glued prefix":   # PREFIXex: (pyoxigraph reads PREFIX ex:), over an earlier ex: elsewhere
        name = draw(st.sampled_from(["ex", "", "silentex", "é"]))
        earlier = draw(st.sampled_from(["", f"PREFIX {name}: <http://127.0.0.1:1/> "]))
        return f"{earlier}{draw(cased('PREFIX'))}{name}:{draw(TIGHT)}{namespace}{draw(GAP)}", f"{name}:x"
    if kind == "base":
        return f"BASE{draw(GAP)}{namespace}{draw(GAP)}", "<x>"
    return "", "?endpoint"


# What may stand right before SERVICE: a value and the dot ending its triple, glued or not.
LEADS = st.sampled_from(["", "?s ?p ?o .", "?s ?p 1.", "?s ?p true.", "?s ?p false.", "?s ?p 1.5.", "?s ?p 1e0.",
                         "?s ?p 1.0e0.", "?s ?p 1", "?s ?p true", "?s ?p 1e0", '?s ?p "x".', '?s ?p "x"',
                         "?s ?p <http://o>.", "?s ?p ?o.", "?s ?p [].", "?s ?p ().", "?s ?p []", "?s ?p 1 , 2",
                         "?s ?p ?o FILTER(?o = 1)", "VALUES ?u { UNDEF }", "?s ?p ?o FILTER(?o <'x>')",
                         "?s ?p ?o FILTER(?o<2&&?o>0)", "BIND(1 AS ?b)"])


@st.composite
def hidden_service(draw, port=LISTENER.port):
    prologue, target = draw(service_target(port))
    silent = draw(st.sampled_from(["", "SILENT"]))
    keyword = draw(cased("SERVICE"))
    if silent:
        keyword += draw(TIGHT if target[0] in "<?" else GAP) + draw(cased(silent))
    if target[0] in "<?":
        service = keyword + draw(TIGHT) + target
    else:   # a prefixed name: pyoxigraph reads SERVICEex:x and SERVICE:x as SERVICE and the name
        service = keyword + draw(st.one_of(st.just(""), GAP)) + target
    if draw(st.booleans()) and target[0] not in "<?" and not silent:
        service = draw(st.sampled_from(["SERVICE SILENT", "trueSERVICE", "SERVICESILENT"])) + target
    service = draw(LEADS) + service + draw(TIGHT) + "{ ?s ?p ?o }"
    if draw(st.integers(0, 9)) == 0:   # only a reading that decodes escapes first finds this one
        service = service.replace("S", "\\u0053", 1)
    pattern = service
    for _ in range(draw(st.integers(0, 4))):
        wrapper = draw(st.sampled_from([
            "{{ {} }}", "OPTIONAL {{ {} }}", "{{ }} UNION {{ {} }}", "?s ?p ?o MINUS {{ {} }}",
            "GRAPH ?g {{ {} }}", "?s ?p ?o FILTER EXISTS {{ {} }}", "?s ?p ?o FILTER(NOT EXISTS {{ {} }})",
            "{{ SELECT * WHERE {{ {} }} }}", "?s ?p 1.OPTIONAL {{ {} }}", "?s ?p true.{{ {} }}",
        ]))
        pattern = wrapper.format(pattern)
    form = draw(st.sampled_from(["SELECT * WHERE", "ASK", "CONSTRUCT WHERE", "DESCRIBE ?s WHERE"]))
    if form == "CONSTRUCT WHERE":
        form = "CONSTRUCT { ?s ?p ?o } WHERE"
    return f"{prologue}{form}{draw(GAP)}{{ {pattern} }}"


@FUZZ
@given(query=hidden_service())
def test_the_tokens_find_every_generated_service(query):
    found = analyse(query)
    assert found.services, query
    assert all(target in (TARGET, None) for target in found.services), (query, found.services)


ENGINE_LISTENER = Listener()
ENGINE_TARGET = f"http://127.0.0.1:{ENGINE_LISTENER.port}/x"
ENGINE = pyoxigraph.Store()
ENGINE.update('INSERT DATA { <http://s> <http://p> 1, 1.5, 2, true, false, "x", <http://o>, 1e0, [], () . '
              '<http://o> <http://p> <http://s> }')


# Token soup around a SERVICE: spellings nobody listed, most of them no SPARQL; those the engine runs count.
SOUP = st.lists(st.sampled_from([
    "1", "1.", ".", "1.5", "1e0", "true", "false", "TRUE", "ex:a", "ex:a.b", "ex:", ":", "a", ";", ",", "?s", "?p",
    "?o", '"x"', "'x'", "<http://o>", "<", ">", "<=", "(", ")", "{", "}", "[", "]", "[]", "()", "FILTER(",
    "BIND(1 AS ?z)", "OPTIONAL", "UNION", "MINUS", "GRAPH ?g", "VALUES ?v", "UNDEF", "#c\n", "@en", "^^", "SILENT",
    "SERVICE", "_:b", "+", "-", "&&", "||", "=", "!", "PREFIX", "ex", "true.", "\\u0053"]), max_size=8)
SEPARATORS = st.sampled_from(["", " "])


@st.composite
def token_soup(draw, port):
    def soup():
        return "".join(part + draw(SEPARATORS) for part in draw(SOUP))
    target = draw(st.sampled_from([f"<http://127.0.0.1:{port}/x>", "ex:x", ":x", "?v"]))
    return (f"PREFIX ex: <http://127.0.0.1:{port}/> PREFIX : <http://127.0.0.1:{port}/> SELECT * WHERE {{ ?s ?p ?o "
            f"{soup()}SERVICE{draw(SEPARATORS)}{soup()}{target}{draw(SEPARATORS)}{{ }} {soup()}}}")


@FUZZ
@given(query=st.one_of(hidden_service(ENGINE_LISTENER.port), token_soup(ENGINE_LISTENER.port)))
def test_every_call_the_engine_makes_is_one_the_tokens_reported(query):
    """pyoxigraph itself, with no sandbox and a second listener as the target: it calls only what analyse() saw."""
    before = ENGINE_LISTENER.connections
    try:
        results = ENGINE.query(query)
        list(results) if hasattr(results, "__iter__") else None
    except (SyntaxError, OSError, RuntimeError, ValueError):
        pass
    if ENGINE_LISTENER.connections > before:
        try:
            found = analyse(query).services
        except LexicalError:
            raise AssertionError(f"the engine called the target of a query the lexer refuses: {query}") from None
        assert found and set(found) <= {ENGINE_TARGET, None}, (query, found)


@FUZZ
@given(query=hidden_service(), how=st.sampled_from(["GET", "form", "body"]))
def test_the_endpoint_refuses_every_generated_service_and_fetches_nothing(client, query, how):
    response = sent(client, how, query)
    assert response.status_code == 403, (query, response.get_data(as_text=True)[:300])
    assert json.loads(response.data)["status"] == response.status_code
    assert LISTENER.connections == 0


@st.composite
def hidden_load(draw):
    prologue, target = draw(service_target().filter(lambda t: t[1] != "?endpoint" and "silentex" not in t[0]))
    silent = draw(st.sampled_from(["", "SILENT"]))
    before_target = TIGHT if target[0] == "<" else GAP
    load = draw(cased("LOAD")) + (draw(GAP) + draw(cased(silent)) if silent else "") + draw(before_target) + target
    before = draw(st.sampled_from(["", "CLEAR DEFAULT ;", "INSERT DATA { <a:a> <a:b> <a:c> } ;"]))
    return f"{prologue}{before}{draw(GAP)}{load}"


@FUZZ
@given(update=hidden_load())
def test_the_tokens_find_every_generated_load(update):
    found = analyse(update)
    assert found.operation == "update", update
    assert bool(found.loud_loads) == ("silent" not in update.lower()), update


@FUZZ
@given(update=hidden_load(), how=st.sampled_from(["GET", "form", "body"]))
def test_the_endpoint_refuses_every_generated_load_and_fetches_nothing(client, update, how):
    response = sent(client, how, update)
    assert response.status_code == 403, (update, response.get_data(as_text=True)[:300])
    assert LISTENER.connections == 0


NESTING = st.lists(st.sampled_from(["{", "(", "[", "!", "-", "^", "+", "UNION", "FILTER", "BIND", ".", "||"]),
                   min_size=0, max_size=3000)


@FUZZ
@given(tokens=NESTING)
def test_the_depth_estimate_counts_every_open_bracket_and_operator_run(tokens):
    text = "SELECT * WHERE { " + " ".join(tokens) + " }"
    try:
        found = analyse(text)
    except LexicalError:
        raise AssertionError("these are all SPARQL tokens") from None
    opened = sum(1 for t in tokens if t in ("{", "(", "["))
    longest_bang_run = max((len(run) for run in "".join("!" if t == "!" else " " for t in tokens).split()), default=0)
    assert found.depth >= opened + 1
    assert found.depth >= longest_bang_run


@FUZZ
@given(text=st.text(max_size=400))
def test_any_text_is_tokens_or_a_lexical_error_with_a_position(text):
    try:
        analyse(text)
    except LexicalError as err:
        assert err.line >= 1 and err.column >= 1
