"""Real authority tables that come as packages, written as targets for `ijdp link`.

iso3166: ISO 3166-1 as the pycountry package ships it (from Debian's iso-codes). ISO publishes no
RDF; each country's page on ISO's Online Browsing Platform is the IRI that names its entry.
"""
from __future__ import annotations

import csv
import io

from .errors import IjdpError

ISO_3166_PAGE = "https://www.iso.org/obp/ui/#iso:code:3166:"


def iso3166_csv() -> str:
    """id, name, type, alpha_2, alpha_3, numeric: one row per ISO 3166-1 country, official names as extra rows."""
    try:
        import pycountry
    except ImportError:
        raise IjdpError("the ISO 3166 table comes from the pycountry package: pip install 'ijdp[authorities]'") from None
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["id", "name", "type", "alpha_2", "alpha_3", "numeric"])
    for country in sorted(pycountry.countries, key=lambda c: c.alpha_2):
        iri = ISO_3166_PAGE + country.alpha_2
        names = [country.name] + [n for n in (getattr(country, "official_name", None),
                                              getattr(country, "common_name", None)) if n and n != country.name]
        for name in names:
            writer.writerow([iri, name, "https://schema.org/Country", country.alpha_2, country.alpha_3, country.numeric])
    return out.getvalue()
