"""Reading RDF files with errors that name the file and line."""
from __future__ import annotations

from pathlib import Path

import pyoxigraph
import rdflib

from .errors import IjdpError
from .formats import rdf_format_for_path

# Keep literals exactly as written (rdflib would otherwise rewrite some lexical
# forms, and a quote or a date must stay as the source states it).
rdflib.NORMALIZE_LITERALS = False


def check_syntax(path: Path) -> None:
    """Raise IjdpError '<file>:<line>:<column>: <parser message>' on bad syntax."""
    try:
        fmt = rdf_format_for_path(path)
    except KeyError:
        raise IjdpError(f"{path}: unknown RDF format (use .ttl, .nt, .trig, .nq, .jsonld or .rdf)") from None
    try:
        data = path.read_bytes()
    except OSError as err:
        raise IjdpError(f"{path}: cannot read: {err.strerror}") from None
    try:
        for _ in pyoxigraph.parse(data, format=fmt.oxigraph, base_iri=path.resolve().as_uri()):
            pass
    except SyntaxError as err:
        raise syntax_error(path, err) from None


def syntax_error(path: Path, err: SyntaxError) -> IjdpError:
    """'<file>:<line>:<column>: syntax error: <parser message>'."""
    line, column = _position(err)
    where = f"{path}:{line}:{column}" if line else str(path)
    return IjdpError(f"{where}: syntax error: {err.args[0] if err.args else err}")


def _position(err: SyntaxError):
    details = err.args[1] if len(err.args) > 1 and isinstance(err.args[1], tuple) else ()
    line = err.lineno or (details[1] if len(details) > 1 else None)
    column = err.offset or (details[2] if len(details) > 2 else None)
    return line, column


def load_dataset(path: Path) -> rdflib.Dataset:
    """A dataset parsed from a checked file (triples land in the default graph)."""
    check_syntax(path)
    dataset = rdflib.Dataset()
    fmt = rdf_format_for_path(path)
    dataset.parse(str(path), format=fmt.rdflib_name)
    return dataset


def load_graph(*paths: Path) -> rdflib.Graph:
    """One graph holding every triple of the given files (graphs merged)."""
    graph = rdflib.Graph()
    for path in paths:
        for s, p, o, _ in load_dataset(Path(path)).quads():
            graph.add((s, p, o))
    return graph
