"""Rewriting the published base IRI to another one (a local server, a mirror)."""
from __future__ import annotations

from rdflib import Graph, Literal, URIRef

from .config import PUBLISHED_BASE


def rebase_term(term, base: str, published: str = PUBLISHED_BASE):
    if base == published:
        return term
    if isinstance(term, URIRef) and str(term).startswith(published):
        return URIRef(base + str(term)[len(published):])
    if isinstance(term, Literal):
        value, datatype = str(term), term.datatype
        if value.startswith(published):
            # literals that spell an IRI of ours (void:uriSpace, vann:preferredNamespaceUri)
            value = base + value[len(published):]
        if datatype is not None and str(datatype).startswith(published):
            datatype = URIRef(base + str(datatype)[len(published):])
        if value != str(term) or datatype != term.datatype:
            return Literal(value, lang=term.language, datatype=datatype)
    return term


def rebase_graph(graph: Graph, base: str, published: str = PUBLISHED_BASE) -> Graph:
    if base == published:
        return graph
    rebased = Graph()
    for s, p, o in graph:
        rebased.add((rebase_term(s, base, published), rebase_term(p, base, published), rebase_term(o, base, published)))
    return rebased


def rebase_text(text: str, base: str, published: str = PUBLISHED_BASE) -> str:
    """For serialised RDF and query strings: a plain substitution of the base."""
    return text if base == published else text.replace(published, base)
