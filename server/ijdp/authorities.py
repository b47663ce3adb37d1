"""Real authority tables that come as packages, written as targets for `ijdp link`.

iso3166: ISO 3166-1 as the pycountry package ships it (from Debian's iso-codes). ISO publishes no
RDF and no identifiers other than the codes: each entry is named by its page on ISO's Online Browsing
Platform, a web application's view, and typed as a concept of the ISO 3166-1 code list. Its use is to
check our codes (data/codes.ttl); the build refuses an identity link to such a page (links.py).
"""
from __future__ import annotations

import csv
import io

from .errors import IjdpError

ISO_3166_PAGE = "https://www.iso.org/obp/ui/#iso:code:3166:"
ISO_3166_1 = "urn:iso:std:iso:3166:-1"          # the standard (RFC 5141), as the code list's scheme
CONCEPT = "http://www.w3.org/2004/02/skos/core#Concept"


def iso3166_csv() -> str:
    """id, name, type, alpha_2, alpha_3, numeric: one row per ISO 3166-1 country, official names as extra rows."""
    try:
        import pycountry
    except ImportError:
        raise IjdpError("the ISO 3166 table comes from the pycountry package: pip install 'ijdp[authorities]'") from None
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["id", "name", "type", "scheme", "alpha_2", "alpha_3", "numeric"])
    for country in sorted(pycountry.countries, key=lambda c: c.alpha_2):
        iri = ISO_3166_PAGE + country.alpha_2
        names = [country.name] + [n for n in (getattr(country, "official_name", None),
                                              getattr(country, "common_name", None)) if n and n != country.name]
        for name in names:
            writer.writerow([iri, name, CONCEPT, ISO_3166_1, country.alpha_2, country.alpha_3, country.numeric])
    return out.getvalue()
