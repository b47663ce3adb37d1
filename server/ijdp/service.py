"""The SPARQL 1.1 Service Description of /sparql, with the dataset's VoID."""
from __future__ import annotations

from rdflib import RDF, XSD, BNode, Graph, Literal, Namespace, URIRef

from .config import Settings
from .formats import RDF_FORMATS, RESULTS_FORMATS
from .vocab import GRAPH_NAMES, PREFIXES, VOID, graph_iri
from .vocab import IJDP as PUBLISHED_IJDP

SD = Namespace("http://www.w3.org/ns/sparql-service-description#")
FORMATS = Namespace("http://www.w3.org/ns/formats/")
ENTAILMENT = Namespace("http://www.w3.org/ns/entailment/")

# W3C format IRIs (http://www.w3.org/ns/formats/) by format name.
FORMAT_IRIS = {
    "json": "SPARQL_Results_JSON", "xml": "SPARQL_Results_XML", "csv": "SPARQL_Results_CSV",
    "tsv": "SPARQL_Results_TSV", "turtle": "Turtle", "nt": "N-Triples", "jsonld": "JSON-LD",
    "rdfxml": "RDF_XML", "trig": "TriG", "nquads": "N-Quads",
}


def service_description(endpoint_url: str, settings: Settings, void_ntriples: bytes = b"") -> Graph:
    from .iris import rebase_text

    base = settings.base_iri
    # The build's own namespace for the ontology's terms: one base, the data's.
    IJDP = Namespace(rebase_text(str(PUBLISHED_IJDP), base))
    g = Graph()
    g.bind("sd", SD)
    for prefix in ("void", "dcterms", "dcat", "ijdp", "xsd", "spdx", "prov", "skos"):
        g.bind(prefix, rebase_text(PREFIXES[prefix], base))
    service = URIRef(endpoint_url)
    g.add((service, RDF.type, SD.Service))
    g.add((service, SD.endpoint, service))
    g.add((service, SD.supportedLanguage, SD.SPARQL11Query))
    g.add((service, SD.defaultEntailmentRegime, ENTAILMENT.Simple))
    for fmt in (*RESULTS_FORMATS, *RDF_FORMATS):
        g.add((service, SD.resultFormat, FORMATS[FORMAT_IRIS[fmt.name]]))
    if settings.union_default_graph:
        g.add((service, SD.feature, SD.UnionDefaultGraph))
    if settings.service_allowlist:
        g.add((service, SD.feature, SD.BasicFederatedQuery))
    g.add((service, IJDP.maxResultRows, Literal(settings.max_rows, datatype=XSD.integer)))
    g.add((service, IJDP.queryTimeout, Literal(f"PT{settings.query_timeout:g}S", datatype=XSD.dayTimeDuration)))
    g.add((service, IJDP.maxRequestBytes, Literal(settings.max_request_bytes, datatype=XSD.integer)))
    if settings.max_answer_bytes:
        g.add((service, IJDP.maxResultBytes, Literal(settings.max_answer_bytes, datatype=XSD.integer)))
    g.add((service, IJDP.maxNesting, Literal(settings.max_nesting, datatype=XSD.integer)))
    g.add((service, IJDP.maxProjectedVariables, Literal(settings.max_projected_variables, datatype=XSD.integer)))
    if settings.query_memory_mb:
        g.add((service, IJDP.queryMemoryLimit, Literal(settings.query_memory_mb * 1024 * 1024, datatype=XSD.integer)))
    for allowed in settings.service_allowlist:
        g.add((service, IJDP.allowedService, URIRef(allowed)))
    if settings.service_allowlist:
        g.add((service, IJDP.serviceTimeout, Literal(f"PT{settings.service_timeout:g}S", datatype=XSD.dayTimeDuration)))

    dataset_iri = URIRef(f"{base}id/dataset/ijdp")
    dataset = BNode("dataset")
    g.add((service, SD.defaultDataset, dataset))
    g.add((dataset, RDF.type, SD.Dataset))
    g.add((dataset, VOID.inDataset, dataset_iri))
    default_graph = BNode("default")
    g.add((dataset, SD.defaultGraph, default_graph))
    g.add((default_graph, RDF.type, SD.Graph))
    for name in GRAPH_NAMES:
        named = BNode(f"graph-{name}")
        g.add((dataset, SD.namedGraph, named))
        g.add((named, RDF.type, SD.NamedGraph))
        g.add((named, SD.name, graph_iri(name, base)))
    if void_ntriples:
        g.parse(data=void_ntriples.decode("utf-8"), format="nt")
    return g
