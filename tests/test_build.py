"""ijdp build: dumps in every format, graphs kept apart or merged, stable bytes, atomic writes."""
import gzip
import hashlib
import shutil

from pathlib import Path

import pytest
import rdflib
from click.testing import CliRunner

from conftest import MOC, REPO
from ijdp import resources
from ijdp.build import build_publication, write_dumps
from ijdp.cli import main
from ijdp.errors import IjdpError
from ijdp.formats import RDF_FORMATS
from ijdp.vocab import GRAPH_NAMES, graph_iri

GRAPH_FORMATS = [f for f in RDF_FORMATS if f.keeps_graphs]
MERGED_FORMATS = [f for f in RDF_FORMATS if not f.keeps_graphs]


@pytest.mark.parametrize("fmt", GRAPH_FORMATS, ids=lambda f: f.name)
def test_graph_dumps_keep_the_named_graphs_apart(dist, publication, fmt):
    dataset = rdflib.Dataset()
    dataset.parse(dist / f"ijdp.{fmt.extension}", format=fmt.rdflib_name)
    for name in GRAPH_NAMES:
        graph = dataset.graph(graph_iri(name))
        assert len(graph) == len(publication.graphs[name]), name


@pytest.mark.parametrize("fmt", MERGED_FORMATS, ids=lambda f: f.name)
def test_triple_dumps_merge_the_graphs(dist, publication, fmt):
    graph = rdflib.Graph()
    graph.parse(dist / f"ijdp.{fmt.extension}", format=fmt.rdflib_name)
    assert len(graph) == len(publication.merged())


@pytest.mark.parametrize("fmt", RDF_FORMATS, ids=lambda f: f.name)
def test_gzipped_dump_is_the_plain_dump(dist, fmt):
    plain = dist / f"ijdp.{fmt.extension}"
    assert gzip.decompress((dist / f"ijdp.{fmt.extension}.gz").read_bytes()) == plain.read_bytes()


def test_sha256sums_match_the_files(dist):
    lines = (dist / "SHA256SUMS").read_text().splitlines()
    assert len(lines) >= 14
    for line in lines:
        digest, name = line.split("  ")
        assert hashlib.sha256((dist / name).read_bytes()).hexdigest() == digest


def test_jsonld_dump_uses_the_published_context(dist):
    import json
    context = json.loads((dist / "context.jsonld").read_text())["@context"]
    dump = json.loads((dist / "ijdp.jsonld").read_text())
    assert dump["@context"] == context
    assert context["ijdp"] == "https://w3id.org/ijdp/ontology#"


def test_n_triples_are_sorted_and_byte_stable(built, tmp_path):
    publication, report, dist = built
    again = tmp_path / "again"
    write_dumps(publication, report, again)
    for name in ("ijdp.nt", "ijdp.nq", "ijdp.nt.gz", "ijdp.nq.gz"):
        assert (again / name).read_bytes() == (dist / name).read_bytes(), name
    lines = (dist / "ijdp.nt").read_text(encoding="utf-8").splitlines()
    assert lines == sorted(lines)


def test_a_second_full_build_gives_the_same_n_triples(dist, tmp_path):
    publication, report = build_publication()
    write_dumps(publication, report, tmp_path / "second")
    assert (tmp_path / "second" / "ijdp.nt").read_bytes() == (dist / "ijdp.nt").read_bytes()


def test_every_dump_is_byte_stable_across_hash_seeds(tmp_path):
    """Two builds in separate processes with different PYTHONHASHSEED write the same bytes (build.json aside)."""
    import os
    import subprocess
    import sys

    ijdp = Path(sys.executable).with_name("ijdp")
    for seed in ("1", "2"):
        done = subprocess.run([str(ijdp), "build", "--out", str(tmp_path / seed), "--skip-reasoner"],
                              env={**os.environ, "PYTHONHASHSEED": seed}, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
    written = sorted(p.name for p in (tmp_path / "1").iterdir() if p.is_file() and p.name != "build.json")
    assert {"ijdp.trig", "ijdp.rdf", "ijdp.jsonld", "ijdp.trig.gz", "SHA256SUMS"} <= set(written)
    changed = [name for name in written if (tmp_path / "1" / name).read_bytes() != (tmp_path / "2" / name).read_bytes()]
    assert changed == []


def test_base_iri_rewrites_every_published_iri(built, tmp_path):
    publication, report, _ = built
    write_dumps(publication, report, tmp_path / "local", base="http://127.0.0.1:8000/")
    text = (tmp_path / "local" / "ijdp.nt").read_text(encoding="utf-8")
    assert "https://w3id.org/ijdp/" not in text, [line for line in text.splitlines() if "https://w3id.org/ijdp/" in line][:3]
    assert "<http://127.0.0.1:8000/id/agreement/semiconductor-supply-chain-moc-2023>" in text


@pytest.fixture
def broken_data(tmp_path, monkeypatch):
    """A copy of data/ whose facts file has a syntax error on line 3."""
    folder = tmp_path / "data"
    shutil.copytree(REPO / "data", folder)
    lines = (folder / MOC / "facts.trig").read_text(encoding="utf-8").splitlines(keepends=True)
    lines.insert(2, "this is not turtle\n")
    (folder / MOC / "facts.trig").write_text("".join(lines), encoding="utf-8")
    monkeypatch.setattr(resources, "data_folder", lambda: folder)
    return folder


def test_syntax_error_names_file_and_line_and_keeps_previous_dist(broken_data, tmp_path):
    out = tmp_path / "dist"
    out.mkdir()
    (out / "previous.txt").write_text("from the last good build")
    result = CliRunner().invoke(main, ["build", "--out", str(out)])
    assert result.exit_code == 2
    assert f"{broken_data / MOC / 'facts.trig'}:3:" in result.output
    assert "syntax error" in result.output
    assert "Traceback" not in result.output
    assert [p.name for p in out.iterdir()] == ["previous.txt"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".dist")]


def test_failure_while_writing_leaves_previous_dist_intact(built, tmp_path, monkeypatch):
    publication, report, _ = built
    out = tmp_path / "dist"
    out.mkdir()
    (out / "previous.txt").write_text("keep me")
    import ijdp.build as build_module

    def exploding(*args, **kwargs):
        raise OSError("disk full")
    monkeypatch.setattr(build_module, "_gzip", exploding)
    with pytest.raises(OSError):
        write_dumps(publication, report, out)
    assert [p.name for p in out.iterdir()] == ["previous.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dist"]


def test_quote_missing_from_snapshot_stops_the_build(tmp_path, monkeypatch):
    folder = tmp_path / "data"
    shutil.copytree(REPO / "data", folder)
    facts = folder / MOC / "facts.trig"
    facts.write_text(facts.read_text(encoding="utf-8").replace("signed in July, 2023", "signed in June, 2023"), encoding="utf-8")
    monkeypatch.setattr(resources, "data_folder", lambda: folder)
    with pytest.raises(IjdpError, match="does not occur in the source snapshot"):
        build_publication(skip_reasoner=True)


def test_shacl_violation_stops_the_build(tmp_path, monkeypatch):
    folder = tmp_path / "data"
    shutil.copytree(REPO / "data", folder)
    facts = folder / MOC / "facts.trig"
    text = facts.read_text(encoding="utf-8").replace('foaf:name "Narendra Modi" ;', 'foaf:name "Narendra Modi" , "N. Modi" ;')
    facts.write_text(text, encoding="utf-8")
    monkeypatch.setattr(resources, "data_folder", lambda: folder)
    result = CliRunner().invoke(main, ["build", "--out", str(tmp_path / "dist"), "--skip-reasoner"])
    assert result.exit_code == 1
    assert "http://xmlns.com/foaf/0.1/name" in result.output
    assert not (tmp_path / "dist").exists()


def test_skip_reasoner_builds_and_warns(tmp_path):
    result = CliRunner().invoke(main, ["build", "--out", str(tmp_path / "dist"), "--skip-reasoner"])
    assert result.exit_code == 0, result.output
    assert "NOT run" in result.output
    assert (tmp_path / "dist" / "ijdp.ttl").exists()


def test_build_can_fill_an_on_disk_store(tmp_path):
    import pyoxigraph
    result = CliRunner().invoke(main, ["build", "--out", str(tmp_path / "dist"), "--skip-reasoner",
                                       "--store", f"oxigraph:{tmp_path / 'store'}"])
    assert result.exit_code == 0, result.output
    store = pyoxigraph.Store.read_only(str(tmp_path / "store"))
    assert len(store) == sum(1 for line in (tmp_path / "dist" / "ijdp.nq").read_text().splitlines() if line.strip())
    result = CliRunner().invoke(main, ["build", "--out", str(tmp_path / "dist"), "--skip-reasoner", "--store", "memory"])
    assert result.exit_code == 2 and "oxigraph:PATH" in result.output
