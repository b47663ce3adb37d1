"""What a SPARQL request does, decided from its tokens, never from its raw text.

Two layers. tokens() is the lexer of the SPARQL 1.1 grammar (section 19.8,
longest match first, keywords matched without case, `a` in lower case only),
with the SPARQL 1.2 terminals pyoxigraph reads (`<<`, `>>`, `{|`, `|}`, `~`
and language directions). It reads the request once, in linear time: every
pattern is possessive, and the one that may fail after a long scan (a prefix
without its colon) is not tried again inside the same run.

analyse() reads them as pyoxigraph 0.5 reads the text (reading()) and reports what
the server's safety depends on: whether it is a query or an update, every
SERVICE target (resolved through the request's own PREFIX and BASE
declarations, with where its token stands so a caller can rewrite it), LOAD,
FROM, and how deep its syntax tree can get. pyoxigraph's parser is a PEG that
reads the characters, not the grammar's tokens, and differs in three ways
(each tried on the engine, see tests/test_lexer.py):

- a keyword is matched as the first letters of whatever follows, and an
  undeclared prefix is read again as shorter tokens: it reads `SERVICE:x`,
  `SERVICEex:x`, `trueSERVICEex:x`, `true.SERVICE:x`, `PREFIXex:` and
  `SERVICE SILENTex:x` as keywords and a name where the grammar has one
  prefixed name. Such a name is reported as a SERVICE with an unknown target,
  a prefix declared so is unknown, and so on for FROM, LOAD and depth;
- a local name holds one run of dots at most: `ex:a.b.SERVICE` is `ex:a.b`,
  `.`, `SERVICE`;
- after a value inside an expression `<` is less-than, whatever follows:
  `FILTER(?a<2&&?b>1)` holds no IRI.

Codepoint escapes (\\uXXXX, \\UXXXXXXXX): pyoxigraph decodes them inside IRIs
and strings only, the SPARQL 1.1 text decodes them everywhere before parsing.
A request that holds one is read both ways; a SERVICE that only the decoded
reading finds is reported with an unknown target.
"""
from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field

_BASE = ("A-Za-z\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u02FF\u0370-\u037D\u037F-\u1FFF\u200C-\u200D"
         "\u2070-\u218F\u2C00-\u2FEF\u3001-\uD7FF\uF900-\uFDCF\uFDF0-\uFFFD")
_ASTRAL = "\U00010000-\U000EFFFF"        # in the grammar's PN_CHARS_BASE, not in pyoxigraph's
_EXTRA = "\\-0-9\u00B7\u0300-\u036F\u203F-\u2040"
_UCHAR = r"\\u[0-9A-Fa-f]{4}|\\U[0-9A-Fa-f]{8}"
_ECHAR = r"\\[tbnrf\\\"']"
_PLX = r"%[0-9A-Fa-f]{2}|\\[_~.\-!$&'()*+,;=/?#@%]"
_EXPONENT = r"[eE][+-]?[0-9]+"


def _terminals(base: str) -> dict:
    chars_u = base + "_"
    chars = chars_u + _EXTRA
    local = rf"(?:[{chars}:]|{_PLX})"
    return {
        "prefix": re.compile(rf"[{base}][{chars}]*+(?:\.++[{chars}]++)*+"),
        "local": re.compile(rf"(?:[{chars_u}:0-9]|{_PLX}){local}*+(?:\.++{local}++)*+"),
        # pyoxigraph's PN_LOCAL: one run of dots at most
        "engine local": re.compile(rf"(?:[{chars_u}:0-9]|{_PLX}){local}*+(?:\.++{local}++)?+"),
        "var": re.compile(rf"[?$][{chars_u}0-9][{chars_u}0-9\u00B7\u0300-\u036F\u203F-\u2040]*+"),
        "bnode": re.compile(rf"_:[{chars_u}0-9][{chars}]*+(?:\.++[{chars}]++)*+"),
        "word": re.compile(rf"[{chars_u}][{chars}]*+"),
    }


_GRAMMAR = _terminals(_BASE + _ASTRAL)
_ENGINE_LOCAL = _terminals(_BASE)["engine local"]
_SKIP = re.compile(r"(?:[ \t\r\n]++|#[^\r\n]*+)*+")
_IRIREF = re.compile(rf"<(?:[^<>\"{{}}|^`\\\x00-\x20]|{_UCHAR})*+>")
_STRING = re.compile(
    rf'"""(?:(?:""|")?(?:[^"\\]|{_ECHAR}|{_UCHAR}))*+"""'
    rf"|'''(?:(?:''|')?(?:[^'\\]|{_ECHAR}|{_UCHAR}))*+'''"
    rf'|"(?:[^"\\\r\n]|{_ECHAR}|{_UCHAR})*+"'
    rf"|'(?:[^'\\\r\n]|{_ECHAR}|{_UCHAR})*+'")
_LANGTAG = re.compile(r"@[a-zA-Z]++(?:-[a-zA-Z0-9]++)*+(?:--[a-zA-Z]++)?+")
_NUMBER = re.compile(rf"[+-]?(?:[0-9]+\.[0-9]*{_EXPONENT}|\.[0-9]+{_EXPONENT}|[0-9]+{_EXPONENT}|[0-9]*\.[0-9]+|[0-9]+)")
_NIL = re.compile(r"\([ \t\r\n]*+\)")
_ANON = re.compile(r"\[[ \t\r\n]*+\]")
_PUNCT = re.compile(r"\^\^|&&|\|\||!=|<=|>=|<<|>>|\{\||\|\}|[{}()\[\].,;*/|^!=<>+\-?~]")

# The grammar's keywords (section 19.8: matched without case, except `a`), with
# the SPARQL 1.2 ones and the extensions pyoxigraph reads.
KEYWORDS = frozenset("""
    BASE PREFIX SELECT DISTINCT REDUCED AS CONSTRUCT WHERE DESCRIBE ASK FROM NAMED GROUP BY HAVING ORDER ASC DESC
    LIMIT OFFSET VALUES LOAD SILENT INTO CLEAR DROP CREATE ADD TO MOVE COPY INSERT DATA DELETE WITH USING DEFAULT
    GRAPH ALL OPTIONAL SERVICE BIND UNDEF MINUS UNION FILTER NOT IN TRUE FALSE
    STR LANG LANGMATCHES DATATYPE BOUND IRI URI BNODE RAND ABS CEIL FLOOR ROUND CONCAT STRLEN UCASE LCASE
    ENCODE_FOR_URI CONTAINS STRSTARTS STRENDS STRBEFORE STRAFTER YEAR MONTH DAY HOURS MINUTES SECONDS TIMEZONE TZ
    NOW UUID STRUUID MD5 SHA1 SHA256 SHA384 SHA512 COALESCE IF STRLANG STRDT SAMETERM ISIRI ISURI ISBLANK ISLITERAL
    ISNUMERIC REGEX SUBSTR REPLACE EXISTS COUNT SUM MIN MAX AVG SAMPLE GROUP_CONCAT SEPARATOR
    VERSION TRIPLE SUBJECT PREDICATE OBJECT ISTRIPLE LANGDIR HASLANG HASLANGDIR STRLANGDIR LATERAL ADJUST
""".split())
_KEYWORD_RUN = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,%d}" % (max(map(len, KEYWORDS)) - 1))
_KEYWORD_LENGTHS = sorted({len(k) for k in KEYWORDS}, reverse=True)
_KEYWORD_AT = re.compile("|".join(KEYWORDS), re.IGNORECASE | re.ASCII)

UPDATE_KEYWORDS = frozenset({"INSERT", "DELETE", "LOAD", "CLEAR", "DROP", "CREATE", "ADD", "MOVE", "COPY", "WITH"})
QUERY_FORMS = frozenset({"SELECT", "ASK", "CONSTRUCT", "DESCRIBE"})
PROLOGUE = frozenset({"BASE", "PREFIX", "VERSION"})
OPENING, CLOSING = frozenset({"{", "(", "[", "<<", "{|"}), frozenset({"}", ")", "]", ">>", "|}"})
UNARY = frozenset("!+-^")
# Tokens that add one more level to a left-deep tree in the group they stand in
# (a chain of N of them nests N deep in the engine's parser and evaluator).
CHAINING = frozenset({"||", "&&", "=", "!=", "<", ">", "<=", ">=", "+", "-", "*", "/", "|", ".", ";", ",",
                      "UNION", "MINUS", "OPTIONAL", "FILTER", "BIND", "SERVICE", "GRAPH", "VALUES", "LATERAL"})
# Keywords whose "(" opens an expression (the calls, and the clauses that hold expressions).
FUNCTIONS = frozenset("""
    STR LANG LANGMATCHES DATATYPE BOUND IRI URI BNODE RAND ABS CEIL FLOOR ROUND CONCAT STRLEN UCASE LCASE
    ENCODE_FOR_URI CONTAINS STRSTARTS STRENDS STRBEFORE STRAFTER YEAR MONTH DAY HOURS MINUTES SECONDS TIMEZONE TZ
    NOW UUID STRUUID MD5 SHA1 SHA256 SHA384 SHA512 COALESCE IF STRLANG STRDT SAMETERM ISIRI ISURI ISBLANK ISLITERAL
    ISNUMERIC REGEX SUBSTR REPLACE COUNT SUM MIN MAX AVG SAMPLE GROUP_CONCAT
    TRIPLE SUBJECT PREDICATE OBJECT ISTRIPLE LANGDIR HASLANG HASLANGDIR STRLANGDIR ADJUST
    FILTER BIND HAVING BY ASC DESC IN SELECT DISTINCT REDUCED
""".split())
OPERANDS = frozenset({"var", "iri", "pname", "string", "number", "nil", "anon", "lang", "bnode"})


class LexicalError(ValueError):
    def __init__(self, message: str, line: int, column: int):
        super().__init__(f"{message} at line {line}, column {column}")
        self.line, self.column = line, column


@dataclass
class Analysis:
    """What a request does. services holds each SERVICE target, None where it is a variable, unresolvable or unclear."""
    operation: str = "query"            # query | update
    form: str = "SELECT"                # SELECT | ASK | CONSTRUCT | DESCRIBE (for queries)
    services: list = field(default_factory=list)
    # (start, end, target) of each SERVICE target's token, as character offsets in the request's text
    service_spans: list = field(default_factory=list)
    loud_loads: int = 0                 # LOAD without SILENT
    declares_dataset: bool = False      # FROM or FROM NAMED
    depth: int = 0                      # an upper estimate of the syntax tree's depth
    words: list = field(default_factory=list)   # runs of name characters no SPARQL token fits (as Virtuoso's DEFINE)

    def merge(self, other: "Analysis") -> "Analysis":
        """The more dangerous reading of both: a SERVICE only the other finds has an unknown target."""
        for start, end, target in other.service_spans:
            if (start, end, target) not in self.service_spans:
                self.service_spans.append((start, end, None))
                self.services.append(None)
        self.loud_loads = max(self.loud_loads, other.loud_loads)
        self.declares_dataset = self.declares_dataset or other.declares_dataset
        self.depth = max(self.depth, other.depth)
        self.words += [word for word in other.words if word not in self.words]
        return self


_STARTS = {"<": (_IRIREF, "iri"), '"': (_STRING, "string"), "'": (_STRING, "string"),
           "?": (_GRAMMAR["var"], "var"), "$": (_GRAMMAR["var"], "var"), "@": (_LANGTAG, "lang"),
           "_": (_GRAMMAR["bnode"], "bnode"), "(": (_NIL, "nil"), "[": (_ANON, "anon"),
           **{char: (_NUMBER, "number") for char in "0123456789.+-"}}


def _scan(text: str, pos: int, memo: list) -> tuple[str, int]:
    """(kind, end) of the longest token at pos; memo is a run known to hold no prefix's colon."""
    char = text[pos]
    start = _STARTS.get(char)
    if start:
        found = start[0].match(text, pos)
        if found:
            return start[1], found.end()
    prefix = None if char == ":" or memo[0] <= pos < memo[1] else _GRAMMAR["prefix"].match(text, pos)
    if char == ":" or prefix:
        prefix_end = prefix.end() if prefix else pos
        if text.startswith(":", prefix_end):
            local = _GRAMMAR["local"].match(text, prefix_end + 1)
            return "pname", local.end() if local else prefix_end + 1
        memo[0], memo[1] = pos, prefix_end
    run = _KEYWORD_RUN.match(text, pos)
    if run:
        word = run.group(0).upper()
        if word in KEYWORDS:
            return "keyword", run.end()
        for length in _KEYWORD_LENGTHS:
            if length < len(word) and word[:length] in KEYWORDS:
                return "keyword", pos + length
        if char == "a":
            return "keyword", pos + 1
    found = _GRAMMAR["word"].match(text, pos) or _PUNCT.match(text, pos)
    if found:
        # A word no terminal fits is one token all the same, so an error can name it.
        return ("word" if found.re is _GRAMMAR["word"] else "punct"), found.end()
    line, column = _line_column(text, pos)
    if char in "\"'":
        raise LexicalError(f"the string that starts with {char!r} is not closed (or holds a line break: "
                           "use triple quotes for those)", line, column)
    if char == "<":
        raise LexicalError("unexpected '<': an IRI that starts here is not closed, or holds a character IRIs "
                           "may not (space, quote, braces)", line, column)
    raise LexicalError(f"unexpected character {char!r}", line, column)


def tokens(text: str):
    """(kind, value, offset) for every token but whitespace and comments, as the grammar reads them.

    kind: iri, string, var, lang, bnode, number, pname, keyword, nil, anon, punct; or word, for a run of
    name characters that no terminal fits (never SPARQL, kept whole for error messages). LexicalError
    where nothing fits.
    """
    memo = [0, 0]
    pos, length = 0, len(text)
    while True:
        pos = _SKIP.match(text, pos).end()
        if pos >= length:
            return
        kind, end = _scan(text, pos, memo)
        yield kind, text[pos:end], pos
        pos = end


_ESCAPE = re.compile(_UCHAR)


def _unescape(text: str) -> tuple[str, list]:
    """The text with codepoint escapes decoded, and the (decoded, original) offsets where the two realign."""
    parts, points, last, shift = [], [(0, 0)], 0, 0
    for found in _ESCAPE.finditer(text):
        code = int(found.group(0)[2:], 16)
        parts += [text[last:found.start()], chr(code) if code < 0x110000 and not 0xD800 <= code < 0xE000 else "\ufffd"]
        shift += len(found.group(0)) - 1
        last = found.end()
        points.append((last - shift, last))
    parts.append(text[last:])
    return "".join(parts), points


def analyse(text: str) -> Analysis:
    """The findings for the request as pyoxigraph reads it, merged with the escapes-first reading.

    Raises LexicalError when no reading is made of SPARQL tokens.
    """
    readings = [(text, None)] + ([_unescape(text)] if "\\u" in text or "\\U" in text else [])
    found, first_error = None, None
    for reading, points in readings:
        try:
            analysis = _analyse(reading)
        except LexicalError as err:
            first_error = first_error or err
            continue  # no engine reading the request this way gets past parsing
        if points is not None:
            decoded = [point[0] for point in points]

            def original(offset: int) -> int:
                at, source = points[bisect.bisect_right(decoded, offset) - 1]
                return source + offset - at
            analysis.service_spans = [(original(start), original(end), target)
                                      for start, end, target in analysis.service_spans]
            if found is None:   # the request as written is no SPARQL: every SERVICE is one only the decoding finds
                found = Analysis(operation=analysis.operation, form=analysis.form)
        found = analysis if found is None else found.merge(analysis)
    if found is None:
        raise first_error
    return found


def reading(text: str):
    """(kind, value, start, end, glued) for every token as pyoxigraph 0.5 reads the text (see the module's notes).

    glued: for a prefixed name, the (keyword, offset) pairs its prefix may be read as.
    """
    holds = ["top"]            # what each open bracket holds: group, data (VALUES), expr, term
    previous = before = None   # (kind, upper value) of the two tokens before
    clause = False             # in a SELECT clause or a solution modifier, where "(" opens an expression
    values = False             # after VALUES, until its data block opens
    call = False               # the next "(" opens a call: a name glued to FILTER, HAVING or BY came before
    memo = [0, 0]
    pos, length = 0, len(text)
    while True:
        pos = _SKIP.match(text, pos).end()
        if pos >= length:
            return
        start = pos
        kind, end = _scan(text, pos, memo)
        if kind == "pname":
            end = _engine_pname_end(text, start, end)
        elif text.startswith("<", start) and kind in ("iri", "punct") and holds[-1] == "expr" and _is_value(previous):
            # less-than (or <=) here, and the text after it read afresh
            kind, end = "punct", start + (2 if text.startswith("<=", start) else 1)
        pos = end
        value = text[start:end]
        upper = value.upper() if kind == "keyword" else value
        glued = _glued(value) if kind == "pname" else ()
        if kind == "keyword":
            if upper in ("SELECT", "BY", "HAVING"):
                clause = True
            elif upper in ("WHERE", "FROM", "LIMIT", "OFFSET", "VALUES"):
                clause = False
            values = values or upper == "VALUES"
        elif kind == "punct" and value in OPENING:
            if value == "{":
                holds.append("data" if values else "group")
                values = clause = False
            elif value == "(":
                holds.append("expr" if _opens_expression(holds[-1], previous, before, clause, call) else "term")
            else:
                holds.append("term")
        elif kind == "punct" and value in CLOSING:
            if len(holds) > 1:
                holds.pop()
            clause = clause and value != "}"
        yield kind, value, start, end, glued
        before, previous = previous, (kind, upper)
        call = bool(glued) and any(keyword in ("FILTER", "HAVING", "BY") for keyword, _ in glued)


def _analyse(text: str) -> Analysis:
    result = Analysis()
    prefixes: dict = {}        # name -> namespace, None where the request makes it unclear
    base = ""
    chains = [0]               # chaining tokens so far, per open bracket
    chain_total = 0            # their sum over the open brackets
    unary_run = 0
    first_keyword = None
    previous = None            # (kind, upper value) of the token before
    pending = None             # the keyword whose argument comes next: SERVICE, LOAD, PREFIX, BASE
    prefix_name = None
    for kind, value, start, end, glued in reading(text):
        upper = value.upper() if kind == "keyword" else value
        if kind == "word":
            result.words.append(value)
        if pending is None and first_keyword is None:
            if kind == "keyword" and upper not in PROLOGUE:
                first_keyword = upper
            elif glued:   # a name glued to an update's first keyword (LOADex:x) is an update
                first_keyword = next((k for k, at in glued if at == 0 and k in UPDATE_KEYWORDS), None)
        # Arguments of the keywords that matter.
        if pending == "SERVICE" and kind == "keyword" and upper == "SILENT":
            pass
        elif pending == "SERVICE":
            silent = ("SILENT", 0) in glued
            target = None if silent else _target(kind, value, prefixes, base)
            result.services.append(target)
            result.service_spans.append((start, end, target))
            pending = None
        elif pending == "LOAD":
            # LOAD needs an IRI (a full or prefixed one); anything else is for the parser to refuse.
            result.loud_loads += kind in ("iri", "pname")
            pending = None
        elif pending == "PREFIX" and kind == "pname" and value.endswith(":"):
            prefix_name, pending = value[:-1], "PREFIX-IRI"
        elif pending == "PREFIX-IRI" and kind == "iri":
            prefixes[prefix_name] = _resolve(_decoded(value[1:-1]), base)
            pending = None
        elif pending == "BASE" and kind == "iri":
            base = _resolve(_decoded(value[1:-1]), base)
            pending = None
        else:
            pending = None
        if kind == "keyword":
            if upper in ("SERVICE", "LOAD", "PREFIX", "BASE"):
                pending = upper
            elif upper == "FROM":
                result.declares_dataset = True
        # What the engine may read in a name glued to keywords, taken at its most dangerous. A keyword
        # followed by a name is read so only where that name's prefix is declared (SERVICEex:x needs ex:).
        hidden = {keyword for keyword, _ in glued}
        if glued:
            named = {keyword for keyword, at in glued if _names_declared(value, at + len(keyword), prefixes)}
            if "SERVICE" in named:
                result.services.append(None)
                result.service_spans.append((start, end, None))
            for keyword, at in glued:
                if keyword == "PREFIX":
                    prefixes[value[at + len(keyword):value.index(":")]] = None
            result.declares_dataset = result.declares_dataset or "FROM" in named
            result.loud_loads += "LOAD" in named
        # Depth: brackets, runs of prefix operators, and chains within each bracket.
        if kind == "punct" and value in OPENING:
            chains.append(0)
        elif kind == "punct" and value in CLOSING and len(chains) > 1:
            chain_total -= chains.pop()
        prefix_operator = previous is None or (previous[0] == "punct" and previous[1] not in CLOSING
                                               and previous[1] != "*")
        signed = kind == "number" and value[0] in "+-"
        if ((kind == "punct" and value in UNARY) or signed) and prefix_operator:
            unary_run += 1
        else:
            unary_run = 0
            if signed or (kind in ("punct", "keyword") and upper in CHAINING) or hidden & CHAINING:
                chains[-1] += 1
                chain_total += 1
        depth = len(chains) - 1 + chain_total + unary_run
        if depth > result.depth:
            result.depth = depth
        previous = (kind, upper)
    if first_keyword in UPDATE_KEYWORDS:
        result.operation = "update"
    elif first_keyword in QUERY_FORMS:
        result.form = first_keyword
    return result


def _engine_pname_end(text: str, start: int, end: int) -> int:
    """Where pyoxigraph ends a prefixed name the grammar ends at end (its local name takes one run of dots)."""
    colon = text.index(":", start)
    local = _ENGINE_LOCAL.match(text, colon + 1)
    return min(end, local.end() if local else colon + 1)


def _glued(name: str) -> list:
    """(keyword, offset) of each keyword a prefixed name's prefix may be read as.

    pyoxigraph reads an undeclared prefix again as shorter tokens: keywords, booleans,
    numbers and dots (`true.SERVICE:x` is `true`, `.`, `SERVICE`, `:x`).
    """
    prefix = name[:name.index(":")]
    if not _KEYWORD_AT.match(prefix):
        return []
    found, reachable = [], {0}
    for at in range(len(prefix)):
        if at not in reachable:
            continue
        if prefix[at] == "." or prefix[at] in "0123456789":
            reachable.add(at + 1)
        for length in _KEYWORD_LENGTHS:
            piece = prefix[at:at + length]
            if len(piece) == length and piece.isascii() and piece.upper() in KEYWORDS:
                found.append((piece.upper(), at))
                reachable.add(at + length)
    return found


def _names_declared(name: str, after: int, prefixes: dict) -> bool:
    """Whether what follows a keyword glued into a prefixed name is a declared name (with or without SILENT or NAMED)."""
    rest = name[after:name.index(":")]
    readings = [rest] + [rest[len(word):] for word in ("SILENT", "NAMED") if rest[:len(word)].upper() == word]
    return any(reading in prefixes for reading in readings)


def _is_value(token) -> bool:
    """Whether the token ends an operand (after which pyoxigraph reads '<' as an operator)."""
    if token is None:
        return False
    kind, value = token
    return kind in OPERANDS or (kind == "keyword" and value in ("TRUE", "FALSE")) \
        or (kind == "punct" and value in (")", "]", ">>"))


def _opens_expression(holder: str, previous, before, clause: bool, call: bool) -> bool:
    """Whether a '(' opens an expression (rather than a collection, a path or a VALUES row)."""
    if holder == "expr":
        return True
    if holder == "data" or previous is None or previous[1] == "VALUES":
        return False
    if call or (previous[0] == "keyword" and previous[1] in FUNCTIONS):
        return True
    if previous[0] in ("iri", "pname"):   # a call after FILTER or HAVING, or in a clause; a collection elsewhere
        return clause or (before is not None and before[0] == "keyword" and before[1] in ("FILTER", "HAVING"))
    return clause


def _decoded(text: str) -> str:
    return _unescape(text)[0] if "\\" in text else text


_LOCAL_ESCAPE = re.compile(r"\\(.)")


def _target(kind: str, value: str, prefixes: dict, base: str):
    if kind == "iri":
        return _resolve(_decoded(value[1:-1]), base)
    if kind == "pname":
        prefix, _, local = value.partition(":")
        namespace = prefixes.get(prefix)
        if namespace is not None:
            return namespace + _LOCAL_ESCAPE.sub(r"\1", local)
    return None


_REFERENCE = re.compile(r"(?:([^:/?#]+):)?(?://([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#(.*))?", re.S)


def _resolve(iri: str, base: str) -> str:
    """iri resolved against base as RFC 3986 (section 5.2, strict) says, as the engine's IRI library does."""
    if not base:
        return iri
    scheme, authority, path, query, fragment = _REFERENCE.fullmatch(iri).groups()
    if scheme is None:
        base_scheme, base_authority, base_path, base_query, _ = _REFERENCE.fullmatch(base).groups()
        scheme = base_scheme
        if authority is None:
            authority = base_authority
            if path == "":
                path, query = base_path, base_query if query is None else query
            else:
                if not path.startswith("/"):
                    path = ("/" if base_authority is not None and base_path == "" else
                            base_path[:base_path.rfind("/") + 1]) + path
                path = _without_dot_segments(path)
        else:
            path = _without_dot_segments(path)
    else:
        path = _without_dot_segments(path)
    return ((f"{scheme}:" if scheme is not None else "") + (f"//{authority}" if authority is not None else "")
            + path + (f"?{query}" if query is not None else "")
            + (f"#{fragment}" if fragment is not None else ""))


def _without_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4."""
    if "." not in path:
        return path
    absolute = path.startswith("/")
    segments = path.split("/")[1 if absolute else 0:]
    kept = []
    for index, segment in enumerate(segments):
        if segment in (".", ".."):
            if segment == ".." and kept:
                kept.pop()
            if index == len(segments) - 1:
                kept.append("")
        else:
            kept.append(segment)
    return ("/" if absolute else "") + "/".join(kept)


_ENGINE_POSITION = re.compile(r"error at (\d+):(\d+): (?:expected (?:one of )?)?(.*)", re.S)
_WORD_EXPECTED = re.compile(r'^"[^"]+"$|^[A-Z_]+[A-Z0-9_]*$')


def explain_syntax_error(text: str, engine_message: str) -> str:
    """A syntax error people can act on: what was found where, and what is missing when the tokens show it.

    pyoxigraph reports the furthest point its parser reached and what it would
    have taken there, as a PEG parser sees it: often one keyword of many
    ("expected OPTIONAL" where a '.' is missing). The tokens tell more: an
    undeclared prefix, a bracket left open, a triple without its object, a
    misspelt query form. The parser's list is kept only when it is short and
    made of symbols, the one case where it is the whole truth.
    """
    try:
        found = list(tokens(text))
    except LexicalError as err:
        return str(err)
    if not found:
        return "the query is empty"

    def declares(index: int) -> bool:
        return index > 0 and found[index - 1][1].upper() == "PREFIX"

    declared = {value[:-1] for index, (kind, value, _) in enumerate(found)
                if kind == "pname" and value.endswith(":") and declares(index)}
    for index, (kind, value, offset) in enumerate(found):
        if kind != "pname" or declares(index):
            continue
        prefix = value.split(":", 1)[0]
        if prefix not in declared:
            line, column = _line_column(text, offset)
            known = ", ".join(sorted(f"{p}:" for p in declared)) or "none"
            return (f"undeclared prefix {prefix + ':'!r} in {value!r} at line {line}, column {column} "
                    f"(declared: {known})")
    start = _first_word(text, found)
    if start is not None:
        return start
    match = _ENGINE_POSITION.search(engine_message)
    if not match:
        return engine_message
    offset = _offset(text, int(match.group(1)), int(match.group(2)))
    unmatched, unclosed = _brackets(found)
    if unmatched is not None and found[unmatched][2] <= offset:
        line, column = _line_column(text, found[unmatched][2])
        return f"unexpected {found[unmatched][1]!r} at line {line}, column {column}: nothing is open here to close"
    junk = _trailing_junk(found, len(text))
    limit = min(offset, junk)
    at = next((index for index, token in enumerate(found) if token[2] >= limit), len(found))
    # The parser's position is where it gave up, often past the mistake: the first place before it
    # where the tokens show something missing is the one to report.
    mistake = next(((index, hint) for index in range(at + 1) if (hint := _hint(found, index))), None)
    if mistake is not None:
        at, hint = mistake
    elif at < len(found) and junk < offset:
        hint = "the query ends before it (only GROUP BY, HAVING, ORDER BY, LIMIT, OFFSET or VALUES may follow)"
    else:
        hint = ""
    if at == len(found) and unclosed and not hint:
        line, column = _line_column(text, found[unclosed[-1]][2])
        closer = _CLOSERS[found[unclosed[-1]][1]]
        return (f"the query ends before the {found[unclosed[-1]][1]!r} opened at line {line}, column {column} "
                f"is closed: a {closer!r} is missing")
    if at == len(found):
        where, unexpected = _line_column(text, len(text)), "unexpected end of the query"
    else:
        where, unexpected = _line_column(text, found[at][2]), f"unexpected {found[at][1][:40]!r}"
    if not hint:
        said = [part.strip() for part in match.group(3).split(",") if part.strip()]
        symbols = [w.strip('"') for w in said if w.startswith('"') and _WORD_EXPECTED.match(w)]
        if said and len(said) == len(symbols) <= 4:
            hint = "expected " + " or ".join(repr(symbol) for symbol in symbols)
    return f"{unexpected} at line {where[0]}, column {where[1]}" + (f": {hint}" if hint else "")


_CLOSERS = {"{": "}", "(": ")", "[": "]", "<<": ">>", "{|": "|}"}
_OPERATORS = frozenset({"=", "!=", "<", ">", "<=", ">=", "+", "-", "*", "/", "&&", "||", "!"})
_TERM_KINDS = frozenset({"var", "iri", "pname", "string", "number", "bnode", "nil", "anon"})
_PATTERN_BOUNDARIES = frozenset({"{", ".", ";", ","})


def _is_term(kind: str, value: str) -> bool:
    return kind in _TERM_KINDS or (kind == "keyword" and value.upper() in ("A", "TRUE", "FALSE"))


def _first_word(text: str, found) -> str | None:
    """A request whose first word (after PREFIX and BASE) begins no query or update, with a likely fix."""
    import difflib

    index = 0
    while index < len(found) and found[index][1].upper() in ("PREFIX", "BASE"):
        index += 3 if found[index][1].upper() == "PREFIX" else 2
    if index >= len(found):
        return None
    kind, value, _ = found[index]
    word = value.upper()
    if word in QUERY_FORMS or word in UPDATE_KEYWORDS or kind == "punct":
        return None
    forms = sorted(QUERY_FORMS) + sorted(UPDATE_KEYWORDS)
    close = difflib.get_close_matches(word, forms, n=1, cutoff=0.6)
    line, column = _line_column(text, found[index][2])
    return (f"unexpected {value[:40]!r} at line {line}, column {column}: a query begins with SELECT, "
            f"CONSTRUCT, DESCRIBE or ASK, after any PREFIX and BASE" + (f"; did you mean {close[0]}?" if close else ""))


def _brackets(found) -> tuple[int | None, list]:
    """(index of the first closing bracket with nothing to close, indexes of the brackets still open at the end)."""
    stack = []
    for index, (kind, value, _) in enumerate(found):
        if kind == "punct" and value in OPENING:
            stack.append(index)
        elif kind == "punct" and value in CLOSING:
            if not stack:
                return index, stack
            stack.pop()
    return None, stack


def _hint(found, at: int) -> str:
    """What the tokens just before position at show to be missing there, or ''."""
    before = found[at - 1] if at else None
    here = found[at] if at < len(found) else None
    ends_here = here is None or (here[0] == "punct" and here[1] in ("}", ")", ".", ";", ","))
    if before is not None and before[1].upper() == "WHERE" and before[0] == "keyword" and \
            (here is None or here[1] != "{"):
        return "WHERE is followed by a group pattern in braces: '{' is missing"
    if before is not None and before[0] == "punct" and before[1] in _OPERATORS and ends_here and \
            (before[1] != "*" or (at >= 2 and (_is_term(*found[at - 2][:2]) or found[at - 2][1] == ")"))):
        return f"an operand is missing after {before[1]!r}"
    # The terms of the triple pattern being read, back to the bracket or separator that began it
    # (four are enough to tell; the walk back stays short whatever the query).
    terms, index = 0, at - 1
    while index >= 0 and terms < 4 and _is_term(found[index][0], found[index][1]):
        terms, index = terms + 1, index - 1
    began = found[index][1] if index >= 0 and found[index][0] == "punct" else None
    if began not in _PATTERN_BOUNDARIES or (began == "{" and _opens_data(found, index)):
        return ""
    wanted = {"{": 3, ".": 3, ";": 2, ",": 1}[began] - terms
    if ends_here and wanted == 1:
        return "the triple pattern has no object"
    if ends_here and wanted == 2 and began != "{":
        return "the triple pattern has a subject but no predicate and object"
    if here is not None and _is_term(here[0], here[1]) and wanted <= 0 and terms < 4:
        return f"a '.' is missing after {found[at - 1][1][:40]!r}, between two triple patterns"
    return ""


def _opens_data(found, brace: int) -> bool:
    """Whether the '{' at index brace opens a VALUES data block (rows of values, not triple patterns)."""
    index = brace - 1
    if index >= 0 and found[index][0] == "var":
        index -= 1
    elif index >= 0 and found[index][1] in (")", "()"):
        while index >= 0 and found[index][1] not in ("(", "()"):
            index -= 1
        index -= 1
    return index >= 0 and found[index][1].upper() == "VALUES"


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
        upper = value.upper() if kind == "keyword" else value
        if kind == "keyword" and upper in MODIFIERS:
            mode = upper
            continue
        if kind == "punct" and value in OPENING:
            depth += 1
        elif kind == "punct" and value in CLOSING and depth:
            depth -= 1
            continue
        if depth or mode in OPEN_ENDED or (kind == "number" and mode in ("LIMIT", "OFFSET")):
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
