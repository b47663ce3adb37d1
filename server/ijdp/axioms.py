"""What the ontology may say of other vocabularies' classes: the build refuses disjointness on them.

Declaring, say, org:Organization and schema:Country disjoint makes every dataset that models a state as an
organisation (Wikidata does) inconsistent with ours. Disjointness is declared between ijdp's own classes only.
"""
from __future__ import annotations

from pathlib import Path

from rdflib import OWL, RDF, Graph, URIRef
from rdflib.collection import Collection

from .errors import IjdpError
from .rdfio import load_graph
from .vocab import IJDP


def _ours(term) -> bool:
    return str(term).startswith(str(IJDP))


def _members(graph: Graph, head) -> list:
    try:
        return list(Collection(graph, head))
    except Exception:   # a malformed list: the reasoner reports it
        return []


def foreign_disjointness(graph: Graph) -> list[tuple]:
    """(subject, axiom word, classes) of each disjointness axiom that names a class not of ijdp."""
    found = []
    for a, b in graph.subject_objects(OWL.disjointWith):
        if not (_ours(a) and _ours(b)):
            found.append((a, "disjointWith", [a, b]))
    for node in graph.subjects(RDF.type, OWL.AllDisjointClasses):
        members = [m for head in graph.objects(node, OWL.members) for m in _members(graph, head)]
        if not all(map(_ours, members)):
            found.append((node, "AllDisjointClasses", members))
    for union, head in graph.subject_objects(OWL.disjointUnionOf):
        members = _members(graph, head)
        if not all(map(_ours, [union, *members])):
            found.append((union, "disjointUnionOf", [union, *members]))
    return found


def _line(text: str, subject, word: str) -> int:
    """The axiom's line, for the message: from its subject's line (an unnamed axiom: the file's start), the
    first line that holds the axiom's word."""
    from .sources import line_naming

    start = (line_naming(text, str(subject)) if isinstance(subject, URIRef) else None) or 1
    lines = text.splitlines()
    return next((n for n in range(start, len(lines) + 1) if word in lines[n - 1]), start)


def check_disjointness(files: list[Path]) -> None:
    """Refuse, naming the file and line, an ontology file that declares another vocabulary's classes disjoint."""
    from rdflib.namespace import NamespaceManager

    for path in files:
        graph = load_graph(path)
        found = foreign_disjointness(graph)
        if not found:
            continue
        text = path.read_text(encoding="utf-8")
        line, word, classes = min((_line(text, subject, word), word, classes) for subject, word, classes in found)
        names = NamespaceManager(graph)
        foreign = [c.n3(names) for c in classes if not _ours(c)]
        raise IjdpError(f"{path}:{line}: owl:{word} on {', '.join(foreign)}, "
                        "which are not ijdp's classes: declare disjointness between ijdp's own classes only (data "
                        "that models a state as an organisation, as Wikidata does, would contradict ours)")
