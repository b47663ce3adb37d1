"""Reading RDF files with errors that name the file and line; nothing read is ever fetched or expanded.

RDF/XML is checked first with a streaming XML parser: no entity declarations (a "billion laughs"
expands to gigabytes), no external DTD or entity (never resolved), bounded nesting and token size.
JSON-LD and RDF/XML are parsed by pyoxigraph, which loads no remote @context; owl:imports is refused
unless it names an ontology of the local catalogue (ontology/), so neither a parser nor the reasoner
follows a reference out.
"""
from __future__ import annotations

import io
from pathlib import Path
from xml.parsers import expat

import pyoxigraph
import rdflib
from rdflib import OWL, RDF

from .errors import IjdpError
from .formats import rdf_format_for_path

# Keep literals exactly as written (rdflib would otherwise rewrite some lexical
# forms, and a quote or a date must stay as the source states it).
rdflib.NORMALIZE_LITERALS = False

XML_DEPTH_LIMIT = 1_000           # elements open at once: pyoxigraph's RDF/XML parser is quadratic in depth
TOKEN_LIMIT = 16 * 1024 * 1024    # one tag, comment or text run: pyoxigraph's own limit for the other formats
XML_CHUNK = 1024 * 1024


def check_xml(stream, where) -> None:
    """Read RDF/XML from a binary stream with entity expansion off; raise IjdpError naming `where` on a
    DOCTYPE that declares or names entities, too deep a nesting, a token over TOKEN_LIMIT or bad XML."""
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    state = {"depth": 0, "text": 0, "seen": 0}

    def refuse(message):
        raise IjdpError(f"{where}:{parser.CurrentLineNumber}: {message}")

    def doctype(name, system_id, public_id, internal):
        if system_id or public_id:
            refuse(f"the DOCTYPE names an external DTD ({system_id or public_id}), which is never fetched")

    def entity(name, parameter, value, base, system_id, public_id, notation):
        kind = ("an external " if system_id or public_id else "a " if parameter else "an ") + (
            "parameter entity" if parameter else "XML entity")
        refuse(f"declares {kind} {name!r}: RDF/XML is read with entity expansion off "
               "(write the values out, or convert the file to N-Triples or Turtle)")

    def start(name, attributes):
        state["depth"] += 1
        state["text"] = 0
        state["seen"] = parser.CurrentByteIndex
        if state["depth"] > XML_DEPTH_LIMIT:
            refuse(f"elements nested over {XML_DEPTH_LIMIT:,} deep")

    def end(name):
        state["depth"] -= 1
        state["text"] = 0
        state["seen"] = parser.CurrentByteIndex

    def text(data):
        state["text"] += len(data)
        state["seen"] = parser.CurrentByteIndex
        if state["text"] > TOKEN_LIMIT:
            refuse(f"a text (a literal) over the {TOKEN_LIMIT >> 20} MiB limit")

    def mark(*_):
        state["seen"] = parser.CurrentByteIndex

    parser.StartDoctypeDeclHandler = doctype
    parser.EntityDeclHandler = entity
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    parser.CommentHandler = parser.ProcessingInstructionHandler = mark
    read = 0
    try:
        while chunk := stream.read(XML_CHUNK):
            read += len(chunk)
            parser.Parse(chunk, False)
            if read - state["seen"] > TOKEN_LIMIT + XML_CHUNK:
                refuse(f"a tag, comment or declaration over the {TOKEN_LIMIT >> 20} MiB limit")
        parser.Parse(b"", True)
    except expat.ExpatError as err:
        raise IjdpError(f"{where}:{err.lineno}:{err.offset + 1}: syntax error: {expat.ErrorString(err.code)}") from None


def check_syntax(path: Path) -> None:
    """Raise IjdpError '<file>:<line>:<column>: <parser message>' on bad syntax."""
    for _ in _statements(path):
        pass


def _statements(path: Path):
    """Every quad of a file, parsed by pyoxigraph (which fetches nothing); errors name the file and line."""
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
    try:
        yield from pyoxigraph.parse(data, format=fmt.oxigraph, base_iri=path.resolve().as_uri())
    except SyntaxError as err:
        raise syntax_error(path, err) from None
    except MemoryError as err:
        raise too_large(path, err) from None


def syntax_error(path: Path, err: SyntaxError) -> IjdpError:
    """'<file>:<line>:<column>: syntax error: <parser message>'."""
    line, column = _position(err)
    where = f"{path}:{line}:{column}" if line else str(path)
    return IjdpError(f"{where}: syntax error: {err.args[0] if err.args else err}")


def too_large(path: Path, err: MemoryError) -> IjdpError:
    """pyoxigraph refuses a term or line over its buffer's limit (TOKEN_LIMIT) with a MemoryError."""
    return IjdpError(f"{path}: a term or line over the RDF parser's {TOKEN_LIMIT >> 20} MiB limit ({err})")


def _position(err: SyntaxError):
    details = err.args[1] if len(err.args) > 1 and isinstance(err.args[1], tuple) else ()
    line = err.lineno or (details[1] if len(details) > 1 else None)
    column = err.offset or (details[2] if len(details) > 2 else None)
    return line, column


def load_dataset(path: Path, catalogue=frozenset()) -> rdflib.Dataset:
    """A dataset parsed from a checked file (triples land in the default graph). An owl:imports is refused
    unless it names an ontology in `catalogue`: the build never fetches."""
    path = Path(path)
    dataset = rdflib.Dataset()
    fmt = rdf_format_for_path(path)
    if fmt.name in ("jsonld", "rdfxml"):
        # rdflib's parsers for these would fetch a remote @context or expand entities: read pyoxigraph's.
        quads = pyoxigraph.serialize(list(_statements(path)), format=pyoxigraph.RdfFormat.N_QUADS)
        dataset.parse(data=quads.decode("utf-8"), format="nquads")
    else:
        check_syntax(path)
        dataset.parse(str(path), format=fmt.rdflib_name)
    if catalogue is not None:
        check_imports(dataset, path, catalogue)
    return dataset


def check_imports(dataset, path: Path, catalogue) -> None:
    """Refuse an owl:imports of anything but an ontology in the local catalogue, naming file:line."""
    from .sources import line_naming

    for subject, _, target, _ in sorted(dataset.quads((None, OWL.imports, None, None))):
        if target in catalogue:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        line = line_naming(text, str(subject), containing="imports") or next(
            (n for n, written in enumerate(text.splitlines(), start=1) if "imports" in written), None)
        where = f"{path}:{line}" if line else str(path)
        raise IjdpError(f"{where}: owl:imports <{target}> is refused: the build never fetches; "
                        "put that ontology's file in ontology/ (the local catalogue) instead")


def load_graph(*paths: Path, catalogue: bool = False) -> rdflib.Graph:
    """One graph holding every triple of the given files (graphs merged). With catalogue=True the files are
    the local catalogue of ontologies: one may import an ontology another declares."""
    graph = rdflib.Graph()
    datasets = [(Path(path), load_dataset(Path(path), catalogue=None if catalogue else frozenset())) for path in paths]
    for _, dataset in datasets:
        for s, p, o, _ in dataset.quads():
            graph.add((s, p, o))
    if catalogue:
        declared = frozenset(graph.subjects(RDF.type, OWL.Ontology))
        for path, dataset in datasets:
            check_imports(dataset, path, declared)
    return graph
