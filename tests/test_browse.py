"""Browsing without SPARQL: classes with counts, ranked search with highlights and facets, everything reachable."""
from __future__ import annotations

import html
import re
from urllib.parse import quote, urljoin, urlsplit

import pytest
import rdflib

ONTOLOGY = "https://w3id.org/ijdp/ontology#"


def page(client, path: str) -> str:
    response = client.get(path, headers={"Accept": "text/html"})
    assert response.status_code == 200, (path, response.status_code)
    return response.get_data(as_text=True)


def test_browse_lists_every_class_with_its_count(client, publication):
    text = page(client, "/browse")
    facts = publication.graphs["facts"]
    for cls, label in ((ONTOLOGY + "Ministry", "ministry"), (ONTOLOGY + "FacilityType", "facility type")):
        members = {s for s in facts.subjects(rdflib.RDF.type, rdflib.URIRef(cls))}
        slug = "ijdp:" + cls[len(ONTOLOGY):]
        assert f'<a href="/browse/{slug}">{label}</a> ({len(members)})' in text
        # The class listing's old address leads to the class's table, which has a row for each member.
        old = client.get(f"/browse?type={quote(cls, safe='')}", headers={"Accept": "text/html"})
        assert old.status_code == 301 and old.headers["Location"].endswith(f"/browse/{slug}")
        listed = page(client, f"/browse/{slug}")
        assert len(re.findall(r'<tr><th scope="row"><a href="/id/', listed)) == len(members)


def first_hit(text: str) -> str:
    """The link of the best hit: the first hit of the results (grouped under their quotes or alone)."""
    from htmltree import parse
    results = parse(text).first("ol", class_="results")
    return next(a.attrs["href"] for li in results.all("li") if "quote-group" not in li.attrs.get("class", "")
                for a in li.elements() if a.tag == "a")


def test_search_ranks_highlights_and_counts_by_type(client):
    text = page(client, "/browse?q=display+fab")
    results = text.split('<ol class="results">', 1)[1].split("</ol>", 1)[0]
    first = re.search(r'<li><a href="([^"]+)">(.*?)</a>', results)
    assert first.group(1) == "/id/concept/facility-type/display-fab"
    assert first.group(2) == "<mark>Display</mark> <mark>fab</mark>"
    assert "facility type (8)</a>" in text
    narrowed = page(client, f"/browse?q=display+fab&type={quote(ONTOLOGY + 'FacilityType', safe='')}")
    rows = narrowed.split('<ol class="results">', 1)[1].split("</ol>", 1)[0].count("<li>")
    assert rows == 8


def test_search_finds_words_of_the_quotes_and_ranks_labels_first(client):
    text = page(client, "/browse?q=recognizing")          # only in the source's sentences
    assert "<mark>recognizing</mark>" in text
    labels_first = page(client, "/browse?q=MeitY")
    assert first_hit(labels_first) == "/id/organization/meity"


@pytest.mark.parametrize("attack", ['<script>alert(1)</script>', '"><img src=x onerror=alert(1)>', "x" * 5000])
def test_search_text_is_never_markup(client, attack):
    text = page(client, "/browse?q=" + quote(attack))
    assert "<script>alert" not in text and "<img src=x" not in text


def test_every_entity_is_reachable_by_clicking_from_the_home_page(client, publication):
    """Breadth-first over the site's own links, never a query: every thing the facts are about is reached."""
    wanted = {str(s)[len("https://w3id.org/ijdp/"):] for s in publication.graphs["facts"].subjects()
              if str(s).startswith("https://w3id.org/ijdp/id/")}
    seen, queue, reached = {"/"}, ["/"], set()
    while queue and len(seen) < 2000:
        path = queue.pop(0)
        response = client.get(path, headers={"Accept": "text/html"})
        if response.status_code in (301, 302, 303):
            target = urlsplit(response.headers["Location"]).path
            queue.append(target) if target not in seen else None
            seen.add(target)
            continue
        if response.status_code != 200 or response.mimetype != "text/html":
            continue
        if path.startswith("/doc/"):
            reached.add("id/" + path[len("/doc/"):])
        for link in re.findall(r'href="([^"#]+)', response.get_data(as_text=True)):
            link = html.unescape(urljoin(path, link))
            parts = urlsplit(link)
            if parts.netloc or parts.path.startswith(("/sparql", "/queries", "/dumps", "/ui", "/source", "/citation")):
                continue
            target = parts.path + (f"?{parts.query}" if parts.query and parts.path == "/browse" else "")
            if target not in seen and "q=" not in target:
                seen.add(target)
                queue.append(target)
    assert wanted - reached == set()


def test_search_shows_each_quote_once_with_the_hits_that_share_it(client, app):
    from htmltree import parse
    from ijdp.browse import index

    with app.test_request_context():
        expected = [entity.iri for _, entity, _, _ in index().search("semiconductor")[0]]
    assert len(expected) > 10
    results = parse(page(client, "/browse?q=semiconductor")).first("ol", class_="results")
    shown = [q.words() for q in results.all("blockquote")]
    assert shown and len(shown) == len(set(shown)), "a quote shown twice"
    hits = [a.attrs["href"] for li in results.all("li") for a in li.elements() if a.tag == "a"]
    assert sorted(hits) == sorted("/" + iri[len("https://w3id.org/ijdp/"):] for iri in expected)   # each hit once
    group = next(g for g in results.all("li", class_="quote-group") if len(g.first("ul", class_="hits").all("li")) > 1)
    assert group.first("blockquote")           # hits that share a quote sit together under it


def test_search_has_a_short_address(client):
    moved = client.get("/search?q=display+fab")
    assert moved.status_code == 301 and moved.headers["Location"].endswith("/browse?q=display+fab")
