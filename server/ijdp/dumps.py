"""The dumps ijdp build wrote, their checksums, and the dataset's VoID/DCAT description."""
from __future__ import annotations

import json
from pathlib import Path

from flask import Blueprint, Response, abort, current_app, redirect, render_template, request, send_file
from rdflib import RDF, XSD, Graph, Literal, URIRef

from .caching import freshness
from .formats import RDF_FORMATS
from .negotiation import negotiate, prefers_html
from .pages import conditional, fetch_graph, not_acceptable, rdf_body
from .vocab import DCAT, PROV, SPDX, VOID

bp = Blueprint("dumps", __name__)

TRIPLE_FORMATS = tuple(f for f in RDF_FORMATS if not f.keeps_graphs)
EXTRA_TYPES = {"SHA256SUMS": "text/plain", "context.jsonld": "application/ld+json",
               "ijdp-links.sssom.tsv": "text/tab-separated-values",
               "build.json": "application/json", "validation-report.ttl": "text/turtle"}


def settings():
    return current_app.config["IJDP_SETTINGS"]


def dist() -> Path:
    return Path(settings().dist_dir).resolve()  # send_file resolves relative paths against the package


def build_info() -> dict:
    try:
        return json.loads((dist() / "build.json").read_text())
    except (OSError, ValueError):
        return {}


def version_date() -> str:
    return (build_info().get("built_at") or "unknown")[:10]


def media_type(name: str) -> str:
    if name.endswith(".gz"):
        return "application/gzip"
    if name in EXTRA_TYPES:
        return EXTRA_TYPES[name]
    extension = name.rsplit(".", 1)[-1]
    return next((f.media_type for f in RDF_FORMATS if f.extension == extension), "application/octet-stream")


def listing() -> list[dict]:
    info = build_info()
    files = info.get("files", {})
    rows = []
    for name, meta in files.items():
        fmt = next((f for f in RDF_FORMATS if name.split(".")[1] == f.extension), None) if name.startswith("ijdp.") else None
        # graph-keeping dumps hold every quad; the others the merged triples
        count = (info.get("quads") if fmt.keeps_graphs else info.get("merged_triples")) if fmt else None
        rows.append({"name": name, "bytes": meta["bytes"], "sha256": meta["sha256"], "media_type": media_type(name),
                     "format": fmt.label if fmt else "", "triples": count})
    return sorted(rows, key=lambda r: (r["format"] == "", r["name"]))


@bp.get("/dumps")
def dumps_root():
    return redirect("/dumps/", code=301)


def counts() -> dict:
    """What each published number counts, from build.json and the VoID graph (never written by hand): the graphs
    and their triples, the merged dumps' triples, and void:triples, which leaves the metadata graph out."""
    info = build_info()
    graphs = info.get("triples", {})
    told = void_graph().value(URIRef(f"{settings().base_iri}id/dataset/ijdp"), VOID.triples)
    return {"graphs": list(graphs), "data_graphs": [g for g in graphs if g != "metadata"],
            "metadata": graphs.get("metadata"), "merged": info.get("merged_triples"), "quads": info.get("quads"),
            "void": int(told) if told is not None else None}


def counts_sentence(numbers: dict) -> str:
    """One sentence saying what VoID's count and the dumps' counts each count ("" for a build that lacks them)."""
    if None in numbers.values():
        return ""
    keeping = " and ".join(f.label for f in RDF_FORMATS if f.keeps_graphs)
    return (f"VoID's void:triples ({numbers['void']:,}) counts the triples of the {len(numbers['data_graphs'])} data "
            f"graphs ({', '.join(numbers['data_graphs'])}), merged; it leaves out the metadata graph, which holds the "
            f"description itself ({numbers['metadata']:,} triples). The merged dumps hold all "
            f"{len(numbers['graphs'])} graphs: {numbers['merged']:,} triples; {keeping} {numbers['quads']:,} quads.")


@bp.get("/dumps/")
def dumps_index():
    numbers = counts()
    html = render_template("dumps.html", rows=listing(), info=build_info(), date=version_date(), counts=numbers,
                           counted=counts_sentence(numbers),
                           keeping=[f.label for f in RDF_FORMATS if f.keeps_graphs],
                           merging=[f.label for f in TRIPLE_FORMATS])
    return conditional(Response(html, content_type="text/html; charset=utf-8"), False)


@bp.get("/dumps/<version>/")
def dumps_version(version: str):
    if version not in ("latest", version_date()):
        abort(404, description=f"No dumps of version {version}; the current one is {version_date()}.")
    return redirect("/dumps/", code=302)


@bp.get("/dumps/<version>/<path:name>")
def dump_file(version: str, name: str):
    if version not in ("latest", version_date()):
        abort(404, description=f"No dumps of version {version}; the current one is {version_date()}.")
    files = build_info().get("files", {})
    if name not in files and name not in ("SHA256SUMS", "build.json"):
        abort(404, description=f"There is no dump named {name}.")
    path = dist() / name
    if not path.is_file():
        abort(404)
    # send_file answers Range requests (206) and conditional ones (304) itself; the ETag is the file's
    # SHA-256 from build.json, the same on every replica built from this dist/.
    sha = files[name]["sha256"] if name in files else True
    response = freshness(send_file(path, mimetype=media_type(name), conditional=True, etag=sha))
    if name.endswith(".gz"):
        response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@bp.get("/context.jsonld")
def context():
    sha = build_info().get("files", {}).get("context.jsonld", {}).get("sha256", True)
    return freshness(send_file(dist() / "context.jsonld", mimetype="application/ld+json", conditional=True, etag=sha))


def void_graph() -> Graph:
    """The metadata graph, plus what only exists after the build: sizes, checksums, build time."""
    cache = current_app.extensions.setdefault("ijdp_void_graph", {})
    if "graph" in cache:
        return cache["graph"]
    base = settings().base_iri
    graph = fetch_graph(f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{base}graph/metadata> {{ ?s ?p ?o }} }}")
    for row in listing():
        distribution = URIRef(f"{base}id/distribution/{row['name']}")
        if (distribution, None, None) not in graph:
            continue
        checksum = URIRef(f"{distribution}#sha256")
        graph.add((distribution, DCAT.byteSize, Literal(row["bytes"], datatype=XSD.nonNegativeInteger)))
        graph.add((distribution, SPDX.checksum, checksum))
        graph.add((checksum, RDF.type, SPDX.Checksum))
        graph.add((checksum, SPDX.algorithm, SPDX.checksumAlgorithm_sha256))
        graph.add((checksum, SPDX.checksumValue, Literal(row["sha256"], datatype=XSD.hexBinary)))
    built_at = build_info().get("built_at")
    if built_at:
        for build in graph.subjects(PROV.wasAssociatedWith, None):
            graph.add((build, PROV.endedAtTime, Literal(built_at, datatype=XSD.dateTime)))
        for described in (URIRef(f"{base}id/dataset/ijdp"), URIRef(f"{base}catalog")):
            graph.add((described, URIRef("http://purl.org/dc/terms/modified"), Literal(built_at, datatype=XSD.dateTime)))
    cache["graph"] = graph
    return graph


@bp.get("/.well-known/void")
@bp.get("/.well-known/void.<extension>")
def void(extension: str | None = None):
    """The dataset's VoID and DCAT description: a page for people, RDF for machines (Accept or suffix)."""
    return described_catalogue(extension, "/.well-known/void", f"{settings().base_iri}id/dataset/ijdp",
                               "The dataset, described")


@bp.get("/catalog")
@bp.get("/catalog.<extension>")
def catalog(extension: str | None = None):
    """The same description from the catalogue's own IRI, which DCAT-AP portals harvest."""
    return described_catalogue(extension, "/catalog", f"{settings().base_iri}catalog", "The catalogue")


def described_catalogue(extension, path: str, first: str, title: str):
    """One description (VoID for linked-data clients, DCAT-AP for portals: the same graph), negotiated."""
    from .formats import DOCUMENT_FORMATS, HTML
    from .pages import rdf_page

    if extension is not None:
        fmt = next((f for f in DOCUMENT_FORMATS if f.extension == extension), None)
        if fmt is None:
            abort(404)
    elif prefers_html(request.accept_mimetypes, TRIPLE_FORMATS) and not request.args.get("format"):
        fmt = HTML          # a browser; RDF clients (and curl's */*) get Turtle, as VoID's well-known location promises
    else:
        fmt = negotiate(request.accept_mimetypes, TRIPLE_FORMATS, request.args.get("format"))
        if fmt is None:
            return not_acceptable(DOCUMENT_FORMATS)
    graph = Graph() + void_graph()
    if fmt is HTML:
        response = rdf_page(graph, title, "What the publication holds and where to get it (VoID and DCAT-AP): the "
                            "catalogue, its dataset, the dumps with their sizes and checksums, the SPARQL endpoint as "
                            "a data service, the links to other datasets and how it was built. "
                            + counts_sentence(counts()), path,
                            first=URIRef(first))
    else:
        response = Response(rdf_body(graph, fmt), content_type=f"{fmt.media_type}; charset=utf-8")
    return conditional(response, extension is None, path, fmt)



