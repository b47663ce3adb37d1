"""The query UI (YASGUI, served from this server), the timeline and the graph view."""
from __future__ import annotations

import json
from pathlib import Path

from flask import Blueprint, Response, abort, current_app, render_template, request, send_from_directory

from . import resources
from .examples import examples
from .formats import RDF_FORMATS, RESULTS_FORMATS
from .iris import rebase_text
from .querypool import Job
from .vocab import PREFIXES

bp = Blueprint("ui", __name__)

YASGUI_FILES = ("yasgui.min.js", "yasgui.min.css")


def settings():
    return current_app.config["IJDP_SETTINGS"]


def yasgui_folder() -> Path | None:
    """YASGUI's build, installed by `make ui` (npm); None when it is not installed."""
    folder = resources.CHECKOUT / "ui" / "node_modules" / "@triply" / "yasgui" / "build"
    return folder if all((folder / name).is_file() for name in YASGUI_FILES) else None


def local_examples() -> list[dict]:
    base = settings().base_iri
    return [{"name": e.name, "title": e.title, "text": rebase_text(e.text, base)} for e in examples()]


def local_prefixes() -> dict:
    base = settings().base_iri
    return {prefix: rebase_text(namespace, base) for prefix, namespace in PREFIXES.items()}


def query_page(query=None, table=None, graph_text=None, truncated=False, headers=None, more=None,
               form_query=None) -> Response:
    """The editor and the plain form; with query, the answer under it (table or graph_text); form_query only
    fills the form."""
    html = render_template(
        "sparql.html", query=query, table=table, graph_text=graph_text, truncated=truncated, more=more,
        form_query=form_query,
        max_rows=settings().max_rows, examples=local_examples(), results_formats=RESULTS_FORMATS,
        rdf_formats=RDF_FORMATS, yasgui=yasgui_folder() is not None,
        ui_config=json.dumps({"examples": local_examples(), "prefixes": local_prefixes(),
                              "base": settings().base_iri}).replace("</", "<\\/"))
    return Response(html, headers={**(headers or {}), "Content-Type": "text/html; charset=utf-8"})


@bp.get("/")
def home():
    """The editor. A permalink (?query=…, or ?example=NAME with run=1 to run it) fills the plain form too; where the
    editor is not installed the plain form is the page, and the answer comes with it, as from /sparql?query=…"""
    query = request.args.get("query")
    if not query and request.args.get("example"):
        name = request.args["example"]
        found = next((e for e in local_examples() if e["name"] == name), None)
        if found is None:
            abort(404, description=f"There is no example query {name}: the examples are listed at /sparql.")
        query = found["text"]
    if query and (request.args.get("query") or request.args.get("run")) and yasgui_folder() is None:
        from .endpoint import answer
        return answer(query, request.args)
    return query_page(form_query=query)


def cytoscape_folder() -> Path | None:
    """Cytoscape.js's build (the graph view's layout and drawing), installed by `make ui`; None when missing."""
    folder = resources.CHECKOUT / "ui" / "node_modules" / "cytoscape" / "dist"
    return folder if (folder / CYTOSCAPE_FILE).is_file() else None


CYTOSCAPE_FILE = "cytoscape.min.js"


@bp.get("/ui/vendor/<name>")
def vendor(name: str):
    folder = yasgui_folder() if name in YASGUI_FILES else cytoscape_folder() if name == CYTOSCAPE_FILE else None
    if folder is None:
        abort(404)
    return send_from_directory(folder, name, max_age=86400)


@bp.get("/ui/<name>")
def static_file(name: str):
    if name not in ("ijdp-ui.js", "ijdp-charts.js"):
        abort(404)
    return send_from_directory(resources.static_folder(), name, max_age=300)


@bp.get("/queries/<name>.rq")
def example_query(name: str):
    found = next((e for e in local_examples() if e["name"] == name), None)
    if found is None:
        abort(404, description=f"There is no example query {name}.")
    return Response(found["text"], content_type="application/sparql-query; charset=utf-8")


def select_rows(example_name: str) -> list[dict]:
    """The rows of an example query, for the pages that work without JavaScript."""
    text = next(e["text"] for e in local_examples() if e["name"] == example_name)
    job = Job(query=text, results_format="application/sparql-results+json", graph_format=None,
              max_rows=settings().max_rows)
    outcome = current_app.extensions["ijdp_pool"].run(job, timeout=settings().query_timeout)
    if outcome.kind != "ok":
        raise RuntimeError(outcome.message or outcome.kind)
    data = json.loads(outcome.body)
    return [{k: v["value"] for k, v in row.items()} for row in data["results"]["bindings"]]


@bp.get("/timeline")
def timeline():
    from .describe import shown_literal
    from rdflib import XSD, Literal
    rows = select_rows("19-timeline")
    for row in rows:
        row["shown"] = " to ".join(shown_literal(Literal(row[key], datatype=XSD.gYearMonth))
                                   for key in ("date", "until") if key in row)
    return render_template("timeline.html", rows=rows, query_name="19-timeline")


@bp.get("/graph-view")
def graph_view():
    return render_template("graph.html", rows=select_rows("20-moc-neighbourhood"), query_name="20-moc-neighbourhood",
                           cytoscape=cytoscape_folder() is not None, base_iri=settings().base_iri)
