"""ORDER BY in a total order (SPARQL 1.1, section 15.1), whatever the data.

pyoxigraph compares two literals with `<` where that is defined and by their
lexical forms where it is not. Mixed, the two disagree: 38 < 1005 by value,
"1005" < "2028-07"^^xsd:gYearMonth < "38" by text, a cycle, and the engine's
sort aborts the process ("does not correctly implement a total order"). Any
integers whose value order differs from their text order, with a date, a
string or a literal of another datatype between them as text, do it; the
publication has such literals.

So each ORDER BY condition E becomes ORDER_KEY(E): a custom function that
gives blank nodes and IRIs back as they are (the engine orders those, and puts
them before literals) and every literal as a string whose code-point order is
the order this module defines. Strings compare totally, so the sort does too.
The order: unbound < blank nodes < IRIs < literals < triple terms; among
literals, numbers (by exact value, NaN after them), booleans, points in time
(dateTime, date, gYearMonth and gYear by the instant they start, a value
without a timezone read as UTC), times, gMonthDay, gMonth, gDay, durations
(an average month of 30.436875 days), then every other literal by lexical
form, datatype and language, as the engine orders them. Ties go by lexical
form and datatype, so the order is the same on every run.
"""
from __future__ import annotations

import functools
import re
import struct
from decimal import Decimal, InvalidOperation

import pyoxigraph

from .structure import LexicalError, tokens

ORDER_KEY = pyoxigraph.NamedNode("https://w3id.org/ijdp/sparql#order-key")
XSD = "http://www.w3.org/2001/XMLSchema#"
INTEGERS = frozenset(XSD + name for name in (
    "integer", "int", "long", "short", "byte", "nonNegativeInteger", "positiveInteger", "nonPositiveInteger",
    "negativeInteger", "unsignedLong", "unsignedInt", "unsignedShort", "unsignedByte"))
SEP = "\x00"
EXPONENT_OFFSET = 10 ** 9      # exponents of any literal a request or a store can hold fit in 10 digits
AVERAGE_MONTH_SECONDS = 2629746
_TZ = r"(Z|[+-]\d{2}:\d{2})?"
_YEAR = r"(-?\d{4,})"
CALENDAR = {   # datatype: (rank, pattern); groups: year, month, day, hour, minute, second, timezone
    XSD + "dateTime": ("d", rf"{_YEAR}-(\d{{2}})-(\d{{2}})T(\d{{2}}):(\d{{2}}):(\d{{2}}(?:\.\d+)?){_TZ}"),
    XSD + "dateTimeStamp": ("d", rf"{_YEAR}-(\d{{2}})-(\d{{2}})T(\d{{2}}):(\d{{2}}):(\d{{2}}(?:\.\d+)?){_TZ}"),
    XSD + "date": ("d", rf"{_YEAR}-(\d{{2}})-(\d{{2}})()()(){_TZ}"),
    XSD + "gYearMonth": ("d", rf"{_YEAR}-(\d{{2}})()()()(){_TZ}"),
    XSD + "gYear": ("d", rf"{_YEAR}()()()()(){_TZ}"),
    XSD + "time": ("e", rf"()()()(\d{{2}}):(\d{{2}}):(\d{{2}}(?:\.\d+)?){_TZ}"),
    XSD + "gMonthDay": ("f", rf"()--(\d{{2}})-(\d{{2}})()()(){_TZ}"),
    XSD + "gMonth": ("g", rf"()--(\d{{2}})()()()(){_TZ}"),
    XSD + "gDay": ("h", rf"()()---(\d{{2}})()()(){_TZ}"),
}
CALENDAR = {datatype: (rank, re.compile(pattern)) for datatype, (rank, pattern) in CALENDAR.items()}
DURATIONS = frozenset(XSD + name for name in ("duration", "yearMonthDuration", "dayTimeDuration"))
_DURATION = re.compile(r"(-)?P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(\d+(?:\.\d+)?S)?)?")


def order_key(term):
    """The engine-comparable key of a term (see the module's docstring); None is an error (unbound)."""
    if type(term) in (pyoxigraph.NamedNode, pyoxigraph.BlankNode):
        return term
    return pyoxigraph.Literal(_key_text(term))


def _key_text(term) -> str:
    if type(term) is pyoxigraph.Triple:
        return "z" + SEP.join(_nested(part) for part in (term.subject, term.predicate, term.object))
    value, datatype = term.value, term.datatype.value
    tie = SEP + value + SEP + datatype
    if datatype in INTEGERS or datatype in (XSD + "decimal", XSD + "float", XSD + "double"):
        number = _number(value, datatype)
        if number == "NaN":
            return "b" + tie
        if number is not None:
            return "a" + number + tie
    elif datatype == XSD + "boolean" and value in ("true", "false", "1", "0"):
        return "c" + ("1" if value in ("true", "1") else "0") + tie
    elif datatype in CALENDAR:
        rank, pattern = CALENDAR[datatype]
        instant = _instant(pattern.fullmatch(value), datatype)
        if instant is not None:
            return rank + _decimal_code(instant) + tie
    elif datatype in DURATIONS:
        length = _duration_seconds(value)
        if length is not None:
            return "i" + _decimal_code(length) + tie
    return "j" + value + SEP + datatype + SEP + (term.language or "") + SEP + (getattr(term, "direction", None) or "")


def _nested(term) -> str:
    if type(term) is pyoxigraph.BlankNode:
        return "1" + term.value
    if type(term) is pyoxigraph.NamedNode:
        return "2" + term.value
    return "3" + _key_text(term)


def _number(text: str, datatype: str):
    """The code of a numeric literal's value, "NaN", or None when the text is not a number of its type."""
    try:
        if datatype in INTEGERS or datatype == XSD + "decimal":
            if not re.fullmatch(r"[+-]?\d+" if datatype in INTEGERS else r"[+-]?(\d+\.?\d*|\.\d+)", text):
                return None
            return _decimal_code(Decimal(text))
        if text in ("NaN", "INF", "+INF", "-INF"):
            return "NaN" if text == "NaN" else ("4" if text != "-INF" else "0")
        if not re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", text):
            return None
        number = float(text)
        if datatype == XSD + "float":
            try:
                number = struct.unpack("f", struct.pack("f", number))[0]
            except OverflowError:   # past the largest float: rounds to infinity
                number = float("inf") if number > 0 else float("-inf")
        if number in (float("inf"), float("-inf")):
            return "4" if number > 0 else "0"
        return _decimal_code(Decimal(number))
    except (InvalidOperation, OverflowError, ValueError):
        return None


def _decimal_code(number: Decimal) -> str:
    """A string whose code-point order is the numeric order of finite decimals."""
    sign, digits, exponent = number.as_tuple()
    digits = "".join(map(str, digits)).lstrip("0")
    if not digits:
        return "2"
    stripped = digits.rstrip("0")
    adjusted = exponent + len(digits) - 1
    if not sign:
        return "3" + str(EXPONENT_OFFSET + adjusted).zfill(10) + stripped
    # Negative: larger magnitudes first, so the exponent and the digits are complemented, and '~'
    # (above every digit) ends the digits, so that -1.2 comes after -1.25.
    return "1" + str(EXPONENT_OFFSET - adjusted).zfill(10) + stripped.translate(_COMPLEMENT) + "~"


_COMPLEMENT = str.maketrans("0123456789", "9876543210")


def _instant(match, datatype: str):
    """Seconds from 0000-03-01T00:00:00Z to the start of the value (g* types in 1972, as XSD compares them)."""
    if match is None:
        return None
    year, month, day, hour, minute, second, zone = match.groups()
    year = int(year) if year else 1972
    month = int(month) if month else (12 if datatype == XSD + "gDay" else 1)
    day = int(day) if day else 1
    hour, minute = int(hour or 0), int(minute or 0)
    second = Decimal(second or 0)
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour <= 24 and minute <= 59 and second < 60):
        return None
    offset = 0
    if zone and zone != "Z":
        offset = (int(zone[1:3]) * 60 + int(zone[4:6])) * (1 if zone[0] == "+" else -1)
    return (_days_from_civil(year, month, day) * 86400 + hour * 3600 + (minute - offset) * 60) + second


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 0000-03-01 in the proleptic Gregorian calendar, for any year (H. Hinnant's algorithm)."""
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    return era * 146097 + year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year


def _duration_seconds(text: str):
    match = _DURATION.fullmatch(text)
    if match is None or text.endswith(("P", "T")):
        return None
    negative, years, months, days, hours, minutes, seconds = match.groups()
    total = ((int(years or 0) * 12 + int(months or 0)) * AVERAGE_MONTH_SECONDS
             + ((int(days or 0) * 24 + int(hours or 0)) * 60 + int(minutes or 0)) * 60
             + Decimal(seconds[:-1] if seconds else 0))
    return -total if negative else total


# ------------------------------------------------------------- the rewriting

NOT_CONDITIONS = frozenset({"VALUES", "LIMIT", "OFFSET"})
WORDS = ("keyword", "name", "word")          # the lexer's kinds for a bare word


@functools.lru_cache(maxsize=1)
def query_tokens(text: str) -> tuple:
    """The query's tokens, read once for the checks and the rewriting of one job (LexicalError where none fit)."""
    return tuple(tokens(text))


def word(token) -> str | None:
    """The upper-cased keyword a token is, if it is a bare word."""
    return token[1].upper() if token[0] in WORDS and ":" not in token[1] else None


def totally_ordered(text: str) -> str:
    """The query with each ORDER BY condition E (outside SERVICE) read as ORDER_KEY(E); unchanged without any."""
    try:
        found = query_tokens(text)
    except LexicalError:
        return text
    keyed = f"<{ORDER_KEY.value}>"
    edits = []
    service_depth = None     # bracket depth inside the SERVICE block being skipped
    depth, index = 0, 0
    while index < len(found):
        kind, value, _ = found[index]
        if kind == "punct" and value in "{([":
            depth += 1
        elif kind == "punct" and value in "})]":
            depth -= 1
            if service_depth is not None and depth < service_depth:
                service_depth = None
        elif word(found[index]) == "SERVICE" and service_depth is None:
            service_depth = depth + 1
        elif (word(found[index]) == "ORDER" and service_depth is None and index + 1 < len(found)
              and word(found[index + 1]) == "BY"):
            index = _conditions(text, found, index + 2, keyed, edits)
            continue
        index += 1
    for start, end, replacement in reversed(edits):
        text = text[:start] + replacement + text[end:]
    return text


def _conditions(text: str, found: list, index: int, keyed: str, edits: list) -> int:
    """Record the edits of the OrderCondition+ starting at index; the index after them."""
    while index < len(found):
        kind, value, offset = found[index]
        keyword = word(found[index])
        if kind == "var":
            edits.append((offset, offset + len(value), f"ASC({keyed}({value}))"))
            index += 1
            continue
        if keyword in ("ASC", "DESC") and _opens(found, index + 1):
            close = _closing(found, index + 1)
            direction, inner = keyword, (found[index + 1][2], close)
        elif kind == "punct" and value == "(":
            close = _closing(found, index)
            direction, inner = "ASC", (offset, close)
        elif keyword == "NOT" and index + 1 < len(found) and word(found[index + 1]) == "EXISTS":
            close = _closing(found, index + 2)
            direction, inner = "ASC", (offset, close)
        elif (kind in ("iri", "pname") or (kind in WORDS and keyword not in NOT_CONDITIONS)) and _opens(found, index + 1):
            # A function call, a built-in call, an aggregate or EXISTS { … }.
            close = _closing(found, index + 1)
            direction, inner = "ASC", (offset, close)
        else:
            return index
        if close is None:
            return len(found)
        end = found[close][2] + len(found[close][1])
        edits.append((offset, end, f"{direction}({keyed}({text[inner[0]:end]}))"))
        index = close + 1
    return index


def _opens(found: list, index: int) -> bool:
    return index < len(found) and (found[index][0] == "nil" or (found[index][0] == "punct" and found[index][1] in "({"))


def _closing(found: list, index: int):
    """The index of the token that closes the bracket at index (None if it never closes)."""
    depth = 0
    for position in range(index, len(found)):
        kind, value, _ = found[position]
        if kind == "nil" and position == index:
            return position
        if kind == "punct" and value in "{([":
            depth += 1
        elif kind == "punct" and value in "})]":
            depth -= 1
            if depth == 0:
                return position
    return None
