"""Queries run in long-lived worker processes, so that a runaway query can be killed.

pyoxigraph has no timeout of its own. Each worker opens the on-disk store
read-only and answers one job at a time over a pipe; when a job overruns the
timeout the worker is killed (SIGKILL) and a fresh one takes its place, while
the other workers go on answering. After an update the store's generation
file changes and each worker reopens its read-only view before its next query.
"""
from __future__ import annotations

import json
import logging
import multiprocessing
import os
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from pathlib import Path

from .fairness import ANSWER_COPIES, CLIENT, HELD, AnswerRoom, Ledger

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
    max_projected_variables: int = 1000   # columns a SELECT may have (sparql.projected_variables)
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


# What every worker and update process imports: loaded once by the fork server, so that a new process
# starts from a fork with them in memory (an update process took 0.3 s to start while each imported them).
WORKER_MODULES = ["pyoxigraph", "ijdp.querypool", "ijdp.results", "ijdp.sandbox", "ijdp.structure", "ijdp.sparql"]


def forkserver():
    """The multiprocessing context of every query and update process (set up before its server starts)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(WORKER_MODULES)
    return context


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
            _say(conn, f"sandbox unavailable: {err}")
            return
    # Open before announcing readiness, so that /healthz means "the store is open".
    in_memory = store_path.startswith("memory:")
    try:
        if in_memory:
            store, seen = _open_memory(store_path[len("memory:"):], memory_base), (0, 0)
        else:
            store, seen = pyoxigraph.Store.read_only(store_path), generation(store_path)
    except OSError as err:
        _say(conn, f"store unavailable: {err}")
        return
    syntax_store = None if in_memory else store
    if in_memory:
        syntax_store = _empty_read_only_store()
    sandbox.limit_memory(limits.memory_bytes)
    _say(conn, "ready")
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
                _answer(conn, Outcome(kind="unavailable", message=f"the store cannot be opened: {err}"))
                continue
        try:
            outcome = run_job(store, job, limits, syntax_store)
        except MemoryError:
            outcome = Outcome(kind="memory", message="the query needed more memory than its limit")
        except Exception as err:  # noqa: BLE001 - reported to the client as a 500 problem
            outcome = Outcome(kind="error", message=f"{type(err).__name__}: {err}")
        _answer(conn, outcome)


# What a worker sends is data of a fixed shape (a JSON header, then the answer's bytes), never a pickle:
# the web process unpickles nothing a process that ran a requester's query could have written.
HEADER_BYTES = 1024 * 1024
OUTCOME_FIELDS = {"kind": str, "media_type": str, "truncated": bool, "count": int, "message": str, "form": str}


class MalformedMessage(ValueError):
    """A worker sent something that is not a message of the contract."""


def _say(conn, text: str) -> None:
    conn.send_bytes(text.encode("utf-8"))


def _hear(conn) -> str:
    return conn.recv_bytes(HEADER_BYTES).decode("utf-8", "replace")


def _answer(conn, outcome: Outcome) -> None:
    # The header (with the size) first: the web process reads the answer once it has room for it.
    header = {name: getattr(outcome, name) for name in OUTCOME_FIELDS}
    conn.send_bytes(json.dumps({**header, "size": len(outcome.body)}).encode("utf-8"))
    conn.send_bytes(outcome.body)


def _answer_header(conn) -> dict:
    try:
        header = json.loads(conn.recv_bytes(HEADER_BYTES))
        fields = {name: kind(header[name]) if isinstance(header[name], kind) else None
                  for name, kind in OUTCOME_FIELDS.items()}
        size = header["size"]
    except (ValueError, KeyError, TypeError) as err:
        raise MalformedMessage(f"a query worker sent an answer of another shape ({type(err).__name__})") from None
    if None in fields.values() or not isinstance(size, int) or size < 0:
        raise MalformedMessage("a query worker sent an answer of another shape")
    return {**fields, "size": size}


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
            message = _hear(self.conn)
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


class _Waiter:
    """A query waiting for a worker: the dispatcher hands it one and sets its event."""

    def __init__(self, client):
        self.client = client
        self.since = time.monotonic()
        self.worker = None
        self.event = threading.Event()


class QueryPool:
    """Query workers over one store, shared fairly between clients.

    Runaway queries hold their workers until the timeout: while workers are stuck
    (busy longer than STUCK_AFTER_SECONDS) the pool keeps `size` spare workers ready
    beside them, up to max_size, so that other queries never wait for one to start;
    it shrinks back once workers are idle again. A queue of ordinary queries does
    not grow it: on a busy CPU more processes only cost memory. A client runs at
    most per_client queries at once; free workers go first to the waiting client
    with the fewest running, so one client's queue never delays another client
    (see _dispatch).
    """

    cacheable = True   # the store changes only through us, and every change bumps its generation

    def __init__(self, store_path, size: int = 2, start_timeout: float = 120.0, cache_bytes: int = 0,
                 memory_base: str | None = None, limits: WorkerLimits = WorkerLimits(), max_size: int | None = None,
                 ledger: Ledger | None = None, answers: AnswerRoom | None = None):
        """store_path: an on-disk store opened read-only, or 'memory:<dump.nq>' loaded by every worker.

        ledger: the clients' query time (shared with the other pools); answers: the answer bytes
        the web process may hold at once (None: unbounded).
        """
        self.store_path = str(store_path)
        self.memory_base = memory_base
        self.limits = limits
        self.problem = "starting"
        self.max_size = max_size or size * 2
        self.per_client = max(1, -(-(self.max_size - size) // 2))     # half the room to grow, rounded up
        self.ledger = ledger or Ledger()
        self.answers = answers
        self._busy_since: dict = {}
        self._starting = 0
        self._lock = threading.Lock()
        self.size = size
        self.start_timeout = start_timeout
        self.cache = BoundedCache(cache_bytes)
        self._context = forkserver()
        self._idle: deque = deque()
        self._waiting: dict = {}          # client -> deque of _Waiter, oldest first
        self._running: dict = {}          # client -> queries running
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
            with self._lock:
                self._workers.add(worker)
                self._idle.append(worker)
                self._dispatch()
                whole = len(self._workers) >= self.size
            self.problem = ""
            if whole or self._ready.is_set():
                # Ready once the pool is at its size: a first client never waits for the second worker.
                self._ready.set()
            return True
        worker.kill()
        if not self._closed:
            self.problem = worker.failure
            log.error("a query worker could not start on %s: %s", self.store_path, worker.failure)
        return False

    def _target(self) -> int:
        """Workers wanted now: the ready ones, plus one for each stuck worker."""
        now = time.monotonic()
        stuck = sum(1 for since in list(self._busy_since.values()) if now - since > STUCK_AFTER_SECONDS)
        return min(self.max_size, self.size + stuck)

    def _supervise(self) -> None:
        """Keep the pool at its target: start it, and start workers again (backing off) while they fail."""
        pause = 0.5
        while not self._closed:
            with self._lock:
                missing = self._target() - len(self._workers) - self._starting
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
                # While workers are busy, look again as soon as one could count as stuck.
                self._wake.wait(STUCK_AFTER_SECONDS / 2 if self._busy_since else 1.0)
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
        """The outcome of job, for the client of the current request (fairness.CLIENT).

        A cached answer costs the client nothing; otherwise the worker time it held is
        charged to it, a killed runaway's whole timeout included (OverBudget when it has none).
        """
        key = (job, self.generation_stamp())
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        client = CLIENT.get()
        self.ledger.admit(client)
        held = HELD.get()
        in_request = held is not None
        if not in_request:
            held = []
        try:
            outcome = self._run(job, timeout, client, held)
        finally:
            if not in_request:
                for room, size in held:
                    room.release(size)
        if outcome.kind == "unavailable":
            raise PoolUnavailable(outcome.message)
        if outcome.kind == "ok":
            self.cache.put(key, outcome, len(outcome.body) + len(job.query))
        return outcome

    def _run(self, job: Job, timeout: float, client, held: list) -> Outcome:
        waited_until = time.monotonic() + timeout
        try:
            worker = self._acquire(timeout, client)
            while worker.process.exitcode is not None:
                # It died while idle (killed from outside, or its memory limit): it ran nothing of this
                # job, so the job goes to another worker rather than failing with its death (within the
                # one wait the job has).
                log.error("a query worker was found dead before its job: %s", worker.cause_of_death())
                self._replace(worker, client)
                left = waited_until - time.monotonic()
                if left <= 0:
                    raise PoolBusy("every query worker stayed busy (or died) for the whole timeout")
                worker = self._acquire(left, client)
        except BaseException:
            self.ledger.done(client, 0.0)
            raise
        started = time.monotonic()
        deadline = started + timeout
        with self._lock:
            self._busy_since[worker] = started
        finished = None
        try:
            worker.conn.send(job)
            if worker.conn.poll(max(0.0, deadline - time.monotonic())):
                header = _answer_header(worker.conn)
                size = header.pop("size")
                finished = time.monotonic()
                if self.answers is not None:
                    # The answer is read only once the web process has room for it.
                    reserved = self.answers.hold(ANSWER_COPIES * size, deadline)
                    if reserved is None:
                        self._replace(worker, client)
                        raise PoolBusy("the server holds as many answers as its memory budget allows; "
                                       "this one waited for room for the whole timeout")
                    held.append((self.answers, reserved))
                outcome = Outcome(body=worker.conn.recv_bytes(max(size, 1)), **header)
                self._release(worker, client)
                return outcome
        except (EOFError, OSError, BrokenPipeError):
            cause = worker.cause_of_death()
            self._replace(worker, client)
            raise cause from None
        except PoolBusy:
            raise
        except BaseException as err:
            # Whatever else went wrong, the worker is in an unknown state: it goes, and its client's
            # place with it, so nothing stays counted as running.
            self._replace(worker, client)
            if isinstance(err, MalformedMessage):
                raise WorkerCrashed(str(err)) from None
            raise
        finally:
            self.ledger.done(client, (finished or time.monotonic()) - started)
        self._replace(worker, client)
        raise QueryTimeout(f"the query ran longer than {timeout:g} s and was stopped")

    def _acquire(self, timeout: float, client) -> _Worker:
        # Waiting for a free worker has its own budget: a query queued behind runaway
        # ones still gets its whole timeout once it runs.
        deadline = time.monotonic() + timeout
        waiter = _Waiter(client)
        with self._lock:
            self._waiting.setdefault(client, deque()).append(waiter)
            self._dispatch()
        self._wake.set()
        while not waiter.event.wait(min(0.2, max(0.0, deadline - time.monotonic()))):
            now = time.monotonic()
            unavailable = not self._ready.is_set() and now > waiter.since + 1.0
            if now < deadline and not unavailable:
                continue
            with self._lock:
                if waiter.worker is not None:
                    break
                queue = self._waiting[client]
                queue.remove(waiter)
                if not queue:
                    del self._waiting[client]
            if unavailable:
                raise PoolUnavailable(f"no query worker is running: {self.problem or 'starting'}")
            raise PoolBusy("every query worker stayed busy for the whole timeout")
        return waiter.worker

    def _dispatch(self) -> None:
        """Hand idle workers to waiting queries, fewest running first (the caller holds the lock).

        The last idle worker is kept for a client with nothing running: a newcomer never
        waits for a worker to start, however many another client keeps busy.
        """
        while self._idle and self._waiting:
            spare = len(self._idle) > 1
            eligible = [c for c in self._waiting if c is None or not self._running.get(c)
                        or (spare and self._running[c] < self.per_client)]
            if not eligible:
                return
            client = min(eligible, key=lambda c: (self._running.get(c, 0), self._waiting[c][0].since))
            queue = self._waiting[client]
            waiter = queue.popleft()
            if not queue:
                del self._waiting[client]
            self._running[client] = self._running.get(client, 0) + 1
            waiter.worker = self._idle.popleft()
            waiter.event.set()

    def _finished(self, client) -> None:
        left = self._running.get(client, 1) - 1
        if left:
            self._running[client] = left
        else:
            self._running.pop(client, None)

    def _release(self, worker: _Worker, client) -> None:
        surplus = None
        with self._lock:
            self._busy_since.pop(worker, None)
            self._finished(client)
            self._idle.append(worker)
            self._dispatch()
            if self._idle and len(self._workers) > self._target():
                surplus = self._idle.pop()
                self._workers.discard(surplus)
        if surplus is not None:
            surplus.kill()

    def _replace(self, worker: _Worker, client) -> None:
        """Retire a worker (killed at its timeout, or dead); the supervisor starts its successor."""
        with self._lock:
            self._busy_since.pop(worker, None)
            self._finished(client)
            self._workers.discard(worker)
            self._dispatch()
        # Gone before its successor starts: the memory budget counts it until then.
        worker.kill()
        self._wake.set()

    def worker_pids(self) -> list[int]:
        return sorted(w.process.pid for w in list(self._workers))

    def close(self) -> None:
        self._closed = True
        self._wake.set()
        with self._lock:
            idle, self._idle = list(self._idle), deque()
        for worker in idle:
            worker.kill()


# ------------------------------------------------------------- updates

def _report(conn, status: str, message) -> None:
    conn.send_bytes(json.dumps([status, str(message)]).encode("utf-8"))


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
        _report(conn, "error", str(err))
        return
    sandbox.limit_memory(limits.memory_bytes)
    try:
        found = analyse(update)
    except LexicalError as err:
        _report(conn, "syntax", str(err))
        return
    if found.depth > limits.max_depth:
        _report(conn, "too-deep", f"the update nests {found.depth} levels deep; the limit is {limits.max_depth}")
        return
    try:
        _empty_read_only_store().update(update)   # parses, then refuses to write: a syntax check only
    except SyntaxError as err:
        _report(conn, "syntax", err.args[0] if err.args else str(err))
        return
    except (OSError, RuntimeError, ValueError):
        pass
    if found.loud_loads:
        _report(conn, "load-refused", "LOAD is refused: this server makes no outbound requests "
                                   "(LOAD SILENT succeeds without loading).")
        return
    if found.services:
        shown = found.services[0] or "a variable"
        _report(conn, "service-refused", f"SERVICE {shown} is not allowed in an update: updates make no outbound requests.")
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
            _report(conn, "ok", "")
        except SyntaxError as err:
            _report(conn, "syntax", err.args[0] if err.args else str(err))
        except MemoryError:
            _report(conn, "memory", "the update needed more memory than its limit")
        except Exception as err:  # noqa: BLE001
            _report(conn, "error", f"{type(err).__name__}: {err}")


def run_update(store_path, update: str, timeout: float, limits: WorkerLimits = WorkerLimits()) -> tuple[str, str]:
    """Apply an update in its own sandboxed process (one writer at a time, across web workers).

    ("ok" | "syntax" | "too-deep" | "load-refused" | "service-refused" | "memory" | "crashed" | "error", message)
    """
    # One update process at a time: the memory budget counts one (fairness.plan_memory).
    if not _UPDATES.acquire(timeout=timeout):
        raise QueryTimeout(f"another update held the store for the whole {timeout:g} s")
    try:
        return _run_update(store_path, update, timeout, limits)
    finally:
        _UPDATES.release()


_UPDATES = threading.Lock()


def _run_update(store_path, update: str, timeout: float, limits: WorkerLimits) -> tuple[str, str]:
    from . import sandbox

    context = forkserver()
    parent, child = context.Pipe()
    process = context.Process(target=_update_main, args=(str(store_path), update, child, limits), daemon=True)
    process.start()
    child.close()
    try:
        if parent.poll(timeout):
            try:
                said = json.loads(parent.recv_bytes(HEADER_BYTES))
                if not (isinstance(said, list) and len(said) == 2 and all(isinstance(x, str) for x in said)):
                    return "crashed", "the update process answered in a shape it may not"
                return said[0], said[1]
            except ValueError:
                return "crashed", "the update process answered in a shape it may not"
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
