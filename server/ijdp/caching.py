"""HTTP caching for shared caches: freshness, strong validators, and no-store where nothing may be kept.

A release is immutable: what a GET answers depends only on the data (the build's version, plus a token
that every admin update changes), the code that renders it, and the request's meaning (path, query,
dataset parameters, negotiated format). The ETag is a digest of exactly those, so every replica built
from the same dist/ gives the same validator, a cache can revalidate against any of them, and the
validator can be checked before any query runs. POST answers and errors are never stored. Vary is
added to every answer by negotiation.install, from the Accept* headers its view read.
"""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from pathlib import Path

from flask import Response, current_app, request


def code_version(folders, version: str) -> str:
    """A digest of what renders answers (templates, scripts) and the package version: a new release of
    ijdp on the same data changes the validators too."""
    digest = hashlib.sha256(version.encode())
    for folder in folders:
        for path in sorted(Path(folder).rglob("*")) if Path(folder).is_dir() else ():
            if path.is_file() and "node_modules" not in path.parts:
                digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def dataset_version() -> str:
    """The build's version, the rendering code's, and the store's update token (empty until an admin update)."""
    app = current_app
    token = app.extensions["ijdp_pool"].update_token()
    return f"{app.config['IJDP_VERSION']}.{app.config['IJDP_CODE_VERSION']}{'.' + token if token else ''}"


def last_changed() -> datetime | None:
    """When the served data last changed: the build, or the last admin update after it."""
    built = current_app.config.get("IJDP_BUILT_AT")
    updated = current_app.extensions["ijdp_pool"].updated_at()
    if updated is not None:
        updated = datetime.fromtimestamp(updated, timezone.utc).replace(microsecond=0)
        return max(built, updated) if built else updated
    return built


def validator(*meaning) -> str:
    """A strong ETag value for this request's meaning on this version of the data."""
    text = "\0".join([dataset_version(), *(str(part) for part in meaning)])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def request_meaning(fmt=None) -> tuple:
    """Path, query string parameters (in order of name) and the negotiated format."""
    args = tuple(sorted((k, tuple(request.args.getlist(k))) for k in request.args))
    return request.path, args, getattr(fmt, "name", fmt) or ""


def freshness(response: Response) -> Response:
    settings = current_app.config["IJDP_SETTINGS"]
    response.headers["Cache-Control"] = (
        f"public, max-age={settings.cache_max_age}, stale-while-revalidate={settings.cache_stale_while_revalidate}, "
        f"stale-if-error={settings.cache_stale_if_error}")
    return response


def cacheable(response: Response, *meaning, vary: str | None = None) -> Response:
    """Freshness, a strong ETag and Vary on a GET answer; 304 when the client holds it already."""
    response.set_etag(validator(*meaning), weak=False)
    freshness(response)
    if vary:
        response.vary.add(vary)
    changed = last_changed()
    if changed is not None:
        response.last_modified = changed
    return answer_conditionally(response)


def answer_conditionally(response: Response) -> Response:
    """304 when the request's validators match. werkzeug's check costs about 50 µs, a tenth of a cached
    answer, so it runs only for the requests that ask it something."""
    headers = request.environ
    if "HTTP_IF_NONE_MATCH" in headers or "HTTP_IF_MODIFIED_SINCE" in headers:
        return response.make_conditional(request)
    return response


def not_modified(*meaning, vary: str | None = None) -> Response | None:
    """A 304 before any work, when the client already holds the answer this request would get."""
    if request.method not in ("GET", "HEAD") or not request.if_none_match:
        return None
    etag = validator(*meaning)
    if not request.if_none_match.contains(etag):
        return None
    response = freshness(Response(status=304))
    response.set_etag(etag, weak=False)
    if vary:
        response.vary.add(vary)
    return response


def never_stored(response: Response) -> Response:
    """POST answers and errors: no cache keeps them (an error must not outlive its cause)."""
    if request.method not in ("GET", "HEAD") or response.status_code >= 400:
        response.headers["Cache-Control"] = "no-store"
        response.headers.pop("ETag", None)
    return response
