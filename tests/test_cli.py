"""The ijdp command line: validate and query, with clear errors and exit statuses."""
import json
import subprocess
import sys

import pytest
import rdflib
from click.testing import CliRunner

from conftest import DATA
from ijdp.cli import main

MOC = "https://w3id.org/ijdp/id/agreement/semiconductor-supply-chain-moc-2023"


def run(*args):
    return CliRunner().invoke(main, list(args))


@pytest.mark.parametrize("command", ["build", "validate", "query"])
def test_every_command_has_help(command):
    result = run(command, "--help")
    assert result.exit_code == 0 and "Usage:" in result.output


def test_validate_the_publication_conforms():
    result = run("validate")
    assert result.exit_code == 0
    assert "conforms" in result.output


def test_validate_reports_focus_path_message_and_file():
    result = run("validate", str(DATA / "invalid" / "ministry-without-government.ttl"))
    assert result.exit_code == 1
    assert "https://example.org/ministry [ministry-without-government.ttl]" in result.output
    assert "path: http://www.w3.org/ns/org#subOrganizationOf" in result.output
    assert "A ministry belongs to exactly one government." in result.output


def test_validate_json_and_turtle_formats():
    path = str(DATA / "invalid" / "person-with-two-names.ttl")
    as_json = json.loads(run("validate", "--format", "json", path).output)
    assert as_json["conforms"] is False
    assert any(v["path"] == "http://xmlns.com/foaf/0.1/name" for v in as_json["violations"])
    report = rdflib.Graph().parse(data=run("validate", "--format", "turtle", path).output, format="turtle")
    sh = rdflib.Namespace("http://www.w3.org/ns/shacl#")
    assert (None, sh.conforms, rdflib.Literal(False)) in report


def test_validate_syntax_error_exits_2_with_file_and_line():
    result = run("validate", str(DATA / "syntax-error.ttl"))
    assert result.exit_code == 2
    assert "syntax-error.ttl:4:" in result.output


def test_query_project_data_as_json(dist):
    result = run("query", "--dist", str(dist), "--format", "json",
                 f"SELECT ?date WHERE {{ <{MOC}> <https://w3id.org/ijdp/ontology#signing>/<http://purl.org/dc/terms/date> ?date }}")
    assert result.exit_code == 0, result.output
    bindings = json.loads(result.output)["results"]["bindings"]
    assert bindings == [{"date": {"type": "literal", "value": "2023-07", "datatype": "http://www.w3.org/2001/XMLSchema#gYearMonth"}}]


@pytest.mark.parametrize("fmt,check", [
    ("csv", lambda out: out.splitlines()[0] == "n"),
    ("tsv", lambda out: out.splitlines()[0] == "?n"),
    ("xml", lambda out: "<sparql" in out),
    ("table", lambda out: "(1 row)" in out),
])
def test_query_result_formats(dist, fmt, check):
    result = run("query", "--dist", str(dist), "--format", fmt, "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")
    assert result.exit_code == 0 and check(result.output), result.output


@pytest.mark.parametrize("fmt,parser", [("turtle", "turtle"), ("nt", "nt"), ("jsonld", "json-ld")])
def test_query_graph_formats(dist, fmt, parser):
    result = run("query", "--dist", str(dist), "--format", fmt, f"DESCRIBE <{MOC}>")
    assert result.exit_code == 0, result.output
    graph = rdflib.Graph().parse(data=result.output, format=parser)
    assert (rdflib.URIRef(MOC), None, None) in graph


def test_query_given_files_and_named_graphs(tmp_path):
    (tmp_path / "a.ttl").write_text("<http://ex/a> <http://ex/p> 1 .")
    (tmp_path / "b.nt").write_text('<http://ex/b> <http://ex/p> "2"^^<http://www.w3.org/2001/XMLSchema#integer> .\n')
    result = run("query", "--data", str(tmp_path / "a.ttl"), "--named", f"http://ex/g={tmp_path / 'b.nt'}",
                 "--format", "csv", "SELECT ?s ?g WHERE { { ?s ?p 1 } UNION { GRAPH ?g { ?s ?p 2 } } } ORDER BY ?s")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["s,g", "http://ex/a,", "http://ex/b,http://ex/g"]


@pytest.mark.parametrize("args,message", [
    (["SELECT * WHERE { ?s ?p }"], "malformed query: unexpected '}' at line 1, column 24: the triple pattern has no object"),
    (["SELECT * WHERE { ?s ijpd:party ?o }"], "malformed query: undeclared prefix 'ijpd:' in 'ijpd:party' at line 1, column 21"),
    ([], "give a query"),
    (["--query", "/nonexistent.rq"], "cannot read"),
    (["--data", "/nonexistent.ttl", "ASK {}"], "cannot read"),
    (["--data", str(DATA / "syntax-error.ttl"), "ASK {}"], "syntax-error.ttl:4:"),
    (["--named", "nofile", "ASK {}"], "NAME=FILE"),
    (["--format", "turtle", "SELECT * WHERE { ?s ?p ?o }"], "is for CONSTRUCT/DESCRIBE"),
])
def test_query_errors_exit_2_with_a_message(dist, args, message):
    result = run("query", "--dist", str(dist), *args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_query_without_a_build_says_to_build(tmp_path):
    result = run("query", "--dist", str(tmp_path / "nothing"), "ASK {}")
    assert result.exit_code == 2 and "ijdp build" in result.output


def test_console_script_runs():
    result = subprocess.run([sys.executable, "-m", "ijdp.cli", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "build" in result.stdout


@pytest.mark.parametrize("args,message", [
    (["serve", "--store", "http://127.0.0.1:9/sparql"], "write sparql:http://127.0.0.1:9/sparql"),
    (["serve", "--store", "oxigraph:"], "needs a path"),
    (["serve", "--store", "sparql:"], "needs a URL"),
    (["load", "--store", "memory"], "nothing to load"),
    (["build", "--store", "sparql:http://127.0.0.1:9/sparql", "--skip-reasoner", "--out", "/tmp/ijdp-test-bad-store"],
     "use `ijdp load`"),
])
def test_bad_store_specs_get_a_clear_error(args, message):
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_load_without_a_build_says_to_build(tmp_path):
    result = run("load", "--store", "sparql:http://127.0.0.1:9/sparql", "--dist", str(tmp_path))
    assert result.exit_code == 2 and "ijdp build" in result.output


@pytest.mark.parametrize("fmt", ["json", "xml", "csv", "tsv", "table", "turtle", "nt", "jsonld", "rdfxml", "trig"])
def test_every_query_output_ends_with_a_newline(dist, fmt):
    form = "SELECT ?s WHERE { ?s ?p ?o } LIMIT 2" if fmt in ("json", "xml", "csv", "tsv", "table") \
        else "CONSTRUCT WHERE { ?s ?p ?o } LIMIT 2"
    result = run("query", "--dist", str(dist), "--format", fmt, form)
    assert result.exit_code == 0, result.output
    assert result.output.endswith("\n") and not result.output.endswith("\n\n")


def test_query_reads_standard_input_with_a_dash(dist):
    result = CliRunner().invoke(main, ["query", "--dist", str(dist), "--query", "-", "--format", "json"],
                                input="ASK { ?s ?p ?o }")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["boolean"] is True


def test_a_service_that_cannot_be_reached_is_a_one_line_error(dist):
    import socket
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]        # nothing listens there once the socket is closed
    result = run("query", "--dist", str(dist), f"SELECT * WHERE {{ SERVICE <http://127.0.0.1:{port}/sparql> {{ ?s ?p ?o }} }}")
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ijdp: query failed: "), result.output
    assert "internal error" not in result.output


def test_validate_lists_each_violation_once():
    result = run("validate", str(DATA / "invalid" / "agreement-with-one-party.ttl"))
    assert result.exit_code == 1
    entries = result.output.split("\n- ")[1:]
    assert entries and len(entries) == len(set(entries))
    assert result.output.splitlines()[0] == f"SHACL: {len(entries)} violation(s)"
