"""The Flask application factory."""
from __future__ import annotations

import json
import logging
from pathlib import Path

from flask import Flask, Response, request

from . import negotiation, problems, resources
from .config import Settings, built_base, from_environment

MAX_URL_BYTES = 16 * 1024
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                           "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
                           "form-action 'self'; frame-ancestors 'none'")


def create_app(config: dict | None = None) -> Flask:
    """The ijdp web application.

    config may hold IJDP_SETTINGS (a Settings; default: from the environment)
    and IJDP_STORE (a store: an on-disk path, "memory", "oxigraph:PATH" or
    "sparql:URL"; default: an on-disk store made from the built
    dumps in settings.dist_dir), plus any Flask setting.
    """
    config = dict(config or {})
    settings: Settings = config.pop("IJDP_SETTINGS", None) or from_environment()
    # Paths are the working directory's (as the user typed them), resolved once: Flask's
    # send_file would otherwise resolve a relative one against the package folder.
    settings = settings.with_overrides(dist_dir=str(Path(settings.dist_dir).resolve()))
    # One base everywhere: the IRIs the build wrote are the IRIs the server publishes.
    settings = settings.with_overrides(base_iri=built_base(settings.dist_dir))
    app = Flask(__name__, template_folder=str(resources.templates_folder()))
    app.config.update(
        IJDP_SETTINGS=settings,
        MAX_CONTENT_LENGTH=settings.max_request_bytes,
        MAX_FORM_MEMORY_SIZE=settings.max_request_bytes,
        JSON_SORT_KEYS=False,
    )
    app.config.update(config)
    from .store import open_backend, prepare_store, store_db
    spec = app.config.get("IJDP_STORE") or str(store_db(prepare_store(settings.dist_dir, settings.base_iri)))
    app.config.setdefault("IJDP_VERSION", _build_info(settings).get("version", "unversioned"))
    app.config.setdefault("IJDP_BUILT_AT", _built_at(settings))
    from . import __version__
    from .caching import code_version
    app.config.setdefault("IJDP_CODE_VERSION", code_version(
        (resources.templates_folder(), resources.static_folder()), __version__))

    from .querypool import BoundedCache
    app.extensions["ijdp_response_cache"] = BoundedCache(settings.result_cache_bytes // 2)
    # The query backend: an on-disk store shared read-only by killable workers, the dumps
    # loaded into memory by each worker, or a remote SPARQL endpoint (see store.open_backend).
    app.config["IJDP_STORE_SPEC"] = spec
    from . import fairness
    shared = app.extensions["ijdp_sharing"] = fairness.sharing(settings)
    # The plan may lower each query's memory to fit a small machine: every part of the server reads that.
    settings = settings.with_overrides(query_memory_mb=shared.plan.query_memory_mb)
    app.config["IJDP_SETTINGS"] = settings
    app.extensions["ijdp_pool"], app.config["IJDP_STORE"] = open_backend(spec, settings, shared)

    @app.before_request
    def identify_client():
        # Query time is counted per client (fairness): every pool.run of this request reads it.
        environ = request.environ
        fairness.CLIENT.set(fairness.client_of(environ.get("REMOTE_ADDR", ""), environ.get("HTTP_X_FORWARDED_FOR"),
                                               shared.trusted))
        fairness.HELD.set([])

    @app.teardown_request
    def forget_client(exc=None):
        fairness.release_held()
        fairness.CLIENT.set(None)
        fairness.HELD.set(None)

    @app.errorhandler(fairness.OverBudget)
    def over_budget(err):
        return problems.problem(429, str(err), "client-over-budget", headers={"Retry-After": str(err.retry_after)},
                                retry_after_seconds=err.retry_after)

    from . import browse, dumps, endpoint, pages, ui
    app.register_blueprint(browse.bp)
    app.register_blueprint(endpoint.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(dumps.bp)
    app.register_blueprint(ui.bp)
    problems.register(app)
    negotiation.install(app)    # Vary names the Accept* headers each answer was chosen by

    from .querypool import PoolUnavailable, QueryTimeout

    @app.errorhandler(QueryTimeout)
    @app.errorhandler(PoolUnavailable)
    def store_unavailable(err):
        # A page whose data could not be fetched in time, or whose backend is down.
        return problems.problem(503, str(err), "store-unavailable", headers={"Retry-After": "5"})

    answered = Counter()     # requests this process has answered: a cache in front shows in it
    app.extensions["ijdp_answered"] = answered

    @app.get("/healthz")
    def healthz():
        ready = app.extensions["ijdp_pool"].ready
        body = {"status": "ok" if ready else "starting", "version": app.config["IJDP_VERSION"],
                "requests": answered.value}
        return Response(json.dumps(body) + "\n", status=200 if ready else 503, mimetype="application/json",
                        headers={"Cache-Control": "no-store"})

    if settings.bench_floor:
        @app.get("/_floor/<int:size>")
        def floor(size: int):
            # The same server answering a fixed body: what every request costs before any query runs.
            return Response(b"x" * min(size, 50_000_000), mimetype="application/octet-stream")

    @app.before_request
    def bounded_url():
        # Long queries belong in a POST body; a URL this long is refused before anything reads it.
        if len(request.environ.get("REQUEST_URI") or request.full_path) > MAX_URL_BYTES:
            return problems.problem(414, f"The URL is longer than {MAX_URL_BYTES} bytes: send long queries as a POST "
                                         "(application/sparql-query or a form).", "uri-too-long")
        return None

    @app.after_request
    def security_headers(response: Response):
        # No script but the server's own files: data shown on a page (an IRI like
        # javascript:…, a literal) can never run, and no other site may frame the pages.
        response.headers["X-Content-Type-Options"] = "nosniff"
        if response.mimetype == "text/html":
            response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
            response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
        return response

    @app.after_request
    def count_and_cache_policy(response: Response):
        # Every GET answer may be kept by shared caches (views that know their format set it themselves);
        # POST answers, errors and the health check never are.
        from .caching import cacheable, never_stored, request_meaning
        if request.endpoint != "healthz":
            answered.add()
        if (request.method in ("GET", "HEAD") and response.status_code == 200 and "Cache-Control" not in response.headers
                and request.endpoint not in ("healthz", "floor") and not response.is_streamed):
            response = cacheable(response, *request_meaning(response.mimetype))
        return never_stored(response)

    @app.after_request
    def cors(response: Response):
        # Reads are open to every origin; the admin update path needs its token anyway.
        response.headers["Access-Control-Allow-Origin"] = "*"
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = "Accept, Content-Type"
        response.headers["Access-Control-Expose-Headers"] = "X-SPARQL-MaxRows, X-SPARQL-MaxBytes, X-SPARQL-Truncated, Link, ETag"
        return response

    logging.getLogger("ijdp").setLevel(logging.INFO)
    return app


class Counter:
    def __init__(self):
        import threading
        self.value, self._lock = 0, threading.Lock()

    def add(self) -> None:
        with self._lock:
            self.value += 1


def _build_info(settings: Settings) -> dict:
    try:
        return json.loads((Path(settings.dist_dir) / "build.json").read_text())
    except (OSError, ValueError):
        return {}


def _built_at(settings: Settings):
    from datetime import datetime, timezone
    stamp = _build_info(settings).get("built_at")
    try:
        return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc) if stamp else None
    except ValueError:
        return None
