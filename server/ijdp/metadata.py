"""The metadata graph: VoID and DCAT description of the dataset and its dumps.

Everything here is computed from the other graphs and the inputs' checksums,
never from the clock, so that two builds of the same inputs are byte-identical.
"""
from __future__ import annotations

import hashlib
from rdflib import OWL, RDF, RDFS, SKOS, XSD, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, FOAF

from . import __version__, resources
from .config import PUBLISHED_BASE
from .formats import RDF_FORMATS
from .knowledge import Publication
from .links import MAPPING_PREDICATES
from .vocab import DCAT, GRAPH_NAMES, PROV, SPDX, VOID, graph_iri

LICENSE = URIRef("https://creativecommons.org/licenses/by/4.0/")
DATASET = URIRef(f"{PUBLISHED_BASE}id/dataset/ijdp")
CATALOG = URIRef(f"{PUBLISHED_BASE}catalog")
SPARQL_SERVICE = URIRef(f"{PUBLISHED_BASE}id/service/sparql")
PUBLISHER = URIRef(f"{PUBLISHED_BASE}id/agent/ijdp-maintainers")
EU = "http://publications.europa.eu/resource/authority/"
# Controlled values DCAT-AP asks for, each with the class and label DCAT-AP's shapes check for
# (the portals load the EU authority tables themselves; a description must still state the class).
THEMES = {"TECH": "Science and technology", "INTR": "International issues", "ECON": "Economy and finance"}
COUNTRIES = {"IND": "India", "JPN": "Japan"}
KEYWORDS = ("semiconductors", "supply chain", "India", "Japan", "memorandum of cooperation", "MeitY", "METI",
            "linked data")
DUMP_STEM = "ijdp"
# The class of a document, from its metadata's kind (source.toml): what the document is is not a quote's to say.
KIND_CLASSES = {"news article": URIRef("https://schema.org/NewsArticle")}

# External datasets we link to, by IRI prefix.
LINK_TARGETS = {
    "wikidata": ("Wikidata", "http://www.wikidata.org/entity/"),
    "geonames": ("GeoNames", "https://sws.geonames.org/"),
    "eu-authority": ("EU Publications Office authority tables", "http://publications.europa.eu/resource/authority/"),
    "dbpedia": ("DBpedia", "http://dbpedia.org/"),
    "gbizinfo": ("gBizINFO, Japan's corporate data", "http://hojin-info.go.jp/data/basic/"),
}


def dump_names() -> list[tuple]:
    """(format, file name) of every dump the build writes, plain and gzipped."""
    names = []
    for fmt in RDF_FORMATS:
        names.append((fmt, f"{DUMP_STEM}.{fmt.extension}"))
        names.append((fmt, f"{DUMP_STEM}.{fmt.extension}.gz"))
    return names


def inputs_digest() -> str:
    """A content version: the SHA-256 of every input file, combined."""
    digest = hashlib.sha256()
    data = resources.data_folder()
    named = [(p.name, p) for p in resources.ontology_files() + resources.shapes_files()]
    named += [(p.relative_to(data).as_posix(), p) for p in sorted(data.rglob("*.*"))
              if not any(part.startswith(".") for part in p.relative_to(data).parts)]
    for name, path in named:
        if path.suffix in {".ttl", ".trig", ".txt", ".tsv", ".toml"}:
            digest.update(name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def add_metadata(publication: Publication) -> None:
    graphs = publication.graphs
    meta = Graph()
    add = meta.add
    data_graphs = [n for n in GRAPH_NAMES if n != "metadata"]
    merged = publication.merged(data_graphs)
    version = inputs_digest()[:12]
    facts = graphs["facts"]
    entities = {s for s in facts.subjects() if isinstance(s, URIRef) and str(s).startswith(PUBLISHED_BASE + "id/")}
    classes = set(merged.objects(None, RDF.type))
    properties = set(merged.predicates())

    add((DATASET, RDF.type, VOID.Dataset))
    add((DATASET, RDF.type, DCAT.Dataset))
    add((DATASET, DCTERMS.title, Literal("India-Japan semiconductor supply chain MoC as linked data", lang="en")))
    add((DATASET, DCTERMS.description, Literal(
        "Every fact of a news article on the July 2023 Memorandum of Cooperation between India's MeitY and "
        "Japan's METI on a Japan-India Semiconductor Supply Chain Partnership, each tied to the sentence it came "
        "from.",
        lang="en")))
    add((DATASET, DCTERMS.license, LICENSE))
    add((DATASET, DCAT.version, Literal(version)))
    add((DATASET, OWL.versionInfo, Literal(version)))
    # The documents the facts are quoted from. Not dct:source, which DCAT-AP keeps for datasets.
    for source in publication.sources:
        add((DATASET, PROV.wasDerivedFrom, source.iri))
    shapes = URIRef(f"{PUBLISHED_BASE}shapes")
    add((DATASET, DCTERMS.conformsTo, shapes))
    add((shapes, RDF.type, DCTERMS.Standard))
    add((shapes, DCTERMS.title, Literal("The ijdp SHACL shapes", lang="en")))
    describe_for_portals(meta)
    add((DATASET, VOID.vocabulary, URIRef(f"{PUBLISHED_BASE}ontology#")))
    add((DATASET, VOID.sparqlEndpoint, URIRef(f"{PUBLISHED_BASE}sparql")))
    add((DATASET, VOID.uriSpace, Literal(f"{PUBLISHED_BASE}id/")))
    add((DATASET, VOID.triples, Literal(len(merged), datatype=XSD.integer)))
    add((DATASET, VOID.entities, Literal(len(entities), datatype=XSD.integer)))
    add((DATASET, VOID.classes, Literal(len(classes), datatype=XSD.integer)))
    add((DATASET, VOID.properties, Literal(len(properties), datatype=XSD.integer)))
    add((DATASET, VOID.distinctSubjects, Literal(len(set(merged.subjects())), datatype=XSD.integer)))
    add((DATASET, VOID.distinctObjects, Literal(len(set(merged.objects())), datatype=XSD.integer)))
    for name in data_graphs:
        subset = graph_iri(name)
        add((DATASET, VOID.subset, subset))
        add((subset, RDF.type, VOID.Dataset))
        add((subset, DCTERMS.title, Literal(f"{name} graph", lang="en")))
        add((subset, DCTERMS.license, LICENSE))
        add((subset, VOID.triples, Literal(len(graphs[name]), datatype=XSD.integer)))
    # The graph these statements are in: named (the service description lists it) but not counted,
    # since its size would have to include itself.
    about = graph_iri("metadata")
    add((about, DCTERMS.title, Literal("metadata graph", lang="en")))
    add((about, DCTERMS.description, Literal(
        "The description of the dataset (VoID and DCAT): counts, dumps, linksets, the source and the build.", lang="en")))
    add((about, DCTERMS.license, LICENSE))

    for fmt, filename in dump_names():
        url = URIRef(f"{PUBLISHED_BASE}dumps/latest/{filename}")
        gz = filename.endswith(".gz")
        add((DATASET, VOID.dataDump, url))
        dist = URIRef(f"{PUBLISHED_BASE}id/distribution/{filename}")
        add((DATASET, DCAT.distribution, dist))
        add((dist, RDF.type, DCAT.Distribution))
        add((dist, DCTERMS.title, Literal(f"{fmt.label} dump{' (gzip)' if gz else ''}", lang="en")))
        add((dist, DCTERMS.description, Literal(
            f"Every named graph of the publication{' kept apart' if fmt.keeps_graphs else ', merged'}, as {fmt.label}"
            f"{', gzip-compressed' if gz else ''}.", lang="en")))
        add((dist, DCAT.downloadURL, url))
        add((dist, DCAT.accessURL, URIRef(f"{PUBLISHED_BASE}dumps/")))
        media = URIRef(f"https://www.iana.org/assignments/media-types/{fmt.media_type}")
        add((dist, DCAT.mediaType, media))
        add((media, RDF.type, DCTERMS.MediaType))
        file_type = URIRef(f"{EU}file-type/{fmt.eu_file_type}")
        add((dist, DCTERMS.format, file_type))
        add((file_type, RDF.type, DCTERMS.MediaTypeOrExtent))
        if gz:
            gzip = URIRef("https://www.iana.org/assignments/media-types/application/gzip")
            add((dist, DCAT.compressFormat, gzip))
            add((gzip, RDF.type, DCTERMS.MediaType))
        add((dist, DCTERMS.license, LICENSE))
        add((dist, DCATAP.availability, STABLE))

    for key, (title, prefix) in LINK_TARGETS.items():
        links = [(s, p, o) for s, p, o in graphs["links"] if p in MAPPING_PREDICATES and str(o).startswith(prefix)]
        if not links:
            continue
        linkset = URIRef(f"{PUBLISHED_BASE}id/linkset/{key}")
        target = URIRef(f"{PUBLISHED_BASE}id/external-dataset/{key}")
        add((DATASET, VOID.subset, linkset))
        add((linkset, RDF.type, VOID.Linkset))
        add((linkset, DCTERMS.title, Literal(f"Links to {title}", lang="en")))
        add((linkset, VOID.subjectsTarget, DATASET))
        add((linkset, VOID.objectsTarget, target))
        add((linkset, VOID.triples, Literal(len(links), datatype=XSD.integer)))
        for predicate in sorted({p for _, p, _ in links}):
            add((linkset, VOID.linkPredicate, predicate))
        add((target, RDF.type, VOID.Dataset))
        add((target, DCTERMS.title, Literal(title, lang="en")))
        add((target, VOID.uriSpace, Literal(prefix)))

    for source in publication.sources:
        describe_source(meta, source)

    build = URIRef(f"{PUBLISHED_BASE}id/build/{version}")
    add((DATASET, PROV.wasGeneratedBy, build))
    add((build, RDF.type, PROV.Activity))
    add((build, SKOS.prefLabel, Literal(f"ijdp build of version {version}", lang="en")))
    for source in publication.sources:
        add((build, PROV.used, source.iri))
    add((build, PROV.used, URIRef(f"{PUBLISHED_BASE}ontology/1.0.0")))
    add((build, PROV.used, URIRef(f"{PUBLISHED_BASE}shapes")))
    add((build, PROV.wasAssociatedWith, URIRef(f"{PUBLISHED_BASE}id/software/ijdp-{__version__}")))
    add((URIRef(f"{PUBLISHED_BASE}id/software/ijdp-{__version__}"), RDF.type, PROV.SoftwareAgent))
    add((URIRef(f"{PUBLISHED_BASE}id/software/ijdp-{__version__}"), SKOS.prefLabel,
         Literal(f"ijdp {__version__}", lang="en")))
    add((graph_iri("derived"), DCTERMS.description, Literal(
        "Statements computed by the build (entry into force, expiry, entailed types); not stated by the source.",
        lang="en")))
    add((graph_iri("derived"), PROV.wasGeneratedBy, build))
    add((graph_iri("curated"), DCTERMS.description, Literal(
        "What the maintainers added from outside the sources (an acronym, an expansion, a post's organisation): "
        "each statement is derived from a curation that says who added it, why, and the reference.", lang="en")))
    graphs["metadata"] = meta



def describe_source(meta: Graph, source) -> None:
    """The snapshot of one source: what it is a copy of, its checksum and what its metadata file says."""
    add = meta.add
    snapshot, info = source.iri, source.metadata
    checksum = URIRef(f"{snapshot}#sha256")
    add((snapshot, RDF.type, FOAF.Document))
    add((snapshot, DCTERMS.title, Literal(f"Source snapshot: {source.title}", lang="en")))
    add((snapshot, DCTERMS.type, Literal(info["kind"], lang="en")))
    if info.get("about"):
        add((snapshot, DCTERMS.description, Literal(info["about"], lang="en")))
    if source.invented:
        add((snapshot, RDFS.comment, Literal(
            "INVENTED: written for the tests of ijdp; not a real document and never part of the published data.",
            lang="en")))
    add((snapshot, DCTERMS.format, Literal("text/plain; charset=utf-8")))
    add((snapshot, DCTERMS.identifier, Literal(source.slug)))
    add((snapshot, SPDX.checksum, checksum))
    add((checksum, RDF.type, SPDX.Checksum))
    add((checksum, SPDX.algorithm, SPDX.checksumAlgorithm_sha256))
    add((checksum, SPDX.checksumValue, Literal(source.sha256, datatype=XSD.hexBinary)))
    add((snapshot, DCTERMS.isFormatOf, source.document))
    if info["kind"] in KIND_CLASSES:
        add((source.document, RDF.type, KIND_CLASSES[info["kind"]]))
    # When the snapshot was taken, and when the document it copies was published (where stated).
    add((snapshot, DCTERMS.created, _date(info["retrieved"])))
    if info.get("date"):
        add((snapshot, DCTERMS.issued, _date(info["date"])))
    if info.get("publisher"):
        add((snapshot, DCTERMS.publisher, Literal(info["publisher"])))
    if info.get("url"):
        add((snapshot, DCTERMS.source, URIRef(info["url"])))
    if info.get("licence"):
        add((snapshot, DCTERMS.license, URIRef(info["licence"])))


def _date(text: str) -> Literal:
    return Literal(text, datatype=XSD.date if len(text) == 10 else XSD.gYearMonth)


DCATAP = Namespace("http://data.europa.eu/r5r/")
VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
STABLE = URIRef(f"{EU}planned-availability/STABLE")


def describe_for_portals(meta: Graph) -> None:
    """What DCAT-AP 3.0.1 asks of a catalogue beyond VoID: the catalogue, the SPARQL endpoint as a data
    service, the publisher and contact, and the controlled values (themes, places, language, licence) typed
    as DCAT-AP's range shapes expect."""
    add = meta.add
    add((CATALOG, RDF.type, DCAT.Catalog))
    add((CATALOG, DCTERMS.title, Literal("ijdp: the India-Japan semiconductor partnership as linked data", lang="en")))
    add((CATALOG, DCTERMS.description, Literal(
        "The catalogue of the ijdp publication: its dataset, each fact tied to the sentence of the source it came "
        "from, the dumps of that dataset, and the SPARQL endpoint that serves it.", lang="en")))
    add((CATALOG, DCTERMS.publisher, PUBLISHER))
    add((CATALOG, DCAT.dataset, DATASET))
    add((CATALOG, DCAT.service, SPARQL_SERVICE))
    add((CATALOG, FOAF.homepage, URIRef(PUBLISHED_BASE)))
    add((URIRef(PUBLISHED_BASE), RDF.type, FOAF.Document))
    add((CATALOG, DCTERMS.license, LICENSE))
    english = URIRef(f"{EU}language/ENG")
    add((english, RDF.type, DCTERMS.LinguisticSystem))
    add((CATALOG, DCTERMS.language, english))
    add((DATASET, DCTERMS.language, english))

    add((PUBLISHER, RDF.type, FOAF.Agent))
    add((PUBLISHER, FOAF.name, Literal("ijdp maintainers", lang="en")))
    add((DATASET, DCTERMS.publisher, PUBLISHER))
    contact = URIRef(f"{PUBLISHED_BASE}id/agent/ijdp-maintainers#contact")
    add((contact, RDF.type, VCARD.Kind))
    add((contact, VCARD.fn, Literal("ijdp maintainers")))
    add((contact, VCARD.hasURL, URIRef(PUBLISHED_BASE)))
    add((DATASET, DCAT.contactPoint, contact))
    add((LICENSE, RDF.type, DCTERMS.LicenseDocument))
    attribution = URIRef("http://purl.org/adms/licencetype/Attribution")
    add((LICENSE, DCTERMS.type, attribution))
    add((attribution, RDF.type, SKOS.Concept))
    add((attribution, SKOS.prefLabel, Literal("Attribution", lang="en")))
    themes = URIRef(f"{EU}data-theme")
    add((CATALOG, DCAT.themeTaxonomy, themes))
    add((themes, RDF.type, SKOS.ConceptScheme))
    add((themes, DCTERMS.title, Literal("Data theme", lang="en")))
    add((DATASET, DCAT.landingPage, URIRef(PUBLISHED_BASE)))
    for keyword in KEYWORDS:
        add((DATASET, DCAT.keyword, Literal(keyword, lang="en")))
        add((SPARQL_SERVICE, DCAT.keyword, Literal(keyword, lang="en")))
    add((SPARQL_SERVICE, DCAT.contactPoint, contact))
    for code, label in THEMES.items():
        theme = URIRef(f"{EU}data-theme/{code}")
        add((DATASET, DCAT.theme, theme))
        add((theme, RDF.type, SKOS.Concept))
        add((theme, SKOS.prefLabel, Literal(label, lang="en")))
    for code, label in COUNTRIES.items():
        place = URIRef(f"{EU}country/{code}")
        add((DATASET, DCTERMS.spatial, place))
        add((CATALOG, DCTERMS.spatial, place))
        add((place, RDF.type, DCTERMS.Location))
        add((place, SKOS.prefLabel, Literal(label, lang="en")))
    add((STABLE, RDF.type, SKOS.Concept))
    add((STABLE, SKOS.prefLabel, Literal("stable", lang="en")))
    irregular = URIRef(f"{EU}frequency/IRREG")
    add((DATASET, DCTERMS.accrualPeriodicity, irregular))
    add((irregular, RDF.type, DCTERMS.Frequency))

    endpoint = URIRef(f"{PUBLISHED_BASE}sparql")
    protocol = URIRef("https://www.w3.org/TR/sparql11-protocol/")
    add((SPARQL_SERVICE, RDF.type, DCAT.DataService))
    add((SPARQL_SERVICE, DCTERMS.title, Literal("ijdp SPARQL endpoint", lang="en")))
    add((SPARQL_SERVICE, DCTERMS.description, Literal(
        "A SPARQL 1.1 endpoint over every named graph of the dataset; its service description lists its limits.",
        lang="en")))
    add((SPARQL_SERVICE, DCAT.endpointURL, endpoint))
    add((SPARQL_SERVICE, DCAT.endpointDescription, URIRef(f"{PUBLISHED_BASE}sparql/description")))
    add((SPARQL_SERVICE, DCAT.servesDataset, DATASET))
    add((SPARQL_SERVICE, DCTERMS.conformsTo, protocol))
    add((protocol, RDF.type, DCTERMS.Standard))
    add((protocol, DCTERMS.title, Literal("SPARQL 1.1 Protocol", lang="en")))
    add((SPARQL_SERVICE, DCTERMS.license, LICENSE))
    add((SPARQL_SERVICE, DCTERMS.publisher, PUBLISHER))
    for code in THEMES:
        add((SPARQL_SERVICE, DCAT.theme, URIRef(f"{EU}data-theme/{code}")))
    through = URIRef(f"{PUBLISHED_BASE}id/distribution/sparql")
    add((DATASET, DCAT.distribution, through))
    add((through, RDF.type, DCAT.Distribution))
    add((through, DCTERMS.title, Literal("SPARQL endpoint", lang="en")))
    add((through, DCTERMS.description, Literal("The dataset queried live through the SPARQL endpoint.", lang="en")))
    add((through, DCAT.accessURL, endpoint))
    add((through, DCAT.accessService, SPARQL_SERVICE))
    add((through, DCTERMS.license, LICENSE))
    add((through, DCATAP.availability, STABLE))
