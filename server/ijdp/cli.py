"""The ijdp command line: build, validate, query, serve."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from .config import Settings, help_text
from .errors import IjdpError

DEFAULTS = Settings()


def fail(err: IjdpError):
    click.echo(f"ijdp: {err}", err=True)
    sys.exit(err.exit_status)


class Commands(click.Group):
    """Every command: problems users can fix are one line; anything else too, never a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except IjdpError as err:
            fail(err)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit, KeyboardInterrupt):
            raise
        except Exception as err:  # noqa: BLE001
            if os.environ.get("IJDP_DEBUG"):
                raise
            click.echo(f"ijdp: internal error: {type(err).__name__}: {err} (IJDP_DEBUG=1 shows the traceback)", err=True)
            sys.exit(70)


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ijdp")
def main():
    """The India-Japan semiconductor MoC as linked data."""


def data_option(command):
    """--data DIR: read the publication's data from DIR (laid out like data/) instead."""
    def use(ctx, param, value):
        if value:
            os.environ["IJDP_DATA_DIR"] = str(Path(value).resolve())
        return value
    return click.option("--data", "data_dir", default=None, metavar="DIR", expose_value=False, callback=use,
                        is_eager=True, type=click.Path(file_okay=False, exists=True),
                        help="Read sources, links and codes from DIR (laid out like data/) instead of the "
                             "project's data/ (env IJDP_DATA_DIR).")(command)


# What one client's connections may hold in `ijdp serve` (see serve.py): options made from the settings.
CONNECTION_SETTINGS = ("max_connections_per_client", "request_timeout", "keepalive_timeout", "send_timeout",
                       "max_pipelined_requests", "connection_buffer_bytes", "buffer_total_bytes")


def setting_options(names):
    """One --option per setting, with the setting's default, type and help."""
    def add(command):
        for name in reversed(names):
            default = getattr(DEFAULTS, name)
            command = click.option("--" + name.replace("_", "-"), name, default=default, show_default=True,
                                   type=type(default), help=help_text(name))(command)
        return command
    return add


@main.command()
@data_option
@click.option("--out", "out_dir", default=DEFAULTS.dist_dir, show_default=True, type=click.Path(file_okay=False),
              help="Directory to write the dumps to (replaced atomically).")
@click.option("--base-iri", default=DEFAULTS.base_iri, show_default=True,
              help="Base IRI of every resource in the dumps (a mirror may build under its own); "
                   "`ijdp serve` then publishes exactly these IRIs.")
@click.option("--skip-reasoner", is_flag=True, help=help_text("skip_reasoner"))
@click.option("--store", "store_spec", default=None, metavar="oxigraph:PATH",
              help="Also load the result into this on-disk store (replaced atomically), for `ijdp serve --store`.")
@click.option("-q", "--quiet", is_flag=True, help="Print only errors.")
def build(out_dir, base_iri, skip_reasoner, store_spec, quiet):
    """Validate (SHACL and OWL consistency), then write every dump and SHA256SUMS."""
    from .build import build_publication, write_dumps

    log = (lambda m: None) if quiet else (lambda m: click.echo(m, err=True))
    try:
        publication, report = build_publication(skip_reasoner=skip_reasoner, log=log)
        info = write_dumps(publication, report, Path(out_dir), base=base_iri)
        if store_spec:
            from .store import load_into_oxigraph, parse_store_spec
            kind, value = parse_store_spec(store_spec)
            if kind != "oxigraph":
                raise IjdpError("ijdp build --store takes oxigraph:PATH; use `ijdp load` for a SPARQL server")
            log(f"loaded into the on-disk store {load_into_oxigraph(out_dir, value)}")
    except IjdpError as err:
        fail(err)
    log(f"wrote {len(info['files'])} files to {out_dir}/ (version {info['version']})")


@main.command()
@data_option
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["text", "turtle", "json"]), default="text", show_default=True)
def validate(files, fmt):
    """Validate the publication (or FILES, with the ontology) against the SHACL shapes.

    Exit status 1 when there are violations, 2 when a file cannot be read.
    """
    from . import resources
    from .knowledge import assemble
    from .metadata import add_metadata
    from .rdfio import load_graph
    from .validation import origins_of, validate as run

    try:
        if files:
            data = load_graph(*resources.ontology_files(), catalogue=True) + load_graph(*map(Path, files))
            origins = origins_of(files)
        else:
            publication = assemble()
            add_metadata(publication)
            data = publication.merged()
            folder = resources.data_folder()
            origins = origins_of([s.facts for s in publication.sources] + [folder / "codes.ttl"])
            for subject in publication.graphs["links"].subjects():
                origins.setdefault(subject, "links.sssom.tsv")
        report = run(data, origins=origins)
    except IjdpError as err:
        fail(err)
    click.echo({"text": report.as_text, "turtle": report.as_turtle, "json": report.as_json}[fmt]())
    sys.exit(0 if report.conforms else 1)


@main.command("new-source")
@data_option
@click.argument("file", type=click.Path(dir_okay=False, exists=True))
@click.option("--slug", required=True, help="The source's name in IRIs and folders: lower-case letters, digits, hyphens.")
@click.option("--title", default="", help="Its title (default: its first line).")
@click.option("--kind", default="", help="What it is: news article, press release, ...")
def new_source_command(file, slug, title, kind):
    """Add a document: data/sources/SLUG/ with the unchanged snapshot, a metadata stub and an empty facts file."""
    from datetime import date

    from . import resources
    from .sources import new_source

    folder = new_source(Path(file), slug, resources.data_folder(), date.today().isoformat(), title=title, kind=kind)
    click.echo(f"made {folder}/ (snapshot.txt, source.toml, facts.trig, exclusions.tsv). Next:\n"
               f"  1. complete {folder / 'source.toml'} (kind; publisher, URL and date where the document states them)\n"
               f"  2. add quotes and their facts to {folder / 'facts.trig'}\n"
               f"  3. `ijdp coverage --source {slug}` until every sentence is covered or excluded\n"
               f"  4. `ijdp build`")


@main.command()
@data_option
@click.option("--source", "source", default=None, metavar="SLUG",
              help="The source to report on (default: every source).")
@click.option("--format", "fmt", type=click.Choice(["text", "html", "json"]), default="text", show_default=True)
def coverage(source, fmt):
    """Every sentence of the sources: covered by a fact's quote, excluded with a reason, or uncovered (exit 1)."""
    from .coverage import reports_json, reports_text, source_coverage, standalone_html
    from .knowledge import assemble

    try:
        publication = assemble()
        chosen = [s for s in publication.sources if source in (None, s.slug)]
        if not chosen:
            raise IjdpError(f"no source {source!r}: the sources are {', '.join(s.slug for s in publication.sources)}")
        reports = [source_coverage(publication.graphs["provenance"], s) for s in chosen]
    except IjdpError as err:
        fail(err)
    click.echo({"text": reports_text, "json": reports_json, "html": standalone_html}[fmt](reports), nl=False)
    sys.exit(0 if all(r.complete for r in reports) else 1)


QUERY_FORMATS = ["json", "xml", "csv", "tsv", "table", "turtle", "nt", "jsonld", "rdfxml", "trig", "nquads"]


@main.command()
@click.argument("query_text", required=False)
@click.option("--query", "query_file", type=click.Path(dir_okay=False, allow_dash=True),
              help="Read the query from FILE (- for standard input).")
@click.option("--data", "data_files", multiple=True, type=click.Path(dir_okay=False),
              help="Query these RDF files (default graph) instead of the project's data. Repeatable.")
@click.option("--named", "named_files", multiple=True, metavar="NAME=FILE",
              help="Load FILE as the named graph NAME. Repeatable.")
@click.option("--format", "fmt", type=click.Choice(QUERY_FORMATS), default=None,
              help="Output format (default: table for SELECT/ASK at a terminal, json otherwise; turtle for graphs).")
@click.option("--dist", default=DEFAULTS.dist_dir, show_default=True, help="Built dumps to query by default.")
def query(query_text, query_file, data_files, named_files, fmt, dist):
    """Run a SPARQL query against the project's data or the given files."""
    if not (data_files or named_files):
        dist = built_dist(dist)
    import pyoxigraph

    from .sparql import as_table, execute, is_graph_result, serialise_results
    from .store import load_file, open_built

    try:
        if bool(query_text) == bool(query_file):
            raise IjdpError("give a query either as an argument or with --query FILE")
        if query_file == "-":
            query_text = sys.stdin.read()
        elif query_file:
            try:
                query_text = Path(query_file).read_text(encoding="utf-8")
            except OSError as err:
                raise IjdpError(f"{query_file}: cannot read: {err.strerror}") from None
        if data_files or named_files:
            store = pyoxigraph.Store()
            for path in data_files:
                load_file(store, path)
            for item in named_files:
                name, sep, path = item.partition("=")
                if not sep or not name:
                    raise IjdpError(f"--named expects NAME=FILE, got {item!r}")
                load_file(store, path, graph=name)
            union = False
        else:
            store = open_built(dist)
            union = True
        results = execute(store, query_text, union_default=union)
        graph = is_graph_result(results)
        fmt = fmt or ("turtle" if graph else ("table" if sys.stdout.isatty() else "json"))
        if graph and fmt in ("json", "xml", "csv", "tsv"):
            raise IjdpError(f"--format {fmt} is for SELECT/ASK results; use turtle, nt, jsonld, rdfxml, trig or nquads")
        if not graph and fmt not in ("json", "xml", "csv", "tsv", "table"):
            raise IjdpError(f"--format {fmt} is for CONSTRUCT/DESCRIBE results; use json, xml, csv, tsv or table")
        try:
            # Results are lazy: a SERVICE that cannot be reached fails here, while writing.
            output = as_table(results).encode("utf-8") if fmt == "table" else serialise_results(results, fmt)
        except (OSError, RuntimeError, ValueError) as err:
            first_line = (str(err).strip().splitlines() or [type(err).__name__])[0]
            raise IjdpError(f"query failed: {first_line}") from None
    except IjdpError as err:
        fail(err)
    sys.stdout.buffer.write(output if output.endswith(b"\n") or not output else output + b"\n")


def built_dist(dist: str) -> str:
    """The build a command reads: dist/ as given, or, with the default dist/ absent, the shipped build.

    Like Datasette, an installed package serves and queries what it ships: `ijdp serve`, `ijdp query` and
    `ijdp load` all find the one build made into the cache folder (build.shipped_build).
    """
    from .store import dump_path

    if dist != DEFAULTS.dist_dir or dump_path(dist).exists():
        return dist
    from .build import shipped_build
    try:
        folder, done = shipped_build()
    except IjdpError as err:
        fail(err)
    click.echo(f"ijdp: no build in {dist}/: {done}", err=True)
    return str(folder)


@main.command()
@click.option("--store", "store_spec", required=True, metavar="STORE",
              help="oxigraph:PATH (replace that on-disk store) or sparql:URL (push every named graph to that endpoint).")
@click.option("--dist", default=DEFAULTS.dist_dir, show_default=True, help=help_text("dist_dir"))
@click.option("--update-url", default=None, help="SPARQL 1.1 Update endpoint (default: the sparql: URL).")
@click.option("--gsp-url", default=None, help="Graph Store Protocol endpoint (default: SPARQL UPDATE only).")
@click.option("--user", default=None, help="User for the remote endpoint (HTTP digest or basic auth).")
@click.option("--password", default=None, envvar="IJDP_LOAD_PASSWORD", help="Password (env IJDP_LOAD_PASSWORD).")
@click.option("--graph-prefix", default=None, metavar="IRI",
              help="Name the graphs <IRI><name> instead of https://w3id.org/ijdp/graph/<name>.")
def load(store_spec, dist, update_url, gsp_url, user, password, graph_prefix):
    """Load the built dumps into a store, replacing the previous version of each graph."""
    from .store import load_into_oxigraph, parse_store_spec

    kind, value = parse_store_spec(store_spec)
    if kind == "memory":
        raise IjdpError("the memory store loads the dumps itself at start: nothing to load")
    dist = built_dist(dist)
    if kind == "oxigraph":
        path = load_into_oxigraph(dist, value)
        click.echo(f"loaded {dist}/ijdp.nq into {path}", err=True)
        return
    from .loading import push_graphs
    for line in push_graphs(dist, value, update_url=update_url, gsp_url=gsp_url, user=user, password=password,
                            graph_prefix=graph_prefix):
        click.echo(line, err=True)


@main.command()
@data_option
@click.option("--target", "target", required=True, type=click.Path(dir_okay=False, exists=True),
              help="The other dataset: an RDF dump (any format, .gz too) or a CSV with id and name columns.")
@click.option("--target-format", default=None, help="RDF format of the target when its extension does not say (ttl, nt, rdf, csv…).")
@click.option("--min-score", default=0.7, show_default=True, type=click.FloatRange(0, 1), help="Drop candidates below this score.")
@click.option("--out", "out_path", default="-", show_default=True, help="Where to write the SSSOM table of candidates.")
@click.option("--evaluate", is_flag=True,
              help="Compare the candidates with the verified links (data/links.sssom.tsv) whose objects the target "
                   "holds: print precision, recall and the misses instead of the table.")
def link(target, target_format, min_score, out_path, evaluate):
    """Propose links from our entities to another dataset's, as an SSSOM table for review (best first)."""
    from . import resources
    from .knowledge import assemble
    from .linking import candidates_table, evaluate as score_against, find_candidates, our_entities
    from .links import contract_any, expand, read_sssom

    publication = assemble()
    ours = our_entities(publication.merged(("facts", "curated", "ontology", "links")))
    verified, present = [], None
    if evaluate:
        metadata, rows = read_sssom(resources.data_folder() / "links.sssom.tsv")
        curie_map = metadata.get("curie_map", {})
        verified = [(str(expand(r["subject_id"], curie_map)), contract_any(expand(r["predicate_id"], curie_map)),
                     str(expand(r["object_id"], curie_map))) for r in rows]
        present = {o for _, _, o in verified}
    candidates = find_candidates(ours, Path(target), target_format, min_score,
                                 show_progress=out_path != "-" or not sys.stdout.isatty(), evaluate_objects=present)
    if evaluate:
        result = score_against(candidates, verified, present)
        click.echo(f"{result['relevant']} verified link(s) point into {Path(target).name}; "
                   f"{result['proposed']} candidate(s) proposed, {result['correct']} of them verified")
        for subject, predicate, obj in result["missed"]:
            click.echo(f"missed: {subject} {predicate} {obj}")
        for subject, predicate, obj in result["wrong"]:
            click.echo(f"not verified: {subject} {predicate} {obj}")
        click.echo(f"precision {result['precision']:.3f}, recall {result['recall']:.3f}")
        return
    table = candidates_table(candidates, Path(target))
    if out_path == "-":
        click.echo(table, nl=False)
    else:
        Path(out_path).write_text(table, encoding="utf-8")
        click.echo(f"{len(candidates)} candidate(s) written to {out_path}", err=True)


@main.command("accept-links")
@data_option
@click.argument("candidates", type=click.Path(dir_okay=False, exists=True))
@click.option("--reviewer", required=True, help="Who reviewed the candidates.")
@click.option("--how", required=True, help="How they were checked (the record, its type, its codes...).")
def accept_links(candidates, reviewer, how):
    """Move reviewed candidates (the rows left in CANDIDATES, an `ijdp link` table) into data/links.sssom.tsv."""
    from datetime import date

    from . import resources
    from .links import accept_candidates

    accepted, skipped = accept_candidates(resources.data_folder() / "links.sssom.tsv", Path(candidates), reviewer, how,
                                          date.today().isoformat())
    for row in skipped:
        click.echo(f"already verified: {row['subject_id']} {row['predicate_id']} {row['object_id']}", err=True)
    click.echo(f"accepted {len(accepted)} link(s) into {resources.data_folder() / 'links.sssom.tsv'}; "
               "`ijdp build` publishes them (VoID linkset, pages)", err=True)


@main.command("authority-table")
@click.argument("name", type=click.Choice(["iso3166"]))
@click.option("--out", "out_path", default="-", show_default=True, help="Where to write the CSV.")
def authority_table(name, out_path):
    """Write a real authority table shipped as a package, as a CSV `ijdp link --target` reads (iso3166: pycountry)."""
    from .authorities import iso3166_csv

    text = iso3166_csv()
    if out_path == "-":
        click.echo(text, nl=False)
    else:
        Path(out_path).write_text(text, encoding="utf-8")
        click.echo(f"wrote {text.count(chr(10)) - 1} entries to {out_path}", err=True)


def admin_token_from(ctx, value):
    """The admin token: from --admin-token-file, the environment or (with a warning) the command line."""
    path = ctx.meta.get("admin_token_file")
    if path:
        if value:
            raise click.UsageError("give the admin token once: --admin-token-file, or IJDP_ADMIN_TOKEN / --admin-token")
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as err:
            raise click.BadParameter(f"{path}: cannot read: {err}", param_hint="--admin-token-file") from None
        if not lines or not lines[0].strip():
            raise click.BadParameter(f"{path}: the first line is empty", param_hint="--admin-token-file")
        return lines[0].strip()
    if value and ctx.get_parameter_source("admin_token") == click.core.ParameterSource.COMMANDLINE:
        click.echo("ijdp: warning: --admin-token is readable in the process list; use IJDP_ADMIN_TOKEN or "
                   "--admin-token-file instead", err=True)
    return value


@main.command()
@click.option("--host", default=DEFAULTS.host, show_default=True, help=help_text("host"))
@click.option("--port", default=DEFAULTS.port, show_default=True, type=int, help=help_text("port"))
@click.option("--query-timeout", default=DEFAULTS.query_timeout, show_default=True, type=float, metavar="SECONDS",
              help=help_text("query_timeout"))
@click.option("--max-rows", default=DEFAULTS.max_rows, show_default=True, type=int, help=help_text("max_rows"))
@click.option("--max-request-bytes", default=DEFAULTS.max_request_bytes, show_default=True, type=int,
              help=help_text("max_request_bytes"))
@click.option("--max-answer-bytes", default=DEFAULTS.max_answer_bytes, show_default=True, type=int,
              help=help_text("max_answer_bytes"))
@click.option("--threads", default=DEFAULTS.threads, show_default=True, type=int, help=help_text("threads"))
@click.option("--query-workers", default=DEFAULTS.query_workers, show_default=True, type=int, help=help_text("query_workers"))
@click.option("--max-query-workers", default=DEFAULTS.max_query_workers, show_default=True, type=int,
              help=help_text("max_query_workers"))
@click.option("--query-memory-mb", default=DEFAULTS.query_memory_mb, show_default=True, type=int,
              help=help_text("query_memory_mb"))
@click.option("--memory-budget-mb", default=DEFAULTS.memory_budget_mb, show_default=True, type=int,
              help=help_text("memory_budget_mb"))
@click.option("--client-query-seconds", default=DEFAULTS.client_query_seconds, show_default=True, type=float,
              metavar="SECONDS", help=help_text("client_query_seconds"))
@click.option("--client-queries-in-flight", default=DEFAULTS.client_queries_in_flight, show_default=True, type=int,
              help=help_text("client_queries_in_flight"))
@click.option("--trusted-proxy", "trusted_proxies", multiple=True, metavar="ADDRESS", help=help_text("trusted_proxies"))
@click.option("--max-nesting", default=DEFAULTS.max_nesting, show_default=True, type=int, help=help_text("max_nesting"))
@click.option("--max-projected-variables", default=DEFAULTS.max_projected_variables, show_default=True, type=int,
              help=help_text("max_projected_variables"))
@click.option("--result-cache-bytes", default=DEFAULTS.result_cache_bytes, show_default=True, type=int,
              help=help_text("result_cache_bytes"))
@click.option("--dist", default=DEFAULTS.dist_dir, show_default=True, help=help_text("dist_dir"))
@click.option("--store", "store_spec", default=None, metavar="STORE",
              help="memory (each worker loads the built dumps), oxigraph:PATH (an on-disk store, created empty when "
                   "missing; a bare PATH means the same) or sparql:URL (forward queries to a SPARQL 1.1 endpoint). "
                   "Default: an on-disk store made from the built dumps.")
@click.option("--allow-service", "service_allowlist", multiple=True, metavar="URL", help=help_text("service_allowlist"))
@click.option("--service-timeout", default=DEFAULTS.service_timeout, show_default=True, type=float, metavar="SECONDS",
              help=help_text("service_timeout"))
@click.option("--admin-token-file", default=None, metavar="PATH", type=click.Path(dir_okay=False, exists=True),
              expose_value=False, is_eager=True, callback=lambda ctx, param, value: ctx.meta.update(admin_token_file=value),
              help="Read the admin token from this file (its first line).")
@click.option("--admin-token", default=None, envvar="IJDP_ADMIN_TOKEN", callback=lambda ctx, param, value: admin_token_from(ctx, value),
              help=help_text("admin_token") + " Prefer env IJDP_ADMIN_TOKEN or --admin-token-file: the command line is "
                   "readable in the process list.")
@click.option("--union-default-graph/--no-union-default-graph", default=True, show_default=True,
              help=help_text("union_default_graph"))
@setting_options(CONNECTION_SETTINGS)
def serve(host, port, query_timeout, max_rows, max_request_bytes, max_answer_bytes, threads, query_workers,
          max_query_workers, query_memory_mb, memory_budget_mb, client_query_seconds, client_queries_in_flight,
          trusted_proxies, max_nesting, max_projected_variables, result_cache_bytes, dist, store_spec,
          service_allowlist, service_timeout, admin_token, union_default_graph, **connection_limits):
    """Serve the SPARQL endpoint (and the rest of the site); SIGTERM finishes what is in flight, then stops."""
    from .config import built_base, from_environment
    from .serve import run
    from .store import checked_dump, dump_path, open_writable, parse_store_spec, prepare_store, store_db

    if not store_spec:
        dist = built_dist(dist)
    settings = from_environment().with_overrides(
        host=host, port=port, base_iri=built_base(dist), query_timeout=query_timeout, max_rows=max_rows,
        max_request_bytes=max_request_bytes, result_cache_bytes=result_cache_bytes, threads=threads, query_workers=query_workers, dist_dir=dist,
        max_answer_bytes=max_answer_bytes, max_query_workers=max_query_workers, query_memory_mb=query_memory_mb,
        max_nesting=max_nesting, max_projected_variables=max_projected_variables, memory_budget_mb=memory_budget_mb, client_query_seconds=client_query_seconds,
        client_queries_in_flight=client_queries_in_flight, trusted_proxies=tuple(trusted_proxies) or None,
        service_allowlist=tuple(service_allowlist), service_timeout=service_timeout, admin_token=admin_token or "",
        union_default_graph=union_default_graph, **connection_limits)
    try:
        if store_spec:
            kind, value = parse_store_spec(store_spec)
            if kind == "memory" and dump_path(dist).exists():
                checked_dump(dump_path(dist), dump_path(dist).read_bytes())
            store_path = f"oxigraph:{open_writable(value)}" if kind == "oxigraph" else store_spec
        else:
            store_path = str(store_db(prepare_store(dist, settings.base_iri)))
    except IjdpError as err:
        fail(err)
    try:
        from .fairness import sharing
        click.echo(f"ijdp: {sharing(settings).plan.line()}", err=True)
    except IjdpError as err:
        fail(err)
    click.echo(f"serving {store_path} on http://{host}:{port}/ (base IRI {settings.base_iri})", err=True)
    run(settings, store_path)


if __name__ == "__main__":
    main()
