"""Browsing without SPARQL: everything by class with counts, and a ranked search over labels and quotes.

The index is built from two queries through the query pool and kept until
the store changes (its generation). Search ranks with BM25 over two fields,
labels weighted above the quotes of the source, highlights the matching
words, and counts the results by type (facets).
"""
from __future__ import annotations

import json
import math
import re
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from flask import Blueprint, current_app, render_template, request
from markupsafe import Markup, escape

from .querypool import Job

bp = Blueprint("browse", __name__)

WORD = re.compile(r"[^\W_]+", re.UNICODE)
LABEL_WEIGHT, QUOTE_WEIGHT = 3.0, 1.0
K1, B = 1.2, 0.75
RESULTS_SHOWN = 50

ENTITIES = """
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT ?s ?type ?typeLabel WHERE {
  ?s a ?type . FILTER(STRSTARTS(STR(?s), "BASEid/"))
  # the provenance machinery is shown beside each fact, not browsed as things of its own
  FILTER(?type NOT IN (<http://www.w3.org/1999/02/22-rdf-syntax-ns#Statement>, <http://www.w3.org/2002/07/owl#Axiom>)
         && !STRSTARTS(STR(?type), "http://www.w3.org/ns/oa#"))
  OPTIONAL { ?type rdfs:label ?typeLabel FILTER(LANG(?typeLabel) IN ("en", "")) }
}"""
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

    def type_name(self, type_iri: str) -> str:
        return self.type_labels.get(type_iri) or short_name(type_iri)

    def type_names(self, entity: Entity) -> str:
        return ", ".join(sorted(self.type_name(t) for t in entity.types))

    def classes(self) -> list:
        """(type IRI, label, count) for every class, most populated first."""
        counts = Counter(t for e in self.entities.values() for t in e.types)
        return sorted(((t, self.type_name(t), n) for t, n in counts.items()), key=lambda row: (-row[2], row[1].lower()))

    def of_type(self, type_iri: str) -> list:
        return sorted((e for e in self.entities.values() if type_iri in e.types), key=lambda e: e.label.lower())

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
        results = []
        for score, entity in scored[:RESULTS_SHOWN]:
            quote = next((q for q in entity.quotes if set(words(q)) & set(terms)), None)
            results.append((round(score, 2), entity, highlight(entity.label, terms),
                            highlight(excerpt(quote, terms), terms) if quote else None))
        return results, facet_rows


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


def _select(query: str) -> list:
    pool = current_app.extensions["ijdp_pool"]
    job = Job(query=query, results_format="application/sparql-results+json", graph_format=None, max_rows=1_000_000)
    outcome = pool.run(job, timeout=current_app.config["IJDP_SETTINGS"].query_timeout)
    if outcome.kind != "ok":
        raise RuntimeError(outcome.message or outcome.kind)
    return [{k: v["value"] for k, v in row.items()} for row in json.loads(outcome.body)["results"]["bindings"]]


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
                                                         _select(TEXTS.replace("BASE", base))), stamp
        return cache["index"]


def build_index(entity_rows: list, text_rows: list) -> Index:
    entities: dict = {}
    type_labels: dict = {}
    for row in entity_rows:
        entity = entities.setdefault(row["s"], Entity(row["s"]))
        entity.types.add(row["type"])
        if row.get("typeLabel"):
            type_labels[row["type"]] = row["typeLabel"]
    # Two vocabularies' classes with one label (void:Dataset, dcat:Dataset): name their vocabulary too.
    by_label = defaultdict(list)
    for type_iri in {t for e in entities.values() for t in e.types}:
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
    return Index(entities, type_labels, frequency, sum(lengths) / max(1, len(lengths)))


@bp.get("/browse")
def browse():
    from .pages import local_href

    found = index()
    wanted_type = request.args.get("type", "")[:500]
    text = request.args.get("q", "")[:500]
    results, facets = found.search(text, wanted_type or None) if text.strip() else ([], [])
    members = found.of_type(wanted_type) if wanted_type and not text.strip() else []
    return render_template("browse.html", classes=found.classes(), total=len(found.entities), q=text,
                           type_iri=wanted_type, type_label=found.type_name(wanted_type) if wanted_type else "",
                           results=results, facets=facets, members=members, href=local_href,
                           searched=bool(text.strip()), type_names=found.type_names)
