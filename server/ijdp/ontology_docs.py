"""HTML documentation of the ontology: every class and property with label, definition and alignments."""
from __future__ import annotations

from dataclasses import dataclass

from flask import render_template
from rdflib import OWL, RDF, RDFS, SKOS, Graph, URIRef
from rdflib.namespace import DCTERMS

from .describe import label_of
from .vocab import PREFIXES

VANN = "http://purl.org/vocab/vann/"


@dataclass
class Term:
    iri: str
    local: str
    label: str
    definition: str
    parents: list
    domain: list
    range: list
    disjoint: list
    alt_labels: list


def curie(iri: str, namespace: str) -> str:
    if iri.startswith(namespace):
        return "ijdp:" + iri[len(namespace):]
    for prefix, ns in PREFIXES.items():
        if iri.startswith(ns) and prefix != "ijdp":
            return f"{prefix}:{iri[len(ns):]}"
    return iri


def ontology_page(graph: Graph, base: str, href) -> str:
    namespace = base + "ontology#"
    ontology = URIRef(base + "ontology")

    def terms(kind) -> list:
        found = []
        for term in sorted(set(graph.subjects(RDF.type, kind))):
            iri = str(term)
            if not iri.startswith(namespace):
                continue
            ref = lambda p: [(curie(str(o), namespace), str(o)) for o in sorted(graph.objects(term, p))]
            found.append(Term(
                iri=iri, local=iri[len(namespace):], label=label_of(graph, term),
                definition=str(graph.value(term, SKOS.definition) or ""),
                parents=ref(RDFS.subClassOf) + ref(RDFS.subPropertyOf), domain=ref(RDFS.domain),
                range=ref(RDFS.range), disjoint=ref(OWL.disjointWith),
                alt_labels=[str(v) for v in graph.objects(term, SKOS.altLabel)]))
        return found

    header = {
        "title": str(graph.value(ontology, DCTERMS.title) or "ijdp ontology"),
        "description": str(graph.value(ontology, DCTERMS.description) or ""),
        "version": str(graph.value(ontology, OWL.versionInfo) or ""),
        "version_iri": str(graph.value(ontology, OWL.versionIRI) or ""),
        "license": str(graph.value(ontology, DCTERMS.license) or ""),
        "creator": str(graph.value(ontology, DCTERMS.creator) or ""),
        "created": str(graph.value(ontology, DCTERMS.created) or ""),
        "modified": str(graph.value(ontology, DCTERMS.modified) or ""),
        "prefix": str(graph.value(ontology, URIRef(VANN + "preferredNamespacePrefix")) or ""),
        "namespace": str(graph.value(ontology, URIRef(VANN + "preferredNamespaceUri")) or namespace),
    }
    return render_template("ontology.html", header=header, href=href,
                           sections=[("Classes", "classes", terms(OWL.Class)),
                                     ("Object properties", "object-properties", terms(OWL.ObjectProperty)),
                                     ("Annotation properties", "annotation-properties", terms(OWL.AnnotationProperty))])
