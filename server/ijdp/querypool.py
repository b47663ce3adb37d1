"""Queries run in long-lived worker processes, so that a runaway query can be killed.

pyoxigraph has no timeout of its own. Each worker opens the on-disk store
read-only and answers one job at a time over a pipe; when a job overruns the
timeout the worker is killed (SIGKILL) and a fresh one takes its place, while
the other workers go on answering. After an update the store's generation
file changes and each worker reopens its read-only view before its next query.
"""
from __future__ import annotations

import logging
import multiprocessing
import os
import queue
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

GENERATION_FILE = "ijdp-generation"
log = logging.getLogger("ijdp")


@dataclass(frozen=True)
class Job:
    query: str
    results_format: str | None        # media type for SELECT/ASK, None if not acceptable
    graph_format: str | None          # media type for CONSTRUCT/DESCRIBE, None if not acceptable
    max_rows: int
    union_default: bool = True
    default_graphs: tuple = ()
    named_graphs: tuple = ()
    base_iri: str | None = None


@dataclass
class Outcome:
    kind: str                 # ok | syntax | not-acceptable | error
    body: bytes = b""
    media_type: str = ""
    truncated: bool = False
    count: int = 0
    message: str = ""


class QueryTimeout(Exception):
    pass


class PoolBusy(QueryTimeout):
    """Every worker stayed busy (with other, possibly runaway, queries) for the whole wait."""


class PoolUnavailable(Exception):
    pass


def generation(store_path) -> tuple:
    """Changes whenever an update changes the store.

    The file is replaced, never edited, so its inode changes with every update,
    even two within one tick of the file system's clock; a stat is cheaper than a read.
    """
    try:
        found = os.stat(Path(store_path) / GENERATION_FILE)
    except OSError:
        return (0, 0)
    return (found.st_ino, found.st_mtime_ns)


def bump_generation(store_path: Path) -> None:
    target = Path(store_path) / GENERATION_FILE
    tmp = target.with_suffix(f".tmp-{os.getpid()}")
    tmp.write_text(f"{time.time_ns()}-{os.getpid()}")
    tmp.replace(target)


# ------------------------------------------------------------ worker side

def _open_memory(dump: str, base_iri: str | None):
    import pyoxigraph

    from .iris import rebase_text
    data = Path(dump).read_bytes()
    if base_iri:
        data = rebase_text(data.decode("utf-8"), base_iri).encode("utf-8")
    store = pyoxigraph.Store()
    store.bulk_load(data, format=pyoxigraph.RdfFormat.N_QUADS)
    return store


def _worker_main(store_path: str, conn, memory_base: str | None = None) -> None:
    import pyoxigraph

    from .results import run_job

    # Open before announcing readiness, so that /healthz means "the store is open".
    in_memory = store_path.startswith("memory:")
    if in_memory:
        store, seen = _open_memory(store_path[len("memory:"):], memory_base), (0, 0)
    else:
        store, seen = pyoxigraph.Store.read_only(store_path), generation(store_path)
    conn.send("ready")
    while True:
        try:
            job = conn.recv()
        except (EOFError, KeyboardInterrupt):
            return
        if job is None:
            return
        current = (0, 0) if in_memory else generation(store_path)
        if current != seen:
            store, seen = pyoxigraph.Store.read_only(store_path), current
        try:
            outcome = run_job(store, job)
        except Exception as err:  # noqa: BLE001 - reported to the client as a 500 problem
            outcome = Outcome(kind="error", message=f"{type(err).__name__}: {err}")
        conn.send(outcome)


class _Worker:
    def __init__(self, context, store_path: str, memory_base: str | None = None):
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_worker_main, args=(store_path, child, memory_base), daemon=True)
        self.process.start()
        child.close()

    def wait_ready(self, timeout: float) -> bool:
        try:
            return self.conn.poll(timeout) and self.conn.recv() == "ready"
        except (EOFError, OSError):
            return False  # the worker died while opening the store

    def kill(self) -> None:
        try:
            self.process.kill()
        finally:
            self.process.join(timeout=5)
            self.conn.close()


class BoundedCache:
    """Values by key, least recently used first out, bounded by the bytes the caller counts."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self._entries: OrderedDict = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key):
        if not self.max_bytes:
            return None
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            self._entries.move_to_end(key)
            return entry[0]

    def put(self, key, value, size: int) -> None:
        if not self.max_bytes or size > self.max_bytes // 4:
            return
        with self._lock:
            if key in self._entries:
                return
            self._entries[key] = (value, size)
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, (_, old_size) = self._entries.popitem(last=False)
                self._bytes -= old_size


class QueryPool:
    """A fixed number of query workers over one on-disk store."""

    cacheable = True   # the store changes only through us, and every change bumps its generation

    def __init__(self, store_path, size: int = 2, start_timeout: float = 120.0, cache_bytes: int = 0,
                 memory_base: str | None = None):
        """store_path: an on-disk store opened read-only, or 'memory:<dump.nq>' loaded by every worker."""
        self.store_path = str(store_path)
        self.memory_base = memory_base
        # Runaway queries hold their workers until the timeout: while they do, the
        # pool grows (up to twice its size) so that other queries are not starved,
        # and shrinks back once workers are idle again. A queue of ordinary queries
        # does not grow it: on a busy CPU more processes only cost memory.
        self.max_size = size * 2
        self._busy_since: dict = {}
        self._starting = 0
        self._lock = threading.Lock()
        self.size = size
        self.start_timeout = start_timeout
        self.cache = BoundedCache(cache_bytes)
        self._context = multiprocessing.get_context("forkserver")
        self._idle: queue.Queue = queue.Queue()
        self._workers: set = set()
        self._ready = threading.Event()
        self._closed = False
        threading.Thread(target=self._start_all, daemon=True, name="ijdp-pool-start").start()

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def _spawn(self) -> None:
        if self._closed:
            return
        worker = _Worker(self._context, self.store_path, self.memory_base)
        if worker.wait_ready(self.start_timeout):
            self._workers.add(worker)
            self._idle.put(worker)
            self._ready.set()
        else:
            worker.kill()
            log.error("a query worker could not open the store at %s", self.store_path)

    def _start_all(self) -> None:
        for _ in range(self.size):
            self._spawn()

    def generation_stamp(self) -> tuple:
        """Changes whenever an update changes the store (cache keys include it)."""
        return generation(self.store_path)

    def run(self, job: Job, timeout: float) -> Outcome:
        key = (job, self.generation_stamp())
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        outcome = self._run(job, timeout)
        if outcome.kind == "ok":
            self.cache.put(key, outcome, len(outcome.body) + len(job.query))
        return outcome

    def _run(self, job: Job, timeout: float) -> Outcome:
        worker = self._acquire(timeout)
        deadline = time.monotonic() + timeout
        self._busy_since[worker] = time.monotonic()
        try:
            worker.conn.send(job)
            if worker.conn.poll(max(0.0, deadline - time.monotonic())):
                outcome = worker.conn.recv()
                self._release(worker)
                return outcome
        except (EOFError, OSError, BrokenPipeError):
            self._replace(worker)
            raise PoolUnavailable("the query worker stopped unexpectedly") from None
        self._replace(worker)
        raise QueryTimeout(f"the query ran longer than {timeout:g} s and was stopped")

    def _acquire(self, timeout: float) -> _Worker:
        # Waiting for a free worker has its own budget: a query queued behind runaway
        # ones still gets its whole timeout once it runs.
        deadline = time.monotonic() + timeout
        stuck_after = min(5.0, timeout / 2)
        while True:
            try:
                return self._idle.get(timeout=min(0.2, max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                pass
            if time.monotonic() >= deadline:
                raise PoolBusy("every query worker stayed busy for the whole timeout")
            started = list(self._busy_since.values())
            if started and time.monotonic() - min(started) > stuck_after:
                self._grow()

    def _release(self, worker: _Worker) -> None:
        self._busy_since.pop(worker, None)
        with self._lock:
            surplus = len(self._workers) > self.size and not self._idle.empty()
            if surplus:
                self._workers.discard(worker)
        if surplus:
            worker.kill()
        else:
            self._idle.put(worker)

    def _grow(self) -> None:
        with self._lock:
            if self._closed or len(self._workers) + self._starting >= self.max_size:
                return
            self._starting += 1
        threading.Thread(target=self._spawn_reserved, daemon=True, name="ijdp-pool-grow").start()

    def _spawn_reserved(self) -> None:
        """Start a worker whose place the caller counted in _starting."""
        try:
            self._spawn()
        finally:
            with self._lock:
                self._starting -= 1

    def _replace(self, worker: _Worker) -> None:
        self._busy_since.pop(worker, None)
        with self._lock:
            self._workers.discard(worker)
            needed = len(self._workers) + self._starting < self.size
            if needed:
                self._starting += 1

        def replace():
            worker.kill()
            if needed:
                self._spawn_reserved()
        threading.Thread(target=replace, daemon=True, name="ijdp-pool-replace").start()

    def worker_pids(self) -> list[int]:
        return sorted(w.process.pid for w in list(self._workers))

    def close(self) -> None:
        self._closed = True
        while True:
            try:
                worker = self._idle.get_nowait()
            except queue.Empty:
                return
            worker.kill()


# ------------------------------------------------------------- updates

def _update_main(store_path: str, update: str, conn) -> None:
    import fcntl

    import pyoxigraph

    with open(Path(store_path).parent / (Path(store_path).name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            store = pyoxigraph.Store(store_path)
            store.update(update)
            store.flush()
            del store
            bump_generation(Path(store_path))
            conn.send(("ok", ""))
        except SyntaxError as err:
            conn.send(("syntax", err.args[0] if err.args else str(err)))
        except Exception as err:  # noqa: BLE001
            conn.send(("error", f"{type(err).__name__}: {err}"))


def run_update(store_path, update: str, timeout: float) -> tuple[str, str]:
    """Apply an update in its own process (one writer at a time, across web workers)."""
    context = multiprocessing.get_context("forkserver")
    parent, child = context.Pipe()
    process = context.Process(target=_update_main, args=(str(store_path), update, child), daemon=True)
    process.start()
    child.close()
    try:
        if parent.poll(timeout):
            return parent.recv()
        process.kill()
        raise QueryTimeout(f"the update ran longer than {timeout:g} s and was stopped")
    finally:
        process.join(timeout=5)
        parent.close()
