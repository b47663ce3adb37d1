"""Content negotiation, in one place: Accept with q-values, or an explicit format=.

Every answer names in Vary the negotiation headers its view read: the request's headers note each
Accept* header read (through request.accept_mimetypes, headers.get, anything), and one after_request
hook adds them to Vary, on every answer of that request: the default one, a 304, a 406 or another
error. A view that reads none (a fixed suffix, a file) gets no Vary, and a shared cache keeps one copy.
"""
from __future__ import annotations

import flask
from werkzeug.datastructures import EnvironHeaders, MIMEAccept

# The headers that choose between representations (CORS answers every Origin alike, so Origin is not one).
NEGOTIATING = {"ACCEPT": "Accept", "ACCEPT_LANGUAGE": "Accept-Language", "ACCEPT_CHARSET": "Accept-Charset",
               "ACCEPT_ENCODING": "Accept-Encoding"}


class ConsultedHeaders(EnvironHeaders):
    """A request's headers that note which negotiation headers were read."""

    def __init__(self, environ) -> None:
        super().__init__(environ)
        self.consulted: set[str] = set()

    def _get_key(self, key: str) -> str:
        if isinstance(key, str) and (name := NEGOTIATING.get(key.upper().replace("-", "_"))):
            self.consulted.add(name)
        return super()._get_key(key)


class Request(flask.Request):
    def __init__(self, environ, *args, **kwargs) -> None:
        super().__init__(environ, *args, **kwargs)
        self.headers = ConsultedHeaders(environ)


def install(app: flask.Flask) -> None:
    """Requests that note what they read, and Vary naming it on every answer."""
    app.request_class = Request

    @app.after_request
    def vary_on_what_was_read(response: flask.Response) -> flask.Response:
        consulted = getattr(flask.request.headers, "consulted", None)
        if consulted:
            response.vary.update(sorted(consulted))
        return response


class UnknownFormat(ValueError):
    pass


def by_name(formats, key: str):
    key = key.strip().lower()
    for fmt in formats:
        if key in (fmt.name, fmt.extension, fmt.media_type) or key in fmt.aliases or key in getattr(fmt, "names", ()):
            return fmt
    raise UnknownFormat(key)


def quality(accept: MIMEAccept, media_type: str) -> tuple[int, float]:
    """(how specific, q) of the most specific range of Accept that matches media_type (RFC 9110, 12.5.1).

    Specificity: 3 the type itself, 2 type/*, 1 */*, 0 no match (q 0). So
    `application/json;q=0, */*;q=0.5` refuses JSON though the wildcard would take it
    (werkzeug's own quality() takes the first range in order of q: here the wildcard).
    """
    kind, _, sub = media_type.partition("/")
    best = (0, 0.0)
    for value, q in accept:
        wanted, _, wanted_sub = value.split(";", 1)[0].strip().lower().partition("/")
        if (wanted, wanted_sub) == (kind, sub):
            rank = 3
        elif wanted == kind and wanted_sub == "*":
            rank = 2
        elif (wanted, wanted_sub) == ("*", "*"):
            rank = 1
        else:
            continue
        if rank > best[0]:
            best = (rank, q)
    return best


def _format_quality(accept: MIMEAccept, fmt) -> float:
    """A format's q: that of its most specifically named media type (its own or an alias)."""
    return max(quality(accept, media) for media in (fmt.media_type, *fmt.aliases))[1]


def negotiate(accept: MIMEAccept, formats, format_param: str | None = None):
    """The best of formats for the request, or None when nothing is acceptable (every q is 0).

    format= (a name, extension or media type) wins over Accept; a missing or
    empty Accept takes the first format. Aliases (application/json, text/plain…)
    count as their format, at the quality the client gave them; ties go to the
    order of formats.
    """
    if format_param:
        return by_name(formats, format_param)
    if not accept or not list(accept.values()):
        return formats[0]
    best, chosen = 0.0, None
    for fmt in formats:
        q = _format_quality(accept, fmt)
        if q > best:
            best, chosen = q, fmt
    return chosen


def prefers_html(accept: MIMEAccept, rdf_formats) -> bool:
    """True when a browser asks: text/html beats every RDF format we could send."""
    if not any("html" in value for value in accept.values()):
        return False
    html = quality(accept, "text/html")[1]
    if html <= 0:
        return False
    explicit = [accept[media] for fmt in rdf_formats for media in (fmt.media_type, *fmt.aliases)
                if media in accept.values()]
    return not explicit or html >= max(explicit)
