"""Namespaces, prefixes and the names of the publication's graphs."""
from __future__ import annotations

from rdflib import Namespace, URIRef

from .config import PUBLISHED_BASE

IJDP = Namespace(PUBLISHED_BASE + "ontology#")
OA = Namespace("http://www.w3.org/ns/oa#")
ORG = Namespace("http://www.w3.org/ns/org#")
PROV = Namespace("http://www.w3.org/ns/prov#")
TIME = Namespace("http://www.w3.org/2006/time#")
VOID = Namespace("http://rdfs.org/ns/void#")
DCAT = Namespace("http://www.w3.org/ns/dcat#")
SPDX = Namespace("http://spdx.org/rdf/terms#")

PREFIXES = {
    "ijdp": str(IJDP),
    "agreement": PUBLISHED_BASE + "id/agreement/",
    "country": PUBLISHED_BASE + "id/country/",
    "government": PUBLISHED_BASE + "id/government/",
    "organization": PUBLISHED_BASE + "id/organization/",
    "mission": PUBLISHED_BASE + "id/mission/",
    "programme": PUBLISHED_BASE + "id/programme/",
    "partnership": PUBLISHED_BASE + "id/partnership/",
    "person": PUBLISHED_BASE + "id/person/",
    "post": PUBLISHED_BASE + "id/post/",
    "event": PUBLISHED_BASE + "id/event/",
    "facility": PUBLISHED_BASE + "id/concept/facility-type/",
    "coop": PUBLISHED_BASE + "id/concept/cooperation-mode/",
    "graph": PUBLISHED_BASE + "graph/",
    "cpov": "http://data.europa.eu/m8g/",
    "dcat": str(DCAT),
    "dcterms": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "oa": str(OA),
    "org": str(ORG),
    "owl": "http://www.w3.org/2002/07/owl#",
    "prov": str(PROV),
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "schema": "https://schema.org/",
    "sh": "http://www.w3.org/ns/shacl#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "spdx": str(SPDX),
    "time": str(TIME),
    "void": str(VOID),
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}

# The named graphs, in the order dumps list them.
# curated: what the maintainers add from outside the sources (acronyms, expansions), each with who, why and a reference.
GRAPH_NAMES = ("ontology", "facts", "curated", "provenance", "links", "derived", "metadata")


def graph_iri(name: str, base: str = PUBLISHED_BASE) -> URIRef:
    return URIRef(f"{base}graph/{name}")

