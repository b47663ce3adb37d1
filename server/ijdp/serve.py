"""Running the app under waitress: requests are read and answers written by one event loop.

Why waitress: its event loop reads each request completely (headers and body)
before a thread sees it, and buffers each answer (spilling large ones to a
temporary file) so that no thread waits on a slow reader. Queries themselves
run in separate, sandboxed processes (querypool), so the threads mostly wait
on pipes.

What one client can hold is bounded here (like nginx's client_header_timeout,
send_timeout and limit_conn):
- connections: at most max_connections_per_client per address (an IPv6 /64);
  more are closed at accept;
- time: a request must arrive whole within request_timeout of its first byte
  (a trickle does not extend it); an idle kept-alive connection lives
  keepalive_timeout; a buffered answer the client reads none of for
  send_timeout is dropped;
- buffers: one answer at a time per connection (a pipelined request waits,
  holding no thread, until the answer before it has been sent), at most
  connection_buffer_bytes of it, and buffer_total_bytes for every connection
  together: past that, the connections that sent nothing for longest are
  closed first, then the one asking;
- pipelining: at most max_pipelined_requests queued; past them the connection
  is closed once those are answered.
No thread ever waits for a client to read.

Every error, including those the HTTP layer writes itself (malformed framing,
headers too large, body too large), is application/problem+json.
"""
from __future__ import annotations

import collections
import ipaddress
import json
import logging
import os
import signal
import threading
import time

from waitress.adjustments import Adjustments
from waitress.buffers import OverflowableBuffer, ReadOnlyFileBasedBuffer, TempfileBasedBuffer
from waitress.channel import ClientDisconnected, HTTPChannel
from waitress.server import TcpWSGIServer
from waitress.task import ErrorTask

from .config import Settings
from .fairness import client_of, trusted_networks

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


class BoundedChannel(HTTPChannel):
    """A connection whose time, queue and buffers are bounded (see the module's docstring)."""

    error_task_class = ProblemErrorTask
    client = None            # the key it counts under in server.clients
    request_started = None   # time.time() of the first byte of the request still arriving
    waiting = False          # a request waits for the answer before it to be sent
    pipeline_full = False    # requests past the limit were dropped: close once the kept ones are answered
    dropped = False          # to be closed by the event loop, to bound the buffers
    reserved = 0             # bytes make_room admitted that write_soon has not appended yet

    def held_bytes(self) -> int:
        """Bytes this connection holds for its answers, in memory and in temporary files (sent ones included)."""
        held = self.reserved
        for outbuf in list(self.outbufs):
            inner = getattr(outbuf, "buf", None)
            if isinstance(inner, TempfileBasedBuffer):
                try:
                    held += os.fstat(inner.file.fileno()).st_size
                except (OSError, ValueError):
                    pass      # closed meanwhile by the event loop
            elif not isinstance(outbuf, ReadOnlyFileBasedBuffer):
                held += len(outbuf)
        return held

    def overdue(self, now: float, limits) -> bool:
        if self.request_started is not None and not self.requests:
            return now - self.request_started > limits.request_timeout
        if self.total_outbufs_len:
            return now - self.last_activity > limits.send_timeout
        return not self.requests and now - self.last_activity > limits.keepalive_timeout

    def readable(self):
        return not self.pipeline_full and super().readable()

    def received(self, data):
        partial = self.request
        result = super().received(data)
        with self.requests_lock:
            if self.request is None:
                self.request_started = None
            elif self.request is not partial:
                self.request_started = time.time()
            limit = self.server.limits.pipelined
            if len(self.requests) > limit:
                for extra in self.requests[limit:]:
                    extra.close()
                del self.requests[limit:]
                if self.request is not None:
                    self.request.close()
                    self.request = self.request_started = None
                self.pipeline_full = True
        return result

    def write_soon(self, data):
        if not data or isinstance(data, ReadOnlyFileBasedBuffer):
            return super().write_soon(data)
        self.server.make_room(self, len(data))
        try:
            return super().write_soon(data)
        finally:
            self.reserved = 0

    def _flush_outbufs_below_high_watermark(self):
        """Never wait for the client: the caps in write_soon and the one-answer queue bound the buffers instead."""

    def service(self):
        super().service()
        if self.pipeline_full and not self.requests:
            with self.requests_lock:
                self.close_when_flushed = True
            self.server.pull_trigger()

    def handle_write(self):
        super().handle_write()
        if self.total_outbufs_len or not self.connected or self.will_close:
            return
        if self.outbuf_lock.acquire(False):
            try:
                last = self.outbufs[-1]
                if not self.total_outbufs_len and getattr(last, "buf", None) is not None:
                    # Everything is sent: give the memory or temporary file back now, not at the next answer.
                    last.close()
                    self.outbufs[-1] = OverflowableBuffer(self.adj.outbuf_overflow)
                    self.current_outbuf_count = 0
            finally:
                self.outbuf_lock.release()
        if self.waiting:
            self.waiting = False
            self.server.task_dispatcher.add_task(self)

    def defer(self) -> bool:
        """True when the answer before is still being sent: the next request then waits for handle_write."""
        with self.outbuf_lock:
            if self.total_outbufs_len:
                self.waiting = True
                return True
        return False

    def del_channel(self, map=None):
        if self.client is not None:
            self.server.forget(self.client)
            self.client = None
        super().del_channel(map)


Limits = collections.namedtuple("Limits", "per_client pipelined per_connection total request_timeout "
                                          "keepalive_timeout send_timeout trusted")


def limits_of(settings: Settings) -> Limits:
    return Limits(settings.max_connections_per_client, max(1, settings.max_pipelined_requests),
                  settings.connection_buffer_bytes, settings.buffer_total_bytes, settings.request_timeout,
                  settings.keepalive_timeout, settings.send_timeout, trusted_networks(settings.trusted_proxies))


def client_key(address: str, trusted: tuple) -> str | None:
    """What a connection counts under: the client as fairness names it (an IPv6 host's /64); None for a trusted proxy."""
    try:
        peer = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        peer = None
    if peer is not None and peer.version == 6 and peer.ipv4_mapped:
        peer = peer.ipv4_mapped
    if peer is not None and any(peer in network for network in trusted):
        return None
    return client_of(address, None, ())


class BoundedServer(TcpWSGIServer):
    channel_class = BoundedChannel

    def __init__(self, application, limits: Limits, **kwargs):
        self.limits = limits
        self.clients = collections.Counter()
        self.room_lock = threading.Lock()
        super().__init__(application, **kwargs)

    def handle_accept(self):
        try:
            accepted = self.accept()
            if accepted is None:
                return
            conn, addr = accepted
            self.set_socket_options(conn)
        except OSError:
            return      # the peer left before we got to it
        client = client_key(addr[0], self.limits.trusted)
        if client is not None and self.clients[client] >= self.limits.per_client:
            conn.close()
            return
        channel = self.channel_class(self, conn, addr, self.adj, map=self._map)
        if client is not None:
            self.clients[client] += 1
            channel.client = client

    def forget(self, client: str) -> None:
        self.clients[client] -= 1
        if self.clients[client] <= 0:
            del self.clients[client]

    def add_task(self, channel):
        if not channel.defer():
            super().add_task(channel)

    def maintenance(self, now):
        # Closed here, not by will_close: that waits for the socket to be writable, which a non-reader's never is.
        for channel in list(self.active_channels.values()):
            if channel.overdue(now, self.limits):
                channel.handle_close()

    def make_room(self, channel: BoundedChannel, size: int) -> None:
        """Let channel buffer size more bytes, or close it (ClientDisconnected).

        Past the total, the connections that sent nothing for longest are closed
        first: a client that reads keeps its answer, one that stopped loses it.
        """
        with self.room_lock:
            own = channel.held_bytes() + size
            if own > self.limits.per_connection:
                self.drop(channel)
                raise ClientDisconnected
            # Connections already dropped still count until the event loop has closed them; one with
            # nothing left to send holds nothing (handle_write gives a drained temporary file back).
            others = {c: c.held_bytes() for c in list(self.active_channels.values())
                      if c is not channel and (c.total_outbufs_len or c.reserved)}
            excess = sum(others.values()) + own - self.limits.total
            for other in sorted((c for c in others if others[c] and not c.dropped), key=lambda c: c.last_activity):
                if excess <= 0:
                    break
                self.drop(other)
                excess -= others[other]
            if excess > 0:
                self.drop(channel)
                raise ClientDisconnected
            channel.reserved = size

    def drop(self, channel: BoundedChannel) -> None:
        """Have the event loop close a connection (from any thread), at once."""
        channel.dropped = True
        self.trigger.pull_trigger(channel.handle_close)


def make_server(app, settings: Settings, **overrides):
    limits = limits_of(settings)
    if limits.per_connection < 2 * settings.max_answer_bytes:
        log.warning("connection_buffer_bytes (%s) is under twice max_answer_bytes: large answers will be cut",
                    limits.per_connection)
    options = dict(
        host=settings.host, port=settings.port, threads=settings.threads,
        connection_limit=settings.connection_limit,
        max_request_header_size=MAX_HEADER_BYTES,
        max_request_body_size=settings.max_request_bytes,
        # Only ever reached between answers (write_soon never waits): a new buffer per answer.
        outbuf_high_watermark=limits.per_connection,
        cleanup_interval=1,      # how often maintenance() looks for overdue connections
        # With trusted proxies the app reads X-Forwarded-For itself, from them only (fairness.client_of).
        ident="ijdp", expose_tracebacks=False, clear_untrusted_proxy_headers=not settings.trusted_proxies,
    )
    options.update(overrides)
    adj = Adjustments(**options)
    return BoundedServer(app, limits, map={}, adj=adj, sockinfo=adj.listen[0])


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
