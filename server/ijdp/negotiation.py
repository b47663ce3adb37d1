"""Content negotiation, in one place: Accept with q-values, or an explicit format=."""
from __future__ import annotations

from werkzeug.datastructures import MIMEAccept


class UnknownFormat(ValueError):
    pass


def by_name(formats, key: str):
    key = key.strip().lower()
    for fmt in formats:
        if key in (fmt.name, fmt.extension, fmt.media_type) or key in fmt.aliases or key in getattr(fmt, "names", ()):
            return fmt
    raise UnknownFormat(key)


def negotiate(accept: MIMEAccept, formats, format_param: str | None = None):
    """The best of formats for the request, or None when nothing is acceptable.

    format= (a name, extension or media type) wins over Accept; a missing or
    empty Accept takes the first format. Aliases (application/json, text/plain…)
    count as their format, at the quality the client gave them.
    """
    if format_param:
        return by_name(formats, format_param)
    if not accept or not list(accept.values()):
        return formats[0]
    offers = []
    for fmt in formats:
        offers.append((fmt.media_type, fmt))
        offers.extend((alias, fmt) for alias in fmt.aliases)
    best = accept.best_match([media for media, _ in offers])
    if best is None:
        return None
    return next(fmt for media, fmt in offers if media == best)


def prefers_html(accept: MIMEAccept, rdf_formats) -> bool:
    """True when a browser asks: text/html beats every RDF format we could send."""
    if not any("html" in value for value in accept.values()):
        return False
    html = accept.quality("text/html")
    if html <= 0 or accept.best_match(["text/html"]) is None:
        return False
    explicit = [accept[media] for fmt in rdf_formats for media in (fmt.media_type, *fmt.aliases)
                if media in accept.values()]
    return not explicit or html >= max(explicit)
