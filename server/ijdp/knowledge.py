"""Assemble the publication's named graphs from the files in data/ and ontology/.

facts       every triple of each source's facts.trig (each named graph there is a quote)
provenance  one rdf:Statement per fact, tied by PROV-O to a Web Annotation (one per
            quote) whose TextQuoteSelector / TextPositionSelector point into the
            snapshot of the source that states it
curated     data/curated.trig: what the maintainers add from outside the sources
            (an acronym, an expansion, a post's organisation), each group of
            statements a prov:Entity saying who added it, why, and the reference
links       data/links.sssom.tsv and data/codes.ttl
derived     what the build computes (entry into force, expiry, entailed types);
            every derived triple says what it was derived from and how
metadata    VoID / DCAT description, written last from the other graphs
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from rdflib import RDF, SKOS, XSD, Graph, Literal, URIRef
from rdflib.namespace import DCTERMS

from . import resources
from .config import PUBLISHED_BASE
from .errors import IjdpError
from .rdfio import load_dataset, load_graph
from .vocab import GRAPH_NAMES, IJDP, OA, PROV, TIME

QUOTE_CONTEXT = 32  # characters of prefix and suffix kept with each quote


@dataclass
class Publication:
    graphs: dict = field(default_factory=lambda: {name: Graph() for name in GRAPH_NAMES})
    sources: list = field(default_factory=list)   # [sources.Source], in slug order
    portal_report: object = None                  # validation.PortalReport, once the build has checked DCAT-AP

    def merged(self, names=GRAPH_NAMES) -> Graph:
        graph = Graph()
        for name in names:
            for triple in self.graphs[name]:
                graph.add(triple)
        return graph


def statement_iri(triple) -> URIRef:
    """A stable IRI for the statement of a triple, named by its content."""
    s, p, o = triple
    digest = hashlib.sha256(f"{s.n3()} {p.n3()} {o.n3()}".encode()).hexdigest()[:16]
    return URIRef(f"{PUBLISHED_BASE}id/statement/{digest}")


def add_statement(provenance: Graph, triple, derived_from) -> URIRef:
    statement = statement_iri(triple)
    provenance.add((statement, RDF.type, RDF.Statement))
    provenance.add((statement, RDF.subject, triple[0]))
    provenance.add((statement, RDF.predicate, triple[1]))
    provenance.add((statement, RDF.object, triple[2]))
    for origin in derived_from:
        provenance.add((statement, PROV.wasDerivedFrom, origin))
    return statement


def locate_quote(source, exact: str, where: str, others=()) -> int:
    """The quote's offset in its own source's snapshot, where it must occur exactly once."""
    count = source.text.count(exact)
    if count == 1:
        return source.text.index(exact)
    if count > 1:
        raise IjdpError(f"{where}: quote {exact[:60]!r} occurs {count} times in the source snapshot "
                        f"{source.snapshot} (make it longer)")
    elsewhere = [other.slug for other in others if other.slug != source.slug and exact in other.text]
    if elsewhere:
        raise IjdpError(f"{where}: quote {exact[:60]!r} does not occur in the source snapshot of {source.slug!r} "
                        f"but in that of {', '.join(map(repr, elsewhere))}: a fact is evidenced only by its own "
                        f"document's words; file it under data/sources/{elsewhere[0]}/")
    raise IjdpError(f"{where}: quote {exact[:60]!r} does not occur in the source snapshot {source.snapshot}")


def add_annotation(provenance: Graph, annotation: URIRef, source, exact: str, where: str, others=()) -> None:
    text = source.text
    start = locate_quote(source, exact, where, others)
    end = start + len(exact)
    target = URIRef(f"{annotation}/target")
    quote = URIRef(f"{annotation}/quote-selector")
    position = URIRef(f"{annotation}/position-selector")
    add = provenance.add
    add((annotation, RDF.type, OA.Annotation))
    add((annotation, RDF.type, PROV.Entity))
    add((annotation, OA.motivatedBy, IJDP.supporting))   # the quote is the statements' evidence
    add((annotation, OA.hasTarget, target))
    add((target, RDF.type, OA.SpecificResource))
    add((target, OA.hasSource, source.iri))
    add((target, OA.hasSelector, quote))
    add((target, OA.hasSelector, position))
    add((quote, RDF.type, OA.TextQuoteSelector))
    add((quote, OA.exact, Literal(exact)))
    add((quote, OA.prefix, Literal(text[max(0, start - QUOTE_CONTEXT):start])))
    add((quote, OA.suffix, Literal(text[end:end + QUOTE_CONTEXT])))
    add((position, RDF.type, OA.TextPositionSelector))
    add((position, OA.start, Literal(start, datatype=XSD.nonNegativeInteger)))
    add((position, OA.end, Literal(end, datatype=XSD.nonNegativeInteger)))


def read_facts(source, publication: Publication) -> None:
    """Facts and their provenance from one source's quote-grouped authoring file."""
    from .sources import line_naming

    path = source.facts
    authoring = load_dataset(path)
    quotes = {s: str(o) for s, o in authoring.default_graph.subject_objects(IJDP.quote)}
    other = [t for t in authoring.default_graph if t[1] != IJDP.quote]
    if other:
        raise IjdpError(f"{path}: the default graph may only hold ijdp:quote triples; found {other[0][0]} {other[0][1]}")
    grouped = {g.identifier: g for g in authoring.graphs() if g.identifier != authoring.default_graph.identifier and len(g)}
    for name in grouped:
        if name not in quotes:
            raise IjdpError(f"{path}: graph {name} has facts but no ijdp:quote")
    for name in quotes:
        if name not in grouped:
            raise IjdpError(f"{path}: quote {name} states no facts")
    facts, provenance = publication.graphs["facts"], publication.graphs["provenance"]
    path_text = path.read_text(encoding="utf-8")
    for annotation in sorted(grouped):
        line = line_naming(path_text, str(annotation), containing="quote")
        where = f"{path}:{line}" if line else f"{path}"
        if (annotation, RDF.type, OA.Annotation) in provenance:
            raise IjdpError(f"{where}: quote {annotation} is already a quote of another source; "
                            "name each source's quotes under its own prefix (id/annotation/<slug>/...)")
        add_annotation(provenance, annotation, source, quotes[annotation], where, publication.sources)
        for triple in grouped[annotation]:
            facts.add(triple)
            add_statement(provenance, triple, [annotation])


# What every curation states: who added it, why, and the reference it rests on.
CURATION_FIELDS = {DCTERMS.creator: "dcterms:creator", IJDP.justification: "ijdp:justification",
                   DCTERMS.references: "dcterms:references"}


def read_curated(path: Path, publication: Publication) -> None:
    """The curated graph: each named graph of data/curated.trig is one curation, described in its default graph."""
    if not path.exists():
        return
    authoring = load_dataset(path)
    described = authoring.default_graph
    grouped = {g.identifier: g for g in authoring.graphs() if g.identifier != described.identifier and len(g)}
    from .sources import line_naming

    text = path.read_text(encoding="utf-8")
    curated, provenance = publication.graphs["curated"], publication.graphs["provenance"]
    for name in sorted(set(described.subjects()) | set(grouped)):
        where = f"{path}:{line_naming(text, str(name)) or 1}"
        missing = [shown for p, shown in CURATION_FIELDS.items() if described.value(name, p) is None]
        if missing:
            raise IjdpError(f"{where}: curation {name} must say who added it, why and from where; missing "
                            + ", ".join(missing))
        if name not in grouped:
            raise IjdpError(f"{where}: curation {name} adds no statements")
        for triple in described.triples((name, None, None)):
            provenance.add(triple)
        provenance.add((name, RDF.type, PROV.Entity))
        for triple in grouped[name]:
            if triple in publication.graphs["facts"]:
                raise IjdpError(f"{where}: {triple[0]} {triple[1]} {triple[2]} is stated by a source already; "
                                "curate only what the sources do not say")
            curated.add(triple)
            add_statement(provenance, triple, [name])


def add_duration(year_month: str, duration: str) -> str | None:
    """'2023-07' + 'P5Y' -> '2028-07'; None where the duration is not in years and months."""
    ym = re.fullmatch(r"(-?\d{4,})-(\d{2})", year_month)
    dur = re.fullmatch(r"P(?:(\d+)Y)?(?:(\d+)M)?", duration)
    if not ym or not dur or duration == "P":
        return None
    months = int(ym.group(1)) * 12 + int(ym.group(2)) - 1 + int(dur.group(1) or 0) * 12 + int(dur.group(2) or 0)
    return f"{months // 12:04d}-{months % 12 + 1:02d}"


END_RULE = ("The period in force begins at the date of the event the agreement comes into effect from, "
            "and ends when its stated duration has elapsed after that date. Computed by ijdp build, not stated by the source.")


def derive_period_in_force(publication: Publication) -> None:
    """Beginning and end instants of each agreement's period in force."""
    facts, derived, provenance = (publication.graphs[n] for n in ("facts", "derived", "provenance"))
    for agreement, event in facts.subject_objects(IJDP.inForceFrom):
        interval = facts.value(agreement, IJDP.periodInForce)
        date = facts.value(event, DCTERMS.date)
        duration = facts.value(interval, TIME.hasXSDDuration) if interval is not None else None
        if interval is None or date is None or duration is None or date.datatype != XSD.gYearMonth:
            continue
        end = add_duration(str(date), str(duration))
        if end is None:
            continue
        sources = [statement_iri(t) for t in (
            (agreement, IJDP.inForceFrom, event), (event, DCTERMS.date, date),
            (agreement, IJDP.periodInForce, interval), (interval, TIME.hasXSDDuration, duration))]
        for role, value in (("beginning", str(date)), ("end", end)):
            instant = URIRef(f"{interval}-{role}".replace("/id/interval/", "/id/instant/"))
            # The interval's name is the publication's (curated), not the source's.
            named = facts.value(interval, SKOS.prefLabel) or publication.graphs["curated"].value(interval, SKOS.prefLabel)
            label = str(named or "Period in force")
            triples = [
                (interval, TIME.hasBeginning if role == "beginning" else TIME.hasEnd, instant),
                (instant, RDF.type, TIME.Instant),
                (instant, SKOS.prefLabel, Literal(f"{role.capitalize()} of the {label[0].lower()}{label[1:]}", lang="en")),
                (instant, TIME.inXSDgYearMonth, Literal(value, datatype=XSD.gYearMonth)),
            ]
            for triple in triples:
                derived.add(triple)
                statement = add_statement(provenance, triple, sources)
                provenance.add((statement, IJDP.derivationRule, Literal(END_RULE, lang="en")))


INFERENCE_RULE = "Entailed by the ijdp ontology from the stated types and properties (OWL 2 reasoning with HermiT)."


def add_inferred_types(publication: Publication, inferred) -> None:
    """Record the reasoner's entailed types in the derived graph."""
    facts, derived, provenance = (publication.graphs[n] for n in ("facts", "derived", "provenance"))
    for individual, cls in sorted(inferred):
        triple = (individual, RDF.type, cls)
        if triple in facts:
            continue
        sources = [statement_iri(t) for t in facts.triples((individual, RDF.type, None))]
        derived.add(triple)
        statement = add_statement(provenance, triple, sources)
        provenance.add((statement, IJDP.derivationRule, Literal(INFERENCE_RULE, lang="en")))


def read_links(folder: Path) -> Graph:
    """The links graph: the SSSOM mappings (with their metadata) and the reference codes."""
    from .links import links_graph, read_sssom

    graph = Graph()
    table = folder / "links.sssom.tsv"
    if table.exists():
        metadata, rows = read_sssom(table)
        graph += links_graph(metadata, rows, where=f"{table}: ")
    codes = folder / "codes.ttl"
    if codes.exists():
        graph += load_graph(codes)
    return graph



def assemble() -> Publication:
    """Ontology, facts, provenance, links and the computed dates (not yet types or metadata)."""
    from .axioms import check_disjointness
    from .sources import read_sources

    publication = Publication(sources=read_sources(resources.data_folder()))
    publication.graphs["ontology"] = load_graph(*resources.ontology_files(), catalogue=True)
    check_disjointness(publication.graphs["ontology"], resources.ontology_files())   # on ijdp's own classes only
    for source in publication.sources:
        read_facts(source, publication)
    read_curated(resources.data_folder() / "curated.trig", publication)
    publication.graphs["links"] = read_links(resources.data_folder())
    derive_period_in_force(publication)
    return publication

