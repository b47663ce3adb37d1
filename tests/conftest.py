"""Shared fixtures: one build of the publication per test session."""
from __future__ import annotations

import json
from pathlib import Path

import pyoxigraph
import pytest

TESTS = Path(__file__).resolve().parent
DATA = TESTS / "data"
REPO = TESTS.parent
SHARED = REPO.parent / "shared"
MOC = "sources/india-japan-semiconductor-moc"      # the first source's folder, under data/
MOC_FOLDER = REPO / "data" / MOC


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """(publication, report, dist folder) of a full build with the reasoner."""
    from ijdp.build import build_publication, write_dumps

    publication, report = build_publication()
    dist = tmp_path_factory.mktemp("dist") / "dist"
    write_dumps(publication, report, dist)
    return publication, report, dist


@pytest.fixture(scope="session")
def publication(built):
    return built[0]


@pytest.fixture(scope="session")
def dist(built):
    return built[2]


@pytest.fixture(scope="session")
def store(dist):
    from ijdp.store import open_built

    return open_built(dist)


def read_json(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))


def term_text(term) -> str | None:
    if term is None:
        return None
    if isinstance(term, pyoxigraph.Literal):
        return term.value
    return term.value if hasattr(term, "value") else str(term)


@pytest.fixture(scope="session")
def prepared_store(dist, tmp_path_factory):
    """An on-disk store of the built dump (published base)."""
    from ijdp.config import PUBLISHED_BASE
    from ijdp.store import prepare_store, store_db

    return str(store_db(prepare_store(dist, PUBLISHED_BASE, cache_dir=tmp_path_factory.mktemp("stores"))))


def make_app(store_path, dist, wait_ready=True, **overrides):
    import time

    from ijdp.app import create_app
    from ijdp.config import Settings

    settings = Settings(dist_dir=str(dist)).with_overrides(**overrides)
    app = create_app({"IJDP_SETTINGS": settings, "IJDP_STORE": store_path, "TESTING": True})
    deadline = time.monotonic() + 60
    while wait_ready and not app.extensions["ijdp_pool"].ready and time.monotonic() < deadline:
        time.sleep(0.05)
    return app


@pytest.fixture(scope="session")
def app(prepared_store, dist):
    application = make_app(prepared_store, dist)
    yield application
    application.extensions["ijdp_pool"].close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def admin_app(prepared_store, dist, tmp_path):
    """A server on a private copy of the store, with the admin update path open (token s3cret)."""
    import shutil

    copy = tmp_path / "store"
    shutil.copytree(prepared_store, copy)
    app = make_app(str(copy), dist, admin_token="s3cret")
    yield app
    app.extensions["ijdp_pool"].close()


class Listener:
    """A TCP listener on 127.0.0.1 that counts the connections it is offered (and answers none)."""

    def __init__(self, backlog: int = 64):
        import socket
        import threading

        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(backlog)
        self.port = self.socket.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            self.connections += 1
            connection.close()
