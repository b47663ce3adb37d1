"""The whole site on a live server: every link answers, conneg and redirects with curl, a real browser."""
import html.parser
import os
import re
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from conftest import REPO
from test_live_server import curl, free_port, stop, wait_healthy

pytestmark = pytest.mark.live
ARTIFACTS = REPO / "test-artifacts"
MOC_PATH = "id/agreement/semiconductor-supply-chain-moc-2023"


@pytest.fixture(scope="module")
def site(dist, tmp_path_factory):
    import sys
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    ijdp = Path(sys.executable).with_name("ijdp")
    log = tmp_path_factory.mktemp("site") / "server.log"
    # Started as the Makefile starts it: from the checkout, with a relative --dist.
    process = subprocess.Popen([str(ijdp), "serve", "--host", "127.0.0.1", "--port", str(port),
                                "--dist", os.path.relpath(dist, REPO)],
                               cwd=REPO, stdout=open(log, "wb"), stderr=subprocess.STDOUT)
    wait_healthy(base, process)
    yield base
    stop(process)


class Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.found = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("href", "src") and value and tag in ("a", "link", "script", "img"):
                self.found.append(value)


def test_every_link_on_every_page_answers(site):
    """A bounded crawl of the local site: no 404 and no 500 anywhere."""
    seen, queue, failures, pages = set(), [site], [], 0
    while queue and pages < 600:
        url = queue.pop(0)
        if url in seen:
            continue
        seen.add(url)
        request = urllib.request.Request(url, headers={"Accept": "text/html,*/*;q=0.8"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                pages += 1
                kind = response.headers.get("Content-Type", "")
                body = response.read() if "html" in kind else b""
        except urllib.error.HTTPError as err:
            failures.append(f"{err.code} {url}")
            continue
        parser = Links()
        parser.feed(body.decode("utf-8", "replace"))
        for link in parser.found:
            absolute = urllib.parse.urljoin(url, link).split("#", 1)[0]
            if absolute.startswith(site) and absolute not in seen:
                queue.append(absolute)
    assert not failures, "\n".join(failures[:20])
    assert pages > 60  # every resource page, the ontology, dumps, timeline, graph, examples…


def test_curl_303_and_negotiation(site):
    out = curl("-s", "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", site + MOC_PATH)
    status, location = out.stdout.split()
    assert status == "303" and location == site + "doc/" + MOC_PATH[3:]
    out = curl("-s", "-L", "-H", "Accept: text/turtle", site + MOC_PATH)
    assert f"<{site}{MOC_PATH}>" in out.stdout or "agreement:semiconductor-supply-chain-moc-2023" in out.stdout
    out = curl("-s", "-I", "-H", "Accept: application/ld+json", site + "doc/" + MOC_PATH[3:])
    headers = out.stdout.lower()
    assert "content-type: application/ld+json" in headers and "vary: accept" in headers and "etag:" in headers
    out = curl("-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Accept: image/png", site + "doc/" + MOC_PATH[3:])
    assert out.stdout == "406"
    out = curl("-s", "-o", "/dev/null", "-w", "%{http_code}", site + "id/agreement/nothing-here")
    assert out.stdout == "404"
    out = curl("-s", "-o", "/dev/null", "-w", "%{http_code} %{size_download}", "-r", "10-19", site + "dumps/latest/ijdp.nt")
    assert out.stdout == "206 10"


# ------------------------------------------------------------ a real browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--window-size=1200,1600", "--virtual-time-budget=15000"]

browser = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed and `make chromium` could not install it")


def chromium(url: str, tmp_path, shot: str) -> str:
    """The DOM after the page's scripts ran, and a screenshot saved as a test artefact."""
    ARTIFACTS.mkdir(exist_ok=True)
    flags = CHROMIUM_FLAGS + [f"--user-data-dir={tmp_path / 'profile'}"]
    subprocess.run([CHROMIUM, *flags, f"--screenshot={ARTIFACTS / shot}", url], capture_output=True, timeout=120)
    dom = subprocess.run([CHROMIUM, *flags, "--dump-dom", url], capture_output=True, text=True, timeout=120)
    return dom.stdout


def under_the_policy(url: str) -> None:
    """The page is served with the Content-Security-Policy that forbids inline script (so the browser ran under it)."""
    import urllib.request
    with urllib.request.urlopen(url, timeout=10) as response:
        policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "frame-ancestors 'none'" in policy


@browser
def test_browser_resource_page_shows_its_quotes(site, tmp_path):
    dom = chromium(site + MOC_PATH, tmp_path, "resource-page.png")
    assert "Memorandum of Cooperation on Japan-India Semiconductor" in dom
    assert "signed in July, 2023 between the Ministry of Electronics" in dom
    assert (ARTIFACTS / "resource-page.png").stat().st_size > 10_000


@browser
def test_browser_runs_an_example_query_and_shows_rows(site, tmp_path):
    from ijdp.ui import yasgui_folder
    if yasgui_folder() is None:
        pytest.skip("the query editor (YASGUI) is not installed: `make ui` needs npm")
    under_the_policy(site + "?example=06-facility-types&run=1")
    dom = chromium(site + "?example=06-facility-types&run=1", tmp_path, "query-editor.png")
    assert "yasr" in dom  # YASGUI mounted
    assert "Semiconductor Assembly, Testing, Marking, and Packaging facility" in dom.split('id="plain-form"')[0]
    assert "8 results" in dom


@browser
def test_browser_shows_a_query_error_readably(site, tmp_path):
    from ijdp.ui import yasgui_folder
    if yasgui_folder() is None:
        pytest.skip("the query editor (YASGUI) is not installed: `make ui` needs npm")
    import urllib.parse
    query = "PREFIX ijdp: <https://w3id.org/ijdp/ontology#>\nSELECT * WHERE { ?m ijpd:party ?p }"
    dom = chromium(site + "?" + urllib.parse.urlencode({"query": query, "run": "1"}), tmp_path, "query-error.png")
    shown = dom.split('class="query-problem"', 1)[1].split("</div>", 1)[0]
    assert "Bad request (400)" in shown and "undeclared prefix 'ijpd:'" in shown and "Line 2, column" in shown
    assert '"type":' not in dom.split('id="plain-form"')[0]   # the problem's JSON is not shown raw


@browser
def test_browser_charts_the_answer_of_the_query_just_run(site, tmp_path):
    from ijdp.ui import yasgui_folder
    if yasgui_folder() is None:
        pytest.skip("the query editor (YASGUI) is not installed: `make ui` needs npm")
    import urllib.parse
    query = ("PREFIX skos: <http://www.w3.org/2004/02/skos/core#>\n"
             "SELECT ?scheme (COUNT(?concept) AS ?concepts) WHERE { ?concept skos:inScheme ?scheme } "
             "GROUP BY ?scheme ORDER BY DESC(?concepts)")
    dom = chromium(site + "?" + urllib.parse.urlencode({"query": query, "run": "1"}), tmp_path, "chart.png")
    chart = dom.split('id="chart"', 1)[1].split("</svg>", 1)[0]
    assert chart.count("<rect") >= 2, chart[:300]      # one bar per scheme of this answer
    assert "concepts by scheme" in chart                 # the chart's label names this query's columns


@browser
def test_browser_browses_and_searches_without_sparql(site, tmp_path):
    under_the_policy(site + "browse")
    classes = chromium(site + "browse", tmp_path, "browse.png")
    assert "Everything, by class" in classes and "facility type</a> (8)" in classes
    found = chromium(site + "browse?q=display+fab", tmp_path, "search.png")
    results = found.split('class="results"', 1)[1]
    assert results.index("<mark>Display</mark> <mark>fab</mark>") < results.index("</li>")   # ranked first
    assert "facility type (8)" in found


@browser
def test_browser_draws_the_timeline(site, tmp_path):
    under_the_policy(site + "timeline")
    dom = chromium(site + "timeline", tmp_path, "timeline.png")
    svg = dom.split('id="timeline-svg"', 1)[1].split("</svg>", 1)[0]
    assert svg.count('class="event"') == 3
    assert "2028-07" in svg and "(derived)" in svg


@browser
def test_browser_draws_the_graph(site, tmp_path):
    from ijdp.ui import cytoscape_folder
    if cytoscape_folder() is None:
        pytest.skip("the graph library (Cytoscape.js) is not installed: `make ui` needs npm")
    under_the_policy(site + "graph-view")
    dom = chromium(site + "graph-view", tmp_path, "graph-view.png")
    opening = dom.split('id="graph"', 1)[1].split(">", 1)[0]
    drawn = dict(re.findall(r'data-([a-z-]+)="([^"]*)"', opening))
    assert int(drawn["nodes"]) >= 10 and int(drawn["edges"]) >= 10
    assert drawn["arrows"] == drawn["edges"]            # every edge has its arrowhead
    assert drawn["clipped"] == "0"                      # no node or label outside the box
    assert drawn["label-overlaps"] == "0"               # edge labels do not overlap