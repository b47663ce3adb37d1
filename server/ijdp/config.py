"""Every setting of ijdp, declared once with its default and its help.

The command line, the environment (IJDP_<NAME>) and create_app(config=...)
all read this table, so a setting is never defined twice.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace

PUBLISHED_BASE = "https://w3id.org/ijdp/"


def _setting(default, help):
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class Settings:
    base_iri: str = _setting(PUBLISHED_BASE, "Base IRI of every resource: the server publishes the IRIs its build wrote (`ijdp build --base-iri`), read from build.json.")
    dist_dir: str = _setting("dist", "Directory the build writes dumps to and the server reads them from.")
    host: str = _setting("127.0.0.1", "Interface the server listens on.")
    port: int = _setting(8000, "Port the server listens on.")
    threads: int = _setting(48, "Threads that run requests once they have fully arrived (slow clients hold none).")
    connection_limit: int = _setting(1000, "Open connections the server accepts at once; further ones wait in the listen queue.")
    max_connections_per_client: int = _setting(64, "Open connections one client address (an IPv6 /64) may hold; more are closed at accept. Trusted proxies are not capped.")
    request_timeout: float = _setting(20.0, "Seconds a request (line, headers and body) may take to arrive from its first byte; a slower one is closed, however often it sends a byte.")
    keepalive_timeout: float = _setting(15.0, "Seconds an idle kept-alive connection stays open.")
    send_timeout: float = _setting(30.0, "Seconds an answer may wait with the client reading none of it; then the connection is closed.")
    max_pipelined_requests: int = _setting(4, "Requests one connection may queue (HTTP pipelining); past them the connection closes once they are answered.")
    connection_buffer_bytes: int = _setting(64 * 1024 * 1024, "Most bytes of answers held for one connection (memory and temporary files); past it the connection is closed. At least twice max_answer_bytes.")
    buffer_total_bytes: int = _setting(256 * 1024 * 1024, "Most bytes of answers held for all connections together; past it the connections that read least recently are closed.")
    query_workers: int = _setting(2, "Query processes kept ready (each can be killed on timeout; sandboxed: no network, memory limit).")
    max_query_workers: int = _setting(24, "Most query processes at once: while queries run long, more start, up to this many.")
    query_memory_mb: int = _setting(1024, "Memory (heap) of each query process, in MiB; a query needing more is stopped (422).")
    memory_budget_mb: int = _setting(0, "Memory of the whole server, in MiB: every worker's limit plus the answers and caches the web process holds; it caps the pools. 0: half the machine's (MemTotal, or the cgroup's limit).")
    client_query_seconds: float = _setting(60.0, "Worker-seconds of query time a client may use a minute (refilled continuously; a stopped runaway costs its timeout); over it, 429 with Retry-After. 0: no limit.")
    client_queries_in_flight: int = _setting(8, "Queries one client may have queued or running at once; more get 429 at once. 0: no limit.")
    trusted_proxies: tuple = _setting((), "Addresses or networks of reverse proxies whose X-Forwarded-For names the client (its rightmost entry that is not a trusted proxy); empty: the peer is the client.")
    max_nesting: int = _setting(1000, "Deepest syntax tree a query may have (brackets, operator chains, patterns); deeper is a 400.")
    max_projected_variables: int = _setting(1000, "Most variables a SELECT may project (SELECT * counts every variable of the query); more is a 400.")
    union_default_graph: bool = _setting(True, "Use the union of all graphs as the default graph of queries that name none.")
    query_timeout: float = _setting(30.0, "Seconds a SPARQL query may run before it is stopped (503).")
    max_rows: int = _setting(10000, "Most result rows a SELECT returns; a truncated result says so.")
    max_answer_bytes: int = _setting(32 * 1024 * 1024, "Most bytes of a query answer; rows past it are cut and the result says it is truncated.")
    result_cache_bytes: int = _setting(64 * 1024 * 1024, "Bytes of answers kept to serve repeated queries (the data only changes by update, which clears it); 0 disables.")
    cache_max_age: int = _setting(300, "Seconds a shared cache may serve a GET answer without asking again (Cache-Control max-age).")
    cache_stale_while_revalidate: int = _setting(60, "Seconds a cache may serve a stale answer while it revalidates in the background.")
    cache_stale_if_error: int = _setting(86400, "Seconds a cache may serve a stale answer while the server fails or is down.")
    max_request_bytes: int = _setting(1_000_000, "Largest request body accepted (413 above).")
    service_allowlist: tuple = _setting((), "SPARQL endpoints that SERVICE may call; empty refuses every SERVICE.")
    service_timeout: float = _setting(15.0, "Seconds a query that calls SERVICE may run (its own, shorter timeout).")
    admin_token: str = _setting("", "Bearer token that enables the SPARQL update path; empty disables it.")
    bench_floor: bool = _setting(False, "Expose /_floor/<bytes>, a fixed body of that size: the HTTP floor for `make bench`.")
    skip_reasoner: bool = _setting(False, "Build without the OWL consistency check (only where no Java runtime exists).")

    def with_overrides(self, **values) -> "Settings":
        known = {f.name for f in fields(self)}
        return replace(self, **{k: v for k, v in values.items() if k in known and v is not None})


def _coerce(kind, text: str):
    if kind is bool or kind == "bool":
        return text.strip().lower() in {"1", "true", "yes", "on"}
    if kind is int or kind == "int":
        return int(text)
    if kind is float or kind == "float":
        return float(text)
    if kind is tuple or kind == "tuple":
        return tuple(part for part in text.split() if part)
    return text


def from_environment(environ=os.environ) -> Settings:
    """Settings with IJDP_<NAME> environment variables applied."""
    values = {}
    for f in fields(Settings):
        raw = environ.get("IJDP_" + f.name.upper())
        if raw is not None:
            values[f.name] = _coerce(f.type, raw)
    return Settings().with_overrides(**values)


def built_base(dist_dir) -> str:
    """The base IRI the build in dist_dir wrote its dumps with (so that server, dumps and examples agree)."""
    import json
    from pathlib import Path

    try:
        return json.loads((Path(dist_dir) / "build.json").read_text(encoding="utf-8")).get("base_iri") or PUBLISHED_BASE
    except (OSError, ValueError):
        return PUBLISHED_BASE


def help_text(name: str) -> str:
    return {f.name: f.metadata["help"] for f in fields(Settings)}[name]
