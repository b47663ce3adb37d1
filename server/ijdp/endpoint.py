"""The SPARQL 1.1 Protocol at /sparql, its service description, and the admin update path."""
from __future__ import annotations

import hmac
import re

from flask import Blueprint, Response, current_app, request

from .formats import RDF_FORMATS, RESULTS_FORMATS
from .negotiation import UnknownFormat, by_name, negotiate, prefers_html
from .problems import problem
from .querypool import Job, PoolBusy, PoolUnavailable, QueryTimeout, run_update
from .sparql import (declares_dataset, has_load, query_form, service_endpoints, update_syntax_error,
                     without_silent_loads)

bp = Blueprint("sparql", __name__)

QUERY_TYPES = ("application/sparql-query",)
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
UPDATE_TYPES = ("application/sparql-update",)
SD_FORMATS = tuple(f for f in RDF_FORMATS if not f.keeps_graphs)
POSITION = re.compile(r"(?:line |at )(\d+)[:, ]+(?:column |between columns )?(\d+)")


def settings():
    return current_app.config["IJDP_SETTINGS"]


def pool():
    return current_app.extensions["ijdp_pool"]


class ProtocolError(Exception):
    def __init__(self, response: Response):
        self.response = response


def _params():
    """The protocol parameters of the request (a MultiDict), and the query text if sent as the body."""
    if request.method == "GET":
        return request.args, None
    content_type = (request.mimetype or "").lower()
    if content_type in QUERY_TYPES:
        return request.args, request.get_data(as_text=True)
    if content_type in FORM_TYPES:
        merged = request.args.copy()
        for key, values in request.form.lists():
            merged.setlist(key, merged.getlist(key) + values)
        return merged, None
    if content_type in UPDATE_TYPES:
        raise ProtocolError(problem(403, "This is a read-only endpoint: SPARQL Update is not accepted here.", "update-refused"))
    raise ProtocolError(problem(
        415, f"Unsupported content type {request.mimetype or '(none)'!r}: send application/sparql-query "
             "or application/x-www-form-urlencoded.", "unsupported-media-type"))


def _chosen_formats(params, form: str):
    """(results format, graph format) for this request, either may be None.

    Only the kind the query's form needs is negotiated (the form is read from
    the query's first keyword; the worker reports 406 if the result differs).
    """
    key = params.get("format") or params.get("output")
    if key:
        try:
            fmt = by_name(RESULTS_FORMATS, key)
            return fmt, None
        except UnknownFormat:
            pass
        try:
            return None, by_name(RDF_FORMATS, key)
        except UnknownFormat:
            names = ", ".join(f.name for f in (*RESULTS_FORMATS, *RDF_FORMATS))
            raise ProtocolError(problem(400, f"Unknown format {key!r}; use one of {names}.", "unknown-format")) from None
    if form in ("CONSTRUCT", "DESCRIBE"):
        return None, negotiate(request.accept_mimetypes, RDF_FORMATS)
    return negotiate(request.accept_mimetypes, RESULTS_FORMATS), None


@bp.route("/sparql", methods=["GET", "POST"])
def sparql():
    # Identical GET requests on an unchanged store get the same bytes: answer them
    # before any parsing (the store generation in the key makes updates visible).
    cache = current_app.extensions["ijdp_response_cache"]
    key = None
    if request.method == "GET" and request.query_string and cache.max_bytes and pool().cacheable:
        key = (request.query_string, request.headers.get("Accept", ""), pool().generation_stamp())
        hit = cache.get(key)
        if hit is not None:
            body, headers = hit
            return Response(body, status=200, headers=headers)
    response = _sparql()
    if key is not None and response.status_code == 200 and not response.is_streamed:
        body = response.get_data()
        cache.put(key, (body, list(response.headers.items())), len(body) + len(key[0]))
    return response


def _sparql():
    try:
        params, body_query = _params()
        if "update" in params:
            return problem(403, "This is a read-only endpoint: SPARQL Update is not accepted here.", "update-refused")
        queries = params.getlist("query")
        if body_query is not None:
            queries = [body_query]
        if len(queries) > 1:
            return problem(400, "The query parameter was given more than once.", "repeated-query")
        if not queries or not queries[0].strip():
            if request.method == "GET" and not params.get("format"):
                return service_description_or_ui()
            return problem(400, "No query: send one in the query parameter or as an application/sparql-query body.", "missing-query")
        return answer(queries[0], params)
    except ProtocolError as err:
        return err.response


def answer(query: str, params) -> Response:
    config = settings()
    form = query_form(query)
    services = service_endpoints(query)
    refused = _refused_service(query, services)
    if refused is not None:
        return refused
    if form == "UPDATE":
        message = update_syntax_error(query)
        if message:
            return _syntax_problem(message)
        return problem(403, "This is a read-only endpoint: SPARQL Update (including LOAD) is not accepted here.", "update-refused")
    html = prefers_html(request.accept_mimetypes, (*RESULTS_FORMATS, *RDF_FORMATS)) and not params.get("format")
    if html:
        results_format, graph_format = RESULTS_FORMATS[0], RDF_FORMATS[0]
    else:
        results_format, graph_format = _chosen_formats(params, form)
    wanted = graph_format if form in ("CONSTRUCT", "DESCRIBE") else results_format
    if wanted is None:
        return _not_acceptable(form)
    for key in ("default-graph-uri", "named-graph-uri"):
        for value in params.getlist(key):
            if not is_iri(value):
                return problem(400, f"{key} must be an absolute IRI; {value[:100]!r} is not.", "invalid-graph-iri")
    job = Job(query=query,
              results_format=results_format.media_type if results_format else None,
              graph_format=graph_format.media_type if graph_format else None,
              max_rows=config.max_rows,
              union_default=config.union_default_graph and not declares_dataset(query),
              default_graphs=tuple(params.getlist("default-graph-uri")),
              named_graphs=tuple(params.getlist("named-graph-uri")))
    # A federated query waits on someone else's server: it gets its own, shorter timeout.
    timeout = min(config.query_timeout, config.service_timeout) if services else config.query_timeout
    try:
        outcome = pool().run(job, timeout=timeout)
    except PoolBusy as err:
        return problem(503, str(err), "server-busy", headers={"Retry-After": "5"})
    except QueryTimeout as err:
        return problem(503, str(err), "query-timeout", headers={"Retry-After": "5"}, timeout_seconds=timeout)
    except PoolUnavailable as err:
        return problem(503, str(err), "worker-unavailable", headers={"Retry-After": "1"})
    if outcome.kind == "syntax":
        return _syntax_problem(outcome.message)
    if outcome.kind == "not-acceptable":
        return _not_acceptable(form)
    if outcome.kind == "error":
        current_app.logger.error("query failed: %s", outcome.message)
        return problem(500, f"The query could not be evaluated: {outcome.message}", "evaluation-error")
    headers = {"Vary": "Accept", "X-SPARQL-MaxRows": str(config.max_rows)}
    if outcome.truncated:
        headers["X-SPARQL-Truncated"] = "true"
        headers["Warning"] = f'199 - "results truncated to {config.max_rows} rows (the row cap)"'
    if html:
        return _html_results(query, outcome, headers)
    return Response(outcome.body, status=200, headers=headers, content_type=_content_type(outcome.media_type))


def is_iri(value: str) -> bool:
    import pyoxigraph
    try:
        pyoxigraph.NamedNode(value)
        return True
    except ValueError:
        return False


def _refused_service(text: str, endpoints=None):
    for endpoint in service_endpoints(text) if endpoints is None else endpoints:
        if endpoint is None or endpoint not in settings().service_allowlist:
            shown = endpoint or "a variable"
            return problem(403, f"SERVICE {shown} is not allowed: this endpoint makes no outbound requests "
                                "except to its configured allow-list.", "service-refused")
    return None


def _content_type(media_type: str) -> str:
    textual = media_type.startswith("text/") or media_type.endswith(("json", "xml", "triples", "quads", "trig"))
    return f"{media_type}; charset=utf-8" if textual else media_type


def _not_acceptable(form: str) -> Response:
    offered = RDF_FORMATS if form in ("CONSTRUCT", "DESCRIBE") else RESULTS_FORMATS
    return problem(406, f"None of the requested media types can carry a {form} result. Available: "
                        + ", ".join(f.media_type for f in offered) + ".", "not-acceptable",
                   headers={"Vary": "Accept"}, available=[f.media_type for f in offered])


def _syntax_problem(message: str) -> Response:
    extra = {}
    match = POSITION.search(message)
    if match:
        extra = {"line": int(match.group(1)), "column": int(match.group(2))}
    return problem(400, f"Malformed query: {message}", "malformed-query", **extra)


def _html_results(query: str, outcome, headers) -> Response:
    import json

    table = None
    if outcome.media_type == RESULTS_FORMATS[0].media_type:
        data = json.loads(outcome.body)
        if "boolean" in data:
            table = {"boolean": data["boolean"]}
        else:
            variables = data["head"]["vars"]
            rows = [[row.get(v) for v in variables] for row in data["results"]["bindings"]]
            table = {"variables": variables, "rows": rows}
    from .ui import query_page
    return query_page(query=query, table=table, graph_text=None if table else outcome.body.decode("utf-8", "replace"),
                      truncated=outcome.truncated, headers=headers)


def service_description_or_ui() -> Response:
    if prefers_html(request.accept_mimetypes, RDF_FORMATS):
        from .ui import query_page
        return query_page(headers={"Vary": "Accept"})
    fmt = negotiate(request.accept_mimetypes, SD_FORMATS)
    if fmt is None:
        return problem(406, "The service description is available as " + ", ".join(f.media_type for f in SD_FORMATS) + ".",
                       "not-acceptable", headers={"Vary": "Accept"})
    from .service import service_description

    graph = service_description(request.url_root.rstrip("/") + "/sparql", settings(), _void_triples())
    body = graph.serialize(format=fmt.rdflib_name, encoding="utf-8")
    return Response(body, headers={"Vary": "Accept", "Content-Type": _content_type(fmt.media_type)})


def _void_triples() -> bytes:
    """The metadata graph as N-Triples, fetched once through the pool."""
    cache = current_app.extensions.setdefault("ijdp_void", {})
    if "nt" not in cache:
        base = settings().base_iri
        job = Job(query=f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{base}graph/metadata> {{ ?s ?p ?o }} }}",
                  results_format=None, graph_format="application/n-triples", max_rows=1_000_000)
        outcome = pool().run(job, timeout=settings().query_timeout)
        cache["nt"] = outcome.body if outcome.kind == "ok" else b""
    return cache["nt"]


@bp.route("/sparql/update", methods=["POST"])
def update():
    config = settings()
    if not config.admin_token:
        return problem(403, "Updates are disabled on this server (no admin token is configured).", "update-refused")
    if not current_app.config.get("IJDP_STORE"):
        return problem(403, "Updates need the on-disk store (--store oxigraph:PATH); this server's store is read-only.",
                       "update-refused")
    supplied = request.headers.get("Authorization", "")
    if not hmac.compare_digest(supplied.encode(), f"Bearer {config.admin_token}".encode()):
        return problem(403, "A valid admin bearer token is required for updates.", "update-refused")
    content_type = (request.mimetype or "").lower()
    if content_type in UPDATE_TYPES:
        text = request.get_data(as_text=True)
    elif content_type in FORM_TYPES:
        values = request.form.getlist("update")
        if len(values) != 1:
            return problem(400, "Send exactly one update parameter.", "missing-update")
        text = values[0]
    else:
        return problem(415, "Send application/sparql-update or a form with an update parameter.", "unsupported-media-type")
    message = update_syntax_error(text)
    if message:
        return _syntax_problem(message)
    text = without_silent_loads(text)
    if has_load(text):
        return problem(403, "LOAD is refused: this server makes no outbound requests (LOAD SILENT succeeds without loading).",
                       "load-refused")
    refused = _refused_service(text)
    if refused is not None:
        return refused
    try:
        status, message = run_update(current_app.config["IJDP_STORE"], text, config.query_timeout)
    except QueryTimeout as err:
        return problem(503, str(err), "update-timeout")
    if status == "syntax":
        return _syntax_problem(message)
    if status != "ok":
        return problem(500, f"The update failed: {message}", "update-error")
    current_app.extensions.pop("ijdp_void", None)
    return Response(b'{"status": "ok"}\n', content_type="application/json")
