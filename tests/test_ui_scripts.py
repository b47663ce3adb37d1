"""Script-free results: IRIs an answer binds that are not http(s) or mailto (javascript:, data:, vbscript:, any
case) are shown as text in the query editor's results table, the chart, the timeline and the graph view, and no
IRI can add an attribute. Checked in Debian's chromium on a live server whose data holds such IRIs."""
from __future__ import annotations

import html.parser
import re
import shutil
import subprocess
import urllib.parse

import pyoxigraph
import pytest

from test_live_server import start_server, stop
from test_site_live import CHROMIUM, CHROMIUM_FLAGS, browser

pytestmark = [pytest.mark.live, browser]

# Valid IRIs (the engine accepts each) a browser would run, open or take as a new attribute.
HOSTILE = ("javascript:alert(1)", "JaVaScRiPt:alert(2)", "vbscript:msgbox(3)",
           "data:text/html,%3Cscript%3Ealert(4)%3C/script%3E", "http://x.example/'onmouseover='alert(5)'",
           "file:///etc/passwd", "blob:https://x.example/6")
SAFE = ("https", "http", "mailto")
URL_ATTRIBUTES = ("href", "src", "action", "formaction", "xlink:href", "poster", "srcset", "data", "ping")
ID = "https://w3id.org/ijdp/id/"
MOC = ID + "agreement/semiconductor-supply-chain-moc-2023"
LINK = "https://w3id.org/ijdp/ontology#hostileLink"


def hostile_data() -> str:
    """Triples the timeline's and the graph view's queries read, about and to the hostile IRIs."""
    triples = [f'<{LINK}> <http://www.w3.org/2000/01/rdf-schema#label> "hostile link" .']
    for i, iri in enumerate(HOSTILE):
        event = f"{ID}event/hostile-{i}"
        triples += [f"<{iri}> <https://w3id.org/ijdp/ontology#signing> <{event}> .",
                    f'<{event}> <http://purl.org/dc/terms/date> "202{i}-0{i + 1}"^^<http://www.w3.org/2001/XMLSchema#gYearMonth> .',
                    f'<{event}> <http://www.w3.org/2004/02/skos/core#prefLabel> "hostile event {i}" .',
                    f'<{iri}> <http://www.w3.org/2004/02/skos/core#prefLabel> "hostile thing {i}" .',
                    f"<{MOC}> <{LINK}> <{iri}> ." if i % 2 else f"<{iri}> <{LINK}> <{MOC}> ."]
    return "\n".join(triples) + "\n"


@pytest.fixture(scope="module")
def hostile_site(prepared_store, dist, tmp_path_factory):
    """`ijdp serve` on a copy of the store that also holds triples with the hostile IRIs."""
    folder = tmp_path_factory.mktemp("hostile-ui")
    copy = folder / "store"
    shutil.copytree(prepared_store, copy)
    store = pyoxigraph.Store(str(copy))
    store.load(hostile_data().encode(), pyoxigraph.RdfFormat.N_TRIPLES,
               to_graph=pyoxigraph.NamedNode("https://w3id.org/ijdp/graph/hostile"))
    store.flush()
    del store
    process, base = start_server(dist, "--store", str(copy), log_path=folder / "server.log")
    yield base
    stop(process)


def dom(url: str, tmp_path) -> str:
    """The DOM once the page's scripts ran (test_site_live's flags: the same headless chromium)."""
    flags = CHROMIUM_FLAGS + [f"--user-data-dir={tmp_path / 'profile'}"]
    return subprocess.run([CHROMIUM, *flags, "--dump-dom", url], capture_output=True, text=True, timeout=120).stdout


class Elements(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.urls, self.handlers = [], []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in URL_ATTRIBUTES and value is not None:
                self.urls.append((tag, name, value))
            if name.startswith("on"):
                self.handlers.append((tag, name, value))


def scheme(url: str) -> str | None:
    """The scheme a browser reads: leading spaces and control characters dropped, tabs and newlines removed."""
    url = re.sub(r"[\t\n\r]", "", url.lstrip("".join(map(chr, range(33)))))
    found = re.match(r"([A-Za-z][A-Za-z0-9+.-]*):", url)
    return found.group(1).lower() if found else None


def assert_script_free(page: str) -> None:
    elements = Elements()
    elements.feed(page)
    live = [(tag, name, value) for tag, name, value in elements.urls
            if any(scheme(part.split()[0] if part.split() else "") not in (None, *SAFE)
                   for part in (value.split(",") if name == "srcset" else [value]))]
    assert not live, live[:5]
    assert not elements.handlers, elements.handlers[:5]


def test_the_scheme_is_read_as_a_browser_reads_it():
    assert scheme(" \x01JaVa\tScript:alert(1)") == "javascript" and scheme("/id/x") is None
    assert scheme("#top") is None and scheme("HTTPS://x") == "https"
    with pytest.raises(AssertionError):
        assert_script_free('<a href=" javascript:alert(1)">x</a>')
    with pytest.raises(AssertionError):
        assert_script_free("<a href='http://x/' onmouseover='alert(5)'>x</a>")


def editor(site: str, query: str) -> str:
    return site + "sparql?" + urllib.parse.urlencode({"query": query})


def test_results_table_and_chart_show_hostile_iris_as_text(hostile_site, tmp_path):
    from ijdp.ui import yasgui_folder
    if yasgui_folder() is None:
        pytest.skip("the query editor (YASGUI) is not installed: `make ui` needs npm")
    rows = " ".join(f"(<{iri}> {i + 1})" for i, iri in enumerate(HOSTILE))
    query = (f"SELECT ?thing ?n ?typed WHERE {{ VALUES (?thing ?n) {{ {rows} }} "
             'BIND(STRDT("typed", <javascript:alert(7)>) AS ?typed) }')
    page = dom(editor(hostile_site, query), tmp_path)
    results = page.split('class="yasr', 1)[1].split('id="chart-heading"', 1)[0]
    assert f"{len(HOSTILE)} results" in results            # YASR drew this answer
    for iri in HOSTILE:
        assert iri in results, iri
    chart = page.split('id="chart"', 1)[1].split("</svg>", 1)[0]
    assert chart.count("<rect") == len(HOSTILE) and "javascript:alert(1)" in chart   # the chart, labelled by IRI
    server_table = page.split('id="results"', 1)[1].split("</table>", 1)[0]   # the page without script, under it
    assert "vbscript:msgbox(3)" in server_table
    assert_script_free(page)


def test_results_table_of_a_graph_shows_hostile_iris_as_text(hostile_site, tmp_path):
    from ijdp.ui import yasgui_folder
    if yasgui_folder() is None:
        pytest.skip("the query editor (YASGUI) is not installed: `make ui` needs npm")
    query = ("CONSTRUCT { <javascript:alert(1)> <vbscript:msgbox(2)> <data:text/html,x> . "
             "<http://x.example/'onclick='alert(3)'> <JaVaScRiPt:alert(4)> \"v\" } WHERE {}")
    page = dom(editor(hostile_site, query), tmp_path)
    results = page.split('class="yasr', 1)[1].split('id="chart-heading"', 1)[0]
    assert "vbscript:msgbox(2)" in results and "JaVaScRiPt:alert(4)" in results
    assert_script_free(page)


def test_timeline_shows_hostile_iris_as_text(hostile_site, tmp_path):
    page = dom(hostile_site + "timeline", tmp_path)
    svg = page.split('id="timeline-svg"', 1)[1].split("</svg>", 1)[0]
    assert svg.count('class="event"') == 3 + len(HOSTILE)       # drawn, with the hostile rows among them
    listing = page.split('id="timeline-list"', 1)[1].split("</ol>", 1)[0]
    items = listing.split("<li>")
    for i, iri in enumerate(HOSTILE):
        item = next(item for item in items if f"hostile event {i}<" in item)
        assert ("<a " in item) == (scheme(iri) in SAFE), item             # text, unless it is an http(s) IRI
    assert_script_free(page)


def test_graph_view_shows_hostile_iris_as_text(hostile_site, tmp_path):
    from ijdp.ui import cytoscape_folder
    if cytoscape_folder() is None:
        pytest.skip("the graph library (Cytoscape.js) is not installed: `make ui` needs npm")
    page = dom(hostile_site + "graph-view", tmp_path)
    opening = page.split('id="graph"', 1)[1].split(">", 1)[0]
    drawn = dict(re.findall(r'data-([a-z-]+)="([^"]*)"', opening))
    assert int(drawn["nodes"]) >= 10 + len(HOSTILE)                # the hostile things are drawn too
    table = page.split('id="graph-table"', 1)[1].split("</table>", 1)[0]
    cells = table.split("<td>")
    for i, iri in enumerate(HOSTILE):
        cell = next(cell for cell in cells if f"hostile thing {i}<" in cell)
        assert ("<a " in cell) == (scheme(iri) in SAFE), cell
    assert_script_free(page)
