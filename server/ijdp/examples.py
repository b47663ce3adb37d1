"""The example queries of queries/, with their titles, for the UI and the tests."""
from __future__ import annotations

from dataclasses import dataclass

from . import resources


@dataclass(frozen=True)
class Example:
    name: str
    title: str
    text: str


def examples() -> list[Example]:
    found = []
    for path in sorted(resources.queries_folder().glob("*.rq")):
        text = path.read_text(encoding="utf-8")
        first = text.splitlines()[0] if text else ""
        title = first[len("# title:"):].strip() if first.startswith("# title:") else path.stem
        found.append(Example(name=path.stem, title=title, text=text))
    return found
