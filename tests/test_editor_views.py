"""What people read: the query editor's results (local links, labels, full IRIs on hover), the graph view and the
timeline (text size, nothing drawn over anything, periods as bars: positions read in Debian's chromium), the
coverage page's paragraphs, counts that say what they count, and permalinks that work without JavaScript."""
from __future__ import annotations

import html
import html.parser
import json
import re
import subprocess
import urllib.parse

import pytest

from conftest import REPO, read_json
from test_site_live import CHROMIUM, CHROMIUM_FLAGS, browser, site  # noqa: F401 (site is a fixture)

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
BASE = "https://w3id.org/ijdp/"
MOC = BASE + "id/agreement/semiconductor-supply-chain-moc-2023"
FACILITY = "Semiconductor Assembly, Testing, Marking, and Packaging facility"


def dom(url: str, tmp_path) -> str:
    """The DOM once the page's scripts ran (test_site_live's chromium, without its screenshot)."""
    flags = CHROMIUM_FLAGS + [f"--user-data-dir={tmp_path / 'profile'}"]
    return subprocess.run([CHROMIUM, *flags, "--dump-dom", url], capture_output=True, text=True, timeout=120).stdout


def layout_of(page: str, element_id: str) -> dict:
    """The data-layout JSON a chart wrote on its element, once the page's scripts ran."""
    opening = page.split(f'id="{element_id}"', 1)[1].split(">", 1)[0]
    return json.loads(html.unescape(re.search(r'data-layout="([^"]*)"', opening).group(1)))


def overlap(a, b, slack=0.5) -> bool:
    """Two boxes [x1, y1, x2, y2] share more than a hairline."""
    return a[0] + slack < b[2] and b[0] + slack < a[2] and a[1] + slack < b[3] and b[1] + slack < a[3]


def segment_hits_box(p, q, box, slack=1.0) -> bool:
    """Whether the segment p-q passes through the box (Liang-Barsky clipping), its edges shrunk by slack."""
    x1, y1, x2, y2 = box[0] + slack, box[1] + slack, box[2] - slack, box[3] - slack
    dx, dy = q[0] - p[0], q[1] - p[1]
    low, high = 0.0, 1.0
    for step, room in ((-dx, p[0] - x1), (dx, x2 - p[0]), (-dy, p[1] - y1), (dy, y2 - p[1])):
        if step == 0:
            if room < 0:
                return False
            continue
        t = room / step
        if step < 0:
            low = max(low, t)
        else:
            high = min(high, t)
        if low > high:
            return False
    return True


def test_the_geometry_checks_see_what_they_should():
    assert overlap([0, 0, 10, 10], [5, 5, 15, 15]) and not overlap([0, 0, 10, 10], [10, 0, 20, 10])
    assert segment_hits_box((0, 5), (20, 5), [8, 0, 12, 10])
    assert not segment_hits_box((0, 20), (20, 20), [8, 0, 12, 10])
    assert not segment_hits_box((0, 0), (7, 7), [8, 0, 12, 10])


def test_a_local_link_never_leads_to_another_host(app):
    from ijdp.pages import local_href
    with app.test_request_context():
        assert local_href(MOC) == "/id/agreement/semiconductor-supply-chain-moc-2023"
        assert local_href(BASE + "/evil.example/x") == BASE + "/evil.example/x"       # not //evil.example/x
        assert local_href(BASE + "\\evil.example/x") == BASE + "\\evil.example/x"


# ------------------------------------------------------------ item 11: permalinks without JavaScript

@pytest.fixture
def plain(client, monkeypatch):
    """The site as after `pip install .`: no editor installed, the plain form does the work."""
    import ijdp.ui
    monkeypatch.setattr(ijdp.ui, "yasgui_folder", lambda: None)
    return client


def textarea(page: str) -> str:
    return html.unescape(page.split('<textarea id="query"', 1)[1].split(">", 1)[1].split("</textarea>", 1)[0])


def test_an_example_permalink_with_run_shows_its_answer_without_javascript(plain):
    page = plain.get("/?example=06-facility-types&run=1", headers=BROWSER)
    assert page.status_code == 200 and page.mimetype == "text/html"
    text = page.get_data(as_text=True)
    assert "yasgui" not in text.lower()
    assert textarea(text).startswith("# title: Which facility types")
    table = text.split('<table id="results">', 1)[1].split("</table>", 1)[0]
    assert FACILITY in table and table.count("<tr>") == 1 + 8          # the header and the eight types


def test_a_query_permalink_fills_the_form_and_answers(plain):
    query = f"SELECT ?label WHERE {{ <{MOC}> <http://www.w3.org/2004/02/skos/core#prefLabel> ?label }}"
    text = plain.get("/?" + urllib.parse.urlencode({"query": query}), headers=BROWSER).get_data(as_text=True)
    assert textarea(text) == query
    assert "Memorandum of Cooperation on Japan-India" in text.split('<table id="results">', 1)[1]
    ask = plain.get("/?" + urllib.parse.urlencode({"query": "ASK {}"}), headers=BROWSER).get_data(as_text=True)
    assert '<p id="ask-result">Yes (true)</p>' in ask


def test_an_example_permalink_without_run_only_fills_the_form(plain):
    text = plain.get("/?example=19-timeline", headers=BROWSER).get_data(as_text=True)
    assert textarea(text).startswith("# title: Timeline")
    assert 'id="results-heading"' not in text
    missing = plain.get("/?example=no-such-example&run=1", headers=BROWSER)
    assert missing.status_code == 404 and "no-such-example" in missing.get_data(as_text=True)


def test_with_the_editor_installed_a_permalink_fills_the_form_and_the_editor_runs_it(client, monkeypatch, tmp_path):
    import ijdp.ui
    monkeypatch.setattr(ijdp.ui, "yasgui_folder", lambda: tmp_path)     # installed: its script runs the query
    text = client.get("/?example=06-facility-types&run=1", headers=BROWSER).get_data(as_text=True)
    assert "/ui/vendor/yasgui.min.js" in text and textarea(text).startswith("# title: Which facility types")
    assert 'id="results-heading"' not in text                              # not run twice


# ------------------------------------------------------------ item 10: paragraphs and counts

def test_the_coverage_page_keeps_the_paragraphs_and_lines_of_the_snapshot(client, dist):
    slug = "india-japan-semiconductor-moc"
    snapshot = (dist / "sources" / f"{slug}.txt").read_text(encoding="utf-8")
    paragraphs = [[" ".join(line.split()) for line in block.splitlines() if line.strip()]
                  for block in re.split(r"\n[ \t]*\n", snapshot) if block.strip()]
    page = client.get(f"/source/{slug}/coverage").get_data(as_text=True)
    shown = page.split('<div class="coverage">', 1)[1].split("</div>", 1)[0]
    blocks = re.findall(r"<p>(.*?)</p>", shown, flags=re.S)
    assert len(paragraphs) > 5 and len(blocks) == len(paragraphs)

    def words(fragment: str) -> str:
        return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())

    for block, expected in zip(blocks, paragraphs):
        assert [words(line) for line in block.split("<br>")] == expected


def test_the_dumps_and_void_pages_say_what_each_triple_count_counts(client, dist):
    import rdflib
    info = read_json(dist / "build.json")
    graphs = list(info["triples"])
    void = rdflib.Graph().parse(data=client.get("/.well-known/void.ttl").data, format="turtle")
    told = int(void.value(rdflib.URIRef(BASE + "id/dataset/ijdp"), rdflib.URIRef("http://rdfs.org/ns/void#triples")))
    data_graphs = [g for g in graphs if g != "metadata"]
    dumps = " ".join(html.unescape(client.get("/dumps/").get_data(as_text=True)).split())
    assert f"keep the {len(graphs)} named graphs ({', '.join(graphs)}) apart" in dumps
    described = " ".join(html.unescape(client.get("/.well-known/void", headers=BROWSER).get_data(as_text=True)).split())
    for page in (dumps, described):
        assert f"void:triples ({told:,}) counts the triples of the {len(data_graphs)} data graphs" in page
        assert f"leaves out the metadata graph, which holds the description itself ({info['triples']['metadata']:,} triples)" in page
        assert f"The merged dumps hold all {len(graphs)} graphs: {info['merged_triples']:,} triples" in page


NUMBER_WORDS = "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve"


def test_no_page_or_readme_writes_a_count_of_graphs_or_triples_by_hand():
    texts = [*sorted((REPO / "server" / "templates").glob("*.html")), REPO / "README.md"]
    by_hand = re.compile(rf"\b(?:{NUMBER_WORDS}|\d[\d,]*) (?:named |data )?(?:graphs|triples|quads)\b", re.I)
    found = [(path.name, m.group(0)) for path in texts for m in by_hand.finditer(path.read_text(encoding="utf-8"))
             if not m.group(0)[0].isdigit() or path.suffix == ".html"]
    assert not found, found


# ------------------------------------------------------------ item 5: the editor's results, in chromium

class Iris(html.parser.HTMLParser):
    """The IRI cells of YASR's table: (href or None, title, text)."""

    def __init__(self):
        super().__init__()
        self.cells, self._open = [], None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "iri" in (attrs.get("class") or "").split():
            self._open = [attrs.get("href"), attrs.get("title"), ""]

    def handle_data(self, data):
        if self._open is not None:
            self._open[2] += data

    def handle_endtag(self, tag):
        if self._open is not None and tag in ("a", "span"):
            self.cells.append(tuple(self._open))
            self._open = None


@browser
def test_the_editor_links_to_local_pages_and_shows_labels_with_the_iri_on_hover(site, tmp_path):
    from ijdp.ui import yasgui_folder
    if yasgui_folder() is None:
        pytest.skip("the query editor (YASGUI) is not installed: `make ui` needs npm")
    query = f"SELECT ?p ?o WHERE {{ <{MOC}> ?p ?o }}"          # no prefixes declared
    page = dom(site + "?" + urllib.parse.urlencode({"query": query}), tmp_path)
    results = page.split('class="yasr', 1)[1].split('id="chart-heading"', 1)[0]
    assert " results in " in results                                   # YASR drew the answer
    cells = Iris()
    cells.feed(results)
    assert len(cells.cells) > 20
    for href, title, text in cells.cells:
        assert title and title.startswith(("http://", "https://")), (href, title, text)    # the full IRI on hover
        if title.startswith(BASE):
            assert href == "/" + title[len(BASE):], (href, title)                         # a page of this server
        assert not text.startswith(("http://", "https://")), text                          # a label or a prefixed name
    shown = {title: text for _, title, text in cells.cells}
    assert shown[BASE + "id/country/japan"] == "Japan"
    assert shown[BASE + "ontology#party"] == "party"
    assert shown["http://www.w3.org/1999/02/22-rdf-syntax-ns#type"] == "rdf:type"        # no label: its prefixed name


# ------------------------------------------------------------ item 9: graph view and timeline, in chromium

@browser
def test_the_graph_view_draws_large_text_and_nothing_over_anything(site, tmp_path):
    from ijdp.ui import cytoscape_folder
    if cytoscape_folder() is None:
        pytest.skip("the graph library (Cytoscape.js) is not installed: `make ui` needs npm")
    layout = layout_of(dom(site + "graph-view", tmp_path), "graph")
    nodes, edges = layout["nodes"], layout["edges"]
    assert len(nodes) >= 10 and len(edges) >= 10
    assert min(n["font"] for n in nodes) >= 12 and min(e["font"] for e in edges) >= 12
    whole = [0, 0, layout["width"], layout["height"]]
    for thing in [n["box"] for n in nodes] + [e["label"] for e in edges]:
        assert whole[0] <= thing[0] and thing[2] <= whole[2] and whole[1] <= thing[1] and thing[3] <= whole[3], thing
    for i, a in enumerate(nodes):
        for b in nodes[i + 1:]:
            assert not overlap(a["box"], b["box"]), (a["id"], b["id"])
        for e in edges:
            assert not overlap(a["box"], e["label"]), (a["id"], e["text"])                 # no label under a node
            if a["id"] not in (e["source"], e["target"]):
                assert not segment_hits_box(*e["ends"], a["box"]), (a["id"], e["text"])   # no edge under a node
    for i, a in enumerate(edges):
        for b in edges[i + 1:]:
            assert not overlap(a["label"], b["label"]), (a["text"], b["text"])
    based_on = [e for e in edges if e["source"] == MOC and "based on" in e["text"].split(" · ")]
    assert len(based_on) == 2


@browser
def test_the_timeline_draws_the_period_in_force_as_a_bar_and_no_label_crosses_another(site, tmp_path):
    page = dom(site + "timeline", tmp_path)
    svg = page.split('id="timeline-svg"', 1)[1].split("</svg>", 1)[0]
    assert svg.count('class="event"') == 3                                    # events stay marks
    layout = layout_of(page, "timeline-svg")
    years = {y["year"]: y["x"] for y in layout["years"]}

    def x(date: str) -> float:
        year, month = int(date[:4]), int(date[5:7])
        return years[year] + (years[year + 1] - years[year]) * (month - 1) / 12

    bars = [b for b in layout["bars"] if (b["from"], b["until"]) == ("2023-07", "2028-07")]
    assert len(bars) == 1
    assert abs(bars[0]["box"][0] - x("2023-07")) <= 2 and abs(bars[0]["box"][2] - x("2028-07")) <= 2
    texts = layout["texts"]
    assert any(t["text"].startswith("2023-07 to 2028-07: Period in force") for t in texts)
    assert min(t["font"] for t in texts) >= 12
    for i, a in enumerate(texts):
        assert 0 <= a["box"][0] and a["box"][2] <= layout["width"], a
        for b in texts[i + 1:]:
            assert not overlap(a["box"], b["box"]), (a["text"], b["text"])
