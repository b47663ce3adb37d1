"""Running the app under waitress: requests are read and answers written by one event loop.

Why waitress: its event loop reads each request completely (headers and body)
before a thread sees it, and buffers each answer (spilling large ones to a
temporary file) so that no thread waits on a slow reader. Slow or trickling
clients therefore hold no thread, and threads are only ever busy with work.
Queries themselves run in separate, sandboxed processes (querypool), so the
threads mostly wait on pipes.

Every error, including those the HTTP layer writes itself (malformed framing,
headers too large, body too large), is application/problem+json.
"""
from __future__ import annotations

import json
import logging
import signal
import time

from waitress.channel import HTTPChannel
from waitress.server import create_server
from waitress.task import ErrorTask

from .config import Settings

log = logging.getLogger("ijdp")
MAX_HEADER_BYTES = 64 * 1024          # request line and headers together (431 above)
SHUTDOWN_GRACE_SECONDS = 10.0         # longest wait for requests in flight after SIGTERM


class ProblemErrorTask(ErrorTask):
    """The HTTP layer's own errors in the server's one error shape."""

    def execute(self):
        from .problems import PROBLEM_BASE, TITLES

        error = self.request.error
        body = json.dumps({"type": PROBLEM_BASE + str(error.code), "title": TITLES.get(error.code, error.reason),
                           "status": error.code, "detail": f"{error.reason}: {error.body}"}, indent=1).encode() + b"\n"
        self.status = f"{error.code} {error.reason}"
        self.response_headers.extend([("Content-Type", "application/problem+json"),
                                      ("X-Content-Type-Options", "nosniff")])
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class ProblemChannel(HTTPChannel):
    error_task_class = ProblemErrorTask


def make_server(app, settings: Settings, **overrides):
    options = dict(
        host=settings.host, port=settings.port, threads=settings.threads,
        connection_limit=settings.connection_limit,
        max_request_header_size=MAX_HEADER_BYTES,
        max_request_body_size=settings.max_request_bytes,
        # Answers up to the answer cap are buffered whole, so a slow reader never blocks a thread.
        outbuf_high_watermark=max(16 * 1024 * 1024, settings.max_answer_bytes * 2),
        channel_timeout=60, cleanup_interval=10,
        # With trusted proxies the app reads X-Forwarded-For itself, from them only (fairness.client_of).
        ident="ijdp", expose_tracebacks=False, clear_untrusted_proxy_headers=not settings.trusted_proxies,
    )
    options.update(overrides)
    server = create_server(app, **options)
    server.channel_class = ProblemChannel
    return server


def serve_until_stopped(server, on_stop=None) -> None:
    """Run the event loop; on SIGTERM or SIGINT stop accepting, finish what is in flight, return.

    An idle server returns at once; a busy one after its requests are answered,
    or after SHUTDOWN_GRACE_SECONDS at most.
    """
    import waitress.wasyncore as asyncore

    stopping = []

    def stop(signum, frame):
        stopping.append(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    deadline = None
    while True:
        asyncore.loop(timeout=0.1, map=server._map, use_poll=True, count=1)
        if not stopping:
            continue
        if deadline is None:
            deadline = time.monotonic() + SHUTDOWN_GRACE_SECONDS
            server.accepting = False
            server.del_channel()
            server.socket.close()
        if not _busy(server) or time.monotonic() > deadline:
            break
    if on_stop is not None:
        on_stop()
    server.task_dispatcher.shutdown(cancel_pending=True, timeout=1)
    asyncore.close_all(server._map)


def _busy(server) -> bool:
    dispatcher = server.task_dispatcher
    if dispatcher.active_count or dispatcher.queue:
        return True
    for channel in list(server._map.values()):
        if isinstance(channel, HTTPChannel) and (channel.requests or channel.total_outbufs_len):
            return True
    return False


def run(settings: Settings, store_path: str) -> None:
    from .app import create_app

    app = create_app({"IJDP_SETTINGS": settings, "IJDP_STORE": store_path})
    server = make_server(app, settings)
    log.info("listening on http://%s:%s/ with %s threads", settings.host, settings.port, settings.threads)

    def close_pools():
        for name in ("ijdp_pool", "ijdp_federation_pool"):
            pool = app.extensions.get(name)
            if pool is not None:
                pool.close()
    serve_until_stopped(server, on_stop=close_pools)
