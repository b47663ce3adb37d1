"""The SPARQL lexer against the grammar, the W3C suites and the engine; the remote store's decision.

A reference tokeniser written separately from the grammar's EBNF (one plain
regular expression per terminal, longest match first) must read every query
and update of the W3C suites as structure.tokens() does. The engine corpus
holds the spellings in which pyoxigraph 0.5 reads a SERVICE the grammar's
tokens hide (found by trying each on the engine, with a loopback listener
counting the calls): the analysis must report each one.
"""
from __future__ import annotations

import http.server
import json
import re
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

import pyoxigraph
import pytest

from conftest import SHARED, make_app
from ijdp.structure import KEYWORDS, LexicalError, analyse, reading, tokens
from test_hostile import SERVICE_SPELLINGS, Listener

W3C = SHARED / "conformance" / "w3c-rdf-tests" / "sparql"

# ---------------------------------------------------------------- the reference

_BASE = ("A-Za-z\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u02FF\u0370-\u037D\u037F-\u1FFF\u200C-\u200D\u2070-\u218F"
         "\u2C00-\u2FEF\u3001-\uD7FF\uF900-\uFDCF\uFDF0-\uFFFD\U00010000-\U000EFFFF")
_U = _BASE + "_"
_CHARS = _U + "\\-0-9\u00B7\u0300-\u036F\u203F-\u2040"
_PLX = r"(?:%[0-9A-Fa-f][0-9A-Fa-f]|\\[_~.\-!$&'()*+,;=/?#@%])"
_UCHAR = r"(?:\\u[0-9A-Fa-f]{4}|\\U[0-9A-Fa-f]{8})"   # the raw text keeps them (section 19.2)
_ECHAR = r"(?:\\[tbnrf\\\"'])"
_EXP = r"(?:[eE][+-]?[0-9]+)"
_PREFIX = rf"(?:[{_BASE}](?:(?:[{_CHARS}.])*[{_CHARS}])?)"
_LOCAL = rf"(?:(?:[{_U}:0-9]|{_PLX})(?:(?:[{_CHARS}.:]|{_PLX})*(?:[{_CHARS}:]|{_PLX}))?)"
_DOUBLE = rf"(?:[0-9]+\.[0-9]*{_EXP}|\.[0-9]+{_EXP}|[0-9]+{_EXP})"
_DECIMAL = r"(?:[0-9]*\.[0-9]+)"
_WS = r"[\x20\x09\x0D\x0A]"
# (terminal, kind in structure.tokens(), EBNF as a regular expression)
REFERENCE_TERMINALS = [
    ("IRIREF", "iri", rf"<(?:[^<>\"{{}}|^`\\\x00-\x20]|{_UCHAR})*>"),
    ("PNAME_LN", "pname", rf"{_PREFIX}?:{_LOCAL}"),
    ("PNAME_NS", "pname", rf"{_PREFIX}?:"),
    ("BLANK_NODE_LABEL", "bnode", rf"_:[{_U}0-9](?:(?:[{_CHARS}.])*[{_CHARS}])?"),
    ("VAR1", "var", rf"\?[{_U}0-9][{_U}0-9\u00B7\u0300-\u036F\u203F-\u2040]*"),
    ("VAR2", "var", rf"\$[{_U}0-9][{_U}0-9\u00B7\u0300-\u036F\u203F-\u2040]*"),
    ("LANGTAG", "lang", r"@[a-zA-Z]+(?:-[a-zA-Z0-9]+)*(?:--[a-zA-Z]+)?"),   # with SPARQL 1.2's direction
    ("INTEGER", "number", r"[0-9]+"),
    ("DECIMAL", "number", _DECIMAL),
    ("DOUBLE", "number", _DOUBLE),
    ("INTEGER_POSITIVE", "number", r"\+[0-9]+"),
    ("DECIMAL_POSITIVE", "number", rf"\+{_DECIMAL}"),
    ("DOUBLE_POSITIVE", "number", rf"\+{_DOUBLE}"),
    ("INTEGER_NEGATIVE", "number", r"-[0-9]+"),
    ("DECIMAL_NEGATIVE", "number", rf"-{_DECIMAL}"),
    ("DOUBLE_NEGATIVE", "number", rf"-{_DOUBLE}"),
    ("STRING_LITERAL1", "string", rf"'(?:[^\x27\x5C\x0A\x0D]|{_ECHAR}|{_UCHAR})*'"),
    ("STRING_LITERAL2", "string", rf'"(?:[^\x22\x5C\x0A\x0D]|{_ECHAR}|{_UCHAR})*"'),
    ("STRING_LITERAL_LONG1", "string", rf"'''(?:(?:'|'')?(?:[^'\\]|{_ECHAR}|{_UCHAR}))*'''"),
    ("STRING_LITERAL_LONG2", "string", rf'"""(?:(?:"|"")?(?:[^"\\]|{_ECHAR}|{_UCHAR}))*"""'),
    ("NIL", "nil", rf"\({_WS}*\)"),
    ("ANON", "anon", rf"\[{_WS}*\]"),
    ("a", "keyword", r"a"),
] + [(symbol, "punct", re.escape(symbol)) for symbol in [
    "{", "}", "(", ")", "[", "]", ".", ",", ";", "*", "/", "|", "^", "^^", "!", "=", "!=", "<", ">", "<=", ">=",
    "&&", "||", "+", "-", "?", "<<", ">>", "{|", "|}", "~"]]                        # the last five: SPARQL 1.2
_REFERENCE = [(kind, re.compile(pattern)) for _, kind, pattern in REFERENCE_TERMINALS]
# Keywords (matched without case; ASCII only, as the grammar's are)
_KEYWORD = re.compile("|".join(sorted(KEYWORDS, key=len, reverse=True)), re.IGNORECASE | re.ASCII)
_SKIP = re.compile(rf"(?:{_WS}|#[^\r\n]*)*")
_WORD = re.compile(rf"[{_U}][{_CHARS}]*")


def reference_tokens(text: str) -> list:
    """(kind, value, offset) by the longest match over every terminal; ("error", offset) where none fits."""
    found, pos = [], 0
    while True:
        pos = _SKIP.match(text, pos).end()
        if pos == len(text):
            return found
        best = None
        for kind, pattern in _REFERENCE + [("keyword", _KEYWORD)]:
            match = pattern.match(text, pos)
            if match and (best is None or match.end() > best[1]):
                best = (kind, match.end())
        if best is None:
            match = _WORD.match(text, pos)
            if not match:
                return found + [("error", "", pos)]
            best = ("word", match.end())
        found.append((best[0], text[pos:best[1]], pos))
        pos = best[1]


def our_tokens(text: str) -> list:
    try:
        return list(tokens(text))
    except LexicalError as err:
        line_start = sum(len(line) for line in text.splitlines(keepends=True)[:err.line - 1])
        return list(_prefix_of_tokens(text)) + [("error", "", line_start + err.column - 1)]


def _prefix_of_tokens(text):
    try:
        yield from tokens(text)
    except LexicalError:
        return


def w3c_files():
    if not W3C.is_dir():
        pytest.skip(f"the W3C suites are not at {W3C}")
    return sorted(p for p in W3C.rglob("*") if p.suffix in (".rq", ".ru"))


def test_the_lexer_reads_every_w3c_query_and_update_as_the_grammar_does():
    files = w3c_files()
    assert len(files) > 1000
    different = []
    for path in files:
        text = path.read_text(encoding="utf-8")
        if our_tokens(text) != reference_tokens(text):
            different.append(path.relative_to(W3C))
    assert not different, different[:20]


ENGINE_PARSES = """
import json, sys
import pyoxigraph
from ijdp import sandbox
from ijdp.querypool import _empty_read_only_store
sandbox.restrict_network()
store, syntax = pyoxigraph.Store(), _empty_read_only_store()
accepted = []
for path in json.load(sys.stdin):
    text = open(path, encoding="utf-8").read()
    try:
        if path.endswith(".ru"):
            syntax.update(text)
        else:
            results = store.query(text)
            list(results) if hasattr(results, "__iter__") else None
        accepted.append(path)
    except SyntaxError:
        pass
    except Exception:   # parsed; evaluation failed (a SERVICE with no network, a read-only store)
        accepted.append(path)
print(json.dumps(accepted))
"""


def test_for_every_w3c_request_the_engine_accepts_the_services_and_depth_are_those_of_its_tokens():
    files = [str(p) for p in w3c_files()]
    done = subprocess.run([sys.executable, "-c", ENGINE_PARSES], input=json.dumps(files), capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    accepted = json.loads(done.stdout)
    assert len(accepted) > 800
    with_service = 0
    for path in accepted:
        text = Path(path).read_text(encoding="utf-8")
        found, reference = analyse(text), reference_tokens(text)
        targets = [reference[i + 1 + (reference[i + 1][1].upper() == "SILENT")] for i, token in enumerate(reference)
                   if token[0] == "keyword" and token[1].upper() == "SERVICE"]
        assert [(at, at + len(value)) for _, value, at in targets] == [s[:2] for s in found.service_spans], path
        assert len(found.services) == len(targets), path
        opened = deepest = 0
        for kind, value, _ in reference:
            opened += (kind == "punct" and value in "{([") - (kind == "punct" and value in "})]")
            deepest = max(deepest, opened)
        assert found.depth >= deepest, path
        with_service += bool(targets)
    assert with_service >= 5


# ---------------------------------------------------------------- the engine's own readings

LISTENER = Listener()
T = f"http://127.0.0.1:{LISTENER.port}/x"
NS = f"http://127.0.0.1:{LISTENER.port}/"
# Each spelling hides a SERVICE to the listener from a token layer that is not the engine's.
ENGINE_CORPUS = [
    "SELECT * WHERE { ?s ?p 1.SERVICE <T> {} }",
    "SELECT * WHERE { ?s ?p true.SERVICE <T> {} }",
    "SELECT * WHERE { ?s ?p false.SERVICE <T> {} }",
    "SELECT * WHERE { ?s ?p 1.5.SERVICE <T> {} }",
    "SELECT * WHERE { ?s ?p 1e0.SERVICE <T> {} }",
    "SELECT * WHERE { ?s ?p 1.0e0.SERVICE <T> {} }",
    "SELECT * WHERE { ?s ?p 1SERVICE <T> {} }",
    "SELECT * WHERE { ?s ?p 1.5SERVICE <T> {} }",
    "SELECT * WHERE { ?s ?p 1e0SERVICE <T> {} }",
    "SELECT * WHERE { ?s ?p trueSERVICE <T> {} }",
    "SELECT * WHERE { ?s ?p falseSERVICE<T>{} }",
    "SELECT * WHERE { ?s ?p 1 , 2SERVICE <T> {} }",
    'SELECT * WHERE { ?s ?p "x"SERVICE <T> {} }',
    "SELECT * WHERE { ?s ?p <http://o>SERVICE <T> {} }",
    "SELECT * WHERE { ?s ?p []SERVICE <T> {} }",
    "SELECT * WHERE { ?s ?p ()SERVICE <T> {} }",
    "SELECT * WHERE { SERVICESILENT<T>{} }",
    "PREFIX ex: <NS> SELECT * WHERE { SERVICEex:x {} }",
    "PREFIX : <NS> SELECT * WHERE { SERVICE:x {} }",
    "PREFIX ex: <NS> SELECT * WHERE { SERVICESILENTex:x {} }",
    "PREFIX ex: <NS> SELECT * WHERE { SERVICE SILENTex:x {} }",
    "PREFIX ex: <NS> PREFIX SILENTex: <http://127.0.0.1:1/> SELECT * WHERE { SERVICE SILENTex:x {} }",
    "PREFIXex: <NS> SELECT * WHERE { SERVICE ex:x {} }",
    "PREFIX ex: <http://127.0.0.1:1/> PREFIXex: <NS> SELECT * WHERE { SERVICE ex:x {} }",
    "PREFIX: <NS> SELECT * WHERE { SERVICE :x {} }",
    "PREFIX ex: <NS> SELECT * WHERE { ?s ?p trueSERVICEex:x {} }",
    "PREFIX ex: <NS> SELECT * WHERE { ?s ?p ex:a.b.SERVICE <T> {} }",
    "PREFIX ex: <NS> SELECT * WHERE { ?s ?p ex:a.b.SERVICE ex:x {} }",
    "SELECT * WHERE { ?s ?p ?o . FILTER(?o <'x>') SERVICE <T> {} }",
    "SELECT * WHERE { ?s ?p ?o FILTER(?o <2||?o> 3) SERVICE <T> {} }",
    "SELECT * WHERE { VALUES ?x { UNDEF }SERVICE <T> {} }",
    "SELECT * WHERE { ?s ?p ?o FILTER(?o = 1)SERVICE <T> {} }",
    "BASE <http://127.0.0.1:1/a/> BASE <../../../> SELECT * WHERE { SERVICE <http://127.0.0.1:PORT/x> {} }",
    "BASE <NSa/b/> SELECT * WHERE { SERVICE <../../x> {} }",
    "SELECT * WHERE { SERVICE <\\u0068ttp://127.0.0.1:PORT/x> {} }",
    "SELECT * WHERE { SERVICE ?x {} VALUES ?x { <T> } }",
]


def spelled(template: str) -> str:
    return template.replace("<T>", f"<{T}>").replace("<NS", f"<{NS}").replace("PORT", str(LISTENER.port))


@pytest.fixture(scope="module")
def engine():
    store = pyoxigraph.Store()
    store.update('INSERT DATA { <http://s> <http://p> 1, 1.5, true, false, "x", <http://o>, 1e0, 1.0e0, 2, [], () }')
    return store


def contacts(engine, query: str) -> int:
    """How many connections the engine opened to the listener running query (it connects before it returns)."""
    before = LISTENER.connections
    try:
        results = engine.query(query)
        list(results) if hasattr(results, "__iter__") else None
    except (SyntaxError, OSError, RuntimeError, ValueError):
        pass
    return LISTENER.connections - before


@pytest.mark.parametrize("template", ENGINE_CORPUS)
def test_every_service_the_engine_reads_is_reported(engine, template):
    query = spelled(template)
    found = analyse(query)
    called = contacts(engine, query)
    assert found.services and set(found.services) <= {T, None}, (query, found.services)
    assert called <= 1, query
    assert len(found.service_spans) == len(found.services)


def test_the_corpus_is_what_the_engine_calls():
    """The corpus above is not guesswork: pyoxigraph calls the listener for nearly every spelling."""
    store = pyoxigraph.Store()
    store.update('INSERT DATA { <http://s> <http://p> 1, 1.5, true, false, "x", <http://o>, 1e0, 1.0e0, 2, [], () }')
    called = sum(contacts(store, spelled(template)) > 0 for template in ENGINE_CORPUS)
    assert called >= len(ENGINE_CORPUS) - 3, called


def test_spans_name_the_target_tokens_in_the_original_text():
    query = f"PREFIX e: <{NS}> SELECT * {{ SERVICE <{T}> {{}} SERVICE SILENT e:x {{}} SERVICE ?v {{}} }}"
    found = analyse(query)
    assert [query[start:end] for start, end, _ in found.service_spans] == [f"<{T}>", "e:x", "?v"]
    assert [target for _, _, target in found.service_spans] == [T, T, None] == found.services
    escaped = "SELECT * { \\u0053ERVICE <" + T + "> {} }"
    found = analyse(escaped)
    assert found.services == [None] and escaped[slice(*found.service_spans[0][:2])] == f"<{T}>"


@pytest.mark.parametrize("query", [
    "PREFIX services: <http://x/> SELECT * { ?s services:p ?o }",
    "PREFIX fromage: <http://x/> SELECT * { ?s fromage:p ?o }",
    "PREFIX loader: <http://x/> INSERT DATA { loader:a loader:b loader:c }",
    "SELECT * WHERE { ?s ?p trueSERVICE:x {} }",        # no ":" declared: the engine cannot read SERVICE :x
])
def test_a_prefix_that_begins_with_a_keyword_is_a_prefix_where_the_engine_reads_one(query):
    found = analyse(query)
    assert found.services == [] and not found.declares_dataset and found.loud_loads == 0


@pytest.mark.parametrize("query, expected", [
    ("SELECT * { ?s ?p ?o FILTER(?o<2&&?o>0) }", ["?o", "<", "2", "&&", "?o", ">", "0"]),
    ("SELECT * { ?s ?p ?o FILTER(?o<=<a:x>) }", ["?o", "<=", "<a:x>"]),
    ("SELECT * { ?s ?p ?o FILTER(?o<<a:x>) }", ["?o", "<", "<a:x>"]),
    ("SELECT * { ?s ?p (<a:x> <a:y>) }", ["<a:x>", "<a:y>"]),
    ("SELECT * { VALUES (?a ?b) { (<a:x> <a:y>) } }", ["<a:x>", "<a:y>"]),
    ("SELECT * { FILTER(?a IN (<a:x>, <a:y>)) }", ["<a:x>", ",", "<a:y>"]),
])
def test_less_than_after_a_value_in_an_expression_as_the_engine_reads_it(query, expected):
    assert analyse(query).services == []
    assert " ".join(expected) in " ".join(value for _, value, *_ in reading(query))


# ---------------------------------------------------------------- depth

ENDINGS = ["1.", "true.", "false.", "1e0.", "1.5.", "1.0e0.", '"x".', "<http://o>.", "?o.", "[].", "().", "1 ."]
CHAINS = {
    "BIND": lambda i: f"BIND({i} AS ?v{i})",
    "OPTIONAL": lambda i: "OPTIONAL{}",
    "MINUS": lambda i: "MINUS{}",
    "UNION": lambda i: "UNION{}" if i else "{}",
    "FILTER": lambda i: "FILTER(true)",
}


def deep(ending: str, chain: str, count: int = 5000) -> str:
    return "SELECT * WHERE { ?s ?p " + ending + "".join(CHAINS[chain](i) for i in range(count)) + " }"


@pytest.mark.parametrize("chain", sorted(CHAINS))
@pytest.mark.parametrize("ending", ENDINGS)
def test_chains_after_any_value_and_dot_are_counted(ending, chain):
    assert analyse(deep(ending, chain)).depth > 5000


RUN_DEEP = """
import json, sys
import pyoxigraph
from ijdp.querypool import Job, WorkerLimits
from ijdp.results import run_job
store = pyoxigraph.Store()
store.update('INSERT DATA { <http://s> <http://p> 1, true, "x", <http://o> }')
kinds = []
for query in json.load(sys.stdin):
    job = Job(query=query, results_format="application/sparql-results+json", graph_format=None, max_rows=10)
    kinds.append(run_job(store, job, WorkerLimits(max_depth=1000)).kind)
print(json.dumps(kinds))
"""


# Brackets in what the grammar reads as an IRI and pyoxigraph as less-than (5,000 of them crash it: SIGSEGV).
HIDDEN_IN_LESS_THAN = "SELECT * WHERE { BIND(1 AS ?a) FILTER(?a <" + "(" * 5000 + "1" + ")" * 5000 + ">0) }"


def test_brackets_after_less_than_are_counted():
    assert analyse(HIDDEN_IN_LESS_THAN).depth > 5000


def test_deep_chains_are_refused_before_the_engine_sees_them():
    """Through the worker's own run_job in a child process: a miss would crash it (SIGSEGV), not fail an assert."""
    chains = ("BIND", "OPTIONAL", "MINUS", "UNION")
    queries = [deep(ending, chains[index % len(chains)]) for index, ending in enumerate(ENDINGS)]
    queries.append(HIDDEN_IN_LESS_THAN)
    done = subprocess.run([sys.executable, "-c", RUN_DEEP], input=json.dumps(queries), capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, (done.returncode, done.stderr[-1000:])
    assert json.loads(done.stdout) == ["too-deep"] * len(queries)


# ---------------------------------------------------------------- linear time

ADVERSARIAL = {
    "dotted names": "a." * 50_000,
    "prefix runs without a colon": "ab.cd." * 20_000 + ":",
    "opened IRIs": "<a" * 50_000,
    "opened IRIs with names": ("<" + "a" * 50 + " ") * 2_000,
    "opened strings": "'a" * 50_000,
    "opened long strings": '"""' + "a" * 100_000,
    "keywords glued": "a" * 100_000,
    "long keyword runs": "SELECTSERVICE" * 10_000,
    "glued prefix": "true" * 25_000 + "SERVICE:x",
    "dots in local names": "ex:" + "a." * 50_000 + "a",
    "numbers and dots": "1." * 50_000,
    "less-than in expressions": "SELECT * { FILTER(" + "?a <?b&&" * 10_000 + "?a) }",
    "signs": "+" * 100_000,
    "escapes": "\\u0041" * 25_000,
}


@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_reading_is_linear_on_adversarial_inputs(name):
    text = ADVERSARIAL[name]
    started = time.process_time()
    try:
        analyse(text)
    except LexicalError:
        pass
    # Linear: 100 kB take under a second; quadratic would take hours.
    assert time.process_time() - started < 10, name


def test_greedy_keywords_never_swallow_service():
    """A word made of a keyword and SERVICE (as `trueSERVICE`) is read as the two, like the engine does."""
    for keyword in KEYWORDS:
        text = keyword.lower() + "SERVICE"
        values = [value for _, value, _ in tokens(text)]
        assert values[-1] == "SERVICE" or keyword in ("AS", "IS"), values


# ---------------------------------------------------------------- the remote store

class _Backend:
    """A stand-in SPARQL endpoint on 127.0.0.1 that counts the queries forwarded to it."""

    def __init__(self):
        backend = self
        self.queries = []

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                backend.queries.append(self.path)
                body = b'{"head": {"vars": []}, "results": {"bindings": [{}]}}'
                self.send_response(200)
                self.send_header("Content-Type", "application/sparql-results+json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_GET

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sparql"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def backend():
    found = _Backend()
    yield found
    found.server.shutdown()
    found.server.server_close()


def remote(backend, allow=()):
    from ijdp.querypool import WorkerLimits
    from ijdp.remote import RemoteBackend
    return RemoteBackend(backend.url, limits=WorkerLimits(internet=True, service_allowlist=tuple(allow)))


def forwarded(store, backend, query: str):
    from ijdp.querypool import Job
    before = len(backend.queries)
    job = Job(query=query, results_format="application/sparql-results+json", graph_format=None, max_rows=10)
    outcome = store.run(job, timeout=5)
    return outcome.kind, len(backend.queries) - before


HOSTILE = [spelled(t) for t in ENGINE_CORPUS] + [s.replace("{port}", str(LISTENER.port)) for s in SERVICE_SPELLINGS] + [
    deep("1.", "OPTIONAL"), deep("true.", "BIND"), HIDDEN_IN_LESS_THAN, "INSERT DATA { <a:a> <a:b> <a:c> }",
    "LOAD <" + T + ">", "SELECT * WHERE { \\u0053ERVICE <" + T + "> {} }",
]


@pytest.mark.parametrize("allow", [(), (T,)], ids=["no allow-list", "the listener allowed"])
def test_the_remote_store_forwards_no_hidden_service(backend, allow):
    store = remote(backend, allow)
    for query in HOSTILE:
        kind, sent = forwarded(store, backend, query)
        exact = allow and analyse(query).services and set(analyse(query).services) == {T}
        assert sent == (1 if exact else 0), (query, kind)
        assert exact or kind in ("service-refused", "too-deep", "update-refused", "syntax"), (query, kind)


def test_the_remote_allow_list_holds_per_endpoint(backend):
    port = LISTENER.port
    allowed = f"http://127.0.0.1:{port}/sparql"
    store = remote(backend, [allowed])
    assert forwarded(store, backend, f"SELECT * {{ SERVICE <{allowed}> {{}} }}") == ("ok", 1)
    for other in ["/admin/delete-everything?confirm=yes", "/sparql/../admin", "/sparql?x=1", "/sparql#x",
                  "/%2e%2e/sparql", "/SPARQL", "/sparql/"]:
        query = f"SELECT * {{ SERVICE <http://127.0.0.1:{port}{other}> {{}} }}"
        assert forwarded(store, backend, query) == ("service-refused", 0), other
    for other in [f"http://localhost:{port}/sparql", f"http://2130706433:{port}/sparql",
                  f"https://127.0.0.1:{port}/sparql", f"http://user@127.0.0.1:{port}/sparql"]:
        assert forwarded(store, backend, f"SELECT * {{ SERVICE <{other}> {{}} }}") == ("service-refused", 0), other
    for glued in [f"PREFIX ex: <http://127.0.0.1:{port}/> SELECT * {{ SERVICEex:sparql {{}} }}",
                  f"PREFIX ex: <{allowed}> PREFIXex: <http://127.0.0.1:{port}/admin> SELECT * {{ SERVICE ex: {{}} }}"]:
        assert forwarded(store, backend, glued) == ("service-refused", 0), glued


def test_the_remote_store_forwards_no_vendor_extension(backend):
    """Virtuoso's DEFINE get:soft makes it fetch what FROM names: not SPARQL, so never forwarded."""
    query = f'DEFINE get:soft "replace" SELECT * FROM <{T}> WHERE {{ ?s ?p ?o }}'
    assert forwarded(remote(backend), backend, query) == ("syntax", 0)
    assert forwarded(remote(backend), backend, "SELECT * WHERE { ?s ?p ?o }") == ("ok", 1)


def test_through_the_endpoint_a_remote_store_answers_403_and_forwards_nothing(backend, dist):
    app = make_app(f"sparql:{backend.url}", dist)
    client = app.test_client()
    before = len(backend.queries)
    for query in [spelled(t) for t in ENGINE_CORPUS[:12]] + [deep("1.", "OPTIONAL")]:
        response = client.get("/sparql", query_string={"query": query})
        assert response.status_code in (400, 403) and response.mimetype == "application/problem+json", query
    forwarded_since = [urllib.parse.unquote_plus(path).lower() for path in backend.queries[before:]]
    assert not [q for q in forwarded_since if "service" in q or "optional" in q], forwarded_since
