"""Generated attacks: queries built from the SPARQL grammar against the safety decisions.

Each generated query hides a SERVICE (or a LOAD) to a loopback listener behind
random spellings: keyword case, whitespace and comments, prefixes with
non-ASCII names, BASE-relative IRIs, \\u escapes, SILENT, and nesting inside
FILTER EXISTS, OPTIONAL, UNION, MINUS, GRAPH, sub-selects and DESCRIBE. The
tokens must find it, the endpoint must refuse it, and the listener must see
no connection. `make test` runs a bounded number of examples; `make fuzz`
runs many more (IJDP_FUZZ_EXAMPLES).
"""
from __future__ import annotations

import json
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ijdp.structure import LexicalError, analyse
from test_hostile import Listener, sent

EXAMPLES = int(os.environ.get("IJDP_FUZZ_EXAMPLES", "150"))
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
def service_target(draw):
    """(prologue, how the target is written)."""
    kind = draw(st.sampled_from(["iri", "escaped", "prefixed", "base", "variable"]))
    if kind == "iri":
        return "", f"<{TARGET}>"
    if kind == "escaped":
        return "", "<" + draw(escaped(TARGET)) + ">"
    if kind == "prefixed":
        name = draw(PREFIX_NAMES)
        return f"PREFIX {name}:{draw(GAP)}<http://127.0.0.1:{LISTENER.port}/>{draw(GAP)}", f"{name}:x"
    if kind == "base":
        return f"BASE{draw(GAP)}<http://127.0.0.1:{LISTENER.port}/>{draw(GAP)}", "<x>"
    return "", "?endpoint"


@st.composite
def hidden_service(draw):
    prologue, target = draw(service_target())
    silent = draw(st.sampled_from(["", "SILENT"]))
    before_target = TIGHT if target[0] in "<?" else GAP
    service = (draw(cased("SERVICE")) + (draw(GAP) + draw(cased(silent)) if silent else "")
               + draw(before_target) + target + draw(TIGHT) + "{ ?s ?p ?o }")
    pattern = service
    for _ in range(draw(st.integers(0, 4))):
        wrapper = draw(st.sampled_from([
            "{{ {} }}", "OPTIONAL {{ {} }}", "{{ }} UNION {{ {} }}", "?s ?p ?o MINUS {{ {} }}",
            "GRAPH ?g {{ {} }}", "?s ?p ?o FILTER EXISTS {{ {} }}", "?s ?p ?o FILTER(NOT EXISTS {{ {} }})",
            "{{ SELECT * WHERE {{ {} }} }}",
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


@FUZZ
@given(query=hidden_service(), how=st.sampled_from(["GET", "form", "body"]))
def test_the_endpoint_refuses_every_generated_service_and_fetches_nothing(client, query, how):
    response = sent(client, how, query)
    assert response.status_code == 403, (query, response.get_data(as_text=True)[:300])
    assert json.loads(response.data)["status"] == response.status_code
    assert LISTENER.connections == 0


@st.composite
def hidden_load(draw):
    prologue, target = draw(service_target().filter(lambda t: t[1] != "?endpoint"))
    silent = draw(st.sampled_from(["", "SILENT"]))
    before_target = TIGHT if target[0] == "<" else GAP
    load = draw(cased("LOAD")) + (draw(GAP) + draw(cased(silent)) if silent else "") + draw(before_target) + target
    before = draw(st.sampled_from(["", "CLEAR DEFAULT ;", "INSERT DATA { <a:a> <a:b> <a:c> } ;"]))
    return f"{prologue}{before}{draw(GAP)}{load}"


@FUZZ
@given(update=hidden_load())
def test_the_tokens_find_every_generated_load(update):
    found = analyse(update)
    assert found.operation == "update" and found.loads, update
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
