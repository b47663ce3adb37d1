"""HTTP caching for shared caches: freshness, strong validators from the data's version and the request's
meaning, 304s without work, nothing stored for POST answers and errors, new validators after an update."""
from __future__ import annotations

import json

import pytest

from conftest import make_app

QUERY = {"query": "SELECT ?label WHERE { <https://w3id.org/ijdp/id/country/japan> ?p ?label } ORDER BY ?label"}
JSON = {"Accept": "application/sparql-results+json"}


def shared_cacheable(response):
    control = {part.strip().split("=")[0]: part.strip() for part in response.headers["Cache-Control"].split(",")}
    assert "public" in control and control["max-age"] == "max-age=300"
    assert control["stale-while-revalidate"] == "stale-while-revalidate=60"
    assert control["stale-if-error"] == "stale-if-error=86400"
    etag, weak = response.get_etag()
    assert etag and not weak
    return etag


@pytest.mark.parametrize("path,headers", [
    ("/sparql?" + "&".join(f"{k}={v}" for k, v in {"query": "ASK%20%7B%7D"}.items()), JSON),
    ("/doc/country/japan", {"Accept": "text/turtle"}),
    ("/doc/country/japan", {"Accept": "text/html"}),
    ("/.well-known/void", {"Accept": "text/turtle"}),
    ("/catalog", {"Accept": "application/ld+json"}),
    ("/sparql", {"Accept": "text/turtle"}),                  # the service description
    ("/sparql/description", {"Accept": "text/turtle"}),
    ("/ontology", {"Accept": "text/turtle"}),
    ("/dumps/latest/ijdp.nt", {}),
    ("/source/india-japan-semiconductor-moc.txt", {}),
    ("/browse?q=semiconductor", {}),
])
def test_every_get_answer_is_cacheable_and_revalidates_to_304(client, path, headers):
    first = client.get(path, headers=headers)
    assert first.status_code == 200, first.get_data(as_text=True)[:300]
    etag = shared_cacheable(first)
    again = client.get(path, headers={**headers, "If-None-Match": f'"{etag}"'})
    assert again.status_code == 304 and again.data == b""
    assert again.get_etag()[0] == etag and "max-age=300" in again.headers["Cache-Control"]


def test_negotiated_answers_vary_on_accept_and_validators_follow_the_format(client):
    as_json = client.get("/sparql", query_string=QUERY, headers=JSON)
    as_xml = client.get("/sparql", query_string=QUERY, headers={"Accept": "application/sparql-results+xml"})
    same_format = client.get("/sparql", query_string=QUERY,
                             headers={"Accept": "application/sparql-results+json, */*;q=0.1"})
    assert "Accept" in as_json.headers["Vary"]
    assert as_json.get_etag()[0] != as_xml.get_etag()[0]
    assert as_json.get_etag()[0] == same_format.get_etag()[0]        # the negotiated format, not the header's text
    other_graph = client.get("/sparql", query_string={**QUERY, "default-graph-uri": "https://w3id.org/ijdp/graph/facts"},
                             headers=JSON)
    assert other_graph.get_etag()[0] != as_json.get_etag()[0]
    assert client.get("/dumps/latest/ijdp.nt").headers.get("Vary") is None   # one representation: no Vary


def test_a_304_runs_no_query(client, app, monkeypatch):
    etag = client.get("/sparql", query_string=QUERY, headers=JSON).get_etag()[0]
    app.extensions["ijdp_response_cache"].max_bytes = 0      # nothing answered from the answer cache either

    def must_not_run(*args, **kwargs):
        raise AssertionError("a query ran for a conditional request the client holds")
    monkeypatch.setattr(app.extensions["ijdp_pool"], "run", must_not_run)
    held = client.get("/sparql", query_string=QUERY, headers={**JSON, "If-None-Match": f'"{etag}"'})
    assert held.status_code == 304


def test_dump_validators_are_the_files_checksums(client, dist):
    info = json.loads((dist / "build.json").read_text())
    response = client.get("/dumps/latest/ijdp.ttl")
    assert response.get_etag() == (info["files"]["ijdp.ttl"]["sha256"], False)
    shared_cacheable(response)


def test_post_answers_and_errors_are_never_stored(client):
    posted = client.post("/sparql", data=QUERY, headers=JSON)
    assert posted.status_code == 200 and posted.headers["Cache-Control"] == "no-store" and "ETag" not in posted.headers
    for response in (client.get("/sparql", query_string={"query": "SELECT WHERE {"}),
                     client.get("/doc/country/atlantis"),
                     client.get("/sparql", query_string=QUERY, headers={"Accept": "image/png"})):
        assert response.status_code >= 400
        assert response.headers["Cache-Control"] == "no-store" and "ETag" not in response.headers
    assert client.get("/healthz").headers["Cache-Control"] == "no-store"


def test_replicas_of_one_build_give_the_same_validators(client, prepared_store, dist):
    """Two servers on the same dist/ agree, so a cache may revalidate against either."""
    other = make_app(prepared_store, dist)
    try:
        for path, headers in (("/sparql?query=ASK%20%7B%7D", JSON), ("/doc/country/japan", {"Accept": "text/turtle"})):
            assert other.test_client().get(path, headers=headers).get_etag() == client.get(path, headers=headers).get_etag()
    finally:
        other.extensions["ijdp_pool"].close()




def test_an_update_changes_every_validator(admin_app):
    client = admin_app.test_client()
    paths = [("/sparql?query=ASK%20%7B%7D", JSON), ("/doc/country/japan", {"Accept": "text/turtle"}),
             ("/.well-known/void", {"Accept": "text/turtle"}), ("/ontology", {"Accept": "text/turtle"})]
    before = {path: client.get(path, headers=headers).get_etag()[0] for path, headers in paths}
    modified = client.get("/doc/country/japan", headers={"Accept": "text/turtle"}).last_modified
    done = client.post("/sparql/update", data="INSERT DATA { <http://example.org/a> <http://example.org/b> 1 }",
                       content_type="application/sparql-update", headers={"Authorization": "Bearer s3cret"})
    assert done.status_code == 200
    after = {path: client.get(path, headers=headers) for path, headers in paths}
    assert all(after[path].get_etag()[0] != before[path] for path, _ in paths)
    assert after["/doc/country/japan"].last_modified >= modified
    # a client holding the old answer gets the new one, not a 304
    stale = client.get(paths[0][0], headers={**JSON, "If-None-Match": f'"{before[paths[0][0]]}"'})
    assert stale.status_code == 200
