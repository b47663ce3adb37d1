"""ijdp load --store sparql:URL: push every named graph to a SPARQL server.

Each graph goes first into a staging graph (by the Graph Store Protocol, or by
SPARQL UPDATE in chunks), its triple count is checked, and only when every
graph is staged are they all moved into place in one update request. A failure
before that leaves the previous version queryable and names the graph that failed.
"""
from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections import defaultdict
from pathlib import Path

import pyoxigraph

from .errors import IjdpError
from .store import dump_path

CHUNK = 250  # triples per INSERT DATA request (Virtuoso compiles each into SQL, with a size limit)


def _opener(urls, user: str | None, password: str | None):
    if not user:
        return urllib.request.build_opener()
    manager = urllib.request.HTTPPasswordMgrWithDefaultRealm()
    for url in urls:
        manager.add_password(None, url, user, password or "")
    return urllib.request.build_opener(urllib.request.HTTPDigestAuthHandler(manager),
                                       urllib.request.HTTPBasicAuthHandler(manager))


class Remote:
    def __init__(self, query_url, update_url, gsp_url, user, password):
        self.query_url, self.update_url, self.gsp_url = query_url, update_url or query_url, gsp_url
        self.opener = _opener([u for u in (query_url, self.update_url, gsp_url) if u], user, password)

    def _send(self, request, what):
        try:
            with self.opener.open(request, timeout=300) as response:
                return response.read()
        except urllib.error.HTTPError as err:
            raise IjdpError(f"{what}: HTTP {err.code}: {err.read()[:300].decode('utf-8', 'replace')}") from None
        except urllib.error.URLError as err:
            raise IjdpError(f"{what}: cannot reach the server: {err.reason}") from None

    def update(self, text: str, what: str):
        data = urllib.parse.urlencode({"update": text}).encode()
        self._send(urllib.request.Request(self.update_url, data=data, method="POST",
                                          headers={"Content-Type": "application/x-www-form-urlencoded"}), what)

    def put_graph(self, graph: str, ntriples: bytes, what: str):
        separator = "&" if "?" in self.gsp_url else "?"
        url = f"{self.gsp_url}{separator}{urllib.parse.urlencode({'graph': graph})}"
        self._send(urllib.request.Request(url, data=ntriples, method="PUT",
                                          headers={"Content-Type": "application/n-triples"}), what)

    def count(self, graph: str) -> int:
        query = f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}"
        data = urllib.parse.urlencode({"query": query}).encode()
        body = self._send(urllib.request.Request(self.query_url, data=data, method="POST", headers={
            "Content-Type": "application/x-www-form-urlencoded", "Accept": "application/sparql-results+json"}),
            f"counting <{graph}>")
        bindings = json.loads(body)["results"]["bindings"]
        return int(bindings[0]["n"]["value"]) if bindings else 0


def graphs_of(dist) -> dict:
    """N-Triples lines of the built N-Quads dump, by graph."""
    graphs = defaultdict(list)
    for quad in pyoxigraph.parse(path=str(dump_path(dist)), format=pyoxigraph.RdfFormat.N_QUADS):
        graphs[quad.graph_name.value].append(f"{quad.subject} {quad.predicate} {quad.object} .")
    return graphs


def push_graphs(dist, url, update_url=None, gsp_url=None, user=None, password=None, graph_prefix=None):
    if not Path(dump_path(dist)).exists():
        raise IjdpError(f"{dump_path(dist)} does not exist: run `ijdp build` first")
    remote = Remote(url, update_url, gsp_url, user, password)
    graphs = graphs_of(dist)
    version = json.loads((Path(dist) / "build.json").read_text()).get("version", "new")
    targets = {}
    for graph, lines in sorted(graphs.items()):
        name = graph.rsplit("/", 1)[-1]
        target = f"{graph_prefix}{name}" if graph_prefix else graph
        staging = f"{target}--staging-{version}"
        what = f"graph {name} (staging <{staging}>)"
        try:
            remote.update(f"DROP SILENT GRAPH <{staging}>", what)
            if gsp_url:
                remote.put_graph(staging, ("\n".join(lines) + "\n").encode("utf-8"), what)
            else:
                for start in range(0, len(lines), CHUNK):
                    chunk = "\n".join(lines[start:start + CHUNK])
                    remote.update(f"INSERT DATA {{ GRAPH <{staging}> {{\n{chunk}\n}} }}", what)
            counted = remote.count(staging)
            if counted != len(lines):
                raise IjdpError(f"{what}: {counted} triples arrived, {len(lines)} were sent")
        except IjdpError as err:
            remote.update(f"DROP SILENT GRAPH <{staging}>", what) if "cannot reach" not in str(err) else None
            raise IjdpError(f"loading stopped at {err}; the previous version of every graph is still in place") from None
        targets[target] = (staging, len(lines))
        yield f"staged {name}: {len(lines)} triples"
    # Every graph is staged and counted: switch them all in one request.
    remote.update(" ;\n".join(f"MOVE SILENT <{staging}> TO <{target}>" for target, (staging, _) in targets.items()),
                  "switching the staged graphs into place")
    for target, (_, expected) in targets.items():
        counted = remote.count(target)
        if counted != expected:
            raise IjdpError(f"after the switch <{target}> holds {counted} triples, expected {expected}")
        yield f"loaded <{target}>: {counted} triples (verified)"
