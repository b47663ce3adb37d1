"""What a SPARQL request does, decided from its tokens, never from its raw text.

A lexer built from the terminals of the SPARQL 1.1 grammar (section 19.8)
reads the request once, in linear time, and reports the things the server's
safety depends on: whether it is a query or an update, every SERVICE target
(resolved through the request's own PREFIX and BASE declarations), every LOAD,
whether it names its own dataset (FROM / FROM NAMED), and how deep its syntax
tree can get.

A keyword is a keyword only where the lexer finds one, so `?service`,
`ex:load`, `"SERVICE"`, `<SERVICE>` and comments are never mistaken for one,
and `SERVICE<x>`, `SERVICE\tSILENT` or a non-ASCII prefix are never missed.

Codepoint escapes (\\uXXXX, \\UXXXXXXXX): pyoxigraph decodes them inside IRIs
and strings only, the SPARQL 1.1 text decodes them everywhere before parsing.
A request that holds one is read both ways and the findings are merged, so a
SERVICE spelled with escapes is found whichever reading an engine takes.
"""
from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass, field

_BASE_CHARS = ("A-Za-z\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u02FF\u0370-\u037D\u037F-\u1FFF\u200C-\u200D"
               "\u2070-\u218F\u2C00-\u2FEF\u3001-\uD7FF\uF900-\uFDCF\uFDF0-\uFFFD\U00010000-\U000EFFFF")
_NAME_CHARS = _BASE_CHARS + "_0-9\u00B7\u0300-\u036F\u203F-\u2040"
_ESCAPE = r"\\u[0-9A-Fa-f]{4}|\\U[0-9A-Fa-f]{8}"

# One alternative per terminal. Each alternative is free of nested quantifiers
# over overlapping characters, so a match costs at most the length it scans,
# and a failed IRI scan stops at the next '<'; the whole lexer is linear.
_TOKEN = re.compile("|".join([
    r"(?P<ws>[ \t\r\n]+)",
    r"(?P<comment>#[^\r\n]*)",
    rf"(?P<iri><(?:[^<>\"{{}}|^`\\\x00-\x20]|{_ESCAPE})*>)",
    r'(?P<string>"""(?:[^"\\]|\\.|"(?!""))*"""|\'\'\'(?:[^\'\\]|\\.|\'(?!\'\'))*\'\'\''
    r'|"(?:[^"\\\r\n]|\\.)*"|\'(?:[^\'\\\r\n]|\\.)*\')',
    rf"(?P<var>[?$][{_NAME_CHARS}]+)",
    r"(?P<lang>@[a-zA-Z]+(?:-[a-zA-Z0-9]+)*)",
    # A name: keyword, prefixed name, blank node label or number. Runs of name
    # characters, dots, colons and local-name escapes; trailing dots are
    # punctuation and are given back below.
    rf"(?P<name>(?:[{_NAME_CHARS}:]|%[0-9A-Fa-f]{{2}}|\\[_~.\-!$&'()*+,;=/?#@%])"
    rf"(?:[{_NAME_CHARS}\-.:]|%[0-9A-Fa-f]{{2}}|\\[_~.\-!$&'()*+,;=/?#@%])*)",
    r"(?P<punct>\^\^|&&|\|\||!=|<=|>=|[{}()\[\].,;*/|^!=<>+\-?])",
]))

UPDATE_KEYWORDS = frozenset({"INSERT", "DELETE", "LOAD", "CLEAR", "DROP", "CREATE", "ADD", "MOVE", "COPY", "WITH"})
QUERY_FORMS = frozenset({"SELECT", "ASK", "CONSTRUCT", "DESCRIBE"})
OPENING, CLOSING = frozenset("{(["), frozenset("})]")
UNARY = frozenset({"!", "+", "-", "^"})
# Tokens that add one more level to a left-deep tree in the group they stand in
# (a chain of N of them nests N deep in the engine's parser and evaluator).
CHAINING = frozenset({"||", "&&", "=", "!=", "<", ">", "<=", ">=", "+", "-", "*", "/", "|", ".", ";", ",",
                      "UNION", "MINUS", "OPTIONAL", "FILTER", "BIND", "SERVICE", "GRAPH", "VALUES"})


class LexicalError(ValueError):
    def __init__(self, message: str, line: int, column: int):
        super().__init__(f"{message} at line {line}, column {column}")
        self.line, self.column = line, column


@dataclass
class Analysis:
    """What a request does. services holds each SERVICE target, None where it is a variable or unresolvable."""
    operation: str = "query"            # query | update
    form: str = "SELECT"                # SELECT | ASK | CONSTRUCT | DESCRIBE (for queries)
    services: list = field(default_factory=list)
    loads: int = 0                      # LOAD operations (silent or not)
    loud_loads: int = 0                 # LOAD without SILENT
    declares_dataset: bool = False      # FROM or FROM NAMED
    depth: int = 0                      # an upper estimate of the syntax tree's depth

    def merge(self, other: "Analysis") -> "Analysis":
        """The more dangerous reading of both (the operation and form stay this one's)."""
        self.services += [s for s in other.services if s not in self.services]
        self.loads = max(self.loads, other.loads)
        self.loud_loads = max(self.loud_loads, other.loud_loads)
        self.declares_dataset = self.declares_dataset or other.declares_dataset
        self.depth = max(self.depth, other.depth)
        return self


def _unescape(text: str) -> str:
    return re.sub(_ESCAPE, lambda m: chr(int(m.group(0)[2:], 16)) if int(m.group(0)[2:], 16) < 0x110000 else "\ufffd", text)


def tokens(text: str):
    """(kind, value, offset) for every token but whitespace and comments; LexicalError where none fits."""
    expected = 0
    for found in _TOKEN.finditer(text):
        start = found.start()
        if start != expected:
            _fail(text, expected)
        expected = found.end()
        kind = found.lastgroup
        if kind == "ws" or kind == "comment":
            continue
        value = found.group(kind)
        if kind == "name" and value[-1] == ".":
            # Trailing dots end a triple pattern: punctuation, not part of the name.
            value = value.rstrip(".")
            yield kind, value, start
            for offset in range(start + len(value), expected):
                yield "punct", ".", offset
            continue
        yield kind, value, start
    if expected != len(text):
        _fail(text, expected)


def _fail(text: str, position: int):
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    raise LexicalError(f"unexpected character {text[position]!r}", line, column)


def analyse(text: str) -> Analysis:
    """The findings for the request as pyoxigraph reads it, merged with the escapes-first reading.

    Raises LexicalError when no reading is made of SPARQL tokens.
    """
    readings = [text] + ([_unescape(text)] if "\\u" in text or "\\U" in text else [])
    found, first_error = None, None
    for reading in readings:
        try:
            analysis = _analyse(reading)
        except LexicalError as err:
            first_error = first_error or err
            continue  # no engine reading the request this way gets past parsing
        found = analysis if found is None else found.merge(analysis)
    if found is None:
        raise first_error
    return found


def _analyse(text: str) -> Analysis:
    result = Analysis()
    prefixes: dict = {}
    base = ""
    depth = 0                  # bracket depth
    chains = [0]               # chaining tokens so far, per open group
    chain_total = 0            # their sum over the open groups
    unary_run = 0
    first_keyword = None
    previous = None            # (kind, upper value) of the token before
    pending = None             # the keyword whose argument comes next: SERVICE, LOAD, PREFIX, BASE
    prefix_name = None
    for kind, value, _ in tokens(text):
        upper = value.upper() if kind == "name" else value
        if kind == "name" and first_keyword is None and upper not in ("BASE", "PREFIX") and pending is None:
            first_keyword = upper
        # Arguments of the keywords that matter.
        if pending == "SERVICE" and kind == "name" and upper == "SILENT":
            pass
        elif pending == "SERVICE":
            result.services.append(_target(kind, value, prefixes, base))
            pending = None
        elif pending == "LOAD" and kind == "name" and upper == "SILENT":
            result.loads += 1
            pending = None
        elif pending == "LOAD":
            # LOAD needs an IRI (a full or prefixed one); anything else is for the parser to refuse.
            if kind == "iri" or (kind == "name" and ":" in value):
                result.loads += 1
                result.loud_loads += 1
            pending = None
        elif pending == "PREFIX" and kind == "name" and value.endswith(":"):
            prefix_name, pending = value[:-1], "PREFIX-IRI"
        elif pending == "PREFIX-IRI" and kind == "iri":
            prefixes[prefix_name] = _resolve(_iri_value(value), base)
            pending = None
        elif pending == "BASE" and kind == "iri":
            base = _resolve(_iri_value(value), base)
            pending = None
        else:
            pending = None
        if kind == "name" and previous != ("punct", "^^"):
            if upper == "SERVICE":
                pending = "SERVICE"
            elif upper == "LOAD":
                pending = "LOAD"
            elif upper == "PREFIX":
                pending = "PREFIX"
            elif upper == "BASE":
                pending = "BASE"
            elif upper == "FROM":
                result.declares_dataset = True
        # Depth: brackets, runs of prefix operators, and chains within each group.
        if kind == "punct" and value in OPENING:
            depth += 1
            chains.append(0)
        elif kind == "punct" and value in CLOSING:
            if depth:
                depth -= 1
                chain_total -= chains.pop()
        if (kind == "punct" and value in UNARY) and (previous is None or previous[0] == "punct"
                                                     and previous[1] not in CLOSING and previous[1] != "*"):
            unary_run += 1
        else:
            unary_run = 0
            if upper in CHAINING and (kind == "punct" or kind == "name"):
                chains[-1] += 1
                chain_total += 1
        result.depth = max(result.depth, depth + chain_total + unary_run)
        previous = (kind, upper)
    if first_keyword in UPDATE_KEYWORDS:
        result.operation = "update"
    elif first_keyword in QUERY_FORMS:
        result.form = first_keyword
    return result


def _iri_value(token: str) -> str:
    return _unescape(token[1:-1])


def _resolve(iri: str, base: str) -> str:
    return urllib.parse.urljoin(base, iri) if base else iri


def _target(kind: str, value: str, prefixes: dict, base: str):
    if kind == "iri":
        return _resolve(_iri_value(value), base)
    if kind == "name" and ":" in value:
        prefix, _, local = value.partition(":")
        if prefix in prefixes:
            return prefixes[prefix] + re.sub(r"\\(.)", r"\1", local)
    return None


_ENGINE_POSITION = re.compile(r"error at (\d+):(\d+): (?:expected (?:one of )?)?(.*)", re.S)
_WORD_EXPECTED = re.compile(r'^"[^"]+"$|^[A-Z_]+[A-Z0-9_]*$')


def explain_syntax_error(text: str, engine_message: str) -> str:
    """A syntax error people can act on: what is wrong and where, first; the parser's words after.

    pyoxigraph reports the furthest point its parser reached and every
    character class it would have accepted there. The tokens tell more: an
    undeclared prefix is named with its own position, and otherwise the
    message names the token found and the words and symbols that could come.
    """
    try:
        found = list(tokens(text))
    except LexicalError as err:
        return str(err)
    def declares(index: int) -> bool:
        return index > 0 and found[index - 1][1].upper() == "PREFIX"

    declared = {value[:-1] for index, (kind, value, _) in enumerate(found)
                if kind == "name" and value.endswith(":") and declares(index)}
    for index, (kind, value, offset) in enumerate(found):
        if kind != "name" or ":" not in value or declares(index):
            continue
        prefix = value.split(":", 1)[0]
        if prefix != "_" and prefix not in declared and not value[0].isdigit():
            line, column = _line_column(text, offset)
            known = ", ".join(sorted(f"{p}:" for p in declared)) or "none"
            return (f"undeclared prefix {prefix + ':'!r} in {value!r} at line {line}, column {column} "
                    f"(declared: {known})")
    match = _ENGINE_POSITION.search(engine_message)
    if not match:
        return engine_message
    line, column = int(match.group(1)), int(match.group(2))
    offset = _offset(text, line, column)
    junk = _trailing_junk(found, len(text))
    after = [(value, at) for _, value, at in found if at >= min(offset, junk)]
    where = _line_column(text, after[0][1]) if after else (line, column)
    unexpected = f"unexpected {after[0][0][:40]!r}" if after else "unexpected end of the query"
    if junk < offset:
        expected = "; the query ends before it (only GROUP BY, HAVING, ORDER BY, LIMIT, OFFSET or VALUES may follow)"
    else:
        words = [w.strip('"') for w in (part.strip() for part in match.group(3).split(",")) if _WORD_EXPECTED.match(w)]
        expected = f"; expected {', '.join(words[:10])}" if words else ""
    return f"{unexpected} at line {where[0]}, column {where[1]}{expected}"


MODIFIERS = frozenset({"GROUP", "BY", "HAVING", "ORDER", "ASC", "DESC", "LIMIT", "OFFSET", "VALUES", "WHERE"})
OPEN_ENDED = frozenset({"BY", "HAVING", "ASC", "DESC", "VALUES"})


def _trailing_junk(found, end: int) -> int:
    """The offset of the first token after the query's last closed group that no solution modifier allows.

    The parser reports trailing text where it gave up, often a few tokens in;
    the mistake is where the text stopped being a query.
    """
    depth, last_close = 0, None
    for index, (kind, value, _) in enumerate(found):
        if kind == "punct" and value in OPENING:
            depth += 1
        elif kind == "punct" and value in CLOSING and depth:
            depth -= 1
            if depth == 0:
                last_close = index
    if last_close is None:
        return end
    mode, depth = None, 0
    for kind, value, at in found[last_close + 1:]:
        upper = value.upper() if kind == "name" else value
        if kind == "name" and upper in MODIFIERS:
            mode = upper
            continue
        if kind == "punct" and value in OPENING:
            depth += 1
        elif kind == "punct" and value in CLOSING and depth:
            depth -= 1
            continue
        if depth or mode in OPEN_ENDED or (kind == "name" and value[:1].isdigit() and mode in ("LIMIT", "OFFSET")):
            continue
        return at
    return end


def _line_column(text: str, offset: int) -> tuple[int, int]:
    return text.count("\n", 0, offset) + 1, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _offset(text: str, line: int, column: int) -> int:
    """The character offset of a 1-based line and column (the engine counts characters)."""
    start = 0
    for _ in range(line - 1):
        start = text.find("\n", start) + 1
        if start == 0:
            return len(text)
    return min(len(text), start + column - 1)
