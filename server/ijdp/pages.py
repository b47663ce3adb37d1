"""Dereferenceable IRIs: /id/… answers 303 to its document /doc/…, which negotiates HTML or RDF.

Also the ontology at its namespace, the shapes and their latest report, the
source snapshot and the graphs. Every document: Vary: Accept, Link
rel="alternate" for the other formats, ETag and Last-Modified, 406 when
nothing fits, 404 for IRIs the data does not hold.
"""
from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from flask import Blueprint, Response, abort, current_app, redirect, render_template, request, send_file
from rdflib import Graph

from . import resources
from .caching import freshness
from .config import PUBLISHED_BASE
from .describe import build_view, describe_query, shown_literal
from .formats import DOCUMENT_FORMATS, HTML
from .negotiation import UnknownFormat, by_name, negotiate
from .problems import problem
from .querypool import Job

bp = Blueprint("pages", __name__)

SUFFIXES = {f.extension: f for f in DOCUMENT_FORMATS}


def settings():
    return current_app.config["IJDP_SETTINGS"]


def base() -> str:
    return settings().base_iri


LINKABLE_SCHEMES = ("http:", "https:", "mailto:")


def linkable(iri) -> bool:
    """Only http, https and mailto IRIs become links; any other (javascript:, data:…) is shown as text."""
    return str(iri).lower().startswith(LINKABLE_SCHEMES)


def local_href(iri: str) -> str:
    """A link into this server for IRIs under the base (so a mirror is browsable), else the IRI if linkable."""
    iri = str(iri)
    if iri.startswith(base()) and not iri[len(base()):].startswith(("/", "\\")):   # never a //host/… link
        return "/" + iri[len(base()):]
    return iri if linkable(iri) else "#"


@bp.app_context_processor
def template_helpers():
    return {"href": local_href}


@bp.app_template_test("linkable")
def linkable_test(iri) -> bool:
    return linkable(iri)


def split_suffix(path: str):
    """('doc/x', format) for 'doc/x.ttl'; (path, None) when there is no known suffix."""
    stem, dot, extension = path.rpartition(".")
    if dot and extension in SUFFIXES and "/" not in extension:
        return stem, SUFFIXES[extension]
    return path, None


def choose(fixed=None, formats=DOCUMENT_FORMATS):
    if fixed is not None:
        return fixed
    if request.args.get("format"):
        try:
            return by_name(formats, request.args["format"])
        except UnknownFormat:
            return None
    return negotiate(request.accept_mimetypes, formats)


def not_acceptable(formats=DOCUMENT_FORMATS) -> Response:
    return problem(406, "This document is available as " + ", ".join(f.media_type for f in formats) + ".",
                   "not-acceptable", headers={"Vary": "Accept"}, available=[f.media_type for f in formats])


def conditional(response: Response, negotiated: bool, alternates: str | None = None, fmt=None) -> Response:
    """Link alternates, then what shared caches need (caching.cacheable): freshness, a strong ETag from the
    data's version and the request's meaning, Last-Modified, Vary; 304 when the client has it already."""
    from .caching import cacheable, request_meaning

    links = [f'<{alternates}.{f.extension}>; rel="alternate"; type="{f.media_type}"'
             for f in DOCUMENT_FORMATS if f is not fmt] if alternates else []
    links.append('</.well-known/void>; rel="describedby"; type="text/turtle"')
    response.headers["Link"] = ", ".join(links)
    shown = fmt if fmt is not None else response.mimetype
    return cacheable(response, *request_meaning(shown), vary="Accept" if negotiated else None)


def must_be_iri(iri: str) -> str:
    """404 for paths that make no IRI (they cannot be in the data, and must never reach a query)."""
    from .endpoint import is_iri
    if not is_iri(iri) or any(c in iri for c in '<>"{}|^`\\ '):
        abort(404, description="There is no such resource.")
    return iri


def fetch_graph(query: str) -> Graph:
    pool = current_app.extensions["ijdp_pool"]
    job = Job(query=query, results_format=None, graph_format="application/n-triples", max_rows=1_000_000)
    outcome = pool.run(job, timeout=settings().query_timeout)
    if outcome.kind != "ok":
        raise RuntimeError(outcome.message or outcome.kind)
    graph = Graph()
    graph.parse(data=outcome.body.decode("utf-8"), format="nt")
    return graph


def ask(query: str) -> bool:
    pool = current_app.extensions["ijdp_pool"]
    job = Job(query=query, results_format="application/sparql-results+json", graph_format=None, max_rows=1)
    outcome = pool.run(job, timeout=settings().query_timeout)
    if outcome.kind != "ok":
        raise RuntimeError(outcome.message or outcome.kind)
    import json
    return json.loads(outcome.body).get("boolean") is True


def bind_prefixes(graph: Graph) -> Graph:
    from .vocab import PREFIXES
    for prefix, namespace in PREFIXES.items():
        graph.bind(prefix, namespace.replace(PUBLISHED_BASE, base()), override=True, replace=True)
    return graph


def rdf_page(graph: Graph, title: str, intro: str, path: str, first=None, more_prefixes: dict | None = None) -> Response:
    """Any small graph as a readable page: one table per subject (the main one first), links where they lead somewhere."""
    from rdflib import BNode, URIRef

    from .formats import RDF_FORMATS
    from .iris import rebase_text
    from .vocab import PREFIXES

    known = {**{p: rebase_text(ns, base()) for p, ns in PREFIXES.items()}, **(more_prefixes or {})}
    prefixes = sorted(known.items(), key=lambda item: -len(item[1]))
    blank_names = {}

    def shown(term) -> str:
        if isinstance(term, BNode):
            return blank_names.setdefault(term, f"(part {len(blank_names) + 1})")
        if isinstance(term, URIRef):
            text = str(term)
            for prefix, namespace in prefixes:
                if text.startswith(namespace) and len(text) > len(namespace):
                    return f"{prefix}:{text[len(namespace):]}"
            return text
        return str(term)

    def link(term):
        if isinstance(term, BNode):
            return "#" + shown(term).strip("()").replace(" ", "-")
        if isinstance(term, URIRef) and linkable(term):
            return local_href(str(term))
        return None

    subjects = sorted(set(graph.subjects()), key=lambda s: (s != first, isinstance(s, BNode), str(s)))
    nodes = []
    for subject in subjects:
        rows = []
        for predicate in sorted(set(graph.predicates(subject)), key=str):
            values = sorted(graph.objects(subject, predicate), key=str)
            rows.append({"predicate": shown(predicate), "predicate_href": link(predicate),
                         "values": [{"shown": shown(v), "href": link(v)} for v in values]})
        anchor = shown(subject).strip("()").replace(" ", "-") if isinstance(subject, BNode) else ""
        nodes.append({"shown": shown(subject), "href": None if isinstance(subject, BNode) else link(subject),
                      "anchor": anchor, "rows": rows})
    formats = tuple(f for f in RDF_FORMATS if not f.keeps_graphs)
    html = render_template("rdf.html", title=title, intro=intro, nodes=nodes, path=path, formats=formats)
    return Response(html, content_type="text/html; charset=utf-8")


def rdf_body(graph: Graph, fmt) -> bytes:
    bind_prefixes(graph)
    if fmt.name == "jsonld":
        from .build import jsonld_context
        return graph.serialize(format="json-ld", context=jsonld_context(base())["@context"], encoding="utf-8")
    if fmt.name == "nt":
        return "".join(sorted(graph.serialize(format="nt").splitlines(keepends=True))).encode("utf-8")
    return graph.serialize(format=fmt.rdflib_name, encoding="utf-8")


def respond_rdf_or_html(graph: Graph, fmt, alternates: str, negotiated: bool, render_html) -> Response:
    if fmt is HTML:
        response = Response(render_html(), content_type="text/html; charset=utf-8")
    else:
        response = Response(rdf_body(graph, fmt), content_type=f"{fmt.media_type}; charset=utf-8")
    return conditional(response, negotiated, alternates, fmt)


def embedded_jsonld(graph: Graph) -> str:
    text = rdf_body(Graph() + graph, next(f for f in DOCUMENT_FORMATS if f.name == "jsonld")).decode("utf-8")
    return text.replace("</", "<\\/")  # safe inside <script>


# ------------------------------------------------------------------ resources

@bp.get("/id/<path:rest>")
def resource(rest: str):
    iri = must_be_iri(base() + "id/" + rest)
    if not ask(f"ASK {{ {{ <{iri}> ?p ?o }} UNION {{ ?s ?p <{iri}> }} }}"):
        abort(404, description=f"The data holds nothing about <{iri}>.")
    return redirect(f"/doc/{quote(rest)}", code=303)


@bp.get("/doc/<path:rest>")
def document(rest: str):
    whole = rest
    must_be_iri(base() + "id/" + whole)
    rest, fixed = split_suffix(rest)
    iri = base() + "id/" + rest
    graph = fetch_graph(describe_query(iri, base() + "ontology#"))
    view = build_view(iri, graph)
    if view is None and fixed is not None:
        # An IRI may itself end like a format suffix (…/distribution/ijdp.ttl): then it is no suffix.
        rest, fixed, iri = whole, None, base() + "id/" + whole
        graph = fetch_graph(describe_query(iri, base() + "ontology#"))
        view = build_view(iri, graph)
    if view is None:
        abort(404, description=f"The data holds nothing about <{iri}>.")
    fmt = choose(fixed)
    if fmt is None:
        return not_acceptable()
    # The dataset and the source document say how to cite the publication.
    cite = current_citation() if rest in CITED else None
    return respond_rdf_or_html(graph, fmt, f"/doc/{rest}", fixed is None, lambda: render_template(
        "resource.html", view=view, href=local_href, shown=shown_literal, jsonld=embedded_jsonld(graph),
        fact_sheet=fact_sheet(iri, view),
        query_link="/sparql?query=" + quote(f"DESCRIBE <{iri}>"),
        select_link="/sparql?query=" + quote(f"SELECT ?p ?o WHERE {{ <{iri}> ?p ?o }}"),
        document_path=f"/doc/{rest}", formats=DOCUMENT_FORMATS, citation=cite,
        source_link=f"/source/{slug}" if (slug := source_for_document(iri)) else None))


CITED = ("dataset/ijdp", "document/press-release")


def fact_sheet(iri: str, view) -> list:
    """The summary at the top of an agreement's page (describe.FACT_SHEET); nothing for other resources.
    Which classes are agreements is read from the ontology once per generation of the store."""
    from .describe import agreement_classes_query, build_fact_sheet, fact_sheet_query, fact_sheet_steps_query

    namespace = base() + "ontology#"
    stamp = current_app.extensions["ijdp_pool"].generation_stamp()
    cache = current_app.extensions.get("ijdp_agreement_classes")
    if cache is None or cache[0] != stamp:
        cache = stamp, {str(c) for c in fetch_graph(agreement_classes_query(namespace)).subjects()}
        current_app.extensions["ijdp_agreement_classes"] = cache
    if not cache[1] & {str(t.term) for t in view.types}:
        return []
    steps = fetch_graph(fact_sheet_steps_query(iri, namespace))
    if not len(steps):
        return []
    return build_fact_sheet(iri, fetch_graph(fact_sheet_query(steps, namespace)), namespace)


def current_citation():
    from .citation import citation
    from .dumps import build_info
    return citation(base(), build_info())


@bp.get("/citation.bib")
def citation_bibtex():
    return Response(current_citation().bibtex(), content_type="application/x-bibtex; charset=utf-8")


@bp.get("/citation.json")
def citation_csl():
    return Response(current_citation().csl_json(), content_type="application/vnd.citationstyles.csl+json")


@bp.get("/graph/<name>")
def named_graph(name: str):
    name, fixed = split_suffix(name)
    iri = must_be_iri(f"{base()}graph/{name}")
    return described(iri, fixed, f"/graph/{name}",
                     query=f"SELECT (COUNT(*) AS ?triples) WHERE {{ GRAPH <{iri}> {{ ?s ?p ?o }} }}",
                     select=f"SELECT * WHERE {{ GRAPH <{iri}> {{ ?s ?p ?o }} }} LIMIT 100")


@bp.get("/mappings/<name>")
def mapping_set(name: str):
    """The mapping set: its SSSOM table for TSV clients (or .sssom.tsv), else its description."""
    if name.endswith(".sssom.tsv") or (not name.endswith(tuple("." + e for e in SUFFIXES))
                                       and request.accept_mimetypes.best == "text/tab-separated-values"):
        path = Path(settings().dist_dir).resolve() / "ijdp-links.sssom.tsv"
        if name.split(".")[0] != "links" or not path.exists():
            abort(404)
        from .dumps import build_info
        sha = build_info().get("files", {}).get("ijdp-links.sssom.tsv", {}).get("sha256", True)
        return freshness(send_file(path, mimetype="text/tab-separated-values", conditional=True, etag=sha))
    name, fixed = split_suffix(name)
    iri = must_be_iri(f"{base()}mappings/{name}")
    return described(iri, fixed, f"/mappings/{name}",
                     query=f"DESCRIBE <{iri}>", select=f"SELECT ?p ?o WHERE {{ <{iri}> ?p ?o }}")


def described(iri: str, fixed, path: str, query: str, select: str) -> Response:
    """A negotiated document about an IRI that is not under /id/ (graphs, mapping sets)."""
    fmt = choose(fixed)
    if fmt is None:
        return not_acceptable()
    graph = fetch_graph(describe_query(iri, base() + "ontology#"))
    view = build_view(iri, graph)
    if view is None:
        abort(404, description=f"The data holds nothing about <{iri}>.")
    return respond_rdf_or_html(graph, fmt, path, fixed is None, lambda: render_template(
        "resource.html", view=view, href=local_href, shown=shown_literal, jsonld=embedded_jsonld(graph),
        query_link="/sparql?query=" + quote(query), select_link="/sparql?query=" + quote(select),
        document_path=path, formats=DOCUMENT_FORMATS))


# ------------------------------------------------------------------- ontology

def ontology_graph() -> Graph:
    return fetch_graph(f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{base()}graph/ontology> {{ ?s ?p ?o }} }}")


@bp.get("/ontology")
@bp.get("/ontology.<extension>")
@bp.get("/ontology/<version>")
def ontology(extension: str | None = None, version: str | None = None):
    fixed = None
    if extension:
        fixed = SUFFIXES.get(extension)
        if fixed is None:
            abort(404)
    if version is not None and version != "1.0.0":
        abort(404, description=f"There is no ontology version {version}.")
    fmt = choose(fixed)
    if fmt is None:
        return not_acceptable()
    graph = ontology_graph()
    from .ontology_docs import ontology_page
    return respond_rdf_or_html(graph, fmt, "/ontology", fixed is None,
                               lambda: ontology_page(graph, base(), local_href))


# ------------------------------------------------------------- shapes, source

@bp.get("/shapes")
@bp.get("/shapes.ttl")
def shapes():
    text = "".join(path.read_text(encoding="utf-8") for path in resources.shapes_files())
    wants_turtle = request.path.endswith(".ttl") or choose(None) is not HTML
    if wants_turtle:
        return conditional(Response(text, content_type="text/turtle; charset=utf-8"), not request.path.endswith(".ttl"))
    report = Path(settings().dist_dir) / "validation-report.ttl"
    conforms = "sh:conforms true" in report.read_text() if report.exists() else None
    html = render_template("shapes.html", shapes=text, conforms=conforms)
    return conditional(Response(html, content_type="text/html; charset=utf-8"), True)


@bp.get("/shapes/report")
def shapes_report():
    report = Path(settings().dist_dir) / "validation-report.ttl"
    if not report.exists():
        abort(404, description="No validation report: run `ijdp build`.")
    return conditional(Response(report.read_bytes(), content_type="text/turtle; charset=utf-8"), False)


def published_sources() -> list[dict]:
    """The sources of the build being served (dist/sources.json): metadata, slug and checksum of each.
    Read once: the build a server serves does not change under it (every resource page asks)."""
    import json
    cache = current_app.extensions.setdefault("ijdp_sources", {})
    if "listing" not in cache:
        try:
            cache["listing"] = json.loads((Path(settings().dist_dir) / "sources.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            cache["listing"] = []
    return cache["listing"]


def published_source(slug: str):
    """A sources.Source for a served source, read from dist/ (the server never reads data/)."""
    from .sources import Source

    entry = next((s for s in published_sources() if s["slug"] == slug), None)
    if entry is None:
        abort(404, description=f"There is no source {slug!r}; the sources are listed at /source/.")
    folder = Path(settings().dist_dir) / "sources"
    text = (folder / f"{slug}.txt").read_text(encoding="utf-8")
    source = Source(slug, folder, text, entry["sha256"], {k: v for k, v in entry.items() if k not in ("slug",)})
    return source, folder / f"{slug}.exclusions.tsv"


def source_for_document(iri: str):
    """The slug of the source whose document this IRI is, if any."""
    return next((s["slug"] for s in published_sources() if base() + s["document"] == iri), None)


def coverage_of(slug: str):
    from .coverage import coverage, quote_positions, read_exclusions

    source, exclusions = published_source(slug)
    provenance = fetch_graph(
        "PREFIX oa: <http://www.w3.org/ns/oa#>\n"
        "CONSTRUCT { ?selector a oa:TextPositionSelector ; oa:start ?start ; oa:end ?end . "
        "?target oa:hasSelector ?selector ; oa:hasSource ?source } "
        f"WHERE {{ GRAPH <{base()}graph/provenance> {{ ?selector a oa:TextPositionSelector ; oa:start ?start ; "
        f"oa:end ?end . ?target oa:hasSelector ?selector ; oa:hasSource ?source }} "
        f"FILTER(?source = <{base()}source/{slug}.txt>) }}")
    positions = quote_positions(provenance, f"{base()}source/{slug}.txt")
    return source, coverage(source.text, positions, read_exclusions(exclusions), slug)


@bp.get("/source/")
def sources_index():
    """Every source document, with its coverage."""
    rows = []
    for entry in published_sources():
        _, report = coverage_of(entry["slug"])
        rows.append({**entry, "summary": report.summary()})
    html = render_template("sources.html", sources=rows)
    return conditional(Response(html, content_type="text/html; charset=utf-8"), False)


@bp.get("/source")
@bp.get("/sources")
def sources_root():
    return redirect("/source/", code=301)


@bp.get("/source/<name>/coverage")
@bp.get("/source/<name>/coverage.json")
def source_coverage(name: str):
    """Which sentences of the source the data covers, shaded, each covered one linked to its facts."""
    from .coverage import facts_query

    if name.endswith(".txt"):   # the address before sources were a list
        return redirect(f"/source/{name[:-4]}/coverage{'.json' if request.path.endswith('.json') else ''}", code=301)
    source, report = coverage_of(name)
    if request.path.endswith(".json"):
        return Response(report.as_json(), content_type="application/json")
    fragment = report.as_html_fragment(
        lambda start, end: "/sparql?query=" + quote(facts_query(start, end, f"{base()}source/{name}.txt")))
    return render_template("coverage.html", report=report, fragment=fragment, name=name, source=source)


@bp.get("/source/<name>")
def source(name: str):
    """/source/<slug>.txt is the snapshot, unchanged; /source/<slug> the page about it (HTML or RDF)."""
    if name.endswith(".txt"):
        source, _ = published_source(name[:-4])
        response = freshness(send_file(source.folder / name, mimetype="text/plain", conditional=True, etag=source.sha256))
        response.headers["Content-Type"] = "text/plain; charset=utf-8"
        return response
    slug, fixed = split_suffix(name)
    source, report = coverage_of(slug)
    fmt = choose(fixed)
    if fmt is None:
        return not_acceptable()
    iri = f"{base()}source/{slug}.txt"
    graph = fetch_graph(describe_query(iri, base() + "ontology#"))
    from .coverage import facts_query
    facts_link = "/sparql?query=" + quote(facts_query(0, len(source.text), iri))
    return respond_rdf_or_html(graph, fmt, f"/source/{slug}", fixed is None, lambda: render_template(
        "source.html", source=source, report=report, facts_link=facts_link, formats=DOCUMENT_FORMATS,
        document_href=local_href(base() + source.metadata["document"])))
