"""ijdp link: propose links from our entities to another dataset's, for review.

Streams the other dataset (any RDF format, or CSV with an id and a name column),
compares every label with ours after normalising case, punctuation, diacritics,
'X Ministry' / 'Ministry for X' word order and acronyms, keeps type-compatible
pairs, scores them and writes the candidates as an SSSOM table, best first,
with the evidence for each score. Nothing is published: a person reviews.
"""
from __future__ import annotations

import csv
import gzip
import io
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph

from .errors import IjdpError

RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
SKOS = "http://www.w3.org/2004/02/skos/core#"
WD_INSTANCE_OF = "http://www.wikidata.org/prop/direct/P31"
GN = "http://www.geonames.org/ontology#"
LABEL_PREDICATES = {
    "http://www.w3.org/2000/01/rdf-schema#label", SKOS + "prefLabel", SKOS + "altLabel",
    "https://schema.org/name", "http://schema.org/name", "https://schema.org/alternateName",
    "http://schema.org/alternateName", "http://xmlns.com/foaf/0.1/name", GN + "name", GN + "officialName",
    GN + "alternateName", "http://purl.org/dc/terms/title",
}
TYPE_PREDICATES = {RDF_TYPE, WD_INSTANCE_OF, GN + "featureCode"}

# What kind of thing a type IRI denotes, for type compatibility.
KINDS = {
    "country": {"https://schema.org/Country", "http://schema.org/Country", "http://www.wikidata.org/entity/Q6256",
                "http://www.wikidata.org/entity/Q3624078", GN + "A.PCLI", "http://dbpedia.org/ontology/Country"},
    "organisation": {"http://www.w3.org/ns/org#Organization", "http://data.europa.eu/m8g/PublicOrganisation",
                     "https://schema.org/Organization", "https://schema.org/GovernmentOrganization",
                     "http://schema.org/GovernmentOrganization", "http://schema.org/Organization",
                     "http://www.wikidata.org/entity/Q43229", "http://www.wikidata.org/entity/Q192350",
                     "http://www.wikidata.org/entity/Q327333", "http://www.wikidata.org/entity/Q2659904",
                     "http://www.wikidata.org/entity/Q7188", "http://www.wikidata.org/entity/Q640506",
                     "https://w3id.org/ijdp/ontology#Ministry", "https://w3id.org/ijdp/ontology#Government",
                     "https://w3id.org/ijdp/ontology#Cabinet", "https://w3id.org/ijdp/ontology#Mission",
                     "http://dbpedia.org/ontology/Organisation", "http://dbpedia.org/ontology/GovernmentAgency"},
    "person": {"http://xmlns.com/foaf/0.1/Person", "https://schema.org/Person", "http://schema.org/Person",
               "http://www.wikidata.org/entity/Q5", "http://dbpedia.org/ontology/Person"},
    "office": {"http://www.w3.org/ns/org#Post", "https://w3id.org/ijdp/ontology#Office",
               "http://www.wikidata.org/entity/Q4164871", "http://www.wikidata.org/entity/Q294414"},
    "agreement": {"https://w3id.org/ijdp/ontology#Agreement", "https://w3id.org/ijdp/ontology#MemorandumOfCooperation",
                  "http://www.wikidata.org/entity/Q131569", "http://dbpedia.org/ontology/Treaty"},
    "partnership": {"https://w3id.org/ijdp/ontology#Partnership"},
    "programme": {"https://w3id.org/ijdp/ontology#Programme"},
    "place": {GN + "P.PPL", GN + "P.PPLA", GN + "P.PPLC", GN + "P.PPLX", GN + "A.ADM1", GN + "A.ADM2",
              "https://schema.org/Place", "http://schema.org/Place", "http://www.wikidata.org/entity/Q486972",
              "http://www.wikidata.org/entity/Q515"},
    "concept": {SKOS + "Concept", "https://w3id.org/ijdp/ontology#FacilityType",
                "https://w3id.org/ijdp/ontology#CooperationMode"},
}
KIND_OF = {iri: kind for kind, iris in KINDS.items() for iri in iris}
STOPWORDS = {"of", "and", "the", "for", "in", "on", "a", "an", "to"}
LARGE_INPUT = 5_000_000  # bytes above which a progress bar is shown


def normalise(label: str) -> str:
    text = unicodedata.normalize("NFKD", label)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower().replace("&", " and ")
    tokens = re.sub(r"[^\w\s]", " ", text).split()
    if tokens[:1] == ["the"]:
        tokens = tokens[1:]
    if len(tokens) > 1 and tokens[-1] == "ministry":          # "Economy, Trade and Industry Ministry"
        tokens = ["ministry", "of"] + tokens[:-1]
    if tokens[:2] in (["ministry", "for"], ["ministry", "on"]):
        tokens[1] = "of"
    return " ".join(tokens)


def content_tokens(normalised: str) -> frozenset:
    return frozenset(t for t in normalised.split() if t not in STOPWORDS)


def initials(normalised: str) -> str:
    return "".join(t[0] for t in normalised.split() if t not in STOPWORDS)


@dataclass
class Ours:
    iri: str
    label: str
    kinds: set
    names: dict = field(default_factory=dict)      # normalised label -> "prefLabel" | "altLabel"
    acronyms: set = field(default_factory=set)     # normalised acronyms (altLabels without spaces, short)


@dataclass
class Candidate:
    ours: Ours
    target: str
    target_label: str
    score: float
    evidence: str
    kind_note: str = ""


def our_entities(graph) -> list[Ours]:
    """Our resources with labels, from the facts (and derived types) of the publication."""
    from rdflib import RDF, SKOS as SKOSNS, URIRef

    found = {}
    for subject, label in list(graph.subject_objects(SKOSNS.prefLabel)) + list(graph.subject_objects(SKOSNS.altLabel)):
        if not isinstance(subject, URIRef) or "/id/" not in str(subject):
            continue
        entity = found.setdefault(str(subject), Ours(str(subject), str(graph.value(subject, SKOSNS.prefLabel) or label),
                                                    {KIND_OF[str(t)] for t in graph.objects(subject, RDF.type) if str(t) in KIND_OF}))
        key = normalise(str(label))
        kind = "prefLabel" if (subject, SKOSNS.prefLabel, label) in graph else "altLabel"
        entity.names.setdefault(key, kind)
        if kind == "altLabel" and " " not in key and len(key) <= 6:
            entity.acronyms.add(key)
    return [e for e in found.values() if e.kinds]


def score_label(ours: Ours, label: str) -> tuple[float, str]:
    key = normalise(label)
    if not key:
        return 0.0, ""
    if key in ours.names:
        if ours.names[key] == "prefLabel":
            return 1.0, f"normalised label equals our preferred label ({key!r})"
        if key in ours.acronyms:
            return 0.85, f"label equals our acronym {key.upper()!r}"
        return 0.95, f"normalised label equals our alternative label ({key!r})"
    target_initials = initials(key)
    if len(target_initials) >= 3 and target_initials in ours.acronyms:
        return 0.8, f"initials of {key!r} spell our acronym {target_initials.upper()!r}"
    best, why = 0.0, ""
    tokens = content_tokens(key)
    for name in ours.names:
        mine = content_tokens(name)
        if not mine or not tokens:
            continue
        jaccard = len(mine & tokens) / len(mine | tokens)
        if jaccard * 0.9 > best:
            best, why = jaccard * 0.9, f"shared words {sorted(mine & tokens)} of {sorted(mine | tokens)} (Jaccard {jaccard:.2f})"
    return best, why


class _Counting(io.RawIOBase):
    """A file wrapper that reports the bytes read, for the progress bar."""

    def __init__(self, raw, progress):
        self.raw, self.progress = raw, progress

    def readable(self):
        return True

    def readinto(self, buffer):
        data = self.raw.read(len(buffer))
        buffer[:len(data)] = data
        if self.progress is not None:
            self.progress.update(len(data))
        return len(data)


def _open(path: Path, progress):
    raw = gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")
    return io.BufferedReader(_Counting(raw, progress))


def _rdf_format(path: Path, given: str | None):
    from .formats import rdf_format, rdf_format_for_path
    try:
        return (rdf_format(given) if given else rdf_format_for_path(path)).oxigraph
    except KeyError:
        raise IjdpError(f"{path}: unknown RDF format; give --target-format") from None


def _labels_and_types(path: Path, fmt: str | None, progress, wanted_types=None):
    """Stream (subject, label) and, in a second pass, (subject, type) pairs."""
    if (fmt or path.suffix.lstrip(".")) == "csv" or path.name.endswith((".csv", ".csv.gz")):
        with _open(path, progress) as handle:
            reader = csv.DictReader(io.TextIOWrapper(handle, encoding="utf-8", newline=""))
            columns = {c.lower(): c for c in (reader.fieldnames or [])}
            id_column = columns.get("id") or columns.get("iri") or columns.get("uri")
            name_column = columns.get("name") or columns.get("label")
            if not id_column or not name_column:
                raise IjdpError(f"{path}: a CSV target needs an id column and a name column (found {reader.fieldnames})")
            type_column = columns.get("type")
            for row in reader:
                if wanted_types is None:
                    yield "label", row[id_column], row[name_column]
                elif type_column and row[id_column] in wanted_types and row.get(type_column):
                    yield "type", row[id_column], row[type_column]
        return
    oxformat = _rdf_format(path, fmt)
    try:
        with _open(path, progress) as handle:
            for quad in pyoxigraph.parse(handle, format=oxformat, base_iri=path.resolve().as_uri()):
                predicate = quad.predicate.value
                subject = quad.subject.value if isinstance(quad.subject, pyoxigraph.NamedNode) else None
                if subject is None:
                    continue
                if wanted_types is None and predicate in LABEL_PREDICATES and isinstance(quad.object, pyoxigraph.Literal):
                    if quad.object.language in (None, "", "en") or quad.object.language.startswith("en-"):
                        yield "label", subject, quad.object.value
                elif wanted_types is not None and predicate in TYPE_PREDICATES and subject in wanted_types:
                    yield "type", subject, getattr(quad.object, "value", str(quad.object))
    except SyntaxError as err:
        from .rdfio import syntax_error
        raise syntax_error(path, err) from None


def find_candidates(ours: list[Ours], target: Path, fmt: str | None = None, min_score: float = 0.7,
                    show_progress: bool = False) -> list[Candidate]:
    import click

    size = target.stat().st_size
    bar = show_progress and size > LARGE_INPUT
    best: dict = {}
    with click.progressbar(length=size, label="matching labels", file=None) if bar else _Null() as progress:
        for _, subject, label in _labels_and_types(target, fmt, progress if bar else None):
            for entity in ours:
                score, why = score_label(entity, label)
                # type compatibility can only lower a score: skip what cannot reach the threshold
                if score < min_score * 0.85 or not why:
                    continue
                key = (entity.iri, subject)
                if key not in best or score > best[key].score:
                    best[key] = Candidate(entity, subject, label, score, why)
    subjects = {c.target for c in best.values()}
    types: dict = {}
    with click.progressbar(length=size, label="reading types  ", file=None) if bar else _Null() as progress:
        for _, subject, type_iri in _labels_and_types(target, fmt, progress if bar else None, wanted_types=subjects):
            types.setdefault(subject, set()).add(type_iri)
    kept = []
    for candidate in best.values():
        kinds = {KIND_OF[t] for t in types.get(candidate.target, ()) if t in KIND_OF}
        if kinds and not kinds & candidate.ours.kinds:
            continue  # a ministry is not a town
        if kinds:
            candidate.kind_note = f"types agree ({', '.join(sorted(kinds & candidate.ours.kinds))})"
        else:
            candidate.score *= 0.85
            candidate.kind_note = "target type unknown (score x0.85)"
        if candidate.score >= min_score:
            kept.append(candidate)
    kept.sort(key=lambda c: (-c.score, c.ours.iri, c.target))
    return kept


class _Null:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def candidates_table(candidates: list[Candidate], target: Path) -> str:
    from .links import write_sssom

    metadata = {
        "curie_map": {"ijdp": "https://w3id.org/ijdp/id/", "owl": "http://www.w3.org/2002/07/owl#",
                      "skos": "http://www.w3.org/2004/02/skos/core#", "semapv": "https://w3id.org/semapv/vocab/"},
        "mapping_set_id": "https://w3id.org/ijdp/mappings/candidates",
        "mapping_set_description": f"Candidate links from ijdp to {target.name}, for review. Not published.",
        "license": "https://creativecommons.org/licenses/by/4.0/",
    }
    rows = []
    for c in candidates:
        predicate = "skos:exactMatch" if "concept" in c.ours.kinds else "owl:sameAs"
        subject = "ijdp:" + c.ours.iri.split("/id/", 1)[1] if "/id/" in c.ours.iri else c.ours.iri
        rows.append({"subject_id": subject, "subject_label": c.ours.label, "predicate_id": predicate,
                     "object_id": c.target, "object_label": c.target_label,
                     "mapping_justification": "semapv:LexicalMatching", "confidence": f"{c.score:.3f}",
                     "comment": f"{c.evidence}; {c.kind_note}"})
    columns = ["subject_id", "subject_label", "predicate_id", "object_id", "object_label",
               "mapping_justification", "confidence", "comment"]
    return write_sssom(metadata, rows, columns=columns)
