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
# Written by every admin update, removed by every load from the dumps: while it exists the store holds
# more than its build, and HTTP validators carry its token (caching.dataset_version).
UPDATED_FILE = "ijdp-updated"
STUCK_AFTER_SECONDS = 0.25
log = logging.getLogger("ijdp")


@dataclass(frozen=True)
class WorkerLimits:
    """What a query worker may do: set once per pool, enforced inside the worker."""
    service_allowlist: tuple = ()
    max_depth: int = 1000             # syntax tree depth estimate (structure.Analysis.depth)
    memory_bytes: int = 0             # RLIMIT_DATA of the worker; 0 = no limit
    internet: bool = False            # the federation pool's workers may reach the allow-listed endpoints
    sandbox: bool = True              # seccomp: no network; with internet, only the allow-listed endpoints
    prefixes: tuple = ()              # (prefix, namespace) pairs that Turtle, TriG and RDF/XML answers use


@dataclass(frozen=True)
class Job:
    query: str
    results_format: str | None        # media type for SELECT/ASK, None if not acceptable
    graph_format: str | None          # media type for CONSTRUCT/DESCRIBE, None if not acceptable
    max_rows: int
    max_bytes: int = 0                # answer bytes before truncation; 0 = no cap
    union_default: bool = True
    default_graphs: tuple = ()
    named_graphs: tuple = ()
    base_iri: str | None = None


@dataclass
class Outcome:
    # ok | syntax | not-acceptable | error | too-deep | update-refused | service-refused
    # | federate (every SERVICE is allowed: run it on the federation pool) | unavailable (store)
    kind: str
    body: bytes = b""
    media_type: str = ""
    truncated: bool = False
    count: int = 0
    message: str = ""
    form: str = "SELECT"


class QueryTimeout(Exception):
    pass


class PoolBusy(QueryTimeout):
    """Every worker stayed busy (with other, possibly runaway, queries) for the whole wait."""


class PoolUnavailable(Exception):
    pass


class WorkerCrashed(Exception):
    """The worker died while running the job (a crash in the engine, or its memory limit)."""

    def __init__(self, message: str, out_of_memory: bool = False):
        super().__init__(message)
        self.out_of_memory = out_of_memory


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


def mark_updated(store_path: Path) -> None:
    target = Path(store_path) / UPDATED_FILE
    tmp = target.with_suffix(f".tmp-{os.getpid()}")
    tmp.write_text(os.urandom(8).hex())
    tmp.replace(target)


def update_marker(store_path) -> tuple[str, float | None]:
    """(token, when) of the last admin update of the store; ("", None) while it holds just its build."""
    try:
        path = Path(store_path) / UPDATED_FILE
        return path.read_text().strip(), path.stat().st_mtime
    except OSError:
        return "", None


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


def _empty_read_only_store():
    """A read-only view of an empty on-disk store (its folder removed at once; the open handle keeps it)."""
    import shutil
    import tempfile

    import pyoxigraph

    folder = tempfile.mkdtemp(prefix="ijdp-syntax-")
    try:
        writable = pyoxigraph.Store(folder)
        writable.flush()
        del writable
        return pyoxigraph.Store.read_only(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _worker_main(store_path: str, conn, memory_base: str | None = None, limits: WorkerLimits = WorkerLimits()) -> None:
    import pyoxigraph

    from . import sandbox
    from .results import run_job

    # The sandbox comes first: nothing this process does afterwards reaches the network.
    sandbox.capture_stderr()
    if limits.sandbox:
        try:
            sandbox.restrict_network(limits.service_allowlist if limits.internet else ())
        except sandbox.SandboxUnavailable as err:
            conn.send(f"sandbox unavailable: {err}")
            return
    # Open before announcing readiness, so that /healthz means "the store is open".
    in_memory = store_path.startswith("memory:")
    try:
        if in_memory:
            store, seen = _open_memory(store_path[len("memory:"):], memory_base), (0, 0)
        else:
            store, seen = pyoxigraph.Store.read_only(store_path), generation(store_path)
    except OSError as err:
        conn.send(f"store unavailable: {err}")
        return
    syntax_store = None if in_memory else store
    if in_memory:
        syntax_store = _empty_read_only_store()
    sandbox.limit_memory(limits.memory_bytes)
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
            try:
                store, seen = pyoxigraph.Store.read_only(store_path), current
                syntax_store = store
            except OSError as err:
                # The store went away (or is being replaced): say so, and try again next time.
                conn.send(Outcome(kind="unavailable", message=f"the store cannot be opened: {err}"))
                continue
        try:
            outcome = run_job(store, job, limits, syntax_store)
        except MemoryError:
            outcome = Outcome(kind="memory", message="the query needed more memory than its limit")
        except Exception as err:  # noqa: BLE001 - reported to the client as a 500 problem
            outcome = Outcome(kind="error", message=f"{type(err).__name__}: {err}")
        conn.send(outcome)


class _Worker:
    def __init__(self, context, store_path: str, memory_base: str | None = None, limits: WorkerLimits = WorkerLimits()):
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_worker_main, args=(store_path, child, memory_base, limits), daemon=True)
        self.process.start()
        child.close()
        self.failure = ""

    def wait_ready(self, timeout: float) -> bool:
        try:
            if not self.conn.poll(timeout):
                self.failure = f"it did not open the store within {timeout:g} s"
                return False
            message = self.conn.recv()
        except (EOFError, OSError):
            self.failure = "it stopped while opening the store"
            return False
        self.failure = "" if message == "ready" else message
        return message == "ready"

    def cause_of_death(self) -> WorkerCrashed:
        """Why the worker stopped, from its exit status and the last lines it wrote."""
        from . import sandbox

        self.process.join(timeout=2)
        code = self.process.exitcode
        words = sandbox.last_words(self.process.pid)
        if words.strip():
            log.error("query worker %s stopped (exit %s): %s", self.process.pid, code, words.strip()[:600])
        if sandbox.MEMORY_EXHAUSTED_MARK in words:
            return WorkerCrashed("the query needed more memory than the worker's limit and was stopped", True)
        if code is not None and code < 0:
            import signal
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return WorkerCrashed(f"the query worker crashed ({name}) while evaluating this query")
        return WorkerCrashed(f"the query worker stopped unexpectedly (exit status {code})")

    def kill(self) -> None:
        from . import sandbox

        try:
            self.process.kill()
        finally:
            self.process.join(timeout=5)
            self.conn.close()
            sandbox.stderr_log(self.process.pid).unlink(missing_ok=True)


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
                 memory_base: str | None = None, limits: WorkerLimits = WorkerLimits(), max_size: int | None = None):
        """store_path: an on-disk store opened read-only, or 'memory:<dump.nq>' loaded by every worker."""
        self.store_path = str(store_path)
        self.memory_base = memory_base
        self.limits = limits
        self.problem = "starting"
        # Runaway queries hold their workers until the timeout: while they do, the
        # pool grows (up to twice its size) so that other queries are not starved,
        # and shrinks back once workers are idle again. A queue of ordinary queries
        # does not grow it: on a busy CPU more processes only cost memory.
        self.max_size = max_size or size * 2
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
        self._wake = threading.Event()
        threading.Thread(target=self._supervise, daemon=True, name="ijdp-pool-supervisor").start()

    @property
    def ready(self) -> bool:
        """Workers are up and the store they read is still there."""
        if not self._ready.is_set() or not self._workers:
            return False
        return self.store_path.startswith("memory:") or os.path.isdir(self.store_path)

    def _spawn(self) -> bool:
        if self._closed:
            return False
        worker = _Worker(self._context, self.store_path, self.memory_base, self.limits)
        if worker.wait_ready(self.start_timeout):
            self._workers.add(worker)
            self._idle.put(worker)
            self.problem = ""
            self._ready.set()
            return True
        worker.kill()
        if not self._closed:
            self.problem = worker.failure
            log.error("a query worker could not start on %s: %s", self.store_path, worker.failure)
        return False

    def _supervise(self) -> None:
        """Keep the pool at its size: start it, and start workers again (backing off) while they fail."""
        pause = 0.5
        while not self._closed:
            with self._lock:
                missing = self.size - len(self._workers) - self._starting
                if missing > 0:
                    self._starting += 1
            if missing > 0:
                try:
                    started = self._spawn()
                finally:
                    with self._lock:
                        self._starting -= 1
                if started:
                    pause = 0.5
                    continue
                if not self._workers:
                    self._ready.clear()
                time.sleep(pause)
                pause = min(pause * 2, 5.0)
            else:
                self._wake.wait(1.0)
                self._wake.clear()

    def generation_stamp(self) -> tuple:
        """Changes whenever an update changes the store (cache keys include it)."""
        return generation(self.store_path)

    def _marker(self) -> tuple:
        stamp = self.generation_stamp()
        if getattr(self, "_marker_seen", (None,))[0] != stamp:
            self._marker_seen = (stamp, update_marker(self.store_path) if not self.store_path.startswith("memory:") else ("", None))
        return self._marker_seen[1]

    def update_token(self) -> str:
        """Empty while the store holds its build; after an admin update, a token that update chose."""
        return self._marker()[0]

    def updated_at(self) -> float | None:
        return self._marker()[1]

    def run(self, job: Job, timeout: float) -> Outcome:
        key = (job, self.generation_stamp())
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        outcome = self._run(job, timeout)
        if outcome.kind == "unavailable":
            raise PoolUnavailable(outcome.message)
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
            cause = worker.cause_of_death()
            self._replace(worker)
            raise cause from None
        self._replace(worker)
        raise QueryTimeout(f"the query ran longer than {timeout:g} s and was stopped")

    def _acquire(self, timeout: float) -> _Worker:
        # Waiting for a free worker has its own budget: a query queued behind runaway
        # ones still gets its whole timeout once it runs.
        deadline = time.monotonic() + timeout
        # A worker busy this long is running something slow: start another rather than
        # queue behind it (ordinary queries take milliseconds, so a queue of them grows nothing).
        stuck_after = min(STUCK_AFTER_SECONDS, timeout / 4)
        while True:
            try:
                return self._idle.get(timeout=min(0.2, max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                pass
            if time.monotonic() >= deadline:
                raise PoolBusy("every query worker stayed busy for the whole timeout")
            if not self._ready.is_set() and time.monotonic() > deadline - timeout + 1.0:
                raise PoolUnavailable(f"no query worker is running: {self.problem or 'starting'}")
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
        """Retire a worker (killed at its timeout, or dead); the supervisor starts its successor."""
        self._busy_since.pop(worker, None)
        with self._lock:
            self._workers.discard(worker)
        self._wake.set()
        threading.Thread(target=worker.kill, daemon=True, name="ijdp-pool-retire").start()

    def worker_pids(self) -> list[int]:
        return sorted(w.process.pid for w in list(self._workers))

    def close(self) -> None:
        self._closed = True
        self._wake.set()
        while True:
            try:
                worker = self._idle.get_nowait()
            except queue.Empty:
                return
            worker.kill()


# ------------------------------------------------------------- updates

def _update_main(store_path: str, update: str, conn, limits: WorkerLimits = WorkerLimits()) -> None:
    import fcntl

    import pyoxigraph

    from . import sandbox
    from .structure import LexicalError, analyse

    # Updates never reach the network: LOAD SILENT then fails quietly, as SPARQL says it may.
    sandbox.capture_stderr()
    try:
        sandbox.restrict_network()
    except sandbox.SandboxUnavailable as err:
        conn.send(("error", str(err)))
        return
    sandbox.limit_memory(limits.memory_bytes)
    try:
        found = analyse(update)
    except LexicalError as err:
        conn.send(("syntax", str(err)))
        return
    if found.depth > limits.max_depth:
        conn.send(("too-deep", f"the update nests {found.depth} levels deep; the limit is {limits.max_depth}"))
        return
    try:
        _empty_read_only_store().update(update)   # parses, then refuses to write: a syntax check only
    except SyntaxError as err:
        conn.send(("syntax", err.args[0] if err.args else str(err)))
        return
    except (OSError, RuntimeError, ValueError):
        pass
    if found.loud_loads:
        conn.send(("load-refused", "LOAD is refused: this server makes no outbound requests "
                                   "(LOAD SILENT succeeds without loading)."))
        return
    if found.services:
        shown = found.services[0] or "a variable"
        conn.send(("service-refused", f"SERVICE {shown} is not allowed in an update: updates make no outbound requests."))
        return
    with open(Path(store_path).parent / (Path(store_path).name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            store = pyoxigraph.Store(store_path)
            store.update(update)
            store.flush()
            del store
            mark_updated(Path(store_path))
            bump_generation(Path(store_path))
            conn.send(("ok", ""))
        except SyntaxError as err:
            conn.send(("syntax", err.args[0] if err.args else str(err)))
        except MemoryError:
            conn.send(("memory", "the update needed more memory than its limit"))
        except Exception as err:  # noqa: BLE001
            conn.send(("error", f"{type(err).__name__}: {err}"))


def run_update(store_path, update: str, timeout: float, limits: WorkerLimits = WorkerLimits()) -> tuple[str, str]:
    """Apply an update in its own sandboxed process (one writer at a time, across web workers).

    ("ok" | "syntax" | "too-deep" | "load-refused" | "service-refused" | "memory" | "crashed" | "error", message)
    """
    from . import sandbox

    context = multiprocessing.get_context("forkserver")
    parent, child = context.Pipe()
    process = context.Process(target=_update_main, args=(str(store_path), update, child, limits), daemon=True)
    process.start()
    child.close()
    try:
        if parent.poll(timeout):
            try:
                return parent.recv()
            except EOFError:
                process.join(timeout=2)
                words = sandbox.last_words(process.pid)
                if sandbox.MEMORY_EXHAUSTED_MARK in words:
                    return "memory", "the update needed more memory than its limit"
                return "crashed", f"the update process stopped unexpectedly (exit status {process.exitcode})"
        process.kill()
        raise QueryTimeout(f"the update ran longer than {timeout:g} s and was stopped")
    finally:
        process.join(timeout=5)
        parent.close()
        sandbox.stderr_log(process.pid).unlink(missing_ok=True)
