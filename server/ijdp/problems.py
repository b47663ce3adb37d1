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


def problem(status: int, detail: str, kind: str | None = None, headers: dict | None = None, **extra) -> Response:
    body = {
        "type": PROBLEM_BASE + (kind or str(status)),
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        **extra,
    }
    response = Response(json.dumps(body, ensure_ascii=False, indent=1) + "\n", status=status,
                        mimetype="application/problem+json")
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def register(app) -> None:
    @app.errorhandler(HTTPException)
    def http_problem(err: HTTPException):
        headers = dict(err.get_response().headers) if err.code == 405 else {}
        allow = {"Allow": headers["Allow"]} if "Allow" in headers else None
        return problem(err.code or 500, err.description or TITLES.get(err.code, "Error"), headers=allow)

    @app.errorhandler(Exception)
    def unexpected(err: Exception):
        log.exception("unexpected error")  # the trace stays in the server log, never in the response
        return problem(500, "The server hit an unexpected error; it has been logged.")
