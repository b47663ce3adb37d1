"""ijdp build: validate everything, then write the dumps atomically."""
from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from rdflib import XSD, Dataset, Graph, Literal

from . import __version__
from .config import PUBLISHED_BASE
from .errors import ValidationFailed
from .formats import RDF_FORMATS
from .iris import rebase_graph
from .knowledge import Publication, add_inferred_types, assemble
from .metadata import DUMP_STEM, add_metadata, inputs_digest
from .reasoning import check_consistency
from .validation import Report, validate
from .vocab import GRAPH_NAMES, PREFIXES, graph_iri

REASONED_GRAPHS = ("ontology", "facts", "curated", "derived")


# XSD types outside the OWL 2 datatype map: HermiT refuses literals of these types outright.
OUTSIDE_OWL2_DATATYPES = frozenset(XSD[name] for name in (
    "gYearMonth", "gYear", "gMonth", "gDay", "gMonthDay", "duration", "yearMonthDuration", "dayTimeDuration",
    "date", "time"))


def reasoner_input(publication: Publication) -> Graph:
    """Ontology, facts, derived statements and the identity links themselves (not their SSSOM metadata).

    Statements whose value has a datatype outside the OWL 2 datatype map (the MoC's
    July 2023, its five-year term) are left out: OWL-Time declares time:inXSDgYearMonth
    and time:hasXSDDuration as datatype properties, as the ontology now does too, and
    HermiT can neither read nor reason over such values.
    """
    from .links import MAPPING_PREDICATES
    graph = publication.merged(REASONED_GRAPHS)
    for triple in publication.graphs["links"]:
        if triple[1] in MAPPING_PREDICATES:
            graph.add(triple)
    for triple in [t for t in graph if isinstance(t[2], Literal) and t[2].datatype in OUTSIDE_OWL2_DATATYPES]:
        graph.remove(triple)
    return graph


def build_publication(skip_reasoner: bool = False, log=lambda message: None) -> tuple[Publication, Report]:
    """Assemble, reason, describe and validate; raise on any problem."""
    publication = assemble()
    log(f"assembled: {', '.join(f'{n} {len(g)}' for n, g in publication.graphs.items() if len(g))} triples")
    if skip_reasoner:
        log("warning: --skip-reasoner: the OWL consistency check was NOT run")
    else:
        inferred = check_consistency(reasoner_input(publication))
        add_inferred_types(publication, inferred)
        log(f"OWL (HermiT): consistent; {len(inferred)} entailed types added to the derived graph")
    add_metadata(publication)
    report = validate(publication.merged())
    if not report.conforms:
        raise ValidationFailed(report.as_text())
    log(f"SHACL: conforms ({len(publication.merged())} triples)")
    check_catalogue(publication, log)
    return publication, report


def check_catalogue(publication: Publication, log) -> None:
    """The catalogue description against DCAT-AP 3.0.1, as a portal would check it; a violation stops the build."""
    from .validation import dcat_ap_folder, validate_dcat_ap

    folder = dcat_ap_folder()
    if folder is None:
        log("DCAT-AP: not checked (no DCAT-AP shapes at ../shared/dcat-ap; set IJDP_DCAT_AP_SHAPES to their folder)")
        return
    portal = validate_dcat_ap(publication.graphs["metadata"], folder)
    publication.portal_report = portal
    if not portal.conforms:
        raise ValidationFailed(portal.summary() + "\n" + "\n".join(
            f"- {v.focus}\n    path: {v.path}\n    {v.message}" for v in portal.violations))
    log(portal.summary())


def _bind(graph) -> None:
    for prefix, namespace in PREFIXES.items():
        graph.bind(prefix, namespace, override=True, replace=True)


def shipped_build(cache_root=None, log=lambda message: None) -> tuple[Path, str]:
    """A build of the publication this package ships, made once into a cache folder.

    For `pip install . && ijdp serve` with no dist/: the folder is named by the
    package version and the inputs' digest, so a new release builds afresh.
    Without a Java runtime the OWL reasoner is skipped, with a warning.
    (folder, what was done, for one line to the user).
    """
    from .metadata import inputs_digest
    from .reasoning import java_available

    root = Path(cache_root or os.environ.get("IJDP_CACHE_DIR")
                or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ijdp")
    target = root / f"{__version__}-{inputs_digest()[:12]}"
    if (target / "build.json").exists():
        return target, f"using the shipped publication, built earlier into {target}"
    skip = not java_available()
    publication, report = build_publication(skip_reasoner=skip, log=log)
    write_dumps(publication, report, target)
    note = " (OWL reasoner skipped: no Java runtime)" if skip else ""
    return target, f"using the shipped publication, built now into {target}{note}"


def _sorted_lines(text: str) -> bytes:
    lines = sorted({line for line in text.splitlines() if line.strip()})
    return ("\n".join(lines) + "\n").encode("utf-8")


def jsonld_context(base: str = PUBLISHED_BASE) -> dict:
    return {"@context": {prefix: namespace.replace(PUBLISHED_BASE, base) for prefix, namespace in PREFIXES.items()}}


def serialise(publication: Publication, fmt, base: str) -> bytes:
    """One dump, byte-stable: graph-keeping formats keep the named graphs apart, the others merge them.

    N-Triples and N-Quads are sorted lines. TriG and RDF/XML are written by
    pyoxigraph from those sorted statements (rdflib's writers follow set order,
    which changes with Python's hash seed); Turtle and JSON-LD by rdflib from a
    graph filled in sorted order.
    """
    dataset = Dataset()
    for name in GRAPH_NAMES:
        target = dataset.graph(graph_iri(name, base))
        target += rebase_graph(publication.graphs[name], base)
    quads = _sorted_lines(dataset.serialize(format="nquads"))
    if fmt.keeps_graphs:
        if fmt.name == "nquads":
            return quads
        return _oxigraph_text(quads, fmt, base)
    triples = _merged_triples(quads)
    if fmt.name == "nt":
        return triples
    if fmt.name == "rdfxml":
        return _oxigraph_text(triples, fmt, base)
    graph = Graph().parse(data=triples.decode("utf-8"), format="nt")
    _bind(graph)
    if fmt.name == "jsonld":
        document = json.loads(graph.serialize(format="json-ld", context=jsonld_context(base)["@context"]))
        return (json.dumps(_in_order(document), indent=2, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")
    return graph.serialize(format=fmt.rdflib_name, encoding="utf-8")


def _in_order(value, key: str = ""):
    """A JSON-LD document with every unordered array sorted (arrays under @list keep their order)."""
    if isinstance(value, dict):
        return {k: _in_order(v, k) for k, v in value.items()}
    if isinstance(value, list):
        items = [_in_order(v) for v in value]
        return items if key == "@list" else sorted(items, key=lambda v: json.dumps(v, sort_keys=True, ensure_ascii=False))
    return value


def _merged_triples(quads: bytes) -> bytes:
    """The sorted N-Triples of the union of the graphs in sorted N-Quads."""
    import pyoxigraph

    lines = {str(quad.triple) + " ." for quad in pyoxigraph.parse(quads, format=pyoxigraph.RdfFormat.N_QUADS)}
    return ("\n".join(sorted(lines)) + "\n").encode("utf-8")


def _oxigraph_text(statements: bytes, fmt, base: str) -> bytes:
    import pyoxigraph

    source = pyoxigraph.RdfFormat.N_QUADS if fmt.keeps_graphs else pyoxigraph.RdfFormat.N_TRIPLES
    parsed = pyoxigraph.parse(statements, format=source)
    items = parsed if fmt.keeps_graphs else (quad.triple for quad in parsed)
    prefixes = {prefix: namespace.replace(PUBLISHED_BASE, base) for prefix, namespace in sorted(PREFIXES.items())}
    return pyoxigraph.serialize(items, format=fmt.oxigraph, prefixes=prefixes)


def links_table(publication: Publication, base: str) -> str:
    """The published links as an SSSOM table, written back from the links graph."""
    from . import resources
    from .links import read_sssom, rows_from_graph, write_sssom

    metadata, _ = read_sssom(resources.data_folder() / "links.sssom.tsv")
    metadata = {**metadata, "curie_map": {p: ns.replace(PUBLISHED_BASE, base) for p, ns in metadata.get("curie_map", {}).items()}}
    rows = rows_from_graph(rebase_graph(publication.graphs["links"], base), metadata["curie_map"])
    return write_sssom(metadata, rows)


def source_files(publication: Publication) -> dict:
    """What the server needs of each source, so that a dist/ serves without data/: the snapshot
    (unchanged), its exclusions and its metadata, listed in sources.json."""
    files, listing = {}, []
    for source in publication.sources:
        files[f"sources/{source.slug}.txt"] = source.snapshot.read_bytes()
        exclusions = source.exclusions.read_bytes() if source.exclusions.is_file() else b""
        files[f"sources/{source.slug}.exclusions.tsv"] = exclusions
        listing.append({"slug": source.slug, "sha256": source.sha256, **source.metadata})
    files["sources.json"] = (json.dumps(listing, indent=2, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")
    return files


def _gzip(data: bytes) -> bytes:
    # mtime=0 and no file name keep the gzip bytes stable across builds.
    return gzip.compress(data, compresslevel=9, mtime=0)


def write_dumps(publication: Publication, report: Report, out_dir: Path, base: str = PUBLISHED_BASE) -> dict:
    """Write every dump into a fresh folder, then swap it in: a failure leaves out_dir as it was."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.new-", dir=out_dir.parent))
    try:
        files = {}
        for fmt in RDF_FORMATS:
            data = serialise(publication, fmt, base)
            files[f"{DUMP_STEM}.{fmt.extension}"] = data
            files[f"{DUMP_STEM}.{fmt.extension}.gz"] = _gzip(data)
        files["context.jsonld"] = json.dumps(jsonld_context(base), indent=2, sort_keys=True).encode() + b"\n"
        files["validation-report.ttl"] = report.as_turtle().encode("utf-8")
        files["ijdp-links.sssom.tsv"] = links_table(publication, base).encode("utf-8")
        files.update(source_files(publication))
        for name, data in files.items():
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            (staging / name).write_bytes(data)
        sums = "".join(f"{hashlib.sha256(files[n]).hexdigest()}  {n}\n" for n in sorted(files))
        (staging / "SHA256SUMS").write_text(sums)
        info = {
            "version": inputs_digest()[:12],
            "tool": f"ijdp {__version__}",
            "base_iri": base,
            "built_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "sources": {s.slug: s.sha256 for s in publication.sources},
            "dcat_ap": publication.portal_report.as_dict() if publication.portal_report else None,
            "triples": {name: len(publication.graphs[name]) for name in GRAPH_NAMES},
            "merged_triples": len(publication.merged()),
            "quads": sum(len(publication.graphs[name]) for name in GRAPH_NAMES),
            "files": {n: {"bytes": len(files[n]), "sha256": hashlib.sha256(files[n]).hexdigest()} for n in sorted(files)},
        }
        (staging / "build.json").write_text(json.dumps(info, indent=2) + "\n")
        _swap_in(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return info


def _swap_in(staging: Path, out_dir: Path) -> None:
    previous = None
    if out_dir.exists():
        previous = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
        out_dir.rename(previous)
    staging.rename(out_dir)
    if previous is not None:
        shutil.rmtree(previous, ignore_errors=True)
