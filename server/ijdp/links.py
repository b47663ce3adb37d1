"""Identity links: the SSSOM mapping table, the links graph made from it, and back.

data/links.sssom.tsv is where people write links (one row each, with how it was
checked); the build turns it into the links graph: the link itself
(subject predicate object) plus an owl:Axiom per mapping carrying its SSSOM
metadata, as the SSSOM RDF serialisation does.

The predicate says what kind of thing the target is (docs/linking.md): owl:sameAs
to an individual of the same kind (a Wikidata item, a GeoNames feature);
schema:sameAs to an entry of a code list or register that identifies our
resource without being it (an EU authority table's concept, a gBizINFO record);
skos:*Match only between concepts, since SKOS's domain and range make both sides
skos:Concepts under RDFS. The build refuses a row that breaks this, one whose
target is not an identifier, a matcher's row passed off as manual curation, and
a pair mapped twice with different predicates, naming the file and the line.
"""
from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import yaml
from rdflib import OWL, RDF, RDFS, XSD, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS

from .config import PUBLISHED_BASE
from .errors import IjdpError

SSSOM = Namespace("https://w3id.org/sssom/")
SEMAPV = "https://w3id.org/semapv/vocab/"
SKOS_NS = "http://www.w3.org/2004/02/skos/core#"
SAME_AS = URIRef("http://www.w3.org/2002/07/owl#sameAs")
SCHEMA_SAME_AS = URIRef("https://schema.org/sameAs")
EXACT_MATCH = URIRef(SKOS_NS + "exactMatch")
SKOS_MAPPINGS = {URIRef(SKOS_NS + name) for name in ("exactMatch", "closeMatch", "broadMatch", "narrowMatch",
                                                     "relatedMatch")}
MAPPING_PREDICATES = {SAME_AS, SCHEMA_SAME_AS} | SKOS_MAPPINGS
# Identity or exact: the target must be an identifier in a known namespace.
IDENTITY_PREDICATES = {SAME_AS, SCHEMA_SAME_AS, EXACT_MATCH}
COLUMNS = ["subject_id", "subject_label", "predicate_id", "object_id", "object_label", "mapping_justification",
           "confidence", "author_label", "reviewer_label", "mapping_date", "comment"]
LITERAL_COLUMNS = ["subject_label", "object_label", "author_label", "reviewer_label", "comment"]
# Who the matcher is, as `ijdp accept-links` records it; its rows keep a matcher's justification and confidence.
MATCHER = "ijdp link (lexical and identifier matching)"
MATCHER_JUSTIFICATIONS = {SEMAPV + name for name in (
    "LexicalMatching", "LexicalSimilarityThresholdMatching", "CompositeMatching", "StructuralMatching",
    "SemanticSimilarityThresholdMatching")}
MANUAL = SEMAPV + "ManualMappingCuration"


@dataclass(frozen=True)
class IdentifierSpace:
    """A namespace whose IRIs identify things: `individual` (a thing described with its types) or `entry` (a
    code list's concept or a register's record that identifies a thing without being it)."""
    name: str
    prefix: str
    kind: str
    well_formed: Callable[[str], bool]   # of the IRI's local part
    same_kind_as: tuple = ()      # our IRI kinds (id/<kind>/...) an owl:sameAs may name; () for any


def _digits(local: str) -> bool:
    return local.isascii() and local.isdigit()


def _corporate_number(local: str) -> bool:
    """13 digits whose first is the National Tax Agency's check digit over the other twelve."""
    if len(local) != 13 or not _digits(local):
        return False
    total = sum(int(d) * (1 if i % 2 else 2) for i, d in enumerate(reversed(local[1:]), start=1))
    return int(local[0]) == 9 - total % 9


def _eu_entry(local: str) -> bool:
    table, _, code = local.partition("/")
    return bool(table) and bool(code) and "/" not in code and code.isascii() and \
        all(c.isupper() or c.isdigit() or c == "_" for c in code)


# ISO 3166-1 publishes codes, not IRIs: our countries carry the codes themselves (skos:notation typed
# ijdp:ISO3166-1-*, data/codes.ttl), and the EU country table's entries are keyed by the alpha-3 code.
# ISO's Online Browsing Platform pages (https://www.iso.org/obp/ui/#iso:code:3166:IN) are a web
# application's views, not identifiers.
IDENTIFIER_NAMESPACES = (
    IdentifierSpace("Wikidata", "http://www.wikidata.org/entity/Q", "individual", _digits),
    IdentifierSpace("GeoNames", "https://sws.geonames.org/", "individual",
                    lambda local: local.endswith("/") and _digits(local[:-1]), same_kind_as=("country",)),
    IdentifierSpace("the EU Publications Office authority tables",
                    "http://publications.europa.eu/resource/authority/", "entry", _eu_entry),
    IdentifierSpace("gBizINFO (the Japanese corporate number)", "http://hojin-info.go.jp/data/basic/", "entry",
                    _corporate_number),
)
KNOWN = ", ".join(n.name for n in IDENTIFIER_NAMESPACES)
# Our kinds that no other dataset's individual is: Wikidata models positions as classes (Prime Minister of
# India is a subclass of prime minister, and people hold it by P39), so its item identifies our post
# without being an individual of the same kind.
REFERENCE_ONLY_KINDS = {"post"}


def identifier_namespace(iri: str) -> IdentifierSpace | None:
    """The known namespace whose identifiers this IRI is one of, well formed; None otherwise."""
    for namespace in IDENTIFIER_NAMESPACES:
        if iri.startswith(namespace.prefix) and namespace.well_formed(iri[len(namespace.prefix):]):
            return namespace
    return None


def our_kind(iri: str) -> str:
    """The kind of one of our resources, from its IRI (PUBLISHED_BASE id/<kind>/<slug>); "" for others'."""
    base = f"{PUBLISHED_BASE}id/"
    return iri[len(base):].split("/", 1)[0] if iri.startswith(base) else ""


def proposed_predicate(subject: str, target: str, target_is_entry: bool, kinds_agree: bool) -> URIRef:
    """The predicate a link says of this pair: skos:exactMatch between concepts, schema:sameAs to an entry that
    identifies our resource, owl:sameAs to an individual of the same kind."""
    if target_is_entry:
        return EXACT_MATCH if our_kind(subject) == "concept" else SCHEMA_SAME_AS
    return SAME_AS if kinds_agree and our_kind(subject) not in REFERENCE_ONLY_KINDS else SCHEMA_SAME_AS


def mapping_problem(subject: URIRef, predicate: URIRef, obj: URIRef) -> str:
    """Why this link says something other than what its target is; "" when it does not."""
    namespace = identifier_namespace(str(obj))
    kind = our_kind(str(subject))
    if predicate in SKOS_MAPPINGS and kind != "concept":
        return (f"{contract_any(predicate)} relates concepts: under RDFS it would make {subject} a skos:Concept; "
                "link it with owl:sameAs (to an individual of the same kind) or schema:sameAs (to a code list's "
                "entry or a register's record)")
    if predicate in IDENTITY_PREDICATES and namespace is None:
        return (f"{obj} is not an identifier in a known namespace ({KNOWN}); an identity or exact link needs "
                "one (a web page is not one)")
    if predicate == SAME_AS and namespace.kind == "entry":
        return (f"{obj} is an entry of {namespace.name}, which identifies {subject} without being it: "
                "use schema:sameAs (skos:exactMatch between concepts)")
    if predicate == SAME_AS and kind in REFERENCE_ONLY_KINDS:
        return (f"no other dataset's individual is a {kind} of ours (Wikidata models positions as classes): "
                "use schema:sameAs")
    if predicate == SAME_AS and namespace.same_kind_as and kind not in namespace.same_kind_as:
        return (f"{namespace.name} names {', '.join(namespace.same_kind_as)} individuals, not a {kind or 'resource'} "
                f"like {subject}: owl:sameAs needs a thing of the same kind")
    return ""


def justification_problem(row: dict, justification: str) -> str:
    """Why the row's justification (expanded) contradicts who made it; "" when it does not."""
    by_matcher = (row.get("author_label") or "").strip() == MATCHER
    confidence = (row.get("confidence") or "").strip()
    if by_matcher and justification not in MATCHER_JUSTIFICATIONS:
        return (f"the matcher ({MATCHER}) proposed this mapping: its justification is the matcher's "
                "(semapv:LexicalMatching or similar) with its confidence, reviewed or not, not "
                f"{row['mapping_justification'].strip()}")
    if justification in MATCHER_JUSTIFICATIONS and not confidence:
        return "a matcher's mapping states the matcher's confidence (the confidence column)"
    if confidence:
        try:
            value = float(confidence)
        except ValueError:
            value = -1.0
        if not 0.0 <= value <= 1.0:
            return f"confidence {confidence!r} is not a number between 0 and 1"
        if justification == MANUAL:
            return "a manual curation has no matcher's confidence: a matcher's mapping keeps its own justification"
    return ""


class Row(dict):
    """One mapping row, and where it is (for error messages)."""
    where = ""


def read_sssom(path: Path) -> tuple[dict, list[dict]]:
    """(metadata, rows) of an SSSOM TSV file with its '#'-prefixed YAML block. Each row knows its file line."""
    text = Path(path).read_text(encoding="utf-8")
    lines = text.splitlines()
    header = "\n".join(line[1:] for line in lines if line.startswith("#"))
    numbers = [number for number, line in enumerate(lines, start=1) if not line.startswith("#")]
    body = "\n".join(line for line in lines if not line.startswith("#"))
    try:
        # An alias can repeat a node without bound (a YAML "billion laughs"); SSSOM metadata needs none.
        if any(isinstance(event, yaml.AliasEvent) for event in yaml.parse(header, Loader=yaml.SafeLoader)):
            raise IjdpError(f"{path}: the YAML metadata block uses an alias (*name): write the value out instead")
        metadata = yaml.safe_load(header) or {}
    except yaml.YAMLError as err:
        raise IjdpError(f"{path}: the YAML metadata block does not parse: {err}") from None
    reader = csv.DictReader(io.StringIO(body), delimiter="\t")
    rows = []
    for found in reader:
        row = Row(found)
        row.where = f"{path}:{numbers[reader.line_num - 1] if reader.line_num <= len(numbers) else len(lines)}: "
        rows.append(row)
    for row in rows:
        for column in ("subject_id", "predicate_id", "object_id", "mapping_justification"):
            if not (row.get(column) or "").strip():
                raise IjdpError(f"{row.where}mapping row has no {column}")
    return metadata, rows


def expand(curie: str, curie_map: dict, where: str = "") -> URIRef:
    prefix, sep, local = curie.partition(":")
    if sep and prefix in curie_map:
        return URIRef(curie_map[prefix] + local)
    if curie.startswith(("http://", "https://")):
        return URIRef(curie)
    raise IjdpError(f"{where}unknown prefix in {curie!r}: add it to the curie_map")


def contract_any(iri) -> str:
    """A predicate as people write it (owl:sameAs, schema:sameAs, skos:exactMatch)."""
    for prefix, ns in (("owl", "http://www.w3.org/2002/07/owl#"), ("schema", "https://schema.org/"), ("skos", SKOS_NS)):
        if str(iri).startswith(ns):
            return f"{prefix}:{str(iri)[len(ns):]}"
    return str(iri)


def contract(iri: str, curie_map: dict) -> str:
    best = max((p for p, ns in curie_map.items() if iri.startswith(ns)), key=lambda p: len(curie_map[p]), default=None)
    return f"{best}:{iri[len(curie_map[best]):]}" if best else iri


def mapping_iri(subject, predicate, obj) -> URIRef:
    digest = hashlib.sha256(f"{subject} {predicate} {obj}".encode()).hexdigest()[:16]
    return URIRef(f"{PUBLISHED_BASE}id/mapping/{digest}")


def links_graph(metadata: dict, rows: list[dict], where: str = "") -> Graph:
    curie_map = metadata.get("curie_map", {})
    graph = Graph()
    mapping_set = URIRef(metadata.get("mapping_set_id", f"{PUBLISHED_BASE}mappings/links"))
    graph.add((mapping_set, RDF.type, SSSOM.MappingSet))
    for key, predicate in (("mapping_set_title", DCTERMS.title), ("mapping_set_description", DCTERMS.description)):
        if metadata.get(key):
            graph.add((mapping_set, predicate, Literal(metadata[key], lang="en")))
    if metadata.get("license"):
        graph.add((mapping_set, DCTERMS.license, URIRef(metadata["license"])))
    if metadata.get("mapping_set_version"):
        graph.add((mapping_set, OWL.versionInfo, Literal(str(metadata["mapping_set_version"]))))
    pairs = {}
    for row in rows:
        here = getattr(row, "where", "") or where
        subject = expand(row["subject_id"], curie_map, here)
        predicate = expand(row["predicate_id"], curie_map, here)
        obj = expand(row["object_id"], curie_map, here)
        if predicate not in MAPPING_PREDICATES:
            raise IjdpError(f"{here}{row['predicate_id']} is not a mapping predicate "
                            "(owl:sameAs, schema:sameAs, skos:*Match)")
        problem = mapping_problem(subject, predicate, obj) or justification_problem(
            row, str(expand(row["mapping_justification"], curie_map, here)))
        if problem:
            raise IjdpError(f"{here}{row['subject_id']} {row['predicate_id']} {row['object_id']}: {problem}")
        earlier = pairs.setdefault((subject, obj), (predicate, here))
        if earlier[0] != predicate:
            raise IjdpError(f"{here}{row['subject_id']} -> {row['object_id']} is mapped with {row['predicate_id']} "
                            f"here and with {contract_any(earlier[0])} at {earlier[1].rstrip(': ')}: "
                            "one pair, one predicate")
        graph.add((subject, predicate, obj))
        axiom = mapping_iri(subject, predicate, obj)
        graph.add((mapping_set, SSSOM.mappings, axiom))
        graph.add((axiom, RDF.type, OWL.Axiom))
        graph.add((axiom, OWL.annotatedSource, subject))
        graph.add((axiom, OWL.annotatedProperty, predicate))
        graph.add((axiom, OWL.annotatedTarget, obj))
        graph.add((axiom, SSSOM.mapping_justification, expand(row["mapping_justification"], curie_map, where)))
        for column in LITERAL_COLUMNS:
            if (row.get(column) or "").strip():
                predicate_iri = RDFS.comment if column == "comment" else SSSOM[column]
                graph.add((axiom, predicate_iri, Literal(row[column].strip())))
        if (row.get("mapping_date") or "").strip():
            graph.add((axiom, SSSOM.mapping_date, Literal(row["mapping_date"].strip(), datatype=XSD.date)))
        if (row.get("confidence") or "").strip():
            graph.add((axiom, SSSOM.confidence, Literal(row["confidence"].strip(), datatype=XSD.double)))
    return graph


def rows_from_graph(graph: Graph, curie_map: dict) -> list[dict]:
    """The SSSOM rows the links graph holds (the inverse of links_graph)."""
    rows = []
    for axiom in graph.subjects(RDF.type, OWL.Axiom):
        value = lambda p: graph.value(axiom, p)
        row = {
            "subject_id": contract(str(value(OWL.annotatedSource)), curie_map),
            "predicate_id": contract(str(value(OWL.annotatedProperty)), curie_map),
            "object_id": contract(str(value(OWL.annotatedTarget)), curie_map),
            "mapping_justification": contract(str(value(SSSOM.mapping_justification)), curie_map),
            "mapping_date": str(value(SSSOM.mapping_date) or ""),
            "confidence": str(value(SSSOM.confidence) or ""),
        }
        for column in LITERAL_COLUMNS:
            found = value(RDFS.comment if column == "comment" else SSSOM[column])
            row[column] = str(found) if found is not None else ""
        rows.append(row)
    return sorted(rows, key=lambda r: (r["subject_id"], r["predicate_id"], r["object_id"]))


def write_sssom(metadata: dict, rows: list[dict], columns=COLUMNS) -> str:
    header = yaml.safe_dump(metadata, sort_keys=False, allow_unicode=True, width=1000)
    out = io.StringIO()
    out.write("".join(f"# {line}\n" for line in header.splitlines()))
    writer = csv.DictWriter(out, fieldnames=columns, delimiter="\t", lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def accept_candidates(table: Path, candidates: Path, reviewer: str, how: str, today: str) -> tuple[list, list]:
    """Append the reviewed candidates (the rows left in CANDIDATES after review) to the verified table.

    Each keeps the matcher's justification and confidence and gains who reviewed it, when, how it was checked
    and the matcher's evidence. Rows the table holds already are skipped; a row whose pair the table maps with
    another predicate, or that the build would refuse, is refused, naming both lines. The table is rewritten
    atomically and only if it still reads. (accepted rows, skipped rows).
    """
    import os
    import tempfile

    if not reviewer.strip() or not how.strip():
        raise IjdpError("say who reviewed the candidates (--reviewer) and how they were checked (--how)")
    metadata, rows = read_sssom(table)
    curie_map = metadata.get("curie_map", {})
    held = {(str(expand(r["subject_id"], curie_map)), str(expand(r["predicate_id"], curie_map)),
             str(expand(r["object_id"], curie_map))) for r in rows}
    by_pair = {(str(expand(r["subject_id"], curie_map)), str(expand(r["object_id"], curie_map))): r for r in rows}
    found_metadata, found = read_sssom(candidates)
    their_map = found_metadata.get("curie_map", {})
    accepted, skipped, lines = [], [], []
    for row in found:
        where = row.where
        triple = tuple(str(expand(row[c], their_map, where)) for c in ("subject_id", "predicate_id", "object_id"))
        if triple in held:
            skipped.append(row)
            continue
        mapped = by_pair.get((triple[0], triple[2]))
        if mapped is not None:
            raise IjdpError(f"{where}{row['subject_id']} -> {row['object_id']} is proposed as {row['predicate_id']}, "
                            f"but {mapped.where.rstrip(': ')} maps it with {mapped['predicate_id']}: one pair, one "
                            "predicate (delete one of the two rows)")
        problem = mapping_problem(*(URIRef(part) for part in triple))
        if problem:
            raise IjdpError(f"{where}{row['subject_id']} {row['predicate_id']} {row['object_id']}: {problem}")
        held.add(triple)
        by_pair[(triple[0], triple[2])] = row
        justification = (row.get("mapping_justification") or "").strip()
        new = {
            "subject_id": contract(triple[0], curie_map), "subject_label": row.get("subject_label", ""),
            "predicate_id": contract(triple[1], curie_map), "object_id": contract(triple[2], curie_map),
            "object_label": row.get("object_label", ""),
            "mapping_justification": contract(str(expand(justification, their_map, where)), curie_map),
            "confidence": (row.get("confidence") or "").strip(),
            "author_label": MATCHER, "reviewer_label": reviewer.strip(), "mapping_date": today,
            "comment": f"{how.strip()} Matcher's evidence: {row.get('comment', '')}.",
        }
        problem = justification_problem(new, str(expand(justification, their_map, where)))
        if problem:
            raise IjdpError(f"{where}{row['subject_id']} {row['predicate_id']} {row['object_id']}: {problem}")
        accepted.append(new)
        lines.append("\t".join(str(new.get(c, "")).replace("\t", " ").replace("\n", " ") for c in COLUMNS) + "\n")
    if not accepted:
        return accepted, skipped
    text = table.read_text(encoding="utf-8")
    text = text if text.endswith("\n") else text + "\n"
    fd, staging = tempfile.mkstemp(prefix=f".{table.name}.", dir=table.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text + "".join(lines))
        check_metadata, check_rows = read_sssom(Path(staging))
        links_graph(check_metadata, check_rows, where=f"{table}: ")
        os.replace(staging, table)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise
    return accepted, skipped
