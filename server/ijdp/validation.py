"""SHACL validation with pyshacl, and a report people can read."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from rdflib import RDF, Graph, Namespace

from . import resources
from .rdfio import load_graph

SH = Namespace("http://www.w3.org/ns/shacl#")


@dataclass(frozen=True)
class Violation:
    focus: str
    path: str
    message: str
    severity: str
    source_shape: str
    value: str = ""
    source_file: str = ""


@dataclass
class Report:
    conforms: bool
    violations: list = field(default_factory=list)
    graph: Graph = field(default_factory=Graph)

    def as_text(self) -> str:
        if self.conforms:
            return "SHACL: conforms (0 violations)"
        lines = [f"SHACL: {len(self.violations)} violation(s)"]
        for v in self.violations:
            where = f" [{v.source_file}]" if v.source_file else ""
            lines.append(f"- {v.severity}: {v.focus}{where}\n    path: {v.path or '-'}\n    {v.message}"
                         + (f"\n    value: {v.value}" if v.value else ""))
        return "\n".join(lines)

    def as_json(self) -> str:
        return json.dumps({"conforms": self.conforms, "violations": [v.__dict__ for v in self.violations]}, indent=2)

    def as_turtle(self) -> str:
        return self.graph.serialize(format="turtle")


def shapes_graph() -> Graph:
    return load_graph(*resources.shapes_files())


def validate(data: Graph, shapes: Graph | None = None, origins: dict | None = None) -> Report:
    """Validate data against the shapes; origins maps subjects to the file they came from."""
    import pyshacl  # heavy: imported only when validating

    conforms, results, _ = pyshacl.validate(
        data, shacl_graph=shapes if shapes is not None else shapes_graph(),
        inference="none", advanced=True, allow_warnings=True)
    violations, seen = [], set()
    for result in results.subjects(RDF.type, SH.ValidationResult):
        focus = results.value(result, SH.focusNode)
        found = Violation(
            focus=str(focus),
            path=str(results.value(result, SH.resultPath) or ""),
            message=str(results.value(result, SH.resultMessage) or ""),
            severity=str(results.value(result, SH.resultSeverity) or "").rsplit("#", 1)[-1],
            source_shape=str(results.value(result, SH.sourceShape) or ""),
            value=str(results.value(result, SH.value) or ""),
            source_file=str((origins or {}).get(focus, "")),
        )
        # pyshacl reports a constraint once per route to it (a shape reached by class and by
        # target, a property shape shared by two node shapes): a reader needs it once.
        key = (found.focus, found.path, found.message, found.value, found.severity)
        if key not in seen:
            seen.add(key)
            violations.append(found)
    violations.sort(key=lambda v: (v.focus, v.path, v.message))
    return Report(conforms=bool(conforms), violations=violations, graph=results)


def origins_of(paths) -> dict:
    """Which file each subject was stated in (for the report)."""
    origins = {}
    for path in paths:
        for subject in load_graph(Path(path)).subjects():
            origins.setdefault(subject, Path(path).name)
    return origins


# DCAT-AP 3.0.1's shapes, as SEMIC publishes them: not ours to ship, so the build reads them where they are.
DCAT_AP_FILES = {"mandatory": "shapes.ttl", "range": "range.ttl", "recommended": "shapes_recommended.ttl"}


def dcat_ap_folder() -> Path | None:
    """Where DCAT-AP's shapes are: IJDP_DCAT_AP_SHAPES, else ../shared/dcat-ap beside the checkout."""
    import os

    from .resources import CHECKOUT
    chosen = os.environ.get("IJDP_DCAT_AP_SHAPES")
    folder = Path(chosen) if chosen else CHECKOUT.parent / "shared" / "dcat-ap"
    return folder if all((folder / name).is_file() for name in DCAT_AP_FILES.values()) else None


@dataclass
class PortalReport:
    """The catalogue description against DCAT-AP: violations of the mandatory and range shapes, missing
    recommended properties (warnings)."""
    violations: list
    recommended_missing: list

    @property
    def conforms(self) -> bool:
        return not self.violations

    def summary(self) -> str:
        return (f"DCAT-AP 3.0.1: {len(self.violations)} violation(s) of the mandatory and range shapes, "
                f"{len(self.recommended_missing)} recommended propert{'y' if len(self.recommended_missing) == 1 else 'ies'} "
                "not filled")

    def as_dict(self) -> dict:
        return {"violations": len(self.violations), "recommended_missing": len(self.recommended_missing),
                "missing": sorted({f"{v.focus} {v.path}" for v in self.recommended_missing})}


def validate_dcat_ap(description: Graph, folder: Path) -> PortalReport:
    """Validate a catalogue description with DCAT-AP's own shapes (each file on its own, as SEMIC runs them)."""
    from .rdfio import load_graph

    found = {}
    for kind, name in DCAT_AP_FILES.items():
        found[kind] = validate(description, load_graph(folder / name)).violations
    violations = [v for kind in ("mandatory", "range") for v in found[kind] if v.severity == "Violation"]
    return PortalReport(violations, [v for v in found["recommended"] if v.severity != "Violation"])
