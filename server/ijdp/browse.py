"""Browsing without SPARQL: everything by class with counts, each class a table, and a ranked search.

The index is built from three queries through the query pool and kept until
the store changes (its generation). A class counts the members of its
subclasses too (the ontology's rdfs:subClassOf); the classes of the domain
come first, those of the dataset's own description last. Search ranks with
BM25 over two fields, labels weighted above the quotes of the source,
highlights the matching words, and counts the results by type (facets).
"""
from __future__ import annotations

import json
import math
import re
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from urllib.parse import quote, urlencode

from flask import Blueprint, Response, abort, current_app, redirect, render_template, request
from markupsafe import Markup, escape

from .formats import ResultsFormat
from .negotiation import UnknownFormat, negotiate
from .problems import problem
from .querypool import Job

bp = Blueprint("browse", __name__)

WORD = re.compile(r"[^\W_]+", re.UNICODE)
LABEL_WEIGHT, QUOTE_WEIGHT = 3.0, 1.0
K1, B = 1.2, 0.75
RESULTS_SHOWN = 50

ENTITIES = """
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT ?s ?type ?typeLabel ?g WHERE {
  GRAPH ?g { ?s a ?type } FILTER(STRSTARTS(STR(?s), "BASEid/"))
  # the provenance machinery is shown beside each fact, not browsed as things of its own
  FILTER(?type NOT IN (<http://www.w3.org/1999/02/22-rdf-syntax-ns#Statement>, <http://www.w3.org/2002/07/owl#Axiom>)
         && !STRSTARTS(STR(?type), "http://www.w3.org/ns/oa#"))
  OPTIONAL { ?type rdfs:label ?typeLabel FILTER(LANG(?typeLabel) IN ("en", "")) }
}"""
SUPERCLASSES = """
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT DISTINCT ?class ?super ?superLabel WHERE {
  ?class rdfs:subClassOf+ ?super FILTER(isIRI(?class) && isIRI(?super))
  OPTIONAL { ?super rdfs:label ?superLabel FILTER(LANG(?superLabel) IN ("en", "")) }
}"""
# The vocabularies of the publication's own description (VoID, DCAT, PROV, SHACL, OWL, …): their classes are
# listed last. Other classes count as the domain's when a member's type is stated in a graph of knowledge.
DESCRIPTION_VOCABULARIES = (
    "http://rdfs.org/ns/void#", "http://www.w3.org/ns/dcat#", "http://www.w3.org/ns/prov#",
    "http://www.w3.org/ns/shacl#", "http://www.w3.org/2002/07/owl#", "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "http://www.w3.org/2000/01/rdf-schema#", "http://purl.org/dc/terms/", "http://www.w3.org/2006/vcard/ns#",
    "http://spdx.org/rdf/terms#", "http://www.w3.org/ns/oa#", "https://w3id.org/sssom/")
KNOWLEDGE_GRAPHS = ("facts", "curated", "derived")
TEXTS = """
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX dcterms: <http://purl.org/dc/terms/>
PREFIX foaf: <http://xmlns.com/foaf/0.1/>
PREFIX prov: <http://www.w3.org/ns/prov#>
PREFIX oa: <http://www.w3.org/ns/oa#>
PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#>
SELECT ?s ?text ?field WHERE {
  { ?s skos:prefLabel|rdfs:label|dcterms:title|foaf:name ?text BIND("label" AS ?field) }
  UNION
  { ?s skos:altLabel ?text BIND("alternative" AS ?field) }
  UNION
  { ?statement rdf:subject ?s ; prov:wasDerivedFrom ?annotation .
    ?annotation oa:hasTarget/oa:hasSelector/oa:exact ?text BIND("quote" AS ?field) }
  FILTER(STRSTARTS(STR(?s), "BASEid/"))
}"""


@dataclass
class Entity:
    iri: str
    label: str = ""
    types: set = field(default_factory=set)
    known_as: set = field(default_factory=set)       # the types stated in a graph of knowledge
    labels: list = field(default_factory=list)
    quotes: list = field(default_factory=list)
    # (weight, word counts, word total) per field, counted once when the index is built
    fields: list = field(default_factory=list)


@dataclass
class Index:
    entities: dict
    type_labels: dict
    document_frequency: Counter
    average_length: float
    supers: dict = field(default_factory=dict)        # class -> its superclasses
    slugs: dict = field(default_factory=dict)         # class -> its table's name in /browse/<name>

    def type_name(self, type_iri: str) -> str:
        return self.type_labels.get(type_iri) or short_name(type_iri)

    def type_names(self, entity: Entity) -> str:
        return ", ".join(sorted(self.type_name(t) for t in entity.types))

    def classes_of(self, types) -> set:
        return set(types).union(*(self.supers.get(t, ()) for t in types))

    def subclasses(self, class_iri: str) -> list:
        """The class and every class under it that has members."""
        return sorted(t for t in {t for e in self.entities.values() for t in e.types}
                      if t == class_iri or class_iri in self.supers.get(t, ()))

    def classes(self) -> list:
        """(type IRI, label, count, slug) for every class, most populated first."""
        counts = Counter(t for e in self.entities.values() for t in self.classes_of(e.types))
        return sorted(((t, self.type_name(t), n, self.slugs[t]) for t, n in counts.items()),
                      key=lambda row: (-row[2], row[1].lower()))

    def grouped(self) -> tuple[list, list]:
        """(the domain's classes, the dataset description's classes), each most populated first."""
        known = Counter(t for e in self.entities.values() for t in self.classes_of(e.known_as))
        domain, description = [], []
        for row in self.classes():
            mine = known[row[0]] and not row[0].startswith(DESCRIPTION_VOCABULARIES)
            (domain if mine else description).append(row)
        return domain, description

    def class_of_slug(self, slug: str) -> str | None:
        return next((t for t, s in self.slugs.items() if s == slug), None)

    def search(self, text: str, type_iri: str | None = None) -> tuple[list, list]:
        """(ranked [(score, entity, highlighted label, highlighted quote or None)], facets [(type, label, count)])."""
        terms = list(dict.fromkeys(t for t in words(text) if t in self.document_frequency))
        if not terms:
            return [], []
        total = len(self.entities)
        scored = []
        for entity in self.entities.values():
            score = 0.0
            for weight, frequencies, length in entity.fields:
                norm = K1 * (1 - B + B * length / self.average_length)
                for term in terms:
                    f = frequencies.get(term, 0)
                    if f:
                        idf = math.log(1 + (total - self.document_frequency[term] + 0.5) / (self.document_frequency[term] + 0.5))
                        score += weight * idf * f * (K1 + 1) / (f + norm)
            if score > 0:
                scored.append((score, entity))
        facets = Counter(t for _, e in scored for t in e.types)
        facet_rows = sorted(((t, self.type_name(t), n) for t, n in facets.items()),
                            key=lambda row: (-row[2], row[1].lower()))
        if type_iri:
            scored = [(s, e) for s, e in scored if type_iri in e.types]
        scored.sort(key=lambda item: (-item[0], item[1].label.lower()))
        results, shown = [], {}
        for score, entity in scored[:RESULTS_SHOWN]:
            matching = [q for q in entity.quotes if set(words(q)) & set(terms)]
            # A quote an earlier hit shows already is preferred: each quote once, its hits together.
            quote = next((q for q in matching if q in shown), matching[0] if matching else None)
            if quote is not None and quote not in shown:
                shown[quote] = highlight(excerpt(quote, terms), terms)
            results.append((round(score, 2), entity, highlight(entity.label, terms), shown.get(quote)))
        return results, facet_rows


def by_quote(results: list) -> list:
    """[(highlighted quote or None, [hits])] in the order of each group's best hit: a quote shown once,
    the hits that share it under it; a hit with no matching quote on its own."""
    groups, where = [], {}
    for hit in results:
        quote = hit[3]
        if quote is None:
            groups.append((None, [hit]))
        elif str(quote) in where:
            where[str(quote)][1].append(hit)
        else:
            where[str(quote)] = (quote, [hit])
            groups.append(where[str(quote)])
    return groups


def words(text: str) -> list:
    return [w.lower() for w in WORD.findall(text or "")]


def short_name(iri: str) -> str:
    return re.split(r"[/#]", iri.rstrip("/#"))[-1]


def highlight(text: str, terms) -> Markup:
    """The text, escaped, with every matching word in <mark>."""
    wanted = set(terms)
    out, last = [], 0
    for match in WORD.finditer(text):
        if match.group(0).lower() in wanted:
            out.append(escape(text[last:match.start()]))
            out.append(Markup("<mark>") + escape(match.group(0)) + Markup("</mark>"))
            last = match.end()
    out.append(escape(text[last:]))
    return Markup("").join(out)


def excerpt(quote: str, terms, width: int = 220) -> str:
    """The part of a long quote around its first matching word."""
    if len(quote) <= width:
        return quote
    positions = [m.start() for m in WORD.finditer(quote) if m.group(0).lower() in set(terms)]
    start = max(0, (positions[0] if positions else 0) - width // 3)
    return ("…" if start else "") + quote[start:start + width] + ("…" if start + width < len(quote) else "")


def _bindings(query: str) -> list:
    """A SELECT's rows as SPARQL JSON bindings ({"type", "value", "datatype"…} per variable)."""
    pool = current_app.extensions["ijdp_pool"]
    job = Job(query=query, results_format="application/sparql-results+json", graph_format=None, max_rows=1_000_000)
    outcome = pool.run(job, timeout=current_app.config["IJDP_SETTINGS"].query_timeout)
    if outcome.kind != "ok":
        raise RuntimeError(outcome.message or outcome.kind)
    return json.loads(outcome.body)["results"]["bindings"]


def _select(query: str) -> list:
    return [{k: v["value"] for k, v in row.items()} for row in _bindings(query)]


_lock = threading.Lock()


def index() -> Index:
    """The index of the current store generation (built on first use after a change)."""
    pool = current_app.extensions["ijdp_pool"]
    stamp = pool.generation_stamp()
    cache = current_app.extensions.setdefault("ijdp_browse_index", {})
    with _lock:
        if cache.get("stamp") != stamp or "index" not in cache:
            base = current_app.config["IJDP_SETTINGS"].base_iri
            cache["index"], cache["stamp"] = build_index(_select(ENTITIES.replace("BASE", base)),
                                                         _select(TEXTS.replace("BASE", base)),
                                                         _select(SUPERCLASSES), base), stamp
        return cache["index"]


def build_index(entity_rows: list, text_rows: list, superclass_rows: list = (), base: str = "") -> Index:
    entities: dict = {}
    type_labels: dict = {}
    knowledge = {f"{base}graph/{name}" for name in KNOWLEDGE_GRAPHS}
    for row in entity_rows:
        entity = entities.setdefault(row["s"], Entity(row["s"]))
        entity.types.add(row["type"])
        if row.get("g") in knowledge:
            entity.known_as.add(row["type"])
        if row.get("typeLabel"):
            type_labels[row["type"]] = row["typeLabel"]
    supers: dict = defaultdict(set)
    for row in superclass_rows:
        supers[row["class"]].add(row["super"])
        if row.get("superLabel"):
            type_labels.setdefault(row["super"], row["superLabel"])
    classes = {t for e in entities.values() for t in e.types}
    classes |= {s for t in classes for s in supers.get(t, ())}
    # Two vocabularies' classes with one label (void:Dataset, dcat:Dataset): name their vocabulary too.
    by_label = defaultdict(list)
    for type_iri in classes:
        by_label[(type_labels.get(type_iri) or short_name(type_iri)).lower()].append(type_iri)
    for same in by_label.values():
        if len(same) > 1:
            for type_iri in same:
                vocabulary = [part for part in re.split(r"[/#]", type_iri) if part][-2]
                type_labels[type_iri] = f"{type_labels.get(type_iri) or short_name(type_iri)} ({vocabulary})"
    for row in text_rows:
        entity = entities.get(row["s"])
        if entity is None:
            continue
        bucket = entity.quotes if row["field"] == "quote" else entity.labels
        if row["text"] not in bucket:
            bucket.append(row["text"])
        if row["field"] == "label" and (not entity.label or len(row["text"]) < len(entity.label)):
            entity.label = row["text"]     # the shortest preferred name; alternatives are searched, not shown
    frequency: Counter = Counter()
    lengths = []
    for entity in entities.values():
        entity.label = entity.label or (entity.labels[0] if entity.labels else short_name(entity.iri))
        for weight, texts in ((LABEL_WEIGHT, entity.labels), (QUOTE_WEIGHT, entity.quotes)):
            counted = Counter(w for t in texts for w in words(t))
            if counted:
                entity.fields.append((weight, counted, sum(counted.values())))
        tokens = [w for t in entity.labels + entity.quotes for w in words(t)]
        frequency.update(set(tokens))
        lengths.append(len(tokens) or 1)
    return Index(entities, type_labels, frequency, sum(lengths) / max(1, len(lengths)), dict(supers),
                 {t: prefixed_name(t, base) for t in classes})


def prefixed_name(iri: str, base: str) -> str:
    """A class's or property's short name: its prefixed name (org:Organization), or the IRI itself."""
    from .iris import rebase_text
    from .vocab import PREFIXES

    for prefix, namespace in sorted(PREFIXES.items(), key=lambda item: -len(item[1])):
        namespace = rebase_text(namespace, base) if base else namespace
        local = iri[len(namespace):]
        if iri.startswith(namespace) and re.fullmatch(r"[A-Za-z_][\w.-]*", local) and not local.endswith("."):
            return f"{prefix}:{local}"
    return iri


@bp.get("/browse")
def browse():
    from .pages import local_href

    found = index()
    wanted_type = request.args.get("type", "")[:500]
    text = request.args.get("q", "")[:500]
    if wanted_type and not text.strip():
        # The class listing's old address: its table now.
        if wanted_type not in found.slugs:
            abort(404, description=f"No class <{wanted_type}> has members here; the classes are listed at /browse.")
        return redirect(table_path(found.slugs[wanted_type]), code=301)
    results, facets = found.search(text, wanted_type or None) if text.strip() else ([], [])
    domain, description = found.grouped()
    return render_template("browse.html", domain=domain, description=description, total=len(found.entities),
                           q=text, type_iri=wanted_type, type_label=found.type_name(wanted_type) if wanted_type else "",
                           results=results, groups=by_quote(results), facets=facets, href=local_href,
                           searched=bool(text.strip()), type_names=found.type_names, table_path=table_path)


@bp.get("/search")
def search():
    """The search's short address: the browse page's search."""
    return redirect("/browse?" + urlencode({"q": request.args.get("q", "")[:500]}), code=301)


def table_path(slug: str) -> str:
    return "/browse/" + quote(slug, safe=":")


TABLE_FORMATS = (ResultsFormat("html", "text/html", "html", "HTML", ("application/xhtml+xml",)),
                 ResultsFormat("csv", "text/csv", "csv", "CSV"),
                 ResultsFormat("json", "application/json", "json", "JSON"))


@bp.get("/browse/<path:name>")
def table(name: str):
    """A class's members as a table: /browse/<class>, its CSV (.csv, ?_format=csv) and JSON (.json, ?_format=json)."""
    from .pages import local_href
    from .tables import BadTable, build_table

    found = index()
    fixed = None
    for fmt in TABLE_FORMATS[1:]:
        if name.endswith("." + fmt.extension) and found.class_of_slug(name[:-len(fmt.extension) - 1]):
            name, fixed = name[:-len(fmt.extension) - 1], fmt
    class_iri = found.class_of_slug(name)
    if class_iri is None:
        abort(404, description=f"There is no class {name!r} to browse; the classes are listed at /browse.")
    try:
        fmt = fixed or negotiate(request.accept_mimetypes, TABLE_FORMATS, request.args.get("_format"))
    except UnknownFormat:
        fmt = None
    if fmt is None:
        return problem(406, "This table is available as " + ", ".join(f.media_type for f in TABLE_FORMATS) + ".",
                       "not-acceptable", available=[f.media_type for f in TABLE_FORMATS])
    settings = current_app.config["IJDP_SETTINGS"]
    members = next(n for t, _, n, _ in found.classes() if t == class_iri)
    try:
        shown = build_table(_bindings, class_iri, found.type_name(class_iri), found.subclasses(class_iri), members,
                            settings.base_iri, table_path(name), request.args,
                            lambda iri: prefixed_name(iri, settings.base_iri), local_href)
    except BadTable as err:
        abort(400, description=str(err))
    headers = {}
    if shown.page < shown.pages:
        headers["Link"] = f'<{shown.link(page=shown.page + 1, suffix="." + fmt.extension if fmt.name != "html" else "")}>; rel="next"'
    if fmt.name == "csv":
        return Response(shown.as_csv(), content_type="text/csv; charset=utf-8", headers=headers)
    if fmt.name == "json":
        return Response(shown.as_json(), content_type="application/json", headers=headers)
    return Response(render_template("browse_table.html", table=shown, href=local_href), headers=headers,
                    content_type="text/html; charset=utf-8")
