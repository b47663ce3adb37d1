"""SERVICE calls leave through one door: a proxy that forwards to the allow-listed endpoints only.

The federation workers may connect to one address, the proxy's on loopback
(sandbox.restrict_network); they resolve no names and reach no resolver.
Before a query runs there, each SERVICE target the lexer reports
(structure.Analysis.service_spans) is rewritten to the proxy's route for its
allow-list entry, http://127.0.0.1:PORT/endpoint/<index>. The proxy runs in
the web process: it forwards a request on a route to exactly that entry's URL
(the SPARQL protocol's parameters, Accept and Content-Type; no redirect
followed), resolving the host itself, within a timeout and a byte cap, and
answers 404 on every other path. A SERVICE the lexer did not report keeps its
own host in the engine's hands, and the sandbox refuses the connection.
"""
from __future__ import annotations

import http.client
import logging
import socket
import threading
import time
import urllib.parse
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .config import PUBLISHED_BASE
from .querypool import Job, Outcome
from .structure import LexicalError, analyse

PROTOCOL_PARAMETERS = ("query", "default-graph-uri", "named-graph-uri")
GRAPH_PARAMETERS = PROTOCOL_PARAMETERS[1:]
DEFAULT_ACCEPT = "application/sparql-results+json"
USER_AGENT = f"ijdp-federation (+{PUBLISHED_BASE})"     # public endpoints ask for a descriptive one
log = logging.getLogger("ijdp")


class Refused(Exception):
    """A SERVICE target that cannot be routed through the proxy (its text for the problem)."""


def routed(query: str, allowlist: tuple, routes: tuple) -> str:
    """The query with each SERVICE target replaced by the proxy route of its allow-list entry.

    Raises Refused for a target not on the allow-list (a variable, or one the
    lexer finds unclear, included), and when the rewritten query still names
    anything but a route.
    """
    pieces, at = [], 0
    for start, end, target in sorted(set(analyse(query).service_spans)):
        if target not in allowlist or start < at:
            raise Refused(target or "a variable or an unclear target")
        pieces += [query[at:start], f"<{routes[allowlist.index(target)]}>"]
        at = end
    rewritten = "".join(pieces) + query[at:]
    for target in analyse(rewritten).services:
        if target not in routes:
            raise Refused(target or "a variable or an unclear target")
    return rewritten


class FederationPool:
    """The federation workers behind the proxy: jobs are routed, then run as on any pool."""

    def __init__(self, pool, proxy: "Proxy"):
        self.pool, self.proxy = pool, proxy

    def run(self, job: Job, timeout: float) -> Outcome:
        try:
            query = routed(job.query, self.proxy.endpoints, self.proxy.routes)
        except Refused as err:
            return Outcome(kind="service-refused", message=str(err))
        except LexicalError as err:
            return Outcome(kind="syntax", message=str(err))
        # The pool is made on the first federated query: give its first worker the time to start.
        deadline = time.monotonic() + timeout
        while not self.pool.ready and self.pool.problem == "starting" and time.monotonic() < deadline:
            time.sleep(0.05)
        outcome = self.pool.run(replace(job, query=query), max(0.0, deadline - time.monotonic()))
        if outcome.message:
            # The engine's errors name the route it called: name the endpoint instead.
            for route, endpoint in sorted(zip(self.proxy.routes, self.proxy.endpoints), reverse=True):
                outcome.message = outcome.message.replace(route, endpoint)
        return outcome

    def close(self) -> None:
        self.pool.close()
        self.proxy.close()


class Proxy:
    """A forwarding HTTP server on 127.0.0.1 (a free port): /endpoint/<index> reaches endpoints[index]."""

    def __init__(self, endpoints: tuple, timeout: float, max_answer_bytes: int, max_request_bytes: int,
                 concurrency: int = 8):
        self.endpoints = tuple(endpoints)
        self.server = _Server(("127.0.0.1", 0), _Forwarder)
        port = self.server.server_address[1]
        self.routes = tuple(f"http://127.0.0.1:{port}/endpoint/{index}" for index in range(len(self.endpoints)))
        self.server.paths = {f"/endpoint/{index}": url for index, url in enumerate(self.endpoints)}
        self.server.upstream_timeout = timeout
        self.server.max_answer_bytes = max_answer_bytes or 32 * 1024 * 1024   # a cap even where answers have none
        self.server.max_request_bytes = max_request_bytes
        self.server.slots = threading.BoundedSemaphore(concurrency)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.5}, daemon=True,
                         name="ijdp-federation-proxy").start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def process_request(self, request, client_address):
        # A bounded number of requests in flight; one more is closed unanswered.
        if not self.slots.acquire(blocking=False):
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()


class _Forwarder(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ijdp-federation-proxy"

    def setup(self):
        self.timeout = self.server.upstream_timeout     # reading the worker's request
        super().setup()

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        log.debug("federation proxy: " + format, *args)

    def _route(self) -> tuple[str | None, str]:
        """(the endpoint the request target routes to, or None; the target's query string).

        The target as sent: the base class folds a leading '//' into '/' in self.path.
        """
        path, _, query = self.raw_requestline.decode("latin-1").split()[1].partition("?")
        return self.server.paths.get(path), query

    def do_GET(self):  # noqa: N802 - the base class's naming
        endpoint, query = self._route()
        if endpoint is None:
            return self._answer(404, b"no such endpoint")
        self._forward(endpoint, "GET", query, None, None)

    def do_POST(self):  # noqa: N802
        endpoint, query = self._route()
        if endpoint is None:
            return self._answer(404, b"no such endpoint")
        if "Transfer-Encoding" in self.headers:
            return self._answer(411, b"send a Content-Length")
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            return self._answer(411, b"send a Content-Length")
        if not 0 <= length <= self.server.max_request_bytes:
            return self._answer(413, b"the request is too large")
        body = self.rfile.read(length)
        media = self.headers.get_content_type()
        if media == "application/sparql-query":
            self._forward(endpoint, "POST", query, body, media)
        elif media == "application/x-www-form-urlencoded":
            self._forward(endpoint, "POST", query, body, media, form=True)
        else:
            self._answer(415, b"a SPARQL query, as application/sparql-query or a form")

    def _forward(self, endpoint: str, method: str, query: str, body: bytes | None, media: str | None,
                 form: bool = False):
        """Send the request on to endpoint with only the protocol's parameters; relay the answer, capped."""
        try:
            # The query travels in the URL (GET), the form, or the body; graphs may come in the URL.
            parameters = _kept(query, PROTOCOL_PARAMETERS if method == "GET" else GRAPH_PARAMETERS)
            if form:
                body = _kept(body.decode("utf-8", "replace"), PROTOCOL_PARAMETERS).encode()
        except ValueError:
            return self._answer(400, b"too many parameters")
        parts = urllib.parse.urlsplit(endpoint)
        target = (parts.path or "/") + "".join(f"{glue}{text}" for glue, text in
                                               (("?", parts.query), ("&" if parts.query else "?", parameters)) if text)
        headers = {"Accept": self.headers.get("Accept", DEFAULT_ACCEPT)[:1000], "User-Agent": USER_AGENT,
                   "Connection": "close"}
        if media:
            headers["Content-Type"] = media
        kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        timeout = self.server.upstream_timeout
        deadline = time.monotonic() + timeout
        connection = kind(parts.hostname, parts.port, timeout=timeout)
        # Each read has its own timeout; the watchdog makes the timeout the whole exchange's, so an endpoint
        # trickling a byte every few seconds cannot hold a proxy thread past it.
        watchdog = threading.Timer(timeout, _cut, args=(connection,))
        watchdog.daemon = True
        watchdog.start()
        try:
            connection.request(method, target, body=body, headers=headers)
            response = connection.getresponse()
            if 300 <= response.status < 400:
                return self._answer(502, f"{endpoint} redirected the query elsewhere (not followed)".encode())
            answer, cap = bytearray(), self.server.max_answer_bytes
            while chunk := response.read1(64 * 1024):
                answer += chunk
                if len(answer) > cap:
                    return self._answer(502, f"{endpoint} sent more than {cap} bytes".encode())
                if time.monotonic() > deadline:
                    raise TimeoutError
            self._answer(response.status, bytes(answer), response.headers.get("Content-Type", "text/plain"))
        except (socket.timeout, TimeoutError):
            self._answer(504, f"{endpoint} did not answer within {timeout:g} s".encode())
        except (OSError, http.client.HTTPException) as err:
            if time.monotonic() >= deadline:
                self._answer(504, f"{endpoint} did not answer within {timeout:g} s".encode())
            else:
                self._answer(502, f"{endpoint} cannot be reached: {err}".encode())
        except ValueError:
            self._answer(400, b"a header that cannot be forwarded")
        finally:
            watchdog.cancel()
            connection.close()

    def _answer(self, status: int, body: bytes, media: str = "text/plain; charset=utf-8") -> None:
        self.send_response(status)
        self.send_header("Content-Type", media)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True


def _cut(connection) -> None:
    """End an upstream exchange at its deadline: the read blocked on it fails at once."""
    sock = connection.sock
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _kept(encoded: str, names: tuple) -> str:
    """The urlencoded fields of encoded whose names are in names, encoded again."""
    fields = urllib.parse.parse_qsl(encoded, keep_blank_values=True, max_num_fields=1000)
    return urllib.parse.urlencode([(name, value) for name, value in fields if name in names])
