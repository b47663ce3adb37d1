"""The SPARQL 1.1 Protocol at /sparql, its service description, and the admin update path."""
from __future__ import annotations

import hmac
import re
import threading

from flask import Blueprint, Response, current_app, request

from .caching import answer_conditionally, cacheable, not_modified, request_meaning
from .formats import RDF_FORMATS, RESULTS_FORMATS
from .negotiation import UnknownFormat, by_name, negotiate, prefers_html
from .problems import problem
from .querypool import Job, PoolBusy, PoolUnavailable, QueryTimeout, WorkerCrashed, run_update

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
    if request.method in ("GET", "HEAD"):
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


def _chosen_formats(params):
    """(results format, graph format) for this request, either may be None (a 406 if the query needs it).

    Both kinds are chosen, since the form of the query is known only once a
    worker has read it. format= / output= (what SPARQLWrapper, Jena and YASGUI
    send) names one format: "xml" is SPARQL XML for a SELECT and RDF/XML for a
    CONSTRUCT, "json" SPARQL JSON or JSON-LD; a name of one kind only (turtle,
    csv) leaves the other kind None, so format=turtle of a SELECT is a 406.
    """
    key = params.get("format") or params.get("output")
    if key:
        results, graph = _named(RESULTS_FORMATS, key), _named(RDF_FORMATS, key)
        if results is None and graph is None:
            names = ", ".join(f.name for f in (*RESULTS_FORMATS, *RDF_FORMATS))
            raise ProtocolError(problem(400, f"Unknown format {key[:100]!r}; use one of {names}, html "
                                             "(or a media type).", "unknown-format"))
        return results, graph
    accept = request.accept_mimetypes
    results, graph = negotiate(accept, RESULTS_FORMATS), negotiate(accept, RDF_FORMATS)
    # A SPARQL client that accepts only results types (rdflib's SPARQLStore asks a CONSTRUCT
    # for SPARQL JSON) gets the default graph format, as Fuseki and Virtuoso answer it.
    # The other way round (a SELECT asked as Turtle) no client means: that is a 406.
    if results is not None and graph is None:
        graph = RDF_FORMATS[0]
    return results, graph


def _named(formats, key: str):
    try:
        return by_name(formats, key)
    except UnknownFormat:
        return None


@bp.route("/sparql", methods=["GET", "POST"])
def sparql():
    # Identical GET requests on an unchanged store get the same bytes: answer them
    # before any parsing (the store generation in the key makes updates visible).
    cache = current_app.extensions["ijdp_response_cache"]
    key = None
    if request.method in ("GET", "HEAD") and request.query_string and cache.max_bytes and pool().cacheable:
        key = (request.query_string, request.headers.get("Accept", ""), pool().generation_stamp())
        hit = cache.get(key)
        if hit is not None:
            body, headers = hit
            return answer_conditionally(Response(body, status=200, headers=headers))
    response = _sparql()
    if key is not None and response.status_code == 200 and not response.is_streamed and not request.if_none_match:
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
            if request.method in ("GET", "HEAD") and not params.get("format"):
                return service_description_or_ui()
            return problem(400, "No query: send one in the query parameter or as an application/sparql-query body.", "missing-query")
        return answer(queries[0], params)
    except ProtocolError as err:
        return err.response


def answer(query: str, params) -> Response:
    """Run a query in a worker, which reads it and decides what is allowed (nothing is parsed here)."""
    config = settings()
    named = (params.get("format") or params.get("output") or "").strip().lower()
    html = named in ("html", "text/html") or (
        not named and prefers_html(request.accept_mimetypes, (*RESULTS_FORMATS, *RDF_FORMATS)))
    if html:
        results_format, graph_format = RESULTS_FORMATS[0], RDF_FORMATS[0]
    else:
        results_format, graph_format = _chosen_formats(params)
    for key in ("default-graph-uri", "named-graph-uri"):
        for value in params.getlist(key):
            if not is_iri(value):
                return problem(400, f"{key} must be an absolute IRI; {value[:100]!r} is not.", "invalid-graph-iri")
    # What the answer depends on besides the data: a cache validator computed before anything runs.
    meaning = ("sparql", query, tuple(params.getlist("default-graph-uri")), tuple(params.getlist("named-graph-uri")),
               "html" if html else (results_format.media_type if results_format else "",
                                    graph_format.media_type if graph_format else ""),
               config.max_rows, config.max_answer_bytes, config.union_default_graph)
    reading = request.method in ("GET", "HEAD")
    if reading:
        held = not_modified(*meaning, vary="Accept")
        if held is not None:
            return held
    job = Job(query=query,
              results_format=results_format.media_type if results_format else None,
              graph_format=graph_format.media_type if graph_format else None,
              max_rows=config.max_rows,
              max_bytes=config.max_answer_bytes,
              union_default=config.union_default_graph,
              default_graphs=tuple(params.getlist("default-graph-uri")),
              named_graphs=tuple(params.getlist("named-graph-uri")))
    timeout = config.query_timeout
    try:
        outcome = pool().run(job, timeout=timeout)
        if outcome.kind == "federate":
            # Every SERVICE is on the allow-list: the federation workers, which may reach
            # the network, run it, with its own, shorter timeout (it waits on someone else's server).
            timeout = min(config.query_timeout, config.service_timeout)
            outcome = federation_pool().run(job, timeout=timeout)
    except PoolBusy as err:
        return problem(503, str(err), "server-busy", headers={"Retry-After": "5"})
    except QueryTimeout as err:
        return problem(503, str(err), "query-timeout", headers={"Retry-After": "5"}, timeout_seconds=timeout)
    except PoolUnavailable as err:
        return problem(503, str(err), "worker-unavailable", headers={"Retry-After": "1"})
    except WorkerCrashed as err:
        return _crash_problem(err)
    refused = outcome_problem(outcome)
    if refused is not None:
        return refused
    headers = {"Vary": "Accept", "X-SPARQL-MaxRows": str(config.max_rows)}
    if config.max_answer_bytes:
        headers["X-SPARQL-MaxBytes"] = str(config.max_answer_bytes)
    if outcome.truncated:
        headers["X-SPARQL-Truncated"] = "true"
        headers["Warning"] = (f'199 - "results truncated to fit the caps ({config.max_rows} rows, '
                              f'{config.max_answer_bytes} bytes)"')
    if html:
        response = _html_results(query, outcome, headers)
    else:
        response = Response(outcome.body, status=200, headers=headers, content_type=_content_type(outcome.media_type))
    # A GET answer is the same for everyone until the data changes: shared caches may keep it.
    return cacheable(response, *meaning, vary="Accept") if reading else response


def outcome_problem(outcome) -> Response | None:
    """The problem for a worker's refusal or failure; None when the outcome is an answer."""
    if outcome.kind == "ok":
        return None
    if outcome.kind == "syntax":
        return _syntax_problem(outcome.message)
    if outcome.kind == "too-deep":
        return problem(400, f"The query is too deeply nested: {outcome.message}.", "too-deeply-nested")
    if outcome.kind == "update-refused":
        return problem(403, "This is a read-only endpoint: SPARQL Update (including LOAD) is not accepted here.",
                       "update-refused")
    if outcome.kind == "service-refused":
        return problem(403, f"SERVICE {outcome.message} is not allowed: this endpoint makes no outbound requests "
                            "except to its configured allow-list.", "service-refused")
    if outcome.kind == "not-acceptable":
        return _not_acceptable(outcome.form, outcome.message)
    if outcome.kind in ("unknown-function", "too-wide"):
        return problem(400, f"{outcome.message[:1].upper()}{outcome.message[1:]}.", outcome.kind)
    if outcome.kind == "memory":
        return _crash_problem(WorkerCrashed(outcome.message, out_of_memory=True))
    current_app.logger.error("query failed: %s", outcome.message)
    return problem(500, f"The query could not be evaluated: {outcome.message}", "evaluation-error")


def _crash_problem(err: WorkerCrashed) -> Response:
    if err.out_of_memory:
        limit = settings().query_memory_mb
        return problem(422, f"The query used too much memory: {err} ({limit} MiB).", "memory-limit",
                       memory_limit_mib=limit)
    return problem(500, f"The query could not be answered: {err}.", "query-crashed")


_FEDERATION_LOCK = threading.Lock()


def federation_pool():
    """The workers that reach the allow-listed endpoints, through the federation proxy: made once, on first use."""
    extensions = current_app.extensions
    with _FEDERATION_LOCK:   # two first federated queries at once would each start a pool and a proxy
        if "ijdp_federation_pool" not in extensions:
            from .store import open_federation_pool
            extensions["ijdp_federation_pool"] = open_federation_pool(current_app.config["IJDP_STORE_SPEC"],
                                                                      settings(), extensions.get("ijdp_sharing"))
    return extensions["ijdp_federation_pool"]


def is_iri(value: str) -> bool:
    import pyoxigraph
    try:
        pyoxigraph.NamedNode(value)
        return True
    except ValueError:
        return False


def _content_type(media_type: str) -> str:
    textual = media_type.startswith("text/") or media_type.endswith(("json", "xml", "triples", "quads", "trig"))
    return f"{media_type}; charset=utf-8" if textual else media_type


def _not_acceptable(form: str, why: str = "") -> Response:
    offered = RDF_FORMATS if form in ("CONSTRUCT", "DESCRIBE") else RESULTS_FORMATS
    said = f"The requested format cannot carry this {form} result: {why}." if why else \
        f"None of the requested media types can carry a {form} result."
    return problem(406, f"{said} Available: " + ", ".join(f.media_type for f in offered) + ".", "not-acceptable",
                   headers={"Vary": "Accept"}, available=[f.media_type for f in offered])


def _syntax_problem(message: str) -> Response:
    extra = {}
    match = POSITION.search(message)
    if match:
        extra = {"line": int(match.group(1)), "column": int(match.group(2))}
    return problem(400, f"Malformed query: {message}", "malformed-query", **extra)


HTML_ROWS = 500               # rows (or triples) a results page shows; the whole answer is a link away
HTML_BYTES = 1024 * 1024      # and the text they may hold, so that a page costs the same for any answer


def _html_results(query: str, outcome, headers) -> Response:
    """The answer as a page: its first rows or triples, read lazily from the answer, with links to all of it."""
    import itertools
    import urllib.parse

    import pyoxigraph

    from .results import term_json

    def size(term) -> int:
        return 16 if term is None else len(term.value if hasattr(term, "value") else str(term)) + 16

    table = graph_text = more = None
    if outcome.media_type == RESULTS_FORMATS[0].media_type:
        parsed = pyoxigraph.parse_query_results(outcome.body, format=pyoxigraph.QueryResultsFormat.JSON)
        if isinstance(parsed, pyoxigraph.QueryBoolean):
            table = {"boolean": bool(parsed)}
        else:
            variables = [v.value for v in parsed.variables]
            rows, used, cut = [], 0, False
            for solution in parsed:
                row = [solution[index] for index in range(len(variables))]
                used += sum(size(term) for term in row)
                if len(rows) == HTML_ROWS or used > HTML_BYTES:
                    cut = True
                    break
                rows.append([None if term is None else term_json(term) for term in row])
            table = {"variables": variables, "rows": rows}
            if cut:
                more = {"shown": len(rows), "unit": "rows", "formats": [RESULTS_FORMATS[2], RESULTS_FORMATS[0]]}
    else:
        fmt = pyoxigraph.RdfFormat.from_media_type(outcome.media_type)
        parser = pyoxigraph.parse(outcome.body, format=fmt)
        triples, used = [], 0
        for quad in itertools.islice(parser, HTML_ROWS + 1):
            used += size(quad.subject) + size(quad.predicate) + size(quad.object)
            if len(triples) == HTML_ROWS or used > HTML_BYTES:
                more = {"shown": len(triples), "unit": "triples", "formats": [RDF_FORMATS[0], RDF_FORMATS[1]]}
                break
            triples.append(quad.triple)
        if more is None:
            graph_text = outcome.body.decode("utf-8", "replace")
        else:
            graph_text = pyoxigraph.serialize(triples, format=fmt, prefixes=parser.prefixes).decode("utf-8")
    if more is not None:
        dataset = [(key, value) for key in ("default-graph-uri", "named-graph-uri") for value in request.values.getlist(key)]
        more["links"] = [(f.label, "/sparql?" + urllib.parse.urlencode([("query", query), *dataset, ("format", f.name)]))
                         for f in more.pop("formats")]
    from .ui import query_page
    return query_page(query=query, table=table, graph_text=graph_text, truncated=outcome.truncated, headers=headers,
                      more=more)


def service_description_or_ui() -> Response:
    if prefers_html(request.accept_mimetypes, RDF_FORMATS):
        from .ui import query_page
        return cacheable(query_page(headers={"Vary": "Accept"}), *request_meaning("html"), vary="Accept")
    fmt = negotiate(request.accept_mimetypes, SD_FORMATS)
    if fmt is None:
        return problem(406, "The service description is available as " + ", ".join(f.media_type for f in SD_FORMATS) + ".",
                       "not-acceptable", headers={"Vary": "Accept"})
    from .service import service_description

    # The endpoint's IRI comes from the configured base, never from the request's Host header.
    graph = service_description(settings().base_iri + "sparql", settings(), _void_triples())
    body = graph.serialize(format=fmt.rdflib_name, encoding="utf-8")
    return cacheable(Response(body, headers={"Content-Type": _content_type(fmt.media_type)}),
                     *request_meaning(fmt), vary="Accept")


@bp.get("/sparql/description")
@bp.get("/sparql/description.<extension>")
def described(extension: str | None = None):
    """The service description as a page for people (its RDF one click away), or as RDF by Accept or suffix."""
    from .formats import HTML
    from .pages import conditional, rdf_page
    from .service import ENTAILMENT, FORMATS, SD, service_description

    graph = service_description(settings().base_iri + "sparql", settings(), _void_triples())
    if extension is not None:
        fmt = next((f for f in (HTML, *SD_FORMATS) if f.extension == extension), None)
        if fmt is None:
            return problem(404, f"No service description as .{extension[:20]}.", "not-found")
    elif prefers_html(request.accept_mimetypes, SD_FORMATS):
        fmt = HTML
    else:
        fmt = negotiate(request.accept_mimetypes, SD_FORMATS)
        if fmt is None:
            return _not_acceptable("CONSTRUCT")
    if fmt is HTML:
        # Only the service's own statements: the dataset's VoID has its own page.
        own = type(graph)()
        for triple in graph:
            if not str(triple[0]).startswith(settings().base_iri + "id/"):
                own.add(triple)
        response = rdf_page(own, "The SPARQL service, described", "What /sparql speaks and its limits "
                            "(SPARQL 1.1 Service Description): formats, features, the row, byte, time, memory and "
                            "nesting limits, and the dataset it serves (described on its own page).",
                            "/sparql/description", first=next(graph.subjects(SD.endpoint, None), None),
                            more_prefixes={"sd": str(SD), "formats": str(FORMATS), "entailment": str(ENTAILMENT)})
    else:
        body = graph.serialize(format=fmt.rdflib_name, encoding="utf-8")
        response = Response(body, headers={"Content-Type": _content_type(fmt.media_type)})
    return conditional(response, extension is None, "/sparql/description", fmt)


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
    try:
        status, message = run_update(current_app.config["IJDP_STORE"], text, config.query_timeout, pool().limits)
    except QueryTimeout as err:
        return problem(503, str(err), "update-timeout")
    if status == "syntax":
        return _syntax_problem(message)
    if status == "too-deep":
        return problem(400, f"The update is too deeply nested: {message}.", "too-deeply-nested")
    if status in ("load-refused", "service-refused"):
        return problem(403, message, status)
    if status == "memory":
        return _crash_problem(WorkerCrashed(message, out_of_memory=True))
    if status != "ok":
        return problem(500, f"The update failed: {message}", "update-error")
    current_app.extensions.pop("ijdp_void", None)
    current_app.extensions.pop("ijdp_void_graph", None)
    return Response(b'{"status": "ok"}\n', content_type="application/json")
