"""Sharing the server: query time per client, and one memory budget that sizes the pools.

Each client (its address, or the address a trusted proxy saw) has a bucket of
worker-seconds, refilled continuously, and a cap on its queries in flight; a
client over either gets 429 at once. The pools serve waiting clients fairly
(querypool.QueryPool._dispatch). The memory budget bounds the sum of every
worker's memory limit and what the web process may hold for answers.
"""
from __future__ import annotations

import contextvars
import ipaddress
import itertools
import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from .errors import IjdpError

# Who the current request is for; None outside a request (the server itself: never limited).
CLIENT: contextvars.ContextVar = contextvars.ContextVar("ijdp_client", default=None)
# The answer bytes the current request holds (released when it ends); None outside a request.
HELD: contextvars.ContextVar = contextvars.ContextVar("ijdp_held_answers", default=None)

ANSWER_COPIES = 3          # an answer in the web process: the pipe's buffer, the unpickled bytes, the response's copy
WEB_PROCESS_MB = 256       # the web process and the forkserver, idle: 150 MiB measured, with room for its threads
MIN_QUERY_MEMORY_MB = 128  # below this a query worker answers little; the default budget lowers no further
WORKER_CODE_MB = 64        # a worker's code and stack, outside its RLIMIT_DATA (an idle worker's RSS: 45 MiB)
FEDERATION_WORKERS = 4     # the federation pool's most workers (it exists only with an allow-list)
MAX_CLIENTS_KEPT = 10_000  # buckets kept before full, idle ones are forgotten
FORGET_SCAN = 64           # least recent buckets looked at for each new client past that


class OverBudget(Exception):
    """The client has used its share: 429 with Retry-After."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = max(1, retry_after)


# ------------------------------------------------------------ who asks

def trusted_networks(entries) -> tuple:
    """The trusted proxies' addresses or networks, or an IjdpError naming the entry that is neither."""
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise IjdpError(f"trusted proxy {entry[:80]!r} is not an IP address or network") from None
    return tuple(networks)


def _address(text: str):
    text = text.strip()
    if text.startswith("[") and "]" in text:              # [v6]:port
        text = text[1:text.index("]")]
    elif text.count(":") == 1:                            # v4:port
        text = text.split(":")[0]
    try:
        found = ipaddress.ip_address(text)
    except ValueError:
        return None
    if found.version == 6 and found.ipv4_mapped:
        return found.ipv4_mapped
    return found


def _key(address) -> str:
    # One IPv6 host may hold a whole /64: the network is the client.
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def client_of(remote_addr: str, forwarded_for: str | None, trusted: tuple) -> str:
    """The client a request counts for.

    The peer, unless the peer is a trusted proxy: then the rightmost X-Forwarded-For
    entry that is not itself a trusted proxy (each proxy appends the address it saw,
    so entries left of it are the client's own words). A malformed entry ends the walk
    at the last trusted hop.
    """
    peer = _address(remote_addr or "")
    if peer is None:
        return (remote_addr or "unknown")[:64]
    if forwarded_for and any(peer in network for network in trusted):
        for entry in reversed(forwarded_for.split(",")):
            hop = _address(entry)
            if hop is None:
                break
            peer = hop
            if not any(hop in network for network in trusted):
                break
    return _key(peer)


# ------------------------------------------------------------ query time per client

class Ledger:
    """Per client: a bucket of worker-seconds (a minute's worth, refilled continuously) and its queries in flight."""

    def __init__(self, seconds_per_minute: float = 0.0, in_flight: int = 0, clock=time.monotonic):
        self.capacity = seconds_per_minute
        self.rate = seconds_per_minute / 60.0
        self.in_flight = in_flight
        self._clock = clock
        self._clients: OrderedDict = OrderedDict()   # client -> [tokens, when, in flight], least recent first
        self._lock = threading.Lock()

    def _entry(self, client, now: float) -> list:
        entry = self._clients.get(client)
        if entry is None:
            if len(self._clients) >= MAX_CLIENTS_KEPT:
                self._forget(now)
            entry = self._clients[client] = [self.capacity, now, 0]
        else:
            self._clients.move_to_end(client)
        entry[0] = min(self.capacity, entry[0] + (now - entry[1]) * self.rate)
        entry[1] = now
        return entry

    def _forget(self, now: float) -> None:
        """Drop the least recent clients whose bucket is full again and who have nothing in flight.

        Only the FORGET_SCAN least recent are looked at, so a crowd of active clients (an IPv6 /48
        holds 65,536 of them) costs each new one a bounded step, never a scan of them all under the lock.
        """
        for client, (tokens, when, flying) in list(itertools.islice(self._clients.items(), FORGET_SCAN)):
            if not flying and tokens + (now - when) * self.rate >= self.capacity:
                del self._clients[client]

    def admit(self, client) -> None:
        """Count a query in flight for client, or raise OverBudget (the server itself is never refused)."""
        if client is None:
            return
        with self._lock:
            entry = self._entry(client, self._clock())
            if self.in_flight and entry[2] >= self.in_flight:
                raise OverBudget(f"This client already has {entry[2]} queries in flight, the most it may have "
                                 "at once; send the next one when one has been answered.", 1)
            if self.capacity and entry[0] <= 0:
                wait = math.ceil(-entry[0] / self.rate) if entry[0] < 0 else 1
                raise OverBudget(f"This client has used its {self.capacity:g} s of query time a minute; "
                                 f"try again in {wait} s.", wait)
            entry[2] += 1

    def done(self, client, worker_seconds: float) -> None:
        """The query left the pool having held a worker for worker_seconds."""
        if client is None:
            return
        with self._lock:
            entry = self._entry(client, self._clock())
            entry[2] = max(0, entry[2] - 1)
            if self.capacity:
                entry[0] -= worker_seconds


# ------------------------------------------------------------ answers held by the web process

class AnswerRoom:
    """Bytes of answers the web process may hold at once; a request waits (bounded) for room."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.held = 0
        self.most_held = 0
        self._room = threading.Condition()

    def hold(self, size: int, deadline: float) -> int | None:
        """Reserve size bytes (at most the whole room) before deadline: the bytes reserved, or None."""
        size = min(size, self.capacity)
        with self._room:
            while self.held + size > self.capacity:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._room.wait(left)
            self.held += size
            self.most_held = max(self.most_held, self.held)
        return size

    def release(self, size: int) -> None:
        with self._room:
            self.held -= size
            self._room.notify_all()


def release_held() -> None:
    """Give back the answer bytes the current request held (called when it ends)."""
    for room, size in HELD.get() or ():
        room.release(size)
    if HELD.get() is not None:
        HELD.get().clear()


# ------------------------------------------------------------ one memory budget

@dataclass(frozen=True)
class MemoryPlan:
    budget_mb: int
    source: str                 # where the budget comes from
    query_workers: int          # the query pool's most workers
    worker_mb: int              # what each worker may hold: its RLIMIT_DATA and its code
    federation_workers: int
    update_workers: int
    cache_mb: int
    answers_mb: int             # answers in flight in the web process

    @property
    def query_memory_mb(self) -> int:
        """Each query's memory limit (RLIMIT_DATA), as the plan sets it."""
        return self.worker_mb - WORKER_CODE_MB

    @property
    def used_mb(self) -> int:
        workers = self.query_workers + self.federation_workers + self.update_workers
        return WEB_PROCESS_MB + self.cache_mb + self.answers_mb + workers * self.worker_mb

    def line(self) -> str:
        return (f"memory budget {self.budget_mb} MiB ({self.source}): {self.query_workers} query workers, "
                f"{self.federation_workers} federation and {self.update_workers} update workers of {self.worker_mb} MiB, "
                f"{self.answers_mb} MiB of answers in flight, {self.cache_mb} MiB of caches, "
                f"{WEB_PROCESS_MB} MiB for the web process: {self.used_mb} MiB in all")


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def machine_memory_mb(proc=Path("/proc"), cgroups=Path("/sys/fs/cgroup")) -> tuple[int, str]:
    """(MiB, what they are): the machine's MemTotal, or the cgroup's limit where it is lower."""
    total = None
    try:
        for line in (proc / "meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                total = int(line.split()[1]) // 1024
    except OSError:
        pass
    if total is None:
        raise IjdpError(f"cannot read the machine's memory from {proc / 'meminfo'}: give --memory-budget-mb")
    found, source = total, "MemTotal"
    try:
        lines = (proc / "self" / "cgroup").read_text().splitlines()
    except OSError:
        lines = []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        path = path.lstrip("/")
        if controllers == "":
            candidates = [cgroups / path / "memory.max", cgroups / "memory.max"]
        elif "memory" in controllers.split(","):
            candidates = [cgroups / "memory" / path / "memory.limit_in_bytes", cgroups / "memory" / "memory.limit_in_bytes"]
        else:
            continue
        for candidate in candidates:
            limit = _read_int(candidate)
            if limit is not None and limit // (1024 * 1024) < found:
                found, source = limit // (1024 * 1024), "the cgroup's limit"
                break
    return found, source


def plan_memory(settings, machine=None) -> MemoryPlan:
    """How many workers and answer bytes fit the budget; an IjdpError when even the minimum does not."""
    machine = machine or machine_memory_mb
    if settings.memory_budget_mb:
        budget, source = settings.memory_budget_mb, "--memory-budget-mb"
    else:
        total, what = machine()
        budget, source = total // 2, f"half of {total} MiB, {what}"
    federation = FEDERATION_WORKERS if settings.service_allowlist else 0
    updates = 1 if settings.admin_token else 0
    cache = math.ceil(settings.result_cache_bytes * 1.5 / 2**20)    # the pool's cache and the response cache (half)
    one_answer = math.ceil(ANSWER_COPIES * settings.max_answer_bytes / 2**20)
    processes = federation + updates + settings.query_workers
    worker = settings.query_memory_mb + WORKER_CODE_MB
    room = budget - WEB_PROCESS_MB - cache - one_answer
    if not settings.memory_budget_mb and processes * worker > room:
        # A small machine and the default budget: each query gets less memory rather than the server none.
        fitting = room // processes - WORKER_CODE_MB
        if fitting >= MIN_QUERY_MEMORY_MB:
            worker, source = fitting + WORKER_CODE_MB, f"{source}; each query's memory lowered to {fitting} MiB to fit"
    fixed = WEB_PROCESS_MB + cache + (federation + updates) * worker
    minimum = fixed + settings.query_workers * worker + one_answer
    if minimum > budget:
        raise IjdpError(f"the memory budget of {budget} MiB ({source}) cannot hold even {settings.query_workers} "
                        f"query workers of {worker} MiB with one answer and the caches ({minimum} MiB): raise "
                        "--memory-budget-mb, or lower --query-memory-mb, --query-workers, --max-answer-bytes "
                        "or --result-cache-bytes")
    most = max(settings.query_workers, settings.max_query_workers)
    workers = min(most, settings.query_workers + (budget - minimum) // worker)
    answers = min(settings.threads * one_answer, budget - fixed - workers * worker)
    return MemoryPlan(budget, source, workers, worker, federation, updates, cache, answers)


@dataclass(frozen=True)
class Sharing:
    """What every pool of one server shares: the memory plan, the clients' ledger, the answer room."""
    plan: MemoryPlan
    ledger: Ledger
    answers: AnswerRoom
    trusted: tuple              # the trusted proxies' networks


def sharing(settings, machine=None) -> Sharing:
    plan = plan_memory(settings, machine)
    return Sharing(plan, Ledger(settings.client_query_seconds, settings.client_queries_in_flight),
                   AnswerRoom(plan.answers_mb * 2**20), trusted_networks(settings.trusted_proxies))
