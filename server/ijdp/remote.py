"""A SPARQL 1.1 endpoint as the query backend (--store sparql:URL).

Queries are forwarded over the SPARQL 1.1 Protocol after the server's own
safety checks; answers come back as SPARQL JSON or N-Triples and go through the
same row cap and serialisers as the embedded engine, so clients see the same
formats, limits and error shapes whatever the store.
"""
from __future__ import annotations

import http.client
import socket
import threading
import urllib.parse

import pyoxigraph

from .querypool import BoundedCache, Job, Outcome, PoolUnavailable, QueryTimeout, WorkerLimits

ACCEPT_RESULTS = "application/sparql-results+json"
ACCEPT_GRAPH = "application/n-triples"


class RemoteBackend:
    cacheable = False   # the remote store changes behind our back: its answers are never cached

    def __init__(self, endpoint: str, cache_bytes: int = 0, limits: WorkerLimits = WorkerLimits(internet=True)):
        self.endpoint = endpoint
        self.limits = limits
        self.cache = BoundedCache(cache_bytes)
        parts = urllib.parse.urlsplit(endpoint)
        self._connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        self._host, self._port = parts.hostname, parts.port
        self._target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        # One keep-alive connection per thread: a fresh TCP connection per query
        # cost more than a lookup on the backend.
        self._local = threading.local()

    @property
    def ready(self) -> bool:
        try:
            self._send_query("ASK {}", (), (), ACCEPT_RESULTS, timeout=5)
            return True
        except (PoolUnavailable, QueryTimeout):
            return False

    def generation_stamp(self) -> int:
        return 0

    def update_token(self) -> str:
        # Someone else's server: its data may change without us; validators follow the build only,
        # and the freshness lifetime bounds how long a cache keeps an answer.
        return ""

    def updated_at(self) -> None:
        return None

    def close(self) -> None:
        pass

    def _send_query(self, query, default_graphs, named_graphs, accept, timeout):
        fields = [("query", query)] + [("default-graph-uri", g) for g in default_graphs] + \
                 [("named-graph-uri", g) for g in named_graphs]
        encoded = urllib.parse.urlencode(fields)
        # GET for queries that fit a URL (what SPARQL clients send by default, and
        # answered faster by Virtuoso than a form POST); a form POST for the rest.
        if len(encoded) <= 2000:
            method, target, body, headers = "GET", f"{self._target}{'&' if '?' in self._target else '?'}{encoded}", None, \
                {"Accept": accept}
        else:
            method, target, body = "POST", self._target, encoded.encode()
            headers = {"Accept": accept, "Content-Type": "application/x-www-form-urlencoded"}
        for attempt in (0, 1):
            connection = getattr(self._local, "connection", None)
            fresh = connection is None
            if fresh:
                connection = self._local.connection = self._connection_class(self._host, self._port, timeout=timeout)
            try:
                connection.timeout = timeout
                if connection.sock is not None:
                    connection.sock.settimeout(timeout)
                connection.request(method, target, body=body, headers=headers)
                response = connection.getresponse()
                payload = response.read()
                if response.will_close:
                    self._drop()
                return response.status, response.headers.get_content_type(), payload
            except (socket.timeout, TimeoutError):
                self._drop()
                raise QueryTimeout(f"the SPARQL backend did not answer within {timeout:g} s") from None
            except (http.client.HTTPException, ConnectionError, OSError) as err:
                self._drop()
                # A kept-alive connection the backend has closed meanwhile: try once more on a new one.
                if fresh or attempt:
                    raise PoolUnavailable(f"the SPARQL backend cannot be reached: {err}") from None
        raise AssertionError("unreachable")

    def _drop(self) -> None:
        connection = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None:
            connection.close()

    def run(self, job: Job, timeout: float) -> Outcome:
        from .results import screen, shape

        # The same decisions as the workers make, and no sandbox behind them: a SERVICE goes
        # to the backend only when its target is exactly an allow-listed endpoint.
        refusal, found = screen(job, self.limits)
        if refusal is not None:
            return refusal
        if found.words:   # a vendor's extension (Virtuoso's DEFINE get:soft fetches what FROM names)
            return Outcome(kind="syntax", message=f"{found.words[0][:40]!r} is not SPARQL", form=found.form)
        allowed = {_endpoint(url) for url in self.limits.service_allowlist} - {None}
        for target in found.services:
            if target is None or _endpoint(target) not in allowed:
                return Outcome(kind="service-refused", message=target or "a variable", form=found.form)

        accept = ", ".join(a for a, wanted in ((ACCEPT_RESULTS, job.results_format), (ACCEPT_GRAPH, job.graph_format))
                           if wanted) or ACCEPT_RESULTS
        status, media, body = self._send_query(job.query, job.default_graphs, job.named_graphs, accept, timeout)
        if status == 400:
            return Outcome(kind="syntax", message=_plain(body))
        if status >= 500 or status in (502, 503, 504):
            raise PoolUnavailable(f"the SPARQL backend answered HTTP {status}: {_plain(body)[:300]}")
        if status != 200:
            return Outcome(kind="error", message=f"the SPARQL backend answered HTTP {status}: {_plain(body)[:300]}")
        try:
            if media in (ACCEPT_RESULTS, "application/json"):
                results = pyoxigraph.parse_query_results(body, format=pyoxigraph.QueryResultsFormat.JSON)
            else:
                fmt = pyoxigraph.RdfFormat.from_media_type(media) or pyoxigraph.RdfFormat.N_TRIPLES
                results = [quad.triple for quad in pyoxigraph.parse(body, format=fmt)]
        except (SyntaxError, ValueError) as err:
            raise PoolUnavailable(f"the SPARQL backend sent an answer that does not parse ({media}): {err}") from None
        return shape(results, job, self.limits.prefixes)


def _endpoint(url: str):
    """(scheme, host, port, path, query) of an http(s) endpoint URL, or None for anything else.

    Case and default ports are normalised; user info, fragments, dot segments and
    encoded dots or slashes make no endpoint (a backend may resolve them to another path).
    """
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    path = parts.path or "/"
    lowered = path.lower()
    if scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc or parts.fragment \
            or "#" in url or "\\" in url or not url.isascii() or any(c.isspace() for c in url) \
            or "%2e" in lowered or "%2f" in lowered or "%5c" in lowered \
            or any(segment in (".", "..") for segment in path.split("/")):
        return None
    return scheme, parts.hostname.lower(), port or (443 if scheme == "https" else 80), path, parts.query


def _plain(body: bytes) -> str:
    text = body.decode("utf-8", "replace")
    if "<html" in text.lower():
        import re
        text = re.sub(r"<[^>]+>", " ", text)
    return " ".join(text.split())
