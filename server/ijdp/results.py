"""Executing one query job: run it, cap the rows, serialise the answer.

Runs inside a query worker process (see querypool).
"""
from __future__ import annotations

import itertools
import json

import pyoxigraph

from .querypool import Job, Outcome, WorkerLimits
from .sparql import UnknownFunctions, projected_variables, query_store, readable_syntax_error
from .structure import LexicalError, analyse

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


def screen(job: Job, limits: WorkerLimits, syntax_store=None):
    """(a refusal Outcome or None, the analysis): the safety decisions, from the query's tokens.

    syntax_store: a read-only store, used to tell a malformed update (400) from a
    well-formed one (403) without running either.
    """
    try:
        found = analyse(job.query)
    except LexicalError as err:
        return Outcome(kind="syntax", message=str(err)), None
    if found.depth > limits.max_depth:
        return Outcome(kind="too-deep", message=f"the query nests about {found.depth} levels deep "
                                                 f"(brackets, operators and chained patterns); the limit is {limits.max_depth}"), found
    if found.operation == "update":
        return _refused_update(job.query, syntax_store), found
    width, starred = projected_variables(job.query)
    if width > limits.max_projected_variables:
        counted = " (SELECT * projects every variable of the query)" if starred else ""
        return Outcome(kind="too-wide", message=f"the query projects {width} variables{counted}; "
                                                f"the limit is {limits.max_projected_variables}"), found
    for target in found.services:
        if target is None or target not in limits.service_allowlist:
            return Outcome(kind="service-refused", message=target or "a variable", form=found.form), found
    if found.services and not limits.internet:
        return Outcome(kind="federate", form=found.form), found
    return None, found


def _refused_update(text: str, syntax_store) -> Outcome:
    # A read-only store parses an update and then refuses to open a transaction:
    # a syntax check that evaluates nothing (measured: 1 ms for a WHERE that would
    # build 91 million solutions).
    if syntax_store is not None:
        try:
            syntax_store.update(text)
        except SyntaxError as err:
            return Outcome(kind="syntax", message=readable_syntax_error(text, err), form="UPDATE")
        except (OSError, RuntimeError, ValueError):
            pass
    return Outcome(kind="update-refused", form="UPDATE")


def run_job(store: pyoxigraph.Store, job: Job, limits: WorkerLimits = WorkerLimits(), syntax_store=None) -> Outcome:
    refusal, found = screen(job, limits, syntax_store)
    if refusal is not None:
        return refusal
    kwargs = {"base_iri": job.base_iri}
    if job.default_graphs:
        kwargs["default_graph"] = [pyoxigraph.NamedNode(g) for g in job.default_graphs]
    else:
        kwargs["use_default_graph_as_union"] = job.union_default and not found.declares_dataset
    if job.named_graphs:
        kwargs["named_graphs"] = [pyoxigraph.NamedNode(g) for g in job.named_graphs]
    try:
        outcome = shape(query_store(store, job.query, **kwargs), job, limits.prefixes)
    except SyntaxError as err:
        return Outcome(kind="syntax", message=readable_syntax_error(job.query, err), form=found.form)
    except UnknownFunctions as err:
        return Outcome(kind="unknown-function", message=str(err), form=found.form)
    except OSError as err:
        if not (limits.sandbox and refused_outbound(err)):
            raise
        # A SERVICE the token layer did not see, stopped by the sandbox (or by the HTTP client's own port rules).
        return Outcome(kind="service-refused", message="(a target spelled so that the query's reading missed it)",
                       form=found.form)
    outcome.form = found.form
    return outcome


def refused_outbound(err: OSError) -> bool:
    """Whether an engine error is an outbound call that the sandbox refused (socket() or connect() gets EACCES,
    so a host name cannot even be looked up)."""
    text = str(err)
    return (isinstance(err, PermissionError) or "(os error 13)" in text
            or "failed to lookup address information" in text or "is not allowed for HTTP(S)" in text)


PREFIXED_FORMATS = ("text/turtle", "application/trig", "application/rdf+xml")


def shape(results, job: Job, prefixes: tuple = ()) -> Outcome:
    """Cap and serialise query results (pyoxigraph's, or parsed from a remote endpoint's answer).

    Two caps, both signalled as truncation: job.max_rows rows, and job.max_bytes
    bytes of answer (rows are kept while the answer fits).
    """
    if isinstance(results, (pyoxigraph.QueryTriples, list)):
        if job.graph_format is None:
            return Outcome(kind="not-acceptable")
        fmt = pyoxigraph.RdfFormat.from_media_type(job.graph_format)
        triples, truncated = _take(results, job, _triple_size)
        used = _used_prefixes(triples, prefixes) if job.graph_format in PREFIXED_FORMATS else None
        try:
            body = pyoxigraph.serialize(triples, format=fmt, prefixes=used) if triples else b""
            while job.max_bytes and len(body) > job.max_bytes and triples:
                triples, truncated = triples[:len(triples) // 2], True
                body = pyoxigraph.serialize(triples, format=fmt, prefixes=used) if triples else b""
        except (OSError, ValueError) as err:   # a term the format cannot write (JSON-LD and RDF 1.2 triple terms)
            return Outcome(kind="not-acceptable", message=f"{job.graph_format}: {err}")
        return Outcome(kind="ok", body=body or b"", media_type=job.graph_format, truncated=truncated, count=len(triples))

    if job.results_format is None:
        return Outcome(kind="not-acceptable")
    fmt = pyoxigraph.QueryResultsFormat.from_media_type(job.results_format)
    if isinstance(results, pyoxigraph.QueryBoolean):
        return Outcome(kind="ok", body=results.serialize(format=fmt), media_type=job.results_format, count=1)

    variables = results.variables
    rows, truncated = _take(results, job, _row_size)
    try:
        body = _solutions(variables, rows, truncated, fmt)
        while job.max_bytes and len(body) > job.max_bytes and rows:
            rows, truncated = rows[:len(rows) // 2], True
            body = _solutions(variables, rows, True, fmt)
    except (OSError, ValueError) as err:
        return Outcome(kind="not-acceptable", message=f"{job.results_format}: {err}")
    return Outcome(kind="ok", body=body, media_type=job.results_format, truncated=truncated, count=len(rows))


def _used_prefixes(triples, prefixes: tuple) -> dict | None:
    """The publication's prefixes whose namespace some IRI of the answer starts with (the writer declares them all)."""
    iris = set()
    for triple in triples:
        for term in (triple.subject, triple.predicate, triple.object):
            if type(term) is pyoxigraph.NamedNode:
                iris.add(term.value)
            elif type(term) is pyoxigraph.Literal:
                iris.add(term.datatype.value)
    used = {prefix: namespace for prefix, namespace in prefixes if any(iri.startswith(namespace) for iri in iris)}
    return used or None


def _solutions(variables, rows, truncated: bool, fmt) -> bytes:
    as_json = solutions_json(variables, rows, truncated)
    if fmt == pyoxigraph.QueryResultsFormat.JSON:
        return as_json
    body = pyoxigraph.parse_query_results(as_json, format=pyoxigraph.QueryResultsFormat.JSON).serialize(format=fmt)
    if truncated and fmt == pyoxigraph.QueryResultsFormat.XML:
        body = _mark_xml_truncated(body)
    return body


def _take(results, job: Job, size_of) -> tuple[list, bool]:
    """At most max_rows items, and no more than fit in max_bytes (by a cheap estimate); truncated?"""
    taken, used = [], 0
    for item in itertools.islice(results, job.max_rows + 1):
        if len(taken) == job.max_rows:
            return taken, True
        if job.max_bytes:
            used += size_of(item)
            if used > job.max_bytes:
                return taken, True
        taken.append(item)
    return taken, False


def _term_size(term) -> int:
    if term is None:
        return 0
    return len(term.value) + 24 if hasattr(term, "value") else len(str(term)) + 24


def _row_size(row) -> int:
    return sum(_term_size(term) for term in row) + 4


def _triple_size(triple) -> int:
    return _term_size(triple.subject) + _term_size(triple.predicate) + _term_size(triple.object)
