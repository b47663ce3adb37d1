"""What the publication says about one resource, with the quotes behind each fact.

One CONSTRUCT through the query pool gives a small graph: the resource's
statements both ways, labels of everything it links to, and the provenance
of each statement (its quote in the snapshot, or its derivation). Views build
this once; renderers turn it into HTML or RDF.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from rdflib import OWL, RDF, RDFS, SKOS, XSD, Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, FOAF

from .vocab import IJDP, OA, ORG, PROV, TIME

# The prefixes of the page queries (IJDP is replaced by the ontology namespace where they are run).
PROLOGUE = """
PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
PREFIX prov: <http://www.w3.org/ns/prov#>
PREFIX oa: <http://www.w3.org/ns/oa#>
PREFIX dcterms: <http://purl.org/dc/terms/>
PREFIX ijdp: <IJDP>
"""
DESCRIBE = PROLOGUE + """CONSTRUCT {
  <R> ?p ?o . ?o skos:prefLabel ?ol . ?o rdfs:label ?orl . ?p rdfs:label ?pl . ?dt rdfs:label ?dtl .
  ?s ?q <R> . ?s skos:prefLabel ?sl . ?s rdfs:label ?srl . ?q rdfs:label ?ql .
  ?st rdf:subject <R> ; rdf:predicate ?sp ; rdf:object ?so ; prov:wasDerivedFrom ?origin ; <RULE> ?rule .
  ?origin oa:hasTarget ?t . ?t oa:hasSource ?src ; oa:hasSelector ?sel .
  ?sel a ?selType ; oa:exact ?exact ; oa:start ?start ; oa:end ?end .
  ?origin ijdp:justification ?why ; dcterms:creator ?who ; dcterms:references ?reference .
  ?origin prov:wasDerivedFrom ?a2 . ?a2 oa:hasTarget ?t2 . ?t2 oa:hasSource ?src2 ; oa:hasSelector ?sel2 .
  ?sel2 a ?selType2 ; oa:exact ?exact2 ; oa:start ?start2 ; oa:end ?end2 .
}
WHERE {
  BRANCHES
}"""
# The resource's statements both ways with their labels, and each statement's provenance: one simple pattern
# a branch. As nested OPTIONALs the same graph took 0.9 s for the MoC (the engine evaluated their inner
# patterns over the whole store); as a union of branches, each bound to the resource, about a tenth.
_OUT, _IN = "<R> ?p ?o", "?s ?q <R> FILTER (?q NOT IN (rdf:subject, rdf:object))"
_STATEMENT = "?st rdf:subject <R> ; rdf:predicate ?sp ; rdf:object ?so"
_ORIGIN = _STATEMENT + " ; prov:wasDerivedFrom ?origin"
_TARGET = _ORIGIN + " . ?origin oa:hasTarget ?t . ?t oa:hasSource ?src ; oa:hasSelector ?sel . ?sel a ?selType"
_DEEPER = (_ORIGIN + " . ?origin prov:wasDerivedFrom ?a2 . ?a2 oa:hasTarget ?t2 . ?t2 oa:hasSource ?src2 ;"
           " oa:hasSelector ?sel2 . ?sel2 a ?selType2")
DESCRIBE_BRANCHES = (
    _OUT, _OUT + " . ?o skos:prefLabel ?ol", _OUT + " . ?o rdfs:label ?orl", _OUT + " . ?p rdfs:label ?pl",
    _OUT + " FILTER(isLiteral(?o)) BIND(DATATYPE(?o) AS ?dt) ?dt rdfs:label ?dtl",
    _IN, _IN + " ?s skos:prefLabel ?sl", _IN + " ?s rdfs:label ?srl", _IN + " ?q rdfs:label ?ql",
    _STATEMENT, _STATEMENT + " ; ijdp:derivationRule ?rule", _ORIGIN,
    _ORIGIN + " . ?origin ijdp:justification ?why ; dcterms:creator ?who ; dcterms:references ?reference",
    _TARGET, _TARGET + " . ?sel oa:exact ?exact", _TARGET + " . ?sel oa:start ?start ; oa:end ?end",
    _DEEPER, _DEEPER + " . ?sel2 oa:exact ?exact2", _DEEPER + " . ?sel2 oa:start ?start2 ; oa:end ?end2",
)

LINK_PREDICATES = (OWL.sameAs, URIRef("https://schema.org/sameAs"), SKOS.exactMatch, SKOS.closeMatch)
LABEL_PREDICATES = (SKOS.prefLabel, RDFS.label, DCTERMS.title, FOAF.name)
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]


def describe_query(iri: str, ontology_namespace: str) -> str:
    # The rule is read in the build's namespace and handed back under the one the page code knows.
    branches = "\n  UNION ".join(f"{{ {pattern} }}" for pattern in DESCRIBE_BRANCHES)
    return (DESCRIBE.replace("BRANCHES", branches).replace("<R>", f"<{iri}>")
            .replace("<IJDP>", f"<{ontology_namespace}>").replace("<RULE>", f"<{IJDP.derivationRule}>"))


@dataclass
class Quote:
    exact: str
    start: int
    end: int
    source: str

    @property
    def fragment(self) -> str:
        return f"{self.source}#char={self.start},{self.end}"  # RFC 5147 text fragment

    @property
    def source_name(self) -> str:
        """Which document the quote is from: its source's slug (…/source/<slug>.txt)."""
        return self.source.rsplit("/", 1)[-1].removesuffix(".txt")


@dataclass
class Curation:
    """Why the maintainers added a statement no source states: who, why, and the reference."""
    iri: str
    justification: str
    creator: str
    references: list


@dataclass
class Value:
    term: object
    label: str
    quotes: list = field(default_factory=list)
    derivation: str = ""
    derived_from: list = field(default_factory=list)   # quotes behind a derived statement
    curations: list = field(default_factory=list)
    premises: list = field(default_factory=list)       # (subject, predicate, object) labels a derivation read

    @property
    def is_iri(self) -> bool:
        return isinstance(self.term, URIRef)

    @property
    def datetime(self) -> str:
        """The literal's ISO text for an HTML <time>, for dates and months; empty otherwise."""
        dated = isinstance(self.term, Literal) and self.term.datatype in (XSD.date, XSD.gYearMonth, XSD.gYear, XSD.dateTime)
        return str(self.term) if dated else ""


@dataclass
class Group:
    predicate: URIRef
    label: str
    values: list


@dataclass
class ResourceView:
    iri: str
    label: str
    types: list
    description: str
    statements: list
    incoming: list
    links_out: list
    graph: Graph


def shown_literal(literal: Literal) -> str:
    """A literal as the source states it: July 2023 for 2023-07, 5 years for P5Y."""
    text = str(literal)
    if literal.datatype == XSD.gYearMonth and re.fullmatch(r"\d{4}-\d{2}", text):
        return f"{MONTHS[int(text[5:]) - 1]} {text[:4]}"
    if literal.datatype == XSD.date and re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return f"{int(text[8:])} {MONTHS[int(text[5:7]) - 1]} {text[:4]}"
    if literal.datatype == XSD.duration:
        match = re.fullmatch(r"P(\d+)Y", text)
        if match:
            years = int(match.group(1))
            return f"{years} year{'s' if years != 1 else ''} ({text})"
    return text


def label_of(graph: Graph, term) -> str:
    if isinstance(term, Literal):
        code_system = _label(graph, term.datatype) if term.datatype is not None and \
            not str(term.datatype).startswith(str(XSD)) else None
        # "ISO 3166-1 alpha-3 code: JPN", not a bare "JPN" beside two other bare codes
        return f"{code_system}: {shown_literal(term)}" if code_system else shown_literal(term)
    return _label(graph, term) or readable_name(str(term))


def _label(graph: Graph, term) -> str | None:
    for predicate in LABEL_PREDICATES:
        values = list(graph.objects(term, predicate))
        english = [v for v in values if getattr(v, "language", None) in ("en", None)]
        if english:
            return str(sorted(english)[0])
    return None


def readable_name(iri: str) -> str:
    """A name for an IRI nothing labels: its last non-empty segment, never the bare IRI."""
    segments = [part for part in re.split(r"[/#]", iri) if part and part not in ("http:", "https:")]
    if not segments:
        return iri
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", segments[-1]).replace("-", " ").replace("_", " ").lower()


PREPOSITIONS = frozenset({"about", "on", "of", "by", "in", "to", "for", "from", "with", "under", "during", "at",
                          "into", "between", "within"})


def inverse_phrase(label: str) -> str:
    """How the incoming side of a property reads: "about this", "based on this", "is party of"."""
    words = label.lower().split()
    verb_first = bool(words) and (words[0].endswith(("ed", "s")) and not words[0].endswith("ss"))
    if words and (words[-1] in PREPOSITIONS or verb_first):
        return f"{label} this"          # "based on this", "has top concept this", "supports facility type this"
    return f"is {label} of"             # "is party of", "is spatial coverage of"


def _quotes(graph: Graph, origin) -> list:
    found = []
    for target in graph.objects(origin, OA.hasTarget):
        source = graph.value(target, OA.hasSource)
        exact, start, end = None, None, None
        for selector in graph.objects(target, OA.hasSelector):
            exact = exact or graph.value(selector, OA.exact)
            start = start if start is not None else graph.value(selector, OA.start)
            end = end if end is not None else graph.value(selector, OA.end)
        if exact is not None and start is not None:
            found.append(Quote(str(exact), int(start), int(end), str(source)))
    return found


def _provenance(graph: Graph, subject, predicate, obj):
    """(quotes, derivation rule, quotes behind the derivation, curations) of one statement."""
    quotes, rule, behind, curations = [], "", [], {}
    for statement in graph.subjects(RDF.subject, subject):
        if (statement, RDF.predicate, predicate) not in graph or (statement, RDF.object, obj) not in graph:
            continue
        rule = str(graph.value(statement, IJDP.derivationRule) or "")
        for origin in graph.objects(statement, PROV.wasDerivedFrom):
            why = graph.value(origin, IJDP.justification)
            if why is not None:
                curations[origin] = Curation(str(origin), str(why), str(graph.value(origin, DCTERMS.creator) or ""),
                                             sorted(str(r) for r in graph.objects(origin, DCTERMS.references)))
            quotes.extend(_quotes(graph, origin))
            for deeper in graph.objects(origin, PROV.wasDerivedFrom):
                behind.extend(_quotes(graph, deeper))
    unique = lambda items: list({(q.source, q.start, q.end): q for q in items}.values())
    return unique(quotes), rule, sorted(unique(behind), key=lambda q: q.start), sorted(curations.values(), key=lambda c: c.iri)


def build_view(iri: str, graph: Graph) -> ResourceView | None:
    resource = URIRef(iri)
    if (resource, None, None) not in graph and (None, None, resource) not in graph:
        return None
    groups: dict = {}
    links_out = []
    for predicate, obj in graph.predicate_objects(resource):
        if predicate in LINK_PREDICATES:
            # The same thing elsewhere: listed once, in its own section, not again as a statement.
            if all(value.term != obj for value in links_out):
                links_out.append(Value(obj, str(obj)))
            continue
        quotes, rule, behind, curations = _provenance(graph, resource, predicate, obj)
        groups.setdefault(predicate, []).append(Value(obj, label_of(graph, obj), quotes, rule, behind, curations))
    statements = [Group(p, label_of(graph, p), sorted(values, key=lambda v: v.label.lower()))
                  for p, values in groups.items() if p != RDF.type]
    statements.sort(key=lambda g: (g.predicate not in LABEL_PREDICATES, g.label.lower()))
    incoming: dict = {}
    for subject, predicate in graph.subject_predicates(resource):
        # The provenance machinery (statements, annotations, mapping axioms) is shown as quotes beside
        # each fact and as the links section, not as nameless nodes that "link here".
        if predicate in (RDF.subject, RDF.object, OWL.annotatedSource, OWL.annotatedTarget) \
                or str(predicate).startswith((str(OA), str(PROV))):
            continue
        incoming.setdefault(predicate, []).append(Value(subject, label_of(graph, subject)))
    incoming_groups = sorted((Group(p, inverse_phrase(label_of(graph, p)), sorted(v, key=lambda x: x.label.lower()))
                              for p, v in incoming.items()), key=lambda g: g.label.lower())
    description = next((str(graph.value(resource, p)) for p in (DCTERMS.description, SKOS.definition, RDFS.comment)
                        if graph.value(resource, p) is not None), "")
    return ResourceView(
        iri=iri, label=label_of(graph, resource),
        types=sorted(groups.get(RDF.type, []), key=lambda v: v.label.lower()),
        description=description, statements=statements, incoming=incoming_groups,
        links_out=sorted(links_out, key=lambda v: str(v.term)), graph=graph)


# ------------------------------------------------------------------ an agreement's fact sheet

# What a reader asks of an agreement first, each a path of properties from the agreement to the value
# (names in the ontology's namespace, or full IRIs); a party's country is a path on from the party.
FACT_SHEET = (
    ("Parties", ("ijdp:party",)),
    ("Signed", ("ijdp:signing", str(DCTERMS.date))),
    ("In force from", ("ijdp:periodInForce", str(TIME.hasBeginning), str(TIME.inXSDgYearMonth))),
    ("In force until", ("ijdp:periodInForce", str(TIME.hasEnd), str(TIME.inXSDgYearMonth))),
    ("In force for", ("ijdp:periodInForce", str(TIME.hasXSDDuration))),
    ("Based on", ("ijdp:basedOn",)),
    ("Subject", (str(DCTERMS.subject),)),
)
PARTY_COUNTRY = ((str(DCTERMS.spatial),), (str(ORG.subOrganizationOf), str(DCTERMS.spatial)))
AGREEMENT_CLASSES = """
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
CONSTRUCT { ?class rdfs:subClassOf <AGREEMENT> } WHERE { ?class rdfs:subClassOf* <AGREEMENT> }"""

# The evidence of each step, one simple pattern a branch, each joined with the steps themselves: nested
# OPTIONALs cost 4.5 s on the MoC (the engine evaluates their inner patterns over the whole store), these 0.1 s.
STEP = "?st rdf:subject ?s ; rdf:predicate ?p ; rdf:object ?o"
ORIGIN = STEP + " ; prov:wasDerivedFrom ?origin"
EVIDENCE = (
    "?s ?p ?o", "?s skos:prefLabel ?sl", "?o skos:prefLabel ?ol", "?o rdfs:label ?orl", "?p rdfs:label ?pl",
    STEP + " ; <RULE> ?rule", ORIGIN,
    ORIGIN + " . ?origin ijdp:justification ?why ; dcterms:creator ?who",
    ORIGIN + " . ?origin ijdp:justification ?why ; dcterms:references ?reference",
    ORIGIN + " . ?origin oa:hasTarget ?t . ?t oa:hasSource ?src ; oa:hasSelector ?sel . ?sel oa:exact ?exact",
    ORIGIN + " . ?origin oa:hasTarget ?t . ?t oa:hasSource ?src ; oa:hasSelector ?sel . ?sel oa:start ?start ; oa:end ?end",
    # a derivation's premises: the statements it was computed from, and their quotes
    ORIGIN + " . ?origin rdf:subject ?ps ; rdf:predicate ?pp ; rdf:object ?po",
    ORIGIN + " . ?origin rdf:subject ?ps . ?ps skos:prefLabel ?psl",
    ORIGIN + " . ?origin rdf:predicate ?pp . ?pp rdfs:label ?ppl",
    ORIGIN + " . ?origin rdf:object ?po . ?po skos:prefLabel ?pol",
    ORIGIN + " . ?origin prov:wasDerivedFrom ?a2 . ?a2 oa:hasTarget ?t2 . ?t2 oa:hasSource ?src2 ; oa:hasSelector ?sel2 ."
             " ?sel2 oa:exact ?exact2",
    ORIGIN + " . ?origin prov:wasDerivedFrom ?a2 . ?a2 oa:hasTarget ?t2 . ?t2 oa:hasSource ?src2 ; oa:hasSelector ?sel2 ."
             " ?sel2 oa:start ?start2 ; oa:end ?end2",
)
FACT_SHEET_QUERY = PROLOGUE + """CONSTRUCT {
  ?s ?p ?o . ?s skos:prefLabel ?sl . ?o skos:prefLabel ?ol . ?o rdfs:label ?orl . ?p rdfs:label ?pl .
  ?st rdf:subject ?s ; rdf:predicate ?p ; rdf:object ?o ; prov:wasDerivedFrom ?origin ; <RULE> ?rule .
  ?origin oa:hasTarget ?t . ?t oa:hasSource ?src ; oa:hasSelector ?sel . ?sel oa:exact ?exact ; oa:start ?start ; oa:end ?end .
  ?origin ijdp:justification ?why ; dcterms:creator ?who ; dcterms:references ?reference .
  ?origin rdf:subject ?ps ; rdf:predicate ?pp ; rdf:object ?po . ?ps skos:prefLabel ?psl . ?pp rdfs:label ?ppl .
  ?po skos:prefLabel ?pol .
  ?origin prov:wasDerivedFrom ?a2 . ?a2 oa:hasTarget ?t2 . ?t2 oa:hasSource ?src2 ; oa:hasSelector ?sel2 .
  ?sel2 oa:exact ?exact2 ; oa:start ?start2 ; oa:end ?end2 .
}
WHERE {
  BRANCHES
}"""


@dataclass
class SheetValue:
    value: Value                                      # the value, with the evidence of every step that led to it
    via: list = field(default_factory=list)           # the things passed on the way (the signing, the period)
    countries: list = field(default_factory=list)     # a party's country, as SheetValues


@dataclass
class SheetRow:
    label: str
    values: list


def _expand(name: str, ontology_namespace: str) -> str:
    return ontology_namespace + name[len("ijdp:"):] if name.startswith("ijdp:") else name


def agreement_classes_query(ontology_namespace: str) -> str:
    return AGREEMENT_CLASSES.replace("AGREEMENT", ontology_namespace + "Agreement")


def fact_sheet_steps_query(iri: str, ontology_namespace: str) -> str:
    """A CONSTRUCT of every step of every fact sheet path from the agreement (its evidence comes next)."""
    chains = []
    for _, path in FACT_SHEET:
        tails = PARTY_COUNTRY if path == ("ijdp:party",) else ((),)
        for tail in tails:
            full = [_expand(name, ontology_namespace) for name in path + tail]
            chains.extend(tuple(full[:n]) for n in range(1, len(full) + 1) if tuple(full[:n]) not in chains)
    branches = []
    for chain in chains:
        hops = [f"<{iri}>"] + [f"?h{n}" for n in range(1, len(chain))] + ["?o"]
        walk = " . ".join(f"{hops[n]} <{p}> {hops[n + 1]}" for n, p in enumerate(chain))
        branches.append(f"{{ {walk} BIND({hops[-2]} AS ?s) BIND(<{chain[-1]}> AS ?p) }}")
    return "CONSTRUCT { ?s ?p ?o } WHERE {\n  " + "\n  UNION ".join(branches) + "\n}"


def fact_sheet_query(steps: Graph, ontology_namespace: str) -> str:
    """One CONSTRUCT: the steps, their labels and each step's evidence (quotes, curations, derivations)."""
    values = "VALUES (?s ?p ?o) { " + " ".join(f"({s.n3()} {p.n3()} {o.n3()})" for s, p, o in sorted(steps)) + " }"
    branches = "\n  UNION ".join(f"{{ {values} {pattern} }}" for pattern in EVIDENCE)
    return (FACT_SHEET_QUERY.replace("BRANCHES", branches).replace("<IJDP>", f"<{ontology_namespace}>")
            .replace("<RULE>", f"<{IJDP.derivationRule}>"))


def _premises(graph: Graph, subject, predicate, obj) -> list:
    """What a derived statement was computed from: (subject, predicate, object) as labels."""
    found = set()
    for statement in graph.subjects(RDF.subject, subject):
        if (statement, RDF.predicate, predicate) not in graph or (statement, RDF.object, obj) not in graph:
            continue
        for origin in graph.objects(statement, PROV.wasDerivedFrom):
            for s in graph.objects(origin, RDF.subject):
                for p in graph.objects(origin, RDF.predicate):
                    for o in graph.objects(origin, RDF.object):
                        found.add((label_of(graph, s), label_of(graph, p), label_of(graph, o)))
    return sorted(found)


def _follow(graph: Graph, start, path: tuple) -> list:
    """[(value, [(subject, predicate, object) of each step])] along a path of properties."""
    walks = [(start, [])]
    for predicate in path:
        predicate = URIRef(predicate)
        walks = [(o, steps + [(node, predicate, o)]) for node, steps in walks
                 for o in sorted(graph.objects(node, predicate), key=str)]
    return walks


def _sheet_value(graph: Graph, term, steps: list) -> SheetValue:
    """The value with the evidence of every step to it, each quote, curation and rule once."""
    quotes, rules, behind, curations, premises = {}, [], {}, {}, []
    for step in steps:
        found, rule, deeper, curated = _provenance(graph, *step)
        quotes.update(((q.source, q.start, q.end), q) for q in found)
        behind.update(((q.source, q.start, q.end), q) for q in deeper)
        curations.update((c.iri, c) for c in curated)
        if rule and rule not in rules:
            rules.append(rule)
            premises.extend(p for p in _premises(graph, *step) if p not in premises)
    value = Value(term, label_of(graph, term), list(quotes.values()), " ".join(rules),
                  sorted(behind.values(), key=lambda q: q.start), sorted(curations.values(), key=lambda c: c.iri),
                  premises)
    via = [Value(s, label_of(graph, s)) for s, _, _ in steps[1:]]
    return SheetValue(value, via)


def build_fact_sheet(iri: str, graph: Graph, ontology_namespace: str) -> list:
    """The fact sheet's rows that have a value: [SheetRow], values in the order of their labels."""
    rows = []
    for label, path in FACT_SHEET:
        values = []
        for term, steps in _follow(graph, URIRef(iri), tuple(_expand(n, ontology_namespace) for n in path)):
            value = _sheet_value(graph, term, steps)
            if path == ("ijdp:party",):
                seen = set()
                for tail in PARTY_COUNTRY:
                    for country, more in _follow(graph, term, tail):
                        if country not in seen:
                            seen.add(country)
                            value.countries.append(_sheet_value(graph, country, more))
            values.append(value)
        if values:
            rows.append(SheetRow(label, sorted(values, key=lambda v: v.value.label.lower())))
    return rows
