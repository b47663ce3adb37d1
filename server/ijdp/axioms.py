"""What the ontology may say of other vocabularies' classes: the build refuses disjointness on them.

Declaring, say, org:Organization and schema:Country disjoint makes every dataset that models a state as an
organisation (Wikidata does) inconsistent with ours. Disjointness is declared between ijdp's own classes only.
"""
from __future__ import annotations

from pathlib import Path

from rdflib import OWL, RDF, Graph, URIRef
from rdflib.collection import Collection
from rdflib.namespace import NamespaceManager

from .errors import IjdpError
from .vocab import IJDP


def _ours(term) -> bool:
    return str(term).startswith(str(IJDP))


def foreign_disjointness(graph: Graph) -> list[tuple]:
    """(subject, axiom word, classes) of each disjointness axiom that names a class not of ijdp."""
    found = []
    for a, b in graph.subject_objects(OWL.disjointWith):
        if not (_ours(a) and _ours(b)):
            found.append((a, "disjointWith", [a, b]))
    for node in graph.subjects(RDF.type, OWL.AllDisjointClasses):
        members = [m for head in graph.objects(node, OWL.members) for m in Collection(graph, head)]
        if not all(map(_ours, members)):
            found.append((node, "AllDisjointClasses", members))
    for union, head in graph.subject_objects(OWL.disjointUnionOf):
        members = [union, *Collection(graph, head)]
        if not all(map(_ours, members)):
            found.append((union, "disjointUnionOf", members))
    return found


def _subject_line(lines: list[str], iri: str) -> int | None:
    """The first line that starts with the IRI, written whole or as prefix:local (hash IRIs included)."""
    local = iri.replace("#", "/").rstrip("/").rsplit("/", 1)[-1]
    for number, line in enumerate(lines, start=1):
        first = line.split(None, 1)[0] if line.split() else ""
        if first == f"<{iri}>" or (":" in first and first.split(":", 1)[1] == local):
            return number
    return None


def _line(text: str, subject, word: str) -> int | None:
    """The axiom's line in one file, for the message: from its subject's line (an unnamed axiom: the file's
    start), the first line that holds the axiom's word; None when the file does not hold it."""
    lines = text.splitlines()
    start = _subject_line(lines, str(subject)) if isinstance(subject, URIRef) else 1
    if start is None:
        return None
    return next((n for n in range(start, len(lines) + 1) if word in lines[n - 1]), None)


def check_disjointness(graph: Graph, files: list[Path]) -> None:
    """Refuse an ontology that declares another vocabulary's classes disjoint, naming the file and line."""
    found = foreign_disjointness(graph)
    if not found:
        return
    subject, word, classes = found[0]
    where = next((f"{path}:{line}" for path in files
                  if (line := _line(path.read_text(encoding="utf-8"), subject, word))), ", ".join(map(str, files)))
    foreign = [c.n3(NamespaceManager(graph)) for c in classes if not _ours(c)]
    raise IjdpError(f"{where}: owl:{word} on {', '.join(foreign)}, which are not ijdp's classes: declare "
                    "disjointness between ijdp's own classes only (data that models a state as an organisation, "
                    "as Wikidata does, would contradict ours)")
