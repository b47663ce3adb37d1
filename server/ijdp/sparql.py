"""Running SPARQL with pyoxigraph and writing its results, for the CLI and the server."""
from __future__ import annotations

import functools
import re

import pyoxigraph

from .errors import IjdpError
from .formats import rdf_format, results_format


class QuerySyntaxError(IjdpError):
    """The query does not parse; the message is the parser's, with its position."""


def parse_error_message(err: SyntaxError) -> str:
    message = err.args[0] if err.args else str(err)
    return f"malformed query: {message}"


_PROLOGUE = re.compile(r"^(?:\s+|#[^\n]*\n|(?:BASE|PREFIX)\s+[^<]*<[^>]*>)*", re.I)


def query_form(query: str) -> str:
    """SELECT, ASK, CONSTRUCT, DESCRIBE (or UPDATE) from the first keyword after the prologue."""
    rest = query[_PROLOGUE.match(query).end():]
    match = re.match(r"\s*([A-Za-z]+)", rest)
    keyword = match.group(1).upper() if match else ""
    if keyword in {"SELECT", "ASK", "CONSTRUCT", "DESCRIBE"}:
        return keyword
    if keyword in {"INSERT", "DELETE", "LOAD", "CLEAR", "DROP", "CREATE", "ADD", "MOVE", "COPY", "WITH"}:
        return "UPDATE"
    return "SELECT"


def execute(store: pyoxigraph.Store, query: str, *, union_default: bool = True,
            default_graphs=None, named_graphs=None, base_iri: str | None = None):
    """Run a query; raise QuerySyntaxError with the parser's message when it does not parse."""
    kwargs = {"base_iri": base_iri}
    if default_graphs:
        kwargs["default_graph"] = [pyoxigraph.NamedNode(g) for g in default_graphs]
    else:
        kwargs["use_default_graph_as_union"] = union_default and not declares_dataset(query)
    if named_graphs:
        kwargs["named_graphs"] = [pyoxigraph.NamedNode(g) for g in named_graphs]
    try:
        return query_store(store, query, **kwargs)
    except SyntaxError as err:
        raise QuerySyntaxError(parse_error_message(err)) from None
    except (OSError, RuntimeError, ValueError) as err:  # evaluation errors
        raise IjdpError(f"query failed: {err}") from None


_UNKNOWN_FUNCTION = re.compile(r"The custom function <([^>]*)> is not supported")


def _unknown_function(*args):
    return None  # an expression error: the variable stays unbound (SPARQL 1.1, section 17.3)


def query_store(store: pyoxigraph.Store, query: str, **kwargs):
    """store.query, where calls to unknown extension functions are expression errors.

    SPARQL says an unsupported function call is an error that leaves its
    variable unbound; pyoxigraph refuses the whole query instead, naming the
    function, so each named function is registered as one that always errs.
    """
    functions = dict(kwargs.pop("custom_functions", None) or {})
    for _ in range(32):
        try:
            return store.query(query, custom_functions=functions or None, **kwargs)
        except RuntimeError as err:
            match = _UNKNOWN_FUNCTION.search(str(err))
            if not match or pyoxigraph.NamedNode(match.group(1)) in functions:
                raise
            functions[pyoxigraph.NamedNode(match.group(1))] = _unknown_function
    return store.query(query, custom_functions=functions, **kwargs)


def is_graph_result(results) -> bool:
    return isinstance(results, pyoxigraph.QueryTriples)


def serialise_results(results, format_name: str) -> bytes:
    """Bytes of the results in a SPARQL-results format (SELECT/ASK) or RDF format (CONSTRUCT/DESCRIBE)."""
    if is_graph_result(results):
        fmt = rdf_format(format_name)
        return results.serialize(format=fmt.oxigraph)
    fmt = results_format(format_name)
    return results.serialize(format=fmt.oxigraph)


def as_table(results) -> str:
    """A plain-text table for people at a terminal."""
    if isinstance(results, pyoxigraph.QueryBoolean):
        return "yes" if bool(results) else "no"
    if is_graph_result(results):
        return "\n".join(f"{t.subject} {t.predicate} {t.object} ." for t in results)
    names = [v.value for v in results.variables]
    rows = [[_cell(solution[name]) for name in names] for solution in results]
    widths = [max([len(n)] + [len(r[i]) for r in rows]) for i, n in enumerate(names)]
    line = lambda cells: " | ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()
    out = [line(names), "-+-".join("-" * w for w in widths)] + [line(r) for r in rows]
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out)


def _cell(term) -> str:
    if term is None:
        return ""
    if isinstance(term, pyoxigraph.Literal):
        return term.value
    return str(term).strip("<>") if isinstance(term, pyoxigraph.NamedNode) else str(term)



_IRI = re.compile(r'<[^<>"{}|^`\\\s]*>')
_STRING = re.compile(r'"""(?:[^"\\]|\\.|"(?!""))*"""|\'\'\'(?:[^\'\\]|\\.|\'(?!\'\'))*\'\'\'|"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'')
_PREFIX_DECL = re.compile(r"PREFIX\s+([A-Za-z][\w.-]*)?:\s*<([^>]*)>", re.I)
# Keywords, not variables (?from) or local names (ex:load): no ?, $, : or word character before them.
KEYWORD = r"(?<![?$:\w])"
_SERVICE = re.compile(KEYWORD + r"SERVICE\s+(?:SILENT\s+)?(<[^>]*>|[A-Za-z][\w.-]*:[\w.-]*|:[\w.-]*|[?$]\w+)", re.I)


_TOKENS = re.compile(f"({_IRI.pattern})|({_STRING.pattern})|(#[^\\n]*)")


@functools.lru_cache(maxsize=512)
def masked(query: str, keep_iris: bool = True) -> str:
    """The query with strings and comments blanked out; IRIs (which may hold '#') kept or blanked.

    Offsets are preserved, so a match in the masked text is a match in the query.
    """
    def blank(match):
        text = match.group(0)
        if match.group(1):
            return text if keep_iris else "<" + " " * (len(text) - 2) + ">"
        return " " * len(text)
    return _TOKENS.sub(blank, query)


def service_endpoints(query: str) -> list:
    """The endpoints a query's SERVICE clauses would call; None for one we cannot resolve (a variable)."""
    text = masked(query)
    prefixes = {(m.group(1) or ""): m.group(2) for m in _PREFIX_DECL.finditer(text)}
    found = []
    for match in _SERVICE.finditer(text):
        target = match.group(1)
        if target.startswith("<"):
            found.append(target[1:-1])
        elif target[0] in "?$":
            found.append(None)
        else:
            prefix, _, local = target.partition(":")
            found.append(prefixes[prefix] + local if prefix in prefixes else None)
    return found


def declares_dataset(query: str) -> bool:
    """True when the query has its own FROM / FROM NAMED clauses (which then define its dataset)."""
    return re.search(KEYWORD + r"FROM\b", masked(query, keep_iris=False), re.I) is not None


_FETCHING = re.compile(KEYWORD + r"(LOAD|SERVICE)\s+(?:SILENT\s+)?(?:<[^>]*>|[?$]\w+|[A-Za-z][\w.-]*:[\w.-]*|:[\w.-]*)", re.I)
_LOAD_SILENT = re.compile(KEYWORD + r"LOAD\s+SILENT\s+<[^>]*>(?:\s+INTO\s+GRAPH\s+<[^>]*>)?\s*;?", re.I)


def without_silent_loads(update: str) -> str:
    """The update without its LOAD SILENT operations.

    This server never fetches, so a LOAD SILENT always fails, and a failing
    silent operation changes nothing and reports success (SPARQL 1.1 Update 3.1.4).
    """
    text = masked(update)
    spans = [m.span() for m in _LOAD_SILENT.finditer(text)]
    for start, end in reversed(spans):
        update = update[:start] + " " + update[end:]
    return update


def has_load(update: str) -> bool:
    return re.search(KEYWORD + r"LOAD\b", masked(update, keep_iris=False), re.I) is not None


def update_syntax_error(update: str) -> str | None:
    """The parser's message if the update does not parse, else None.

    pyoxigraph has no parse-only call for updates, so the update runs against a
    throwaway empty in-memory store, with every LOAD and SERVICE target replaced
    by an IRI no client can fetch, so nothing leaves the machine.
    """
    text = masked(update)
    for match in reversed(list(_FETCHING.finditer(text))):
        keyword = match.group(1)
        update = update[:match.start()] + f"{keyword} SILENT <urn:ijdp:never-fetched>" + update[match.end():]
    try:
        pyoxigraph.Store().update(update)
    except SyntaxError as err:
        return err.args[0] if err.args else str(err)
    except Exception:  # noqa: BLE001 - evaluation problems are not syntax problems
        return None
    return None
