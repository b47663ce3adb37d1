"""ijdp link: propose links from our entities to another dataset's, for review.

Streams the other dataset (any RDF format, or CSV or TSV with an id and a name column),
compares every label with ours after normalising case, punctuation, diacritics,
'X Ministry' / 'Ministry for X' word order and acronyms, keeps type-compatible
pairs, scores them and writes the candidates as an SSSOM table, best first,
with the evidence for each score. Nothing is published: a person reviews.
Every read is bounded (rdfio.check_xml for RDF/XML, a line limit for tables, a ratio for .gz) and ends,
when a bound is hit, in one line naming the file and the limit.
"""
from __future__ import annotations

import csv
import gzip
import io
import re
import unicodedata
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph

from .errors import IjdpError

RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
SKOS = "http://www.w3.org/2004/02/skos/core#"
OWL = "http://www.w3.org/2002/07/owl#"
DCT = "http://purl.org/dc/terms/"
AT = "http://publications.europa.eu/ontology/authority/"
EU = "http://publications.europa.eu/resource/authority/"
WD = "http://www.wikidata.org/entity/"
WDT = "http://www.wikidata.org/prop/direct/"
WD_INSTANCE_OF = WDT + "P31"
GN = "http://www.geonames.org/ontology#"
LABEL_PREDICATES = {
    "http://www.w3.org/2000/01/rdf-schema#label", SKOS + "prefLabel", SKOS + "altLabel",
    "https://schema.org/name", "http://schema.org/name", "https://schema.org/alternateName",
    "http://schema.org/alternateName", "http://xmlns.com/foaf/0.1/name", GN + "name", GN + "officialName",
    GN + "alternateName", DCT + "title",
}
HIDDEN_LABEL = SKOS + "hiddenLabel"
TYPE_PREDICATES = {RDF_TYPE, WD_INSTANCE_OF, GN + "featureCode"}
IN_SCHEME = SKOS + "inScheme"
DEPRECATED = {AT + "deprecated", OWL + "deprecated"}
REPLACED_BY = DCT + "isReplacedBy"
# Identifiers that both sides may carry, by the predicate (or CSV column) that carries them. "code" is a
# table's own code (the EU tables' authority code is ISO 3166-1 alpha-3 for countries that have one).
IDENTIFIER_PREDICATES = {
    "http://purl.org/dc/elements/1.1/identifier": "code", DCT + "identifier": "code", AT + "authority-code": "code",
    SKOS + "notation": "code", WDT + "P297": "iso-alpha-2", WDT + "P298": "iso-alpha-3", WDT + "P299": "iso-numeric",
    WDT + "P3225": "jp-corporate-number",
}
IDENTIFIER_COLUMNS = {
    "iso2": "iso-alpha-2", "alpha2": "iso-alpha-2", "alpha_2": "iso-alpha-2", "iso3": "iso-alpha-3",
    "alpha3": "iso-alpha-3", "alpha_3": "iso-alpha-3", "numeric": "iso-numeric", "iso_numeric": "iso-numeric",
    "corporate_number": "jp-corporate-number", "wikidata": "wikidata", "qid": "wikidata", "code": "code",
}
# Our notation datatypes, as identifier kinds.
OUR_CODES = {
    "https://w3id.org/ijdp/ontology#ISO3166-1-alpha-2": "iso-alpha-2",
    "https://w3id.org/ijdp/ontology#ISO3166-1-alpha-3": "iso-alpha-3",
    "https://w3id.org/ijdp/ontology#ISO3166-1-numeric": "iso-numeric",
    "https://w3id.org/ijdp/ontology#JapaneseCorporateNumber": "jp-corporate-number",
}
CODE_NAMES = {"iso-alpha-2": "ISO 3166-1 alpha-2 code", "iso-alpha-3": "ISO 3166-1 alpha-3 code",
              "iso-numeric": "ISO 3166-1 numeric code", "jp-corporate-number": "Japanese corporate number",
              "wikidata": "Wikidata id"}

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
# Authority tables model countries, organisations and languages as skos:Concepts in a scheme: the scheme
# says which kind. Known schemes first; otherwise the words of the scheme's IRI or label.
KNOWN_SCHEMES = {
    EU + "country": "country", EU + "corporate-body": "organisation", EU + "language": "language",
    EU + "place": "place", EU + "atu": "place", "http://id.loc.gov/vocabulary/countries": "country",
    "https://www.iso.org/iso-3166-country-codes.html": "country", "urn:iso:std:iso:3166:-1": "country",
}
SCHEME_WORDS = (("countr", "country"), ("corporate", "organisation"), ("organi", "organisation"),
                ("ministr", "organisation"), ("agenc", "organisation"), ("language", "language"),
                ("person", "person"), ("place", "place"))
STOPWORDS = {"of", "and", "the", "for", "in", "on", "a", "an", "to"}
LARGE_INPUT = 5_000_000  # bytes above which a progress bar is shown
OUR_LANGUAGES = ("en", "")   # the languages our labels are in: matched first, others support
GZIP_RATIO, GZIP_FLOOR = 100, 64 * 1024 * 1024   # RDF and CSV compress 8-20 times; a bomb about 1,000 times
CSV_LINE_LIMIT = 1024 * 1024  # characters in one line of a CSV or TSV target (the csv module's own field limit: 128 KiB)


def scheme_kind(scheme: str, labels=()) -> str | None:
    """The kind of thing a concept scheme's concepts are, from a table of known schemes or its IRI and labels."""
    if scheme.rstrip("/") in KNOWN_SCHEMES:
        return KNOWN_SCHEMES[scheme.rstrip("/")]
    words = " ".join([scheme.rstrip("/").rsplit("/", 1)[-1], *labels]).lower()
    return next((kind for stem, kind in SCHEME_WORDS if stem in words), None)


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


def is_acronym(label: str) -> bool:
    """Written as an acronym: one word with capitals past its first letter (MoC, MeitY, IJDP, G2G), never
    because it is short ("India" is a name)."""
    word = label.strip()
    return " " not in word and sum(1 for c in word[1:] if c.isupper() or c.isdigit()) >= 1 and word[:1].isupper()


@dataclass
class Ours:
    iri: str
    label: str
    kinds: set
    names: dict = field(default_factory=dict)      # normalised label -> "prefLabel" | "altLabel"
    acronyms: set = field(default_factory=set)     # normalised acronyms (altLabels written as acronyms)
    identifiers: set = field(default_factory=set)  # (kind, value): ISO codes, corporate number, Wikidata id


@dataclass
class Candidate:
    ours: Ours
    target: str
    target_label: str
    score: float
    evidence: str
    kind_note: str = ""
    supporting: set = field(default_factory=set)   # other languages whose labels agree
    by_identifier: bool = False                     # an identifier both carry decided it
    target_is_entry: bool = False                   # a concept of a code list (or record), not the thing itself
    kinds_agree: bool = False                       # the target's types say it is the same kind of thing

    @property
    def predicate(self) -> str:
        """What the link would say: links.proposed_predicate, from the kind of target."""
        from .links import contract_any, proposed_predicate
        return contract_any(proposed_predicate(self.ours.iri, self.target, self.target_is_entry, self.kinds_agree))


def our_entities(graph) -> list[Ours]:
    """Our resources with labels, from the facts (and derived types) of the publication; their identifiers
    from the links graph (codes, verified Wikidata links) when it is part of the graph."""
    from rdflib import OWL as OWLNS, RDF, SKOS as SKOSNS, URIRef

    found = {}
    for subject, label in list(graph.subject_objects(SKOSNS.prefLabel)) + list(graph.subject_objects(SKOSNS.altLabel)):
        if not isinstance(subject, URIRef) or "/id/" not in str(subject):
            continue
        entity = found.setdefault(str(subject), Ours(str(subject), str(graph.value(subject, SKOSNS.prefLabel) or label),
                                                    {KIND_OF[str(t)] for t in graph.objects(subject, RDF.type) if str(t) in KIND_OF}))
        key = normalise(str(label))
        kind = "prefLabel" if (subject, SKOSNS.prefLabel, label) in graph else "altLabel"
        entity.names.setdefault(key, kind)
        if kind == "altLabel" and is_acronym(str(label)):
            entity.acronyms.add(key)
    for entity in found.values():
        subject = URIRef(entity.iri)
        for code in graph.objects(subject, SKOSNS.notation):
            kind = OUR_CODES.get(str(getattr(code, "datatype", "") or ""))
            if kind:
                entity.identifiers.add((kind, str(code)))
        for predicate in (OWLNS.sameAs, URIRef("https://schema.org/sameAs"), SKOSNS.exactMatch):
            for other in graph.objects(subject, predicate):
                if str(other).startswith(WD):
                    entity.identifiers.add(("wikidata", str(other)[len(WD):]))
    return [e for e in found.values() if e.kinds]


class LabelIndex:
    """Our names, indexed so that each target label is compared only with the entities it could match."""

    def __init__(self, ours: list[Ours]):
        self.exact, self.acronym, self.token = {}, {}, {}
        for entity in ours:
            for name in entity.names:
                self.exact.setdefault(name, []).append(entity)
                for token in content_tokens(name):
                    self.token.setdefault(token, set()).add(entity.iri)
            for acronym in entity.acronyms:
                self.acronym.setdefault(acronym, []).append(entity)
        self.by_iri = {e.iri: e for e in ours}
        self.codes = {}
        for entity in ours:
            for kind, value in entity.identifiers:
                self.codes.setdefault(value.upper(), []).append((entity, kind))

    def entities_for(self, key: str) -> list[Ours]:
        found = {e.iri: e for e in self.exact.get(key, ())}
        found.update({e.iri: e for e in self.acronym.get(initials(key), ())})
        for token in content_tokens(key):
            for iri in self.token.get(token, ()):
                found.setdefault(iri, self.by_iri[iri])
        return list(found.values())

    def identifier_matches(self, kind: str, value: str):
        """Our entities carrying this identifier: a table's own code matches a code of the same shape."""
        for entity, ours_kind in self.codes.get(value.strip().upper(), ()):
            if kind == ours_kind or (kind == "code" and ours_kind != "iso-numeric"):
                yield entity, ours_kind


def score_label(ours: Ours, label: str, key: str | None = None) -> tuple[float, str]:
    key = normalise(label) if key is None else key
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
    """A file wrapper that reports the bytes read, for the progress bar, and stops a gzip bomb: a .gz target
    may decompress to GZIP_RATIO times its size (or GZIP_FLOOR bytes, whichever is more)."""

    def __init__(self, raw, progress, path: Path, limit: int | None):
        self.raw, self.progress, self.path, self.limit, self.read_so_far = raw, progress, path, limit, 0

    def readable(self):
        return True

    def readinto(self, buffer):
        try:
            data = self.raw.read(len(buffer))
        except (OSError, EOFError, zlib.error) as err:
            raise IjdpError(f"{self.path}: cannot read: {err}") from None
        self.read_so_far += len(data)
        if self.limit is not None and self.read_so_far > self.limit:
            raise IjdpError(f"{self.path}: decompresses to over {self.limit:,} bytes, more than {GZIP_RATIO} times "
                            "its size (a gzip bomb?); decompress it yourself if it is genuine")
        buffer[:len(data)] = data
        if self.progress is not None:
            self.progress.update(len(data))
        return len(data)


def _open(path: Path, progress):
    if path.suffix == ".gz":
        limit = max(GZIP_RATIO * path.stat().st_size, GZIP_FLOOR)
        return io.BufferedReader(_Counting(gzip.open(path, "rb"), progress, path, limit))
    return io.BufferedReader(_Counting(open(path, "rb"), progress, path, None))


def _rdf_format(path: Path, given: str | None):
    from .formats import rdf_format, rdf_format_for_path
    try:
        return (rdf_format(given) if given else rdf_format_for_path(path)).oxigraph
    except KeyError:
        raise IjdpError(f"{path}: unknown RDF format; give --target-format") from None


class _Lines:
    """The lines of a text stream, each read within CSV_LINE_LIMIT characters; .number is the last one's."""

    def __init__(self, text, path: Path):
        self.text, self.path, self.number = text, path, 0

    def __iter__(self):
        while line := self.text.readline(CSV_LINE_LIMIT + 1):
            self.number += 1
            if len(line) > CSV_LINE_LIMIT:
                raise IjdpError(f"{self.path}:{self.number}: a line over the {CSV_LINE_LIMIT:,}-character limit")
            yield line


def _csv_rows(path: Path, fmt: str | None, progress):
    delimiter = _table_delimiter(path, fmt)
    with _open(path, progress) as handle:
        lines = _Lines(io.TextIOWrapper(handle, encoding="utf-8", newline=""), path)
        reader = csv.DictReader(iter(lines), delimiter=delimiter)
        try:
            columns = {c.lower(): c for c in (reader.fieldnames or [])}
            id_column = columns.get("id") or columns.get("iri") or columns.get("uri")
            name_column = columns.get("name") or columns.get("label")
            if not id_column or not name_column:
                raise IjdpError(f"{path}: a CSV or TSV target needs an id column and a name column "
                                f"(found {reader.fieldnames})")
            for row in reader:
                yield row, columns, id_column, name_column
        except csv.Error as err:
            raise IjdpError(f"{path}:{lines.number}: {err}") from None
        except UnicodeDecodeError as err:
            raise IjdpError(f"{path}: not UTF-8 text ({err.reason})") from None


def _table_delimiter(path: Path, fmt: str | None) -> str | None:
    """',' for a CSV target, a tab for a TSV one, None for RDF."""
    kind = fmt or next((k for k in ("csv", "tsv") if path.name.endswith((f".{k}", f".{k}.gz"))), None)
    return {"csv": ",", "tsv": "\t"}.get(kind)


def _quads(path: Path, fmt: str | None, progress):
    from .rdfio import check_xml, syntax_error, too_large

    oxformat = _rdf_format(path, fmt)
    if oxformat == pyoxigraph.RdfFormat.RDF_XML:
        with _open(path, None) as handle:
            check_xml(handle, path)
    try:
        with _open(path, progress) as handle:
            yield from pyoxigraph.parse(handle, format=oxformat, base_iri=path.resolve().as_uri())
    except SyntaxError as err:
        raise syntax_error(path, err) from None
    except MemoryError as err:
        raise too_large(path, err) from None


def _scan(path: Path, fmt: str | None, progress):
    """Pass one, streamed: ("label", subject, text, language, hidden) and ("id", subject, kind, value)."""
    if _table_delimiter(path, fmt):
        for row, columns, id_column, name_column in _csv_rows(path, fmt, progress):
            subject = row[id_column]
            yield "label", subject, row[name_column] or "", "", False
            for column, kind in IDENTIFIER_COLUMNS.items():
                if columns.get(column) and row.get(columns[column]):
                    yield "id", subject, kind, row[columns[column]].rsplit("/", 1)[-1]
        return
    for quad in _quads(path, fmt, progress):
        if not isinstance(quad.subject, pyoxigraph.NamedNode) or not isinstance(quad.object, pyoxigraph.Literal):
            continue
        predicate = quad.predicate.value
        if predicate in LABEL_PREDICATES or predicate == HIDDEN_LABEL:
            yield "label", quad.subject.value, quad.object.value, (quad.object.language or ""), predicate == HIDDEN_LABEL
        elif predicate in IDENTIFIER_PREDICATES:
            yield "id", quad.subject.value, IDENTIFIER_PREDICATES[predicate], quad.object.value


@dataclass
class Details:
    types: set = field(default_factory=set)
    schemes: set = field(default_factory=set)
    deprecated: bool = False
    replaced_by: set = field(default_factory=set)
    labels: list = field(default_factory=list)     # English (or untagged) labels, for schemes and replacements


def _details(path: Path, fmt: str | None, progress, wanted: set) -> dict:
    """Pass two, streamed: what the target says of the wanted subjects (types, schemes, deprecation, replacement)."""
    found: dict = {}
    if _table_delimiter(path, fmt):
        for row, columns, id_column, name_column in _csv_rows(path, fmt, progress):
            if row[id_column] in wanted:
                entry = found.setdefault(row[id_column], Details())
                if columns.get("type") and row.get(columns["type"]):
                    entry.types.add(row[columns["type"]])
                entry.labels.append(row[name_column])
                if columns.get("scheme") and row.get(columns["scheme"]):
                    entry.schemes.add(row[columns["scheme"]])
        return found
    for quad in _quads(path, fmt, progress):
        subject = quad.subject.value if isinstance(quad.subject, pyoxigraph.NamedNode) else None
        if subject not in wanted:
            continue
        entry = found.setdefault(subject, Details())
        predicate, value = quad.predicate.value, getattr(quad.object, "value", str(quad.object))
        if predicate in TYPE_PREDICATES:
            entry.types.add(value)
        elif predicate == IN_SCHEME:
            entry.schemes.add(value)
        elif predicate in DEPRECATED:
            entry.deprecated = entry.deprecated or value.strip().lower() in ("true", "1")
        elif predicate == REPLACED_BY:
            entry.replaced_by.add(value)
        elif predicate in LABEL_PREDICATES and isinstance(quad.object, pyoxigraph.Literal) \
                and (quad.object.language or "") in OUR_LANGUAGES:
            entry.labels.append(value)
    return found


@dataclass
class _Evidence:
    """What pass one found for one (our entity, target subject) pair."""
    primary: tuple = (0.0, "", "")     # score, why, label: in our labels' language
    other: tuple = (0.0, "", "", "")   # score, why, label, language: in another language
    languages: set = field(default_factory=set)   # other languages with an exact match
    hidden: str = ""                   # a hidden label that equals one of our names
    identifier: str = ""               # an identifier both carry
    identifier_is_specific: bool = False   # named for what it is (ISO code, Wikidata id), not a table's own code


def _pass(bar: bool, size: int, label: str):
    import click
    return click.progressbar(length=size, label=label, file=None) if bar else _Null()


def find_candidates(ours: list[Ours], target: Path, fmt: str | None = None, min_score: float = 0.7,
                    show_progress: bool = False, evaluate_objects: set | None = None) -> list[Candidate]:
    """Candidates best first. Pass one matches labels and identifiers; pass two reads what the target says of
    the matched subjects (types, schemes, deprecation); a third, when needed, resolves replacements. Memory
    holds our names and the matched pairs only, whatever the target's size. evaluate_objects, when given,
    is filled with the verified links' objects that the target holds."""
    size = target.stat().st_size
    bar = show_progress and size > LARGE_INPUT
    index = LabelIndex(ours)
    evidence: dict = {}
    watch = set(evaluate_objects or ())
    if evaluate_objects is not None:
        evaluate_objects.clear()
    with _pass(bar, size, "matching labels") as progress:
        for event in _scan(target, fmt, progress if bar else None):
            subject = event[1]
            if subject in watch:
                evaluate_objects.add(subject)
            if event[0] == "id":
                for entity, kind in index.identifier_matches(event[2], event[3]):
                    entry = evidence.setdefault((entity.iri, subject), _Evidence())
                    entry.identifier = f"both carry the {CODE_NAMES.get(kind, kind)} {event[3].strip()!r}"
                    entry.identifier_is_specific = entry.identifier_is_specific or event[2] != "code"
                continue
            _, _, text, language, hidden = event
            key = normalise(text)
            if not key:
                continue
            for entity in index.entities_for(key):
                score, why = score_label(entity, text, key)
                if not why:
                    continue
                found = evidence.get((entity.iri, subject))
                if hidden:
                    if score >= 0.95:
                        evidence.setdefault((entity.iri, subject), _Evidence()).hidden = text
                elif language in OUR_LANGUAGES:
                    if score >= min_score * 0.7 and (found is None or score > found.primary[0]):
                        evidence.setdefault((entity.iri, subject), _Evidence()).primary = (score, why, text)
                elif score >= 0.95:
                    entry = evidence.setdefault((entity.iri, subject), _Evidence())
                    entry.languages.add(language)
                    if score > entry.other[0]:
                        entry.other = (score, why, text, language)
            if subject.startswith(WD):
                for entity, kind in index.identifier_matches("wikidata", subject[len(WD):]):
                    entry = evidence.setdefault((entity.iri, subject), _Evidence())
                    entry.identifier = f"the target is our verified Wikidata item {subject[len(WD):]}"
                    entry.identifier_is_specific = True
    with _pass(bar, size, "reading types  ") as progress:
        details = _details(target, fmt, progress if bar else None, {s for _, s in evidence})
    # Schemes named without a kind we know, and replacements: one more pass for those few subjects.
    extra = {s for d in details.values() for s in d.schemes if s.rstrip("/") not in KNOWN_SCHEMES}
    extra |= {r for d in details.values() for r in d.replaced_by}
    if extra - set(details):
        with _pass(bar, size, "replacements   ") as progress:
            details.update(_details(target, fmt, progress if bar else None, extra - set(details)))
    kept: dict = {}
    for (iri, subject), found in evidence.items():
        candidate = _judge(index.by_iri[iri], subject, found, details, min_score)
        if candidate is not None:
            key = (iri, candidate.target)
            if key not in kept or (candidate.score, candidate.by_identifier) > (kept[key].score, kept[key].by_identifier):
                kept[key] = candidate
    return sorted(kept.values(), key=lambda c: (-c.score, not c.by_identifier, c.ours.iri, c.target))


def target_kinds(subject: str, details: dict) -> set:
    """What the target says a subject is: its types, or for a concept in a scheme, the scheme's kind."""
    entry = details.get(subject, Details())
    kinds = {KIND_OF[t] for t in entry.types if t in KIND_OF}
    if entry.schemes:
        schemes = {scheme_kind(s, details.get(s, Details()).labels) for s in entry.schemes} - {None}
        kinds = (kinds - {"concept"}) | schemes      # the scheme says what its concepts are
    return kinds


def _judge(entity: Ours, subject: str, found: _Evidence, details: dict, min_score: float) -> Candidate | None:
    entry = details.get(subject, Details())
    notes = []
    if entry.deprecated and not entry.replaced_by:
        return None                                  # a deprecated entry is never proposed
    if entry.replaced_by:
        replacement = sorted(entry.replaced_by)[0]
        if details.get(replacement, Details()).deprecated:
            return None
        notes.append(f"the table replaces {subject} by {replacement}")
        subject, entry = replacement, details.get(replacement, Details())
    if found.identifier:
        score, why, label = 1.0, found.identifier, (found.primary[2] or (entry.labels or [""])[0])
        if found.primary[0] > 0:
            why += f"; {found.primary[1]}"
    elif found.primary[0] > 0:
        score, why, label = found.primary
        if found.languages:
            bonus = min(0.05, 0.01 * len(found.languages))
            score = min(1.0, score + bonus)
            why += f"; labels in {len(found.languages)} other language(s) agree (+{bonus:.2f})"
    elif found.other[0] > 0:
        score, why, label = found.other[0] * 0.8, f"{found.other[1]}, in {found.other[3]!r} only (x0.8)", found.other[2]
    elif found.hidden:
        score, why, label = 0.6, f"hidden label {found.hidden!r} equals one of our names (weak)", found.hidden
    else:
        return None
    if found.hidden and not found.identifier and score < 1.0 and found.primary[0] > 0:
        score = min(1.0, score + 0.02)
        why += "; a hidden label agrees (+0.02)"
    kinds = target_kinds(subject, details)
    if kinds and not kinds & entity.kinds:
        return None                                  # a ministry is not a town
    if kinds:
        kind_note = f"types agree ({', '.join(sorted(kinds & entity.kinds))})"
    elif found.identifier and found.identifier_is_specific:
        kind_note = "target type unknown (an identifier of its own kind decides)"
    else:
        score *= 0.85
        kind_note = "target type unknown (score x0.85)"
    if notes:
        kind_note += "; " + "; ".join(notes)
    if score < min_score:
        return None
    return Candidate(entity, subject, label, round(score, 6), why, kind_note, set(found.languages),
                     by_identifier=bool(found.identifier),
                     target_is_entry=bool(entry.schemes) or SKOS + "Concept" in entry.types,
                     kinds_agree=bool(kinds & entity.kinds))


def evaluate(candidates: list[Candidate], verified: list[tuple], present: set) -> dict:
    """Precision and recall of the candidates against the verified links (subject, predicate, object) whose
    objects the target holds: a candidate with the wrong predicate is a miss, and not verified."""
    relevant = {(s, p, o) for s, p, o in verified if o in present}
    proposed = {(c.ours.iri, c.predicate, c.target) for c in candidates}
    top = {}
    for c in candidates:
        top.setdefault(c.ours.iri, c)
    right = proposed & relevant
    return {
        "relevant": len(relevant), "proposed": len(proposed), "correct": len(right),
        "precision": len(right) / len(proposed) if proposed else 1.0,
        "recall": len(right) / len(relevant) if relevant else 1.0,
        "missed": sorted(relevant - proposed), "wrong": sorted(proposed - relevant),
        "top_correct": sorted((s, p, o) for s, p, o in relevant
                              if s in top and (top[s].predicate, top[s].target) == (p, o)),
    }


class _Null:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def candidates_table(candidates: list[Candidate], target: Path) -> str:
    from .links import write_sssom

    metadata = {
        "curie_map": {"ijdp": "https://w3id.org/ijdp/id/", "owl": "http://www.w3.org/2002/07/owl#",
                      "skos": "http://www.w3.org/2004/02/skos/core#", "schema": "https://schema.org/",
                      "semapv": "https://w3id.org/semapv/vocab/"},
        "mapping_set_id": "https://w3id.org/ijdp/mappings/candidates",
        "mapping_set_description": f"Candidate links from ijdp to {target.name}, for review. Not published.",
        "license": "https://creativecommons.org/licenses/by/4.0/",
    }
    rows = []
    for c in candidates:
        predicate = c.predicate
        subject = "ijdp:" + c.ours.iri.split("/id/", 1)[1] if "/id/" in c.ours.iri else c.ours.iri
        rows.append({"subject_id": subject, "subject_label": c.ours.label, "predicate_id": predicate,
                     "object_id": c.target, "object_label": c.target_label,
                     "mapping_justification": "semapv:LexicalMatching", "confidence": f"{c.score:.3f}",
                     "comment": f"{c.evidence}; {c.kind_note}"})
    columns = ["subject_id", "subject_label", "predicate_id", "object_id", "object_label",
               "mapping_justification", "confidence", "comment"]
    return write_sssom(metadata, rows, columns=columns)
