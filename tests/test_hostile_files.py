"""Hostile files for the command line: nothing read is expanded past a bound or fetched, every bound ends in one
line naming the file and the limit, source.toml is valid TOML whatever the text, and the admin token stays off
the command line."""
from __future__ import annotations

import gzip
import http.server
import io
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings, strategies as st
from rdflib import OWL, Graph, Literal, URIRef

from conftest import MOC, REPO
from ijdp import resources
from ijdp.cli import main
from ijdp.errors import IjdpError
from ijdp.rdfio import XML_DEPTH_LIMIT, check_xml, load_graph
from ijdp.sources import new_source

RDF_NS = 'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:rdfs="http://www.w3.org/2000/01/rdf-schema#"'
LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
MIB = 1024 * 1024
EXAMPLES = int(os.environ.get("IJDP_FUZZ_EXAMPLES", "40"))   # `make fuzz` runs more


def rdfxml(body: str, doctype: str = "") -> str:
    return f'<?xml version="1.0"?>\n{doctype}\n<rdf:RDF {RDF_NS}>\n{body}\n</rdf:RDF>\n'


def laughs(levels: int) -> str:
    """A "billion laughs": each entity ten of the one before; 9 levels expand to 10^9 characters."""
    entities = ['<!ENTITY l0 "lollollol!">'] + [
        f'<!ENTITY l{i} "{("&l%d;" % (i - 1)) * 10}">' for i in range(1, levels + 1)]
    label = f'<rdf:Description rdf:about="http://example.org/x"><rdfs:label>&l{levels};</rdfs:label></rdf:Description>'
    return rdfxml(label, "<!DOCTYPE rdf:RDF [\n" + "\n".join(entities) + "\n]>")


class Listener:
    """A loopback HTTP server that counts the connections made to it."""

    def __init__(self):
        listener = self

        class Server(http.server.ThreadingHTTPServer):
            def verify_request(self, request, client_address):
                listener.connections += 1
                return True

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = (b'<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
                        b'xmlns:owl="http://www.w3.org/2002/07/owl#"><owl:Class rdf:about="http://evil.example/C"/>'
                        b'</rdf:RDF>')
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.connections = 0
        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def listener():
    found = Listener()
    yield found
    found.close()


@pytest.fixture(scope="module")
def ours():
    from ijdp.knowledge import assemble
    from ijdp.linking import our_entities

    return our_entities(assemble().merged(("facts", "curated", "ontology", "links")))


def link_error(ours, target: Path, *wanted) -> str:
    """find_candidates (what `ijdp link` runs) refuses the target with one line naming it and saying `wanted`."""
    from ijdp.linking import find_candidates

    with pytest.raises(IjdpError) as refused:
        find_candidates(ours, target)
    message = str(refused.value)
    assert "\n" not in message and message.startswith(str(target)), message
    for text in wanted:
        assert text in message, message
    return message


def one_line_error(result, *wanted):
    """The command failed with exit status 2 and one line that says each of `wanted`."""
    lines = [line for line in result.output.splitlines() if line.startswith("ijdp:")]
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and "Traceback" not in result.output and "internal error" not in result.output, result.output
    for text in wanted:
        assert text in lines[0], lines[0]
    return lines[0]


# ------------------------------------------------------------------------------ ijdp link --target

def test_nested_entities_are_refused_within_512_mib(tmp_path):
    """Without the refusal the 9-level file expands to 10^9 characters (3.6 GB, or an abort under the limit)."""
    target = tmp_path / "laughs.rdf"
    target.write_text(laughs(9))
    measure = (
        "import resource, subprocess, sys\n"
        "limit = 512 * 1024 * 1024\n"
        "def bound():\n"
        "    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))\n"
        "run = subprocess.run(sys.argv[1:], preexec_fn=bound, capture_output=True, text=True)\n"
        "sys.stdout.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) + '\\n' + run.stderr)\n"
        "sys.exit(run.returncode)\n")
    ijdp = Path(sys.executable).with_name("ijdp")
    run = subprocess.run([sys.executable, "-c", measure, str(ijdp), "link", "--target", str(target)],
                         capture_output=True, text=True, timeout=120)
    peak_kib, *errors = run.stdout.splitlines()
    assert run.returncode == 2, run.stdout
    assert errors == [f"ijdp: {target}:3: declares an XML entity 'l0': RDF/XML is read with entity expansion off "
                      "(write the values out, or convert the file to N-Triples or Turtle)"]
    assert int(peak_kib) < 512 * 1024


@pytest.mark.parametrize("doctype,body,wanted", [
    ('<!DOCTYPE rdf:RDF [<!ENTITY x "x">]>', "&x;", "declares an XML entity 'x'"),
    ('<!DOCTYPE rdf:RDF [<!ENTITY x SYSTEM "file:///etc/passwd">]>', "&x;", "declares an external XML entity 'x'"),
    ('<!DOCTYPE rdf:RDF [<!ENTITY x SYSTEM "{url}x">]>', "&x;", "declares an external XML entity 'x'"),
    ('<!DOCTYPE rdf:RDF [<!ENTITY % p SYSTEM "{url}p.dtd"> %p;]>', "x", "declares an external parameter entity 'p'"),
    ('<!DOCTYPE rdf:RDF SYSTEM "{url}rdf.dtd">', "x", "names an external DTD"),
    ('<!DOCTYPE rdf:RDF [<!NOTATION n SYSTEM "n"><!ENTITY u SYSTEM "{url}u" NDATA n>]>', "x",
     "declares an external XML entity 'u'"),
    ("", "&undeclared;", "syntax error: undefined entity"),
    ("", "&#x61;&amp;", None),                                    # character references are fine
    ('<!DOCTYPE rdf:RDF [<!ATTLIST rdf:Description rdfs:comment CDATA #IMPLIED>]>', "x", None),
], ids=["internal", "file", "http", "parameter", "external-dtd", "unparsed", "undeclared", "char-refs", "attlist"])
def test_rdfxml_targets_are_read_with_entities_off_and_nothing_fetched(tmp_path, ours, listener, doctype, body, wanted):
    from ijdp.linking import find_candidates

    target = tmp_path / "target.rdf"
    target.write_text(rdfxml(f'<rdf:Description rdf:about="http://example.org/x"><rdfs:label>{body}</rdfs:label>'
                             "</rdf:Description>", doctype.replace("{url}", listener.url)))
    if wanted is None:
        find_candidates(ours, target)
    else:
        link_error(ours, target, f"{target}:", wanted)
    assert listener.connections == 0


@settings(max_examples=EXAMPLES, deadline=None)
@given(levels=st.integers(1, 12), width=st.integers(1, 30), name=st.from_regex(r"[a-z][a-z0-9]{0,8}", fullmatch=True),
       spaced=st.booleans())
def test_any_entity_declaration_is_refused_before_it_expands(levels, width, name, spaced):
    gap = "\n  " if spaced else " "
    entities = [f'<!ENTITY {name}0 "lol">'] + [
        f'<!ENTITY{gap}{name}{i}{gap}"{("&%s%d;" % (name, i - 1)) * width}">' for i in range(1, levels + 1)]
    text = rdfxml(f"<rdf:Description><rdfs:label>&{name}{levels};</rdfs:label></rdf:Description>",
                  "<!DOCTYPE rdf:RDF [" + "".join(entities) + "]>")
    with pytest.raises(IjdpError, match=f"declares an XML entity '{name}0'"):
        check_xml(io.BytesIO(text.encode()), "generated.rdf")


@settings(max_examples=max(10, EXAMPLES // 4), deadline=None)
@given(depth=st.integers(1, XML_DEPTH_LIMIT + 200))
def test_nesting_is_bounded_at_the_limit_only(depth):
    # rdf:RDF is one element: `depth` Descriptions inside it.
    text = rdfxml("<rdf:Description><rdfs:seeAlso>" * (depth // 2) + "<rdf:Description/>" * (depth % 2)
                  + "</rdfs:seeAlso></rdf:Description>" * (depth // 2))
    opened = 1 + depth
    if opened > XML_DEPTH_LIMIT:
        with pytest.raises(IjdpError, match=f"nested over {XML_DEPTH_LIMIT:,} deep"):
            check_xml(io.BytesIO(text.encode()), "deep.rdf")
    else:
        check_xml(io.BytesIO(text.encode()), "deep.rdf")


def write_bomb(path: Path, megabytes: int, head: bytes = b"", item: bytes = b" ") -> None:
    """A gzip file that decompresses to about 1,000 times its size: `head`, then `item` repeated."""
    with gzip.open(path, "wb", compresslevel=6) as out:
        out.write(head)
        for _ in range(megabytes):
            out.write(item * (MIB // len(item)))


BIG = 24 * MIB   # over the 16 MiB a term may have


@pytest.mark.parametrize("name,make,wanted", [
    ("literal.nt", lambda p: p.write_text(f'<http://e/x> <{LABEL}> "{"a" * BIG}" .\n'), "16 MiB limit"),
    ("literal.ttl", lambda p: p.write_text(f'<http://e/x> <{LABEL}> """{"a" * BIG}""" .\n'), "16 MiB limit"),
    ("literal.jsonld", lambda p: p.write_text(f'{{"@id": "http://e/x", "{LABEL}": "{"a" * BIG}"}}'), "16 MiB limit"),
    ("literal.rdf", lambda p: p.write_text(rdfxml(f'<rdf:Description><rdfs:label>{"a" * BIG}</rdfs:label>'
                                                  "</rdf:Description>")), "a text (a literal) over the 16 MiB limit"),
    ("attribute.rdf", lambda p: p.write_text(rdfxml(f'<rdf:Description rdfs:label="{"a" * BIG}"/>')),
     "a tag, comment or declaration over the 16 MiB limit"),
    ("deep.rdf", lambda p: p.write_text(rdfxml("<rdf:Description><rdfs:seeAlso>" * 2500
                                               + "</rdfs:seeAlso></rdf:Description>" * 2500)), "nested over 1,000 deep"),
    ("field.csv", lambda p: p.write_text("id,name\nhttp://e/x," + "a" * (50 * MIB) + "\n"),
     "field.csv:2: a line over the 1,048,576-character limit"),
    ("field.tsv", lambda p: p.write_text("id\tname\nhttp://e/x\t" + "a" * (50 * MIB) + "\n"),
     "field.tsv:2: a line over the 1,048,576-character limit"),
    ("quoted.csv", lambda p: p.write_text('id,name\nhttp://e/x,"' + ("a" * 1000 + "\n") * 200 + '"\n'),
     "field larger than field limit (131072)"),
    ("bomb.nt.gz", lambda p: write_bomb(p, 70), "more than 100 times its size (a gzip bomb?)"),
    ("bomb.rdf.gz", lambda p: write_bomb(p, 70, f'<rdf:RDF {RDF_NS}>'.encode(),
                                         b'<rdf:Description rdfs:label="' + b"a" * 1000 + b'"/>'),
     "more than 100 times its size (a gzip bomb?)"),
    ("corrupt.nt.gz", lambda p: p.write_bytes(b"not gzip"), "cannot read: Not a gzipped file"),
    ("truncated.nt.gz", lambda p: p.write_bytes(gzip.compress("".join(
        f"<http://e/{i}> <http://e/p> <http://e/o> .\n" for i in range(999)).encode())[:300]),
     "cannot read: Compressed file ended"),
    ("latin1.csv", lambda p: p.write_bytes("id,name\nhttp://e/x,Sérvia\n".encode("latin-1")), "not UTF-8 text"),
])
def test_bounded_inputs_end_in_one_line_naming_the_file_and_the_limit(tmp_path, ours, name, make, wanted):
    target = tmp_path / name
    make(target)
    link_error(ours, target, wanted)


def test_a_bound_reaches_the_user_as_one_line(tmp_path):
    target = tmp_path / "field.csv"
    target.write_text("id,name\nhttp://e/x," + "a" * (2 * MIB) + "\n")
    one_line_error(CliRunner().invoke(main, ["link", "--target", str(target)]),
                   f"ijdp: {target}:2: a line over the 1,048,576-character limit")


def test_tsv_targets_link_like_csv(tmp_path):
    target = tmp_path / "countries.tsv"
    target.write_text("id\tname\ttype\nhttp://example.org/jp\tJapan\thttps://schema.org/Country\n")
    result = CliRunner().invoke(main, ["link", "--target", str(target)])
    assert result.exit_code == 0, result.output
    assert "ijdp:country/japan\tJapan\towl:sameAs\thttp://example.org/jp\t" in result.output


def test_query_data_files_are_read_with_entities_off(tmp_path):
    target = tmp_path / "laughs.rdf"
    target.write_text(laughs(9))
    one_line_error(CliRunner().invoke(main, ["query", "--data", str(target), "ASK {}"]), f"{target}:3:", "XML entity")


# ------------------------------------------------------------------------------ ijdp new-source

def first_line_title(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")[:200]


def written_metadata(text: str, title: str = "", kind: str = "") -> dict:
    with tempfile.TemporaryDirectory() as folder:
        document = Path(folder) / "document.txt"
        document.write_text(text, encoding="utf-8")
        made = new_source(document, "a-source", Path(folder) / "data", "2026-01-01", title=title, kind=kind)
        return tomllib.loads((made / "source.toml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("first_line", [
    r"C:\new\table of \u0041 contents \\", 'He said "no" \\" and \'yes\'', "tab\there, bell\a, escape\x1b, del\x7f",
    "nul\x00 and unit separator\x1f", '"""', "''' \\\\\\", "# not a comment", "= [x] {y}", "日本\u3000とインド",
])
def test_new_source_writes_valid_toml_whatever_the_first_line(first_line):
    metadata = written_metadata(first_line + "\nThe rest of the document.\n")
    assert metadata["title"] == first_line.strip()


def test_titles_and_kinds_given_are_written_back_exactly():
    metadata = written_metadata("A document.\n", title='Back\\slash "quoted"\x01', kind="press\trelease \\")
    assert metadata["title"] == 'Back\\slash "quoted"\x01' and metadata["kind"] == "press\trelease \\"
    assert written_metadata("The first line.\n", title=" \t ")["title"] == "The first line."


def test_a_made_source_reads_back_and_asks_only_for_what_is_missing(tmp_path):
    from ijdp.sources import read_source

    document = tmp_path / "document.txt"
    document.write_text('C:\\docs\\"mou".txt\nText.\n', encoding="utf-8")
    made = new_source(document, "a-source", tmp_path / "data", "2026-01-01")
    with pytest.raises(IjdpError, match="'kind' is required"):
        read_source(made)


@settings(max_examples=EXAMPLES * 2, deadline=None)
@given(first=st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=300), rest=st.text(max_size=50))
def test_generated_first_lines_round_trip_through_toml(first, rest):
    text = first + "\n" + rest
    assert written_metadata(text)["title"] == first_line_title(text)


# ------------------------------------------------------------------------------ the build never fetches

def data_copy(tmp_path) -> Path:
    folder = tmp_path / "data"
    shutil.copytree(REPO / "data", folder)
    return folder


def add_import(path: Path, graph_opening: str | None, target: str) -> int:
    """Put `<ontology> owl:imports <target>` into a file (inside the named graph that opens with graph_opening,
    or at the end); the line it is on."""
    statement = f"<https://w3id.org/ijdp/ontology> <http://www.w3.org/2002/07/owl#imports> <{target}> ."
    lines = path.read_text(encoding="utf-8").splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith(graph_opening)) + 1 if graph_opening else len(lines)
    lines.insert(at, "    " + statement if graph_opening else statement)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return at + 1


@pytest.mark.parametrize("where,opening,scheme", [
    (f"{MOC}/facts.trig", "q:title {", "http"), (f"{MOC}/facts.trig", "q:title {", "file"),
    ("curated.trig", None, "http"), ("codes.ttl", None, "http"),
], ids=["facts-http", "facts-file", "curated-http", "codes-http"])
def test_the_build_refuses_owl_imports_and_connects_nowhere(tmp_path, monkeypatch, listener, where, opening, scheme):
    folder = data_copy(tmp_path)
    evil = tmp_path / "evil.owl"
    evil.write_text('<http://evil.example/C> a <http://www.w3.org/2002/07/owl#Class> .\n')
    target = listener.url + "evil.owl" if scheme == "http" else evil.as_uri()
    if where == "curated.trig":
        opening = next(line for line in (folder / where).read_text().splitlines() if line.rstrip().endswith("{"))
    line = add_import(folder / where, opening, target)
    monkeypatch.setenv("IJDP_DATA_DIR", str(folder))
    result = CliRunner().invoke(main, ["build", "--data", str(folder), "--out", str(tmp_path / "dist")])
    one_line_error(result, f"{folder / where}:{line}: owl:imports <{target}> is refused: the build never fetches")
    assert listener.connections == 0
    assert not (tmp_path / "dist").exists()


def test_the_reasoner_never_follows_an_import(listener):
    from ijdp.reasoning import check_consistency, java_available

    if not java_available():
        pytest.skip("no Java runtime for HermiT")
    graph = load_graph(*resources.ontology_files(), catalogue=True)
    graph.add((URIRef("https://w3id.org/ijdp/ontology"), OWL.imports, URIRef(listener.url + "evil.owl")))
    check_consistency(graph)
    assert listener.connections == 0


def test_ontology_files_may_import_only_each_other(tmp_path):
    base = tmp_path / "base.ttl"
    base.write_text("<http://example.org/base> a <http://www.w3.org/2002/07/owl#Ontology> .\n")
    extension = tmp_path / "extension.ttl"
    extension.write_text("@prefix owl: <http://www.w3.org/2002/07/owl#> .\n"
                         "<http://example.org/extension> a owl:Ontology ;\n    owl:imports <http://example.org/base> .\n")
    assert len(load_graph(base, extension, catalogue=True)) == 3
    with pytest.raises(IjdpError, match=f"^{extension}:3: owl:imports <http://example.org/base> is refused"):
        load_graph(extension, catalogue=True)
    with pytest.raises(IjdpError, match="is refused"):
        load_graph(base, extension)          # data files import nothing


@pytest.mark.parametrize("name,text,wanted", [
    ("context.jsonld", '{"@context": "{url}context.jsonld", "@id": "http://e/x", "name": "x"}',
     "remote contexts"),
    ("context-list.jsonld", '{"@context": [{"@vocab": "http://e/"}, "{url}c"], "@id": "http://e/x", "name": "x"}',
     "remote contexts"),
    ("entity.rdf", rdfxml('<rdf:Description rdf:about="http://e/x"><rdfs:label>&x;</rdfs:label></rdf:Description>',
                          '<!DOCTYPE rdf:RDF [<!ENTITY x SYSTEM "{url}x">]>'), "declares an external XML entity 'x'"),
    ("imports.rdf", rdfxml('<owl:Ontology xmlns:owl="http://www.w3.org/2002/07/owl#" rdf:about="http://e/o">'
                           '<owl:imports rdf:resource="{url}evil.owl"/></owl:Ontology>'), "owl:imports"),
    ("imports.jsonld", '{"@id": "http://e/o", "http://www.w3.org/2002/07/owl#imports": {"@id": "{url}evil.owl"}}',
     "owl:imports"),
])
def test_validate_reads_other_formats_without_fetching(tmp_path, listener, name, text, wanted):
    path = tmp_path / name
    path.write_text(text.replace("{url}", listener.url))
    one_line_error(CliRunner().invoke(main, ["validate", str(path)]), str(path), wanted)
    assert listener.connections == 0


def test_validate_still_reads_jsonld_and_rdfxml(tmp_path):
    graph = Graph()
    graph.add((URIRef("http://example.org/x"), URIRef(LABEL), Literal("x", lang="en")))
    for fmt, name in (("json-ld", "x.jsonld"), ("xml", "x.rdf")):
        graph.serialize(tmp_path / name, format=fmt)
        assert len(load_graph(tmp_path / name)) == 1


# ------------------------------------------------------------------------------ the admin token

@pytest.fixture
def served(monkeypatch, tmp_path):
    """Run `ijdp serve` up to the point it would start serving; the settings it would serve with."""
    import ijdp.serve

    seen = {}
    monkeypatch.setattr(ijdp.serve, "run", lambda settings, store: seen.update(settings=settings))
    monkeypatch.delenv("IJDP_ADMIN_TOKEN", raising=False)

    def serve(*args, env=None):
        result = CliRunner().invoke(main, ["serve", "--store", "memory", "--dist", str(tmp_path), *args], env=env)
        return result, seen.pop("settings", None)
    return serve


def test_the_admin_token_comes_from_the_environment_or_a_file(served, tmp_path):
    result, settings = served(env={"IJDP_ADMIN_TOKEN": "from-env"})
    assert result.exit_code == 0, result.output
    assert settings.admin_token == "from-env" and "warning" not in result.output
    token_file = tmp_path / "token"
    token_file.write_text("from-file\n")
    result, settings = served("--admin-token-file", str(token_file))
    assert result.exit_code == 0, result.output
    assert settings.admin_token == "from-file" and "warning" not in result.output


def test_the_admin_token_on_the_command_line_works_and_warns(served):
    result, settings = served("--admin-token", "on-the-line")
    assert result.exit_code == 0, result.output
    assert settings.admin_token == "on-the-line"
    warnings = [line for line in result.output.splitlines() if "warning" in line]
    assert warnings == ["ijdp: warning: --admin-token is readable in the process list; use IJDP_ADMIN_TOKEN or "
                        "--admin-token-file instead"]


def test_the_admin_token_is_given_once(served, tmp_path):
    empty = tmp_path / "empty"
    empty.write_text("\n")
    token_file = tmp_path / "token"
    token_file.write_text("t\n")
    result, settings = served("--admin-token-file", str(empty))
    assert result.exit_code == 2 and "the first line is empty" in result.output and settings is None
    result, settings = served("--admin-token-file", str(token_file), env={"IJDP_ADMIN_TOKEN": "t2"})
    assert result.exit_code == 2 and "give the admin token once" in result.output and settings is None


def test_an_sssom_table_whose_yaml_block_uses_aliases_is_refused_in_one_line(tmp_path):
    """A YAML alias bomb in the metadata block: refused before anything is expanded."""
    from ijdp.errors import IjdpError
    from ijdp.links import read_sssom

    lines = ["# a: &a [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"# {chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
              f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]"
              for i in range(9)]
    table = tmp_path / "bomb.sssom.tsv"
    table.write_text("\n".join(lines) + "\nsubject_id\tpredicate_id\tobject_id\tmapping_justification\n")
    with pytest.raises(IjdpError) as refused:
        read_sssom(table)
    assert str(refused.value).startswith(f"{table}: the YAML metadata block uses an alias")
