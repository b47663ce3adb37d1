"""The one table of RDF and SPARQL-results formats.

Server, dumps and command line all read it: a format's name, media type,
file extension, and whether it can keep named graphs apart.
"""
from __future__ import annotations

from dataclasses import dataclass

import pyoxigraph


@dataclass(frozen=True)
class RdfFormat:
    name: str
    media_type: str
    extension: str
    rdflib_name: str
    keeps_graphs: bool
    label: str
    aliases: tuple = ()      # other media types that mean this format
    names: tuple = ()        # other names clients send in format= / output=
    eu_file_type: str = ""   # its code in the EU file-type authority table (DCAT-AP's dct:format)

    @property
    def oxigraph(self):
        return pyoxigraph.RdfFormat.from_media_type(self.media_type)


RDF_FORMATS = (
    # Aliases: other media types that mean the format, and the names real clients send in
    # format= / output= (SPARQLWrapper: n3, rdf+xml, json-ld; Jena: ttl, nt; YASGUI: the media type).
    RdfFormat("turtle", "text/turtle", "ttl", "turtle", False, "Turtle",
              ("application/x-turtle", "application/turtle", "text/n3", "text/rdf+n3", "application/n3"), ("n3",), eu_file_type="RDF_TURTLE"),
    RdfFormat("nt", "application/n-triples", "nt", "nt", False, "N-Triples", ("text/plain",),
              ("ntriples", "n-triples"), eu_file_type="RDF_N_TRIPLES"),
    RdfFormat("jsonld", "application/ld+json", "jsonld", "json-ld", False, "JSON-LD",
              ("application/json", "application/x-json+ld"), ("json-ld", "json"), eu_file_type="JSON_LD"),
    RdfFormat("rdfxml", "application/rdf+xml", "rdf", "xml", False, "RDF/XML",
              ("application/xml", "text/xml"), ("rdf+xml", "xml", "rdf/xml"), eu_file_type="RDF_XML"),
    RdfFormat("trig", "application/trig", "trig", "trig", True, "TriG", ("application/x-trig",), eu_file_type="RDF_TRIG"),
    RdfFormat("nquads", "application/n-quads", "nq", "nquads", True, "N-Quads", ("text/x-nquads",), ("n-quads",), eu_file_type="RDF_N_QUADS"),
)


@dataclass(frozen=True)
class ResultsFormat:
    name: str
    media_type: str
    extension: str
    label: str
    aliases: tuple = ()      # other media types that mean this format
    names: tuple = ()        # other names clients send in format= / output=

    @property
    def oxigraph(self):
        return pyoxigraph.QueryResultsFormat.from_media_type(self.media_type)


RESULTS_FORMATS = (
    ResultsFormat("json", "application/sparql-results+json", "srj", "SPARQL JSON",
                  ("application/json", "text/javascript", "application/javascript"), ("sparql-results+json",)),
    ResultsFormat("xml", "application/sparql-results+xml", "srx", "SPARQL XML",
                  ("application/xml", "text/xml"), ("sparql-results+xml",)),
    ResultsFormat("csv", "text/csv", "csv", "CSV"),
    ResultsFormat("tsv", "text/tab-separated-values", "tsv", "TSV", ("text/tsv",)),
)


def rdf_format(key: str) -> RdfFormat:
    """The RDF format named by a name, extension or media type."""
    key = key.lower().lstrip(".")
    for fmt in RDF_FORMATS:
        if key in (fmt.name, fmt.extension, fmt.media_type):
            return fmt
    aliases = {"ttl": "turtle", "n-triples": "nt", "json-ld": "jsonld", "xml": "rdfxml", "owl": "rdfxml", "nq": "nquads"}
    if key in aliases:
        return rdf_format(aliases[key])
    raise KeyError(key)


def rdf_format_for_path(path) -> RdfFormat:
    suffixes = [s.lstrip(".") for s in str(path).lower().split("/")[-1].split(".")[1:]]
    if suffixes and suffixes[-1] == "gz":
        suffixes = suffixes[:-1]
    if not suffixes:
        raise KeyError(str(path))
    return rdf_format(suffixes[-1])


def results_format(key: str) -> ResultsFormat:
    key = key.lower()
    for fmt in RESULTS_FORMATS:
        if key in (fmt.name, fmt.extension, fmt.media_type):
            return fmt
    raise KeyError(key)


@dataclass(frozen=True)
class PageFormat:
    """HTML, negotiated beside the RDF formats for resource pages."""
    name: str
    media_type: str
    extension: str
    label: str
    aliases: tuple = ()


HTML = PageFormat("html", "text/html", "html", "HTML", ("application/xhtml+xml",))

# What a resource document offers: HTML first (browsers), then the triple formats.
DOCUMENT_FORMATS = (HTML,) + tuple(f for f in RDF_FORMATS if not f.keeps_graphs)
