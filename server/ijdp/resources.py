"""Where the publication's own files are: ontology, shapes, data, queries.

In a checkout they are the top-level folders; an installed wheel carries
them inside the package (pyproject maps the folders to ijdp/ontology, ...).
"""
from __future__ import annotations

import os
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
CHECKOUT = PACKAGE.parent.parent


def _folder(name: str) -> Path:
    installed = PACKAGE / name
    return installed if installed.is_dir() else CHECKOUT / name


def ontology_files() -> list[Path]:
    return sorted(_folder("ontology").glob("*.ttl"))


def shapes_files() -> list[Path]:
    return sorted(_folder("shapes").glob("*.ttl"))


def data_folder() -> Path:
    """The publication's data: IJDP_DATA_DIR (or `ijdp build --data`) names another folder laid out the same way."""
    chosen = os.environ.get("IJDP_DATA_DIR")
    return Path(chosen) if chosen else _folder("data")


def queries_folder() -> Path:
    return _folder("queries")


def templates_folder() -> Path:
    return PACKAGE.parent / "templates" if (PACKAGE.parent / "templates").is_dir() else _folder("templates")


def static_folder() -> Path:
    return PACKAGE.parent / "static" if (PACKAGE.parent / "static").is_dir() else PACKAGE / "static"
