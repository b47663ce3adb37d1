"""The one error shape of the server: RFC 9457 application/problem+json."""
from __future__ import annotations

import json
import logging

from flask import Response
from werkzeug.exceptions import HTTPException

PROBLEM_BASE = "https://w3id.org/ijdp/problems/"
log = logging.getLogger("ijdp")

# The fixed status map of the SPARQL endpoint.
TITLES = {
    400: "Bad request",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    413: "Request too large",
    414: "URI too long",
    415: "Unsupported media type",
    422: "Query too expensive",
    429: "Too many requests",
    431: "Request header fields too large",
    500: "Internal error",
    503: "Service unavailable",
}


# Every problem type the server reports: its status and what it means, for the page its type IRI names.
# (A test walks the code and fails on a kind missing here.)
KINDS = {
    "malformed-query": (400, "The query is not SPARQL 1.1: the detail gives the position (line, column), what was "
                             "found there and, where the list is short, what could come. Fix the query and send it again."),
    "too-deeply-nested": (400, "The query nests brackets, operators or chained patterns deeper than the server's limit "
                               "(declared in the service description). Flatten it, e.g. with VALUES or fewer nested groups."),
    "too-wide": (400, "The query projects more variables than the server's limit (declared in the service description)."),
    "unknown-function": (400, "The query calls a function the engine does not know; the detail names it. Use the "
                              "SPARQL 1.1 built-in functions or the XSD casts."),
    "repeated-query": (400, "The query parameter was given more than once; send one query per request."),
    "missing-query": (400, "The request holds no query: send one in the query parameter or as an "
                           "application/sparql-query body."),
    "missing-update": (400, "The update request holds no update."),
    "invalid-graph-iri": (400, "default-graph-uri and named-graph-uri take absolute IRIs."),
    "unknown-format": (400, "format= names no format this server writes; the detail lists the names it knows."),
    "update-refused": (403, "This endpoint is read-only: SPARQL Update (including LOAD) is accepted only on the admin "
                            "path, with its token."),
    "load-refused": (403, "LOAD is refused: the server makes no outbound requests (LOAD SILENT succeeds without loading)."),
    "service-refused": (403, "The query calls SERVICE on an endpoint that is not on the server's allow-list (or on "
                             "a variable). Ask the endpoint directly, or ask the operator to allow it."),
    "not-found": (404, "Nothing is published at this address. The site's pages link to everything it holds."),
    "not-acceptable": (406, "None of the formats the request accepts (Accept, or format=) can carry this answer; "
                            "the problem's available member lists those that would."),
    "unsupported-media-type": (415, "The request body's content type is not one the SPARQL protocol uses here: send "
                                    "application/sparql-query or application/x-www-form-urlencoded."),
    "uri-too-long": (414, "The URL is over the server's limit; send long queries in a POST body."),
    "memory-limit": (422, "The query needed more memory than a query may use; the detail gives the limit. Narrow it "
                          "(LIMIT, fewer OPTIONALs, no large string building)."),
    "client-over-budget": (429, "This client has used its share of query time (or has too many queries in flight). "
                                "Retry-After says when to try again."),
    "evaluation-error": (500, "The engine could not evaluate the query; the detail says why."),
    "query-crashed": (500, "The query worker stopped while evaluating the query (the detail names the signal); the "
                           "server replaced it and goes on answering."),
    "update-error": (500, "The update could not be applied; the store is unchanged."),
    "query-timeout": (503, "The query ran longer than the server's timeout and was stopped; the detail gives the "
                           "timeout. Narrow it or add a LIMIT."),
    "update-timeout": (503, "The update ran longer than its timeout and was stopped; the store is unchanged."),
    "server-busy": (503, "Every query worker stayed busy for the whole wait; try again after Retry-After."),
    "worker-unavailable": (503, "No query worker is running (the store is being opened or replaced); try again after "
                                "Retry-After."),
    "store-unavailable": (503, "The store the server reads cannot be opened right now; try again later."),
}
# Problems named only by their status (the HTTP layer's own, and generic ones).
for _status, _title in TITLES.items():
    KINDS.setdefault(str(_status), (_status, f"{_title}: the detail says what was wrong with the request."))


def problem(status: int, detail: str, kind: str | None = None, headers: dict | None = None, **extra) -> Response:
    """The problem as application/problem+json, or as a page of the site for a browser (same status and fields)."""
    body = {
        "type": PROBLEM_BASE + (kind or str(status)),
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        **extra,
    }
    if _browser_asks():
        response = Response(_page(body, kind or str(status)), status=status, mimetype="text/html")
    else:
        response = Response(json.dumps(body, ensure_ascii=False, indent=1) + "\n", status=status,
                            mimetype="application/problem+json")
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _browser_asks() -> bool:
    """A request whose Accept prefers text/html to JSON (a browser's); False outside a request."""
    from flask import has_request_context, request

    from .negotiation import quality

    if not has_request_context():
        return False
    accept = request.accept_mimetypes
    html = quality(accept, "text/html")
    return html[0] >= 2 and html[1] > max(quality(accept, media)[1] for media in
                                          ("application/problem+json", "application/json"))


def _page(body: dict, kind: str) -> str:
    from flask import render_template, request

    fields = [(name, value) for name, value in body.items() if name not in ("type", "title", "status", "detail")]
    referrer = request.referrer or ""
    back = referrer if referrer.startswith(request.host_url) else ""
    return render_template("problem.html", status=body["status"], title=body["title"], detail=body["detail"],
                           type=body["type"], type_path="/problems/" + kind, fields=fields, back=back)


class Kind:
    def __init__(self, name: str):
        self.name = name
        self.status, self.explanation = KINDS[name]
        self.title = TITLES.get(self.status, "Error")
        self.iri = PROBLEM_BASE + name


def register(app) -> None:
    @app.route("/problems/")
    def problem_types():
        return _kinds_page(sorted(KINDS, key=lambda name: (KINDS[name][0], name)))

    @app.route("/problems/<kind>")
    def problem_type(kind: str):
        if kind not in KINDS:
            return problem(404, f"There is no problem type {kind[:80]!r}; /problems/ lists them all.", "not-found")
        return _kinds_page([kind])

    @app.errorhandler(HTTPException)
    def http_problem(err: HTTPException):
        headers = dict(err.get_response().headers) if err.code == 405 else {}
        allow = {"Allow": headers["Allow"]} if "Allow" in headers else None
        kind = "not-found" if err.code == 404 else None
        return problem(err.code or 500, err.description or TITLES.get(err.code, "Error"), kind, headers=allow)

    @app.errorhandler(Exception)
    def unexpected(err: Exception):
        log.exception("unexpected error")  # the trace stays in the server log, never in the response
        return problem(500, "The server hit an unexpected error; it has been logged.")


def _kinds_page(names) -> Response:
    from flask import render_template

    return Response(render_template("problems.html", kinds=[Kind(name) for name in names]), mimetype="text/html")
