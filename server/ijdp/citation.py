"""How to cite the publication: the same facts as a sentence, BibTeX and CSL-JSON.

Title, version, build date, IRI and licence come from the build (build.json)
and the dataset description, so a citation always names the release it cites.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

TITLE = "India-Japan semiconductor supply chain MoC as linked data"
LICENCE = "CC BY 4.0"
LICENCE_IRI = "https://creativecommons.org/licenses/by/4.0/"


@dataclass(frozen=True)
class Citation:
    title: str
    version: str
    date: str          # YYYY-MM-DD of the build
    iri: str           # the dataset's IRI
    licence: str = LICENCE

    @property
    def year(self) -> str:
        return self.date[:4]

    def sentence(self) -> str:
        return (f"ijdp contributors ({self.year}). {self.title} (version {self.version}, built {self.date}) "
                f"[Data set]. {self.iri}. Licence: {self.licence}.")

    def bibtex(self) -> str:
        key = f"ijdp{self.year}{self.version[:8]}"
        fields = [("author", "{ijdp contributors}"), ("title", self.title), ("year", self.year),
                  ("version", self.version), ("date", self.date), ("url", self.iri),
                  ("note", f"Licence: {self.licence}")]
        body = ",\n".join(f"  {name} = {{{_bibtex_escape(value)}}}" for name, value in fields)
        return f"@dataset{{{key},\n{body}\n}}\n"

    def csl_json(self) -> str:
        year, month, day = (int(part) for part in self.date.split("-"))
        item = {"id": f"ijdp-{self.version}", "type": "dataset", "title": self.title,
                "author": [{"literal": "ijdp contributors"}], "version": self.version,
                "issued": {"date-parts": [[year, month, day]]}, "URL": self.iri,
                "license": f"{self.licence} ({LICENCE_IRI})"}
        return json.dumps([item], indent=2, ensure_ascii=False) + "\n"


def _bibtex_escape(text: str) -> str:
    return "".join("\\" + c if c in "&%$#_" else c for c in text)


def citation(base: str, build: dict) -> Citation:
    return Citation(title=TITLE, version=build.get("version", "unversioned"),
                    date=(build.get("built_at") or "1970-01-01")[:10], iri=f"{base}id/dataset/ijdp")
