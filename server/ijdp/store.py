"""Opening the built publication as a pyoxigraph store."""
from __future__ import annotations

import io
from pathlib import Path

import pyoxigraph

from .config import PUBLISHED_BASE
from .errors import IjdpError
from .formats import rdf_format_for_path
from .metadata import DUMP_STEM
from .rdfio import check_xml, syntax_error, too_large


def dump_path(dist_dir) -> Path:
    return Path(dist_dir) / f"{DUMP_STEM}.nq"


def open_built(dist_dir) -> pyoxigraph.Store:
    """An in-memory store of the built N-Quads dump (run `ijdp build` first)."""
    path = dump_path(dist_dir)
    if not path.exists():
        raise IjdpError(f"{path} does not exist: run `ijdp build` first (or `make build`)")
    store = pyoxigraph.Store()
    store.bulk_load(path.read_bytes(), format=pyoxigraph.RdfFormat.N_QUADS)
    return store


def load_file(store: pyoxigraph.Store, path, graph: str | None = None) -> None:
    """Load any RDF file into the store (into graph, when given, for triple formats)."""
    path = Path(path)
    try:
        fmt = rdf_format_for_path(path)
    except KeyError:
        raise IjdpError(f"{path}: unknown RDF format (use .ttl, .nt, .trig, .nq, .jsonld or .rdf)") from None
    try:
        data = path.read_bytes()
    except OSError as err:
        raise IjdpError(f"{path}: cannot read: {err.strerror}") from None
    if fmt.name == "rdfxml":
        check_xml(io.BytesIO(data), path)
    to_graph = pyoxigraph.NamedNode(graph) if graph else pyoxigraph.DefaultGraph()
    try:
        store.load(data, format=fmt.oxigraph, base_iri=path.resolve().as_uri(),
                   to_graph=None if fmt.keeps_graphs else to_graph)
    except SyntaxError as err:
        raise syntax_error(path, err) from None
    except MemoryError as err:
        raise too_large(path, err) from None


def prepare_store(dist_dir, base_iri: str, cache_dir=None) -> Path:
    """An on-disk store of the built dump, rebased to base_iri, made once and reused.

    Named by the dump's checksum and the base, so a rebuild or another base
    gets a fresh store; made in a temporary folder and renamed into place.
    """
    import hashlib
    import shutil
    import tempfile

    dump = dump_path(dist_dir)
    if not dump.exists():
        raise IjdpError(f"{dump} does not exist: run `ijdp build` first (or `make build`)")
    raw = dump.read_bytes()
    key = hashlib.sha256(raw + base_iri.encode()).hexdigest()[:16]
    cache = Path(cache_dir or Path(dist_dir) / "stores")
    target = cache / key
    if (target / "READY").exists():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=cache))
    try:
        data = checked_dump(dump, raw)
        if base_iri:
            from .iris import rebase_text
            data = rebase_text(data.decode("utf-8"), base_iri).encode("utf-8")
        write_on_disk(staging / "db", data)
        (staging / "READY").write_text(key)
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def checked_dump(path: Path, data: bytes) -> bytes:
    """The dump's bytes, or an IjdpError naming the file and line where it is damaged (or that it is empty)."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        column = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
        raise IjdpError(f"{path}:{line}:{column}: not UTF-8 (byte 0x{data[err.start]:02x}); "
                        "the dump is damaged: run `ijdp build` again") from None
    try:
        count = sum(1 for _ in pyoxigraph.parse(data, format=pyoxigraph.RdfFormat.N_QUADS))
    except SyntaxError as err:
        raise syntax_error(path, err) from None
    if count == 0:
        raise IjdpError(f"{path}:1: the dump holds no statements; refusing to serve an empty publication "
                        "(run `ijdp build` again)")
    return data


def write_on_disk(path, data=None, *, source=None, fmt=pyoxigraph.RdfFormat.N_QUADS) -> None:
    """Bulk-load data (bytes) or source (a file) into a new on-disk store at path, compacted.

    Compacting after the bulk load makes the read-only store's scans and joins
    about a quarter faster (measured on the 1M benchmark graph: docs/benchmarks.md).
    """
    from .querypool import UPDATED_FILE, bump_generation

    store = pyoxigraph.Store(str(path))
    if source is not None:
        store.bulk_load(path=str(source), format=fmt)
    else:
        store.bulk_load(data, format=fmt)
    store.flush()
    store.optimize()
    del store
    (Path(path) / UPDATED_FILE).unlink(missing_ok=True)     # the store holds its build again
    bump_generation(Path(path))


def store_db(prepared: Path) -> Path:
    return Path(prepared) / "db"


def open_writable(path) -> Path:
    """An on-disk store at path (created empty when missing), for `serve --store`."""
    from .querypool import bump_generation

    path = Path(path)
    store = pyoxigraph.Store(str(path))
    store.flush()
    del store
    bump_generation(path)
    return path


def parse_store_spec(spec: str) -> tuple[str, str]:
    """('memory', ''), ('oxigraph', PATH) or ('sparql', URL); a bare path means an on-disk store."""
    if spec == "memory":
        return "memory", ""
    for kind in ("oxigraph", "sparql"):
        if spec.startswith(kind + ":"):
            value = spec[len(kind) + 1:]
            if not value:
                raise IjdpError(f"--store {kind}: needs a {'path' if kind == 'oxigraph' else 'URL'}")
            return kind, value
    if spec.startswith(("http://", "https://")):
        raise IjdpError(f"--store {spec}: write sparql:{spec} for a remote SPARQL endpoint")
    return "oxigraph", spec


def worker_limits(settings, internet: bool = False):
    from .querypool import WorkerLimits

    from .iris import rebase_text
    from .vocab import PREFIXES

    prefixes = tuple((prefix, rebase_text(namespace, settings.base_iri)) for prefix, namespace in PREFIXES.items())
    return WorkerLimits(service_allowlist=tuple(settings.service_allowlist), max_depth=settings.max_nesting,
                        max_projected_variables=settings.max_projected_variables,
                        memory_bytes=settings.query_memory_mb * 1024 * 1024, internet=internet, prefixes=prefixes)


def _pool_source(spec: str, settings) -> tuple[str, str | None]:
    """(what the pool's workers open, the base they rebase a memory dump to)."""
    kind, value = parse_store_spec(spec)
    if kind == "memory":
        dump = dump_path(settings.dist_dir).resolve()
        if not dump.exists():
            raise IjdpError(f"{dump} does not exist: run `ijdp build` first (or `make build`)")
        return f"memory:{dump}", settings.base_iri if settings.base_iri != PUBLISHED_BASE else None
    return value, None


def open_backend(spec: str, settings, shared=None):
    """(the query backend, the on-disk store path for updates or None) for a --store spec.

    shared: the fairness.Sharing of the server's pools (default: one made from settings);
    its memory plan sets the pool's most workers.
    """
    from .fairness import sharing
    from .querypool import QueryPool
    from .remote import RemoteBackend

    kind, value = parse_store_spec(spec)
    if kind == "sparql":
        return RemoteBackend(value, cache_bytes=0, limits=worker_limits(settings, internet=True)), None
    shared = shared or sharing(settings)
    source, memory_base = _pool_source(spec, settings)
    pool = QueryPool(source, size=settings.query_workers, cache_bytes=settings.result_cache_bytes,
                     memory_base=memory_base, limits=worker_limits(settings), max_size=shared.plan.query_workers,
                     ledger=shared.ledger, answers=shared.answers)
    return pool, (value if kind == "oxigraph" else None)


def open_federation_pool(spec: str, settings, shared=None):
    """The workers that run queries whose every SERVICE is allow-listed; they reach the federation proxy only."""
    from dataclasses import replace

    from .federation import FederationPool, Proxy
    from .querypool import QueryPool

    source, memory_base = _pool_source(spec, settings)
    proxy = Proxy(settings.service_allowlist, timeout=settings.service_timeout,
                  max_answer_bytes=settings.max_answer_bytes, max_request_bytes=settings.max_request_bytes)
    # The workers' allow-list is the proxy's routes: their sandbox admits the proxy's address and nothing else.
    limits = replace(worker_limits(settings, internet=True), service_allowlist=proxy.routes)
    from .fairness import FEDERATION_WORKERS, sharing
    shared = shared or sharing(settings)
    pool = QueryPool(source, size=1, cache_bytes=0, memory_base=memory_base, limits=limits,
                     max_size=FEDERATION_WORKERS, ledger=shared.ledger, answers=shared.answers)
    return FederationPool(pool, proxy)


def load_into_oxigraph(dist_dir, path, base_iri: str = PUBLISHED_BASE) -> Path:
    """Replace the on-disk store at path with the built dump (made beside it, then swapped in)."""
    import shutil
    import tempfile

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.new-", dir=target.parent))
    try:
        data = dump_path(dist_dir).read_bytes()
        if base_iri != PUBLISHED_BASE:
            from .iris import rebase_text
            data = rebase_text(data.decode("utf-8"), base_iri).encode("utf-8")
        write_on_disk(staging, data)
        previous = target.with_name(f".{target.name}.old") if target.exists() else None
        if previous:
            shutil.rmtree(previous, ignore_errors=True)
            target.rename(previous)
        staging.rename(target)
        if previous:
            shutil.rmtree(previous, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target
