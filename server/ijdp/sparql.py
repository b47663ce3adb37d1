"""Running SPARQL with pyoxigraph and writing its results, for the CLI and the server."""
from __future__ import annotations

import re

import pyoxigraph

from .errors import IjdpError
from .formats import rdf_format, results_format


class QuerySyntaxError(IjdpError):
    """The query does not parse; the message is the parser's, with its position."""


def parse_error_message(err: SyntaxError, query: str = "") -> str:
    """One line, for the command line."""
    return f"malformed query: {readable_syntax_error(query, err).splitlines()[0]}"


def readable_syntax_error(text: str, err: SyntaxError) -> str:
    """What is wrong and where, first (from the tokens); the parser's own words, shortened, after."""
    from .structure import explain_syntax_error

    engine = err.args[0] if err.args else str(err)
    explained = explain_syntax_error(text, engine)
    if explained == engine:
        return engine
    # Where the parser stopped, for reference. Its list of what it would have taken is left out: a PEG
    # parser lists one alternative of many ("expected OPTIONAL" where a '.' is missing), and the
    # explanation above repeats it where it is short and true.
    where = engine.split(": ", 1)[0] if engine.startswith("error at ") else ""
    return f"{explained}\n(the parser stopped {where.removeprefix('error ')})" if where else explained


def execute(store: pyoxigraph.Store, query: str, *, union_default: bool = True,
            default_graphs=None, named_graphs=None, base_iri: str | None = None):
    """Run a query; raise QuerySyntaxError with the parser's message when it does not parse."""
    kwargs = {"base_iri": base_iri}
    if default_graphs:
        kwargs["default_graph"] = [pyoxigraph.NamedNode(g) for g in default_graphs]
    else:
        kwargs["use_default_graph_as_union"] = union_default and not _declares_dataset(query)
    if named_graphs:
        kwargs["named_graphs"] = [pyoxigraph.NamedNode(g) for g in named_graphs]
    try:
        return query_store(store, query, **kwargs)
    except SyntaxError as err:
        raise QuerySyntaxError(parse_error_message(err, query)) from None
    except (OSError, RuntimeError, ValueError) as err:  # evaluation errors
        raise IjdpError(f"query failed: {err}") from None


def _declares_dataset(query: str) -> bool:
    """True when the query has its own FROM / FROM NAMED clauses (which then define its dataset)."""
    from .structure import LexicalError, analyse
    try:
        return analyse(query).declares_dataset
    except LexicalError as err:
        raise QuerySyntaxError(f"malformed query: {err}") from None


_UNKNOWN_FUNCTION = re.compile(r"The custom function <([^>]*)> is not supported")
MAX_UNKNOWN_FUNCTIONS = 32


class UnknownFunctions(QuerySyntaxError):
    """The query calls more functions the engine does not know than query_store lets be expression errors."""

    def __init__(self, names: list):
        self.names = names
        shown = ", ".join(f"<{name}>" for name in names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
        super().__init__(f"the query calls more than {MAX_UNKNOWN_FUNCTIONS} functions that this endpoint does not "
                         f"know: {shown}")


def _unknown_function(*args):
    return None  # an expression error: the variable stays unbound (SPARQL 1.1, section 17.3)


def query_store(store: pyoxigraph.Store, query: str, **kwargs):
    """store.query, with every ORDER BY in a total order and unknown extension functions as expression errors.

    pyoxigraph's sort aborts the process on some mixes of literals (ordering.py);
    the conditions are rewritten so that it cannot. SPARQL says an unsupported
    function call is an error that leaves its variable unbound; pyoxigraph
    refuses the whole query instead, naming the function, so each named
    function (up to MAX_UNKNOWN_FUNCTIONS) is registered as one that always errs.
    """
    from .ordering import ORDER_KEY, order_key, totally_ordered

    functions = dict(kwargs.pop("custom_functions", None) or {})
    functions[ORDER_KEY] = order_key
    ordered = totally_ordered(query)
    unknown = []
    while True:
        try:
            return store.query(ordered, custom_functions=functions, **kwargs)
        except SyntaxError:
            if ordered == query:
                raise
            ordered = query   # the parser's message, positions included, is about the query as sent
        except RuntimeError as err:
            match = _UNKNOWN_FUNCTION.search(str(err))
            if not match or pyoxigraph.NamedNode(match.group(1)) in functions:
                raise
            unknown.append(match.group(1))
            if len(unknown) > MAX_UNKNOWN_FUNCTIONS:
                raise UnknownFunctions(unknown) from None
            functions[pyoxigraph.NamedNode(match.group(1))] = _unknown_function


def projected_variables(query: str) -> tuple[int, bool]:
    """(the most variables any SELECT of the query projects, whether that one is SELECT *), from its tokens.

    SELECT * is counted as every variable the query names: no result can have more columns.
    """
    from .ordering import query_tokens, word
    from .structure import LexicalError

    try:
        found = query_tokens(query)
    except LexicalError:
        return 0, False
    widest, starred, everything = 0, False, None
    for index, token in enumerate(found):
        if word(token) != "SELECT":
            continue
        width, star, depth = 0, False, 0
        for position in range(index + 1, len(found)):
            token = found[position]
            kind, value, _ = token
            if kind == "punct" and value == "(":
                depth += 1
            elif kind == "punct" and value == ")":
                depth -= 1
            elif depth == 0 and kind == "var":
                width += 1
            elif word(token) == "AS":
                width += 1
            elif depth == 0 and kind == "punct" and value == "*":
                star = True
            elif depth <= 0 and word(token) not in ("DISTINCT", "REDUCED"):
                break   # the projection ends at the first token at its level that is none of its own
        if star:
            if everything is None:
                everything = len({value[1:] for kind, value, _ in found if kind == "var"})
            width = everything
        if width > widest:
            widest, starred = width, star
    return widest, starred


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


