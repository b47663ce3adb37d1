"""Executing one query job: run it, cap the rows, serialise the answer.

Runs inside a query worker process (see querypool).
"""
from __future__ import annotations

import itertools
import json

import pyoxigraph

from .querypool import Job, Outcome
from .sparql import query_store

TRUNCATION_LINK = "https://w3id.org/ijdp/sparql#truncated"


XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"


def term_json(term) -> dict:
    # Exact type checks, most frequent first: this runs once per bound value of every result.
    kind = type(term)
    if kind is pyoxigraph.NamedNode:
        return {"type": "uri", "value": term.value}
    if kind is pyoxigraph.Literal:
        language = term.language
        if language:
            return {"type": "literal", "value": term.value, "xml:lang": language}
        datatype = term.datatype.value
        if datatype == XSD_STRING:
            return {"type": "literal", "value": term.value}
        return {"type": "literal", "value": term.value, "datatype": datatype}
    if kind is pyoxigraph.BlankNode:
        return {"type": "bnode", "value": term.value}
    if kind is pyoxigraph.Triple:
        return {"type": "triple", "value": {"subject": term_json(term.subject),
                                            "predicate": term_json(term.predicate),
                                            "object": term_json(term.object)}}
    raise TypeError(f"not an RDF term: {term!r}")


def solutions_json(variables, rows, truncated: bool) -> bytes:
    names = [v.value for v in variables]
    head = {"vars": names}
    if truncated:
        head["link"] = [TRUNCATION_LINK]
    columns = list(enumerate(names))
    bindings = []
    for row in rows:
        binding = {}
        for index, name in columns:
            value = row[index]
            if value is not None:
                binding[name] = term_json(value)
        bindings.append(binding)
    return json.dumps({"head": head, "results": {"bindings": bindings}}, ensure_ascii=False).encode("utf-8")


def _mark_xml_truncated(body: bytes) -> bytes:
    # SPARQL XML allows <link href="..."/> in <head> after the variables.
    return body.replace(b"</head>", f'<link href="{TRUNCATION_LINK}"/></head>'.encode(), 1)


def run_job(store: pyoxigraph.Store, job: Job) -> Outcome:
    kwargs = {"base_iri": job.base_iri}
    if job.default_graphs:
        kwargs["default_graph"] = [pyoxigraph.NamedNode(g) for g in job.default_graphs]
    else:
        kwargs["use_default_graph_as_union"] = job.union_default
    if job.named_graphs:
        kwargs["named_graphs"] = [pyoxigraph.NamedNode(g) for g in job.named_graphs]
    try:
        results = query_store(store, job.query, **kwargs)
    except SyntaxError as err:
        return Outcome(kind="syntax", message=err.args[0] if err.args else str(err))
    return shape(results, job)


def shape(results, job: Job) -> Outcome:
    """Cap and serialise query results (pyoxigraph's, or parsed from a remote endpoint's answer)."""
    if isinstance(results, (pyoxigraph.QueryTriples, list)):
        if job.graph_format is None:
            return Outcome(kind="not-acceptable", message="no acceptable RDF format for a graph result")
        fmt = pyoxigraph.RdfFormat.from_media_type(job.graph_format)
        triples = list(itertools.islice(results, job.max_rows + 1))
        truncated = len(triples) > job.max_rows
        triples = triples[:job.max_rows]
        body = pyoxigraph.serialize(triples, format=fmt) if triples else b""
        return Outcome(kind="ok", body=body or b"", media_type=job.graph_format, truncated=truncated, count=len(triples))

    if job.results_format is None:
        return Outcome(kind="not-acceptable", message="no acceptable format for SELECT/ASK results")
    fmt = pyoxigraph.QueryResultsFormat.from_media_type(job.results_format)
    if isinstance(results, pyoxigraph.QueryBoolean):
        return Outcome(kind="ok", body=results.serialize(format=fmt), media_type=job.results_format, count=1)

    variables = results.variables
    rows = list(itertools.islice(results, job.max_rows + 1))
    truncated = len(rows) > job.max_rows
    rows = rows[:job.max_rows]
    as_json = solutions_json(variables, rows, truncated)
    if fmt == pyoxigraph.QueryResultsFormat.JSON:
        body = as_json
    else:
        body = pyoxigraph.parse_query_results(as_json, format=pyoxigraph.QueryResultsFormat.JSON).serialize(format=fmt)
        if truncated and fmt == pyoxigraph.QueryResultsFormat.XML:
            body = _mark_xml_truncated(body)
    return Outcome(kind="ok", body=body, media_type=job.results_format, truncated=truncated, count=len(rows))
