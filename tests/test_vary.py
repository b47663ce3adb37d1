"""Vary wherever the answer varies: every GET route of the app, asked with several Accept (and Accept-Language,
Origin) values; wherever the answers differ, every one of them (the default, a 304, a 406) names the header in
Vary. And through the nginx deployment: two formats of one URL asked in turn come back each in its own."""
from __future__ import annotations

import json
import shutil
from urllib.parse import quote

import pytest

from test_deploy import cluster, get  # noqa: F401  (the deployment's fixture, reused)

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
# Each path is asked with the first six; a path whose answers differ is asked with all, each answer checked.
ACCEPTS = ("", BROWSER, "text/turtle", "text/tab-separated-values", "application/sparql-results+json", "image/png",
           "*/*", "application/ld+json", "application/n-triples", "text/csv")
PROBES = 6
OTHER_HEADERS = {"Accept-Language": ("en", "ja;q=0.9, fr;q=0.5"), "Origin": ("https://a.example", "null")}
# The deployment's answers stay fresh 2 s: a later one may be revalidated or served stale while it is.
FROM_THE_CACHE = ("HIT", "REVALIDATED", "UPDATING", "STALE")
BASE = "https://w3id.org/ijdp/"
QUERIES = ("", "SELECT ?label WHERE { <https://w3id.org/ijdp/id/country/japan> ?p ?label } ORDER BY ?label",
           "ASK {}", "CONSTRUCT { <https://w3id.org/ijdp/id/country/japan> ?p ?o } "
                     "WHERE { <https://w3id.org/ijdp/id/country/japan> ?p ?o }")


def select(client, query: str) -> list[str]:
    answer = client.get("/sparql", query_string={"query": query},
                        headers={"Accept": "application/sparql-results+json"})
    return [next(iter(row.values()))["value"] for row in json.loads(answer.data)["results"]["bindings"]]


def route_paths(app, dist) -> dict[str, list[str]]:
    """Real paths for every GET route of the app, from the built publication (a few of each kind)."""
    from ijdp.examples import examples
    from ijdp.formats import DOCUMENT_FORMATS
    from ijdp.ui import CYTOSCAPE_FILE, YASGUI_FILES

    client = app.test_client()
    things = select(client, f"SELECT DISTINCT ?s WHERE {{ ?s ?p ?o FILTER(STRSTARTS(STR(?s), '{BASE}id/')) }} "
                            "ORDER BY ?s LIMIT 400")
    resources = [things[len(things) // 2][len(BASE) + 3:], "agreement/semiconductor-supply-chain-moc-2023"]
    graphs = [g[len(BASE) + 6:] for g in select(client, "SELECT DISTINCT ?g WHERE { GRAPH ?g {} } ORDER BY ?g")
              if g.startswith(BASE + "graph/")]
    sources = [s["slug"] for s in json.loads((dist / "sources.json").read_text())]
    dumps = sorted(json.loads((dist / "build.json").read_text())["files"])
    suffixes = [f.extension for f in DOCUMENT_FORMATS][:2]      # a suffix fixes the format: two of them will do
    names = [e.name for e in examples()][:3]
    return {
        "/": [""], "/healthz": ["healthz"], "/browse": ["browse", "browse?q=semiconductor"],
        "/browse/<path:name>": ["browse/org:Organization", "browse/org:Organization.csv"], "/search": ["search?q=meity"],
        "/id/<path:rest>": [f"id/{r}" for r in resources],
        "/doc/<path:rest>": [f"doc/{r}" for r in resources] + [f"doc/{resources[-1]}.ttl"],
        "/citation.bib": ["citation.bib"], "/citation.json": ["citation.json"],
        "/graph/<name>": [f"graph/{g}" for g in graphs] + [f"graph/{graphs[0]}.ttl"],
        "/mappings/<name>": ["mappings/links", "mappings/links.ttl", "mappings/links.sssom.tsv"],
        "/ontology": ["ontology"], "/ontology.<extension>": [f"ontology.{s}" for s in suffixes],
        "/ontology/<version>": ["ontology/1.0.0"],
        "/shapes": ["shapes"], "/shapes.ttl": ["shapes.ttl"], "/shapes/report": ["shapes/report"],
        "/source/": ["source/"], "/source": ["source"], "/sources": ["sources"],
        "/source/<name>/coverage": [f"source/{s}/coverage" for s in sources],
        "/source/<name>/coverage.json": [f"source/{s}/coverage.json" for s in sources],
        "/source/<name>": [f"source/{s}{x}" for s in sources for x in ("", ".txt", ".ttl")],
        "/dumps": ["dumps"], "/dumps/": ["dumps/"], "/dumps/<version>/": ["dumps/latest/"],
        "/dumps/<version>/<path:name>": [f"dumps/latest/{d}" for d in dumps],
        "/context.jsonld": ["context.jsonld"],
        "/.well-known/void": [".well-known/void"], "/.well-known/void.<extension>": [f".well-known/void.{s}" for s in suffixes],
        "/catalog": ["catalog"], "/catalog.<extension>": [f"catalog.{s}" for s in suffixes],
        "/sparql": ["sparql" + (f"?query={quote(q)}" if q else "") for q in QUERIES],
        "/sparql/description": ["sparql/description"],
        "/sparql/description.<extension>": [f"sparql/description.{s}" for s in suffixes],
        "/ui/vendor/<name>": [f"ui/vendor/{n}" for n in (*YASGUI_FILES, CYTOSCAPE_FILE)],
        "/ui/<name>": ["ui/ijdp-ui.js", "ui/ijdp-charts.js"],
        "/queries/<name>.rq": [f"queries/{n}.rq" for n in names],
        "/timeline": ["timeline"], "/graph-view": ["graph-view"],
        "/problems/": ["problems/"], "/problems/<kind>": ["problems/not-found", "problems/no-such-problem"],
    }


def shown(response) -> tuple:
    return response.status_code, response.headers.get("Content-Type"), response.get_data()


def names(response) -> set[str]:
    return {v.strip().lower() for v in response.headers.get("Vary", "").split(",") if v.strip()}


def test_every_route_that_answers_by_a_header_names_it_in_vary_on_every_answer(app, dist):
    paths = route_paths(app, dist)
    rules = {rule.rule for rule in app.url_map.iter_rules() if "GET" in rule.methods and rule.endpoint != "static"}
    assert rules <= set(paths), f"routes with no example path in this test: {sorted(rules - set(paths))}"
    client, negotiating, checked = app.test_client(), [], 0
    for rule in sorted(rules):
        for path in paths[rule]:
            def ask(accept, **headers):
                return client.get("/" + path, headers={**({"Accept": accept} if accept else {}), **headers})

            answers = {accept: ask(accept) for accept in ACCEPTS[:PROBES]}
            # A body that changes between two identical requests (the health check's counter) is compared by kind.
            key = shown if shown(ask("")) == shown(answers[""]) else (lambda r: shown(r)[:2])
            checked += 1
            if len({key(a) for a in answers.values()}) > 1:
                negotiating.append(path)
                answers.update((accept, ask(accept)) for accept in ACCEPTS[PROBES:])
                revalidated = set()
                for accept, answer in answers.items():
                    assert "accept" in names(answer), (path, accept, answer.status_code, dict(answer.headers))
                    etag = answer.headers.get("ETag")
                    if answer.status_code == 200 and etag and answer.mimetype not in revalidated:
                        revalidated.add(answer.mimetype)       # a 304 of each representation
                        held = ask(accept, **{"If-None-Match": etag})
                        assert held.status_code == 304 and "accept" in names(held), (path, accept, held.status_code)

            def differ(first, second) -> bool:
                return key(first) != key(second) or any(first.headers.get(h) != second.headers.get(h)
                                                        for h in ("Access-Control-Allow-Origin", "Content-Language"))

            if differ(*(ask("", **{h: v[i] for h, v in OTHER_HEADERS.items()}) for i in (0, 1))):
                for header, values in OTHER_HEADERS.items():
                    first, second = (ask("", **{header: v}) for v in values)
                    if differ(first, second):
                        assert header.lower() in names(first) and header.lower() in names(second), (path, header)
    assert checked > 60
    # The routes known to negotiate are among those found to (the walk is not vacuous).
    for path in ("mappings/links", "doc/agreement/semiconductor-supply-chain-moc-2023", "ontology", "sparql",
                 ".well-known/void", "catalog", "sparql/description", "shapes", f"sparql?query={quote(QUERIES[1])}"):
        assert path in negotiating, path


def test_answers_chosen_by_no_header_carry_no_vary(app):
    client = app.test_client()
    for path in ("/dumps/latest/ijdp.nt", "/ontology.ttl", "/mappings/links.ttl", "/citation.bib", "/healthz"):
        answer = client.get(path, headers={"Accept": "text/html"})
        assert answer.status_code == 200 and "accept" not in names(answer), (path, answer.headers.get("Vary"))


def test_the_mapping_table_says_it_varies(app):
    """The case found: /mappings/links as TSV had no Vary, so a shared cache gave it to browsers."""
    client = app.test_client()
    table = client.get("/mappings/links", headers={"Accept": "text/tab-separated-values"})
    page = client.get("/mappings/links", headers={"Accept": BROWSER})
    assert table.mimetype == "text/tab-separated-values" and page.mimetype == "text/html"
    assert "accept" in names(table) and "accept" in names(page)
    held = client.get("/mappings/links", headers={"Accept": "text/tab-separated-values",
                                                  "If-None-Match": table.headers["ETag"]})
    assert held.status_code == 304 and "accept" in names(held)


# ---------------------------------------------------------------- through the deployment

@pytest.mark.skipif(shutil.which("nginx") is None,
                    reason="nginx is not installed (`make nginx` installs Debian's nginx-light)")
def test_a_shared_cache_gives_each_format_its_own_answer(cluster):
    """Through nginx (deploy/cluster.py): a TSV then a browser's HTML; a SPARQL GET as CSV then JSON; each
    answer in the format asked, and each asked again comes from the cache."""
    url = cluster["url"]
    query = url + "sparql?query=" + quote("SELECT ?label WHERE { <https://w3id.org/ijdp/id/country/japan> ?p ?label } "
                                          "ORDER BY ?label")
    for target, asked in ((url + "mappings/links", ("text/tab-separated-values", BROWSER, "text/turtle")),
                          (query, ("text/csv", "application/sparql-results+json", BROWSER))):
        for accept in asked:
            status, headers, _ = get(target, {"Accept": accept})
            assert status == 200 and headers["X-Cache-Status"] in ("MISS", "EXPIRED"), (target, accept, headers)
        for _ in range(2):
            for accept in asked:
                status, headers, body = get(target, {"Accept": accept})
                wanted = "text/html" if accept == BROWSER else accept
                assert status == 200 and headers["Content-Type"].split(";")[0] == wanted, (target, accept, headers)
                assert headers["X-Cache-Status"] in FROM_THE_CACHE, (target, accept, headers)
                assert (b"<html" in body[:200].lower()) == (accept == BROWSER)

