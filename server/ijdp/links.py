"""Identity links: the SSSOM mapping table, the links graph made from it, and back.

data/links.sssom.tsv is where people write links (one row each, with how it was
checked); the build turns it into the links graph: the link itself
(subject predicate object) plus an owl:Axiom per mapping carrying its SSSOM
metadata, as the SSSOM RDF serialisation does.
"""
from __future__ import annotations

import csv
import hashlib
import io
from pathlib import Path

import yaml
from rdflib import OWL, RDF, RDFS, XSD, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS

from .config import PUBLISHED_BASE
from .errors import IjdpError

SSSOM = Namespace("https://w3id.org/sssom/")
SEMAPV = Namespace("https://w3id.org/semapv/vocab/")
MAPPING_PREDICATES = {
    URIRef("http://www.w3.org/2002/07/owl#sameAs"),
    URIRef("http://www.w3.org/2004/02/skos/core#exactMatch"),
    URIRef("http://www.w3.org/2004/02/skos/core#closeMatch"),
    URIRef("http://www.w3.org/2004/02/skos/core#broadMatch"),
    URIRef("http://www.w3.org/2004/02/skos/core#narrowMatch"),
    URIRef("http://www.w3.org/2004/02/skos/core#relatedMatch"),
}
COLUMNS = ["subject_id", "subject_label", "predicate_id", "object_id", "object_label", "mapping_justification",
           "author_label", "reviewer_label", "mapping_date", "comment"]
LITERAL_COLUMNS = ["subject_label", "object_label", "author_label", "reviewer_label", "comment"]


def read_sssom(path: Path) -> tuple[dict, list[dict]]:
    """(metadata, rows) of an SSSOM TSV file with its '#'-prefixed YAML block."""
    text = Path(path).read_text(encoding="utf-8")
    header = "\n".join(line[1:] for line in text.splitlines() if line.startswith("#"))
    body = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    try:
        metadata = yaml.safe_load(header) or {}
    except yaml.YAMLError as err:
        raise IjdpError(f"{path}: the YAML metadata block does not parse: {err}") from None
    rows = list(csv.DictReader(io.StringIO(body), delimiter="\t"))
    for number, row in enumerate(rows, start=2):
        for column in ("subject_id", "predicate_id", "object_id", "mapping_justification"):
            if not (row.get(column) or "").strip():
                raise IjdpError(f"{path}: mapping row {number} has no {column}")
    return metadata, rows


def expand(curie: str, curie_map: dict, where: str = "") -> URIRef:
    prefix, sep, local = curie.partition(":")
    if sep and prefix in curie_map:
        return URIRef(curie_map[prefix] + local)
    if curie.startswith(("http://", "https://")):
        return URIRef(curie)
    raise IjdpError(f"{where}unknown prefix in {curie!r}: add it to the curie_map")


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
    for row in rows:
        subject = expand(row["subject_id"], curie_map, where)
        predicate = expand(row["predicate_id"], curie_map, where)
        obj = expand(row["object_id"], curie_map, where)
        if predicate not in MAPPING_PREDICATES:
            raise IjdpError(f"{where}{row['predicate_id']} is not a mapping predicate (owl:sameAs, skos:*Match)")
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

    Each becomes a manual curation: who reviewed it, when, how it was checked, and the matcher's evidence.
    Rows the table holds already are skipped. The table is rewritten atomically and only if it still reads.
    (accepted rows, skipped rows).
    """
    import os
    import tempfile

    if not reviewer.strip() or not how.strip():
        raise IjdpError("say who reviewed the candidates (--reviewer) and how they were checked (--how)")
    metadata, rows = read_sssom(table)
    curie_map = metadata.get("curie_map", {})
    held = {(str(expand(r["subject_id"], curie_map)), str(expand(r["predicate_id"], curie_map)),
             str(expand(r["object_id"], curie_map))) for r in rows}
    found_metadata, found = read_sssom(candidates)
    their_map = found_metadata.get("curie_map", {})
    accepted, skipped, lines = [], [], []
    for row in found:
        where = f"{candidates}: "
        triple = tuple(str(expand(row[c], their_map, where)) for c in ("subject_id", "predicate_id", "object_id"))
        if triple in held:
            skipped.append(row)
            continue
        held.add(triple)
        new = {
            "subject_id": contract(triple[0], curie_map), "subject_label": row.get("subject_label", ""),
            "predicate_id": contract(triple[1], curie_map), "object_id": contract(triple[2], curie_map),
            "object_label": row.get("object_label", ""), "mapping_justification": "semapv:ManualMappingCuration",
            "author_label": "ijdp link (lexical and identifier matching)", "reviewer_label": reviewer.strip(),
            "mapping_date": today,
            "comment": f"{how.strip()} Matcher's evidence: {row.get('comment', '')} (confidence {row.get('confidence', '')}).",
        }
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
