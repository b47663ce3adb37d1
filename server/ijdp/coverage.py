"""Every sentence of a source accounted for: covered by a fact's quote, excluded with a reason, or uncovered.

A sentence is covered when at least one quote that some fact cites lies
(wholly or partly) inside it; the quotes' positions are those of the
provenance graph's oa:TextPositionSelectors. Exclusions (page furniture, the
comment form, links to other articles) are listed beside each source, each
with its reason, in data/sources/<slug>/exclusions.tsv.
"""
from __future__ import annotations

import html
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rdflib import Graph, Literal
from rdflib.namespace import RDF

from .vocab import OA

# A sentence ends at . ! or ? followed by space and a capital, an opening quote or bracket; lines end one too.
_BOUNDARY = re.compile(r"(?<=[.!?])[ \t]+(?=[A-Z“\"(‘'])")


@dataclass
class Sentence:
    index: int
    start: int
    end: int
    text: str
    status: str = "uncovered"        # covered | excluded | uncovered
    quotes: list = field(default_factory=list)   # [start, end] of the quotes inside it
    reason: str = ""


def sentences(text: str) -> list[Sentence]:
    """The sentences of a text, with their character offsets; every non-blank line ends one."""
    found = []
    for line in re.finditer(r"[^\n]+", text):
        offset = line.start()
        pieces = _BOUNDARY.split(line.group(0))
        cursor = 0
        for piece in pieces:
            at = line.group(0).index(piece, cursor)
            cursor = at + len(piece)
            stripped = piece.strip()
            if not stripped:
                continue
            lead = len(piece) - len(piece.lstrip())
            start = offset + at + lead
            found.append(Sentence(len(found) + 1, start, start + len(stripped), stripped))
    return found


def quote_positions(provenance: Graph, source_iri: str | None = None) -> list[tuple[int, int]]:
    """(start, end) of every position selector in the provenance graph (of one source, when given)."""
    positions = []
    for selector in provenance.subjects(RDF.type, OA.TextPositionSelector):
        if source_iri is not None:
            targets = [t for t in provenance.subjects(OA.hasSelector, selector)]
            if targets and not any(str(provenance.value(t, OA.hasSource)) == source_iri for t in targets):
                continue
        start, end = provenance.value(selector, OA.start), provenance.value(selector, OA.end)
        if isinstance(start, Literal) and isinstance(end, Literal):
            positions.append((int(start), int(end)))
    return sorted(set(positions))


def read_exclusions(path: Path) -> dict:
    """{sentence text: reason} from a two-column TSV (sentence, reason); '#' lines are comments."""
    if not path.exists():
        return {}
    found = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 2 or not parts[1].strip():
            from .errors import IjdpError
            raise IjdpError(f"{path}:{number}: expected a sentence and a reason, separated by one tab")
        found[" ".join(parts[0].split())] = parts[1].strip()
    return found


@dataclass
class Report:
    source: str
    sentences: list
    text: str = field(default="", repr=False)    # the source's text, for its paragraphs and lines

    def counts(self) -> dict:
        tally = {"covered": 0, "excluded": 0, "uncovered": 0}
        for sentence in self.sentences:
            tally[sentence.status] += 1
        return tally

    @property
    def complete(self) -> bool:
        return self.counts()["uncovered"] == 0

    def summary(self) -> str:
        c = self.counts()
        return (f"{len(self.sentences)} sentences: {c['covered']} covered, {c['excluded']} excluded, "
                f"{c['uncovered']} uncovered")

    def as_text(self) -> str:
        lines = [f"{self.source}"]
        for s in self.sentences:
            if s.status == "uncovered":
                lines.append(f"  uncovered {s.index} [{s.start}-{s.end}]: {s.text}")
        lines.append(self.summary())
        return "\n".join(lines) + "\n"

    def as_json(self) -> str:
        return json.dumps({"source": self.source, "counts": self.counts(),
                           "sentences": [asdict(s) for s in self.sentences]}, indent=2, ensure_ascii=False) + "\n"

    def as_html_fragment(self, facts_link=lambda start, end: None) -> str:
        """The source text as its snapshot lays it out (a paragraph where blank lines separate them, a line break
        where a line ends), each sentence shaded by its status and, when covered, linked to its facts."""
        shown = {}
        for s in self.sentences:
            title = {"covered": f"covered: {len(s.quotes)} quote(s) cite it", "excluded": f"excluded: {s.reason}",
                     "uncovered": "uncovered: no fact cites it"}[s.status]
            body = html.escape(s.text)
            link = facts_link(s.start, s.end) if s.status == "covered" else None
            if link:
                body = f'<a href="{html.escape(link)}">{body}</a>'
            shown[s.index] = f'<span class="sentence {s.status}" id="s{s.index}" title="{html.escape(title)}">{body}</span>'
        paragraphs, lines, start, ordered, at = [], [], 0, sorted(self.sentences, key=lambda s: s.start), 0
        for line in self.text.split("\n") if self.text else ():
            start += len(line) + 1
            inside = []
            while at < len(ordered) and ordered[at].start < start:      # sentences never cross a line
                inside.append(shown[ordered[at].index])
                at += 1
            if inside:
                lines.append(" ".join(inside))
            elif not line.strip() and lines:
                paragraphs.append(lines)
                lines = []
        if lines or not paragraphs:
            paragraphs.append(lines or [" ".join(shown.values())])
        return "\n".join("<p>" + "<br>\n".join(block) + "</p>" for block in paragraphs)


def coverage(text: str, positions: list, exclusions: dict, source: str) -> Report:
    found = sentences(text)
    for s in found:
        inside = [[a, b] for a, b in positions if a < s.end and b > s.start]
        if inside:
            s.status, s.quotes = "covered", inside
        elif " ".join(s.text.split()) in exclusions:
            s.status, s.reason = "excluded", exclusions[" ".join(s.text.split())]
    return Report(source, found, text)


def source_coverage(provenance: Graph, source) -> Report:
    """The coverage of one source (a sources.Source) by the given provenance graph."""
    exclusions = read_exclusions(source.exclusions)
    return coverage(source.text, quote_positions(provenance, str(source.iri)), exclusions, source.slug)


def total_summary(reports: list) -> str:
    """'N sentences: N covered, N excluded, N uncovered' over several reports."""
    return Report("all", [s for r in reports for s in r.sentences]).summary()


def facts_query(start: int, end: int, source_iri: str) -> str:
    """The facts whose quotes lie in [start, end) of a source, with the quotes."""
    return ("PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#>\n"
            "PREFIX prov: <http://www.w3.org/ns/prov#>\nPREFIX oa: <http://www.w3.org/ns/oa#>\n"
            "SELECT ?subject ?predicate ?object ?quote WHERE {\n"
            "  ?statement rdf:subject ?subject ; rdf:predicate ?predicate ; rdf:object ?object ;\n"
            "             prov:wasDerivedFrom ?annotation .\n"
            "  ?annotation oa:hasTarget ?target . ?target oa:hasSelector ?position , ?text ;\n"
            f"              oa:hasSource <{source_iri}> .\n"
            "  ?position oa:start ?start ; oa:end ?end . ?text oa:exact ?quote .\n"
            f"  FILTER(?start < {end} && ?end > {start})\n}} ORDER BY ?start")


STANDALONE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Coverage of the sources</title>
<style>body {{ font: 16px/1.6 system-ui, sans-serif; max-width: 60rem; margin: 1rem auto; padding: 0 1rem; }}
.covered {{ background: #e3f4e1; }} .excluded {{ background: #eeeeee; color: #555; }}
.uncovered {{ background: #fde2e1; }}</style></head>
<body><h1>Coverage of the sources</h1><p>{summary}</p>{sections}</body></html>
"""


def standalone_html(reports: list) -> str:
    sections = "".join(f"<h2>{html.escape(r.source)}</h2><p>{html.escape(r.summary())}</p>{r.as_html_fragment()}"
                       for r in reports)
    return STANDALONE.format(summary=html.escape(total_summary(reports)), sections=sections)


def reports_json(reports: list) -> str:
    tally = {"covered": 0, "excluded": 0, "uncovered": 0}
    for report in reports:
        for status, count in report.counts().items():
            tally[status] += count
    body = {"counts": tally, "sources": [json.loads(r.as_json()) for r in reports]}
    return json.dumps(body, indent=2, ensure_ascii=False) + "\n"


def reports_text(reports: list) -> str:
    """Each source's uncovered sentences and summary; the last line sums them all."""
    text = "".join(r.as_text() for r in reports)
    return text + total_summary(reports) + "\n" if len(reports) > 1 else text
