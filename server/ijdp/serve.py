"""Running the app under gunicorn (several worker processes, threads in each)."""
from __future__ import annotations

from gunicorn.app.base import BaseApplication

from .config import Settings


class IjdpServer(BaseApplication):
    def __init__(self, settings: Settings, store_path: str):
        self.settings = settings
        self.store_path = store_path
        super().__init__()

    def load_config(self):
        s = self.settings
        options = {
            "bind": f"{s.host}:{s.port}",
            "workers": s.workers,
            "worker_class": "gthread",
            "threads": 4,
            # gthread workers heartbeat from their main loop, so a long query does
            # not trip this; it only catches a worker that is truly stuck.
            "timeout": int(s.query_timeout) + 30,
            "graceful_timeout": 10,
            "limit_request_line": 8190,
            "accesslog": "-",
            "errorlog": "-",
            "loglevel": "info",
        }
        for key, value in options.items():
            self.cfg.set(key, value)

    def load(self):
        from .app import create_app
        return create_app({"IJDP_SETTINGS": self.settings, "IJDP_STORE": self.store_path})


def run(settings: Settings, store_path: str) -> None:
    IjdpServer(settings, store_path).run()
