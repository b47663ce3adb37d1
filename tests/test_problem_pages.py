"""Errors a browser can show: an HTML problem page with the site's navigation; problem+json for programs;
every problem type IRI resolves to a page that explains it."""
import ast
import html.parser
import json

import pytest

from conftest import REPO
from ijdp.problems import KINDS, PROBLEM_BASE

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


class Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.links, self.text, self.in_nav = [], [], False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "nav":
            self.in_nav = True
        if tag == "a" and attrs.get("href"):
            self.links.append((attrs["href"], self.in_nav))

    def handle_endtag(self, tag):
        if tag == "nav":
            self.in_nav = False

    def handle_data(self, data):
        self.text.append(data)


def read(response) -> Page:
    page = Page()
    page.feed(response.get_data(as_text=True))
    return page


@pytest.mark.parametrize("path, status, kind", [
    ("/doc/agreement/no-such-thing", 404, "not-found"),
    ("/sparql?query=SELEC%20*%20WHERE%20%7B%7D", 400, "malformed-query"),
    ("/sparql?query=SELECT%20*%20WHERE%20%7B%7D&format=nonsense", 400, "unknown-format"),
])
def test_a_browser_gets_a_page_of_the_site_with_the_problem(client, path, status, kind):
    response = client.get(path, headers={"Accept": BROWSER})
    assert response.status_code == status and response.mimetype == "text/html"
    assert "Accept" in response.headers.get("Vary", "")
    page = read(response)
    text = " ".join(page.text)
    assert f"{status} ·" in text
    assert any(nav and href == "/browse" for href, nav in page.links)       # the site's navigation: a way back
    assert ("/problems/" + kind, False) in page.links
    # The same fields as the JSON problem.
    as_json = json.loads(client.get(path, headers={"Accept": "application/json"}).get_data())
    assert as_json["type"] == PROBLEM_BASE + kind
    assert as_json["detail"] in text.replace("\n", " ") or as_json["detail"][:60] in text


@pytest.mark.parametrize("accept", [None, "*/*", "application/json", "application/problem+json",
                                    "application/sparql-results+json", "text/html;q=0.1, application/json"])
def test_programs_get_problem_json(client, accept):
    headers = {"Accept": accept} if accept else {}
    response = client.get("/doc/agreement/no-such-thing", headers=headers)
    assert response.status_code == 404 and response.mimetype == "application/problem+json"
    assert json.loads(response.get_data())["status"] == 404


def test_every_problem_type_iri_resolves_to_a_page_that_explains_it(client):
    index = client.get("/problems/", headers={"Accept": BROWSER})
    assert index.status_code == 200
    listed = {href for href, _ in read(index).links if href.startswith("/problems/") and href != "/problems/"}
    assert listed == {"/problems/" + name for name in KINDS}
    for name, (status, explanation) in KINDS.items():
        page = client.get("/problems/" + name)
        assert page.status_code == 200 and page.mimetype == "text/html", name
        assert explanation in page.get_data(as_text=True).replace("&#39;", "'"), name
    assert client.get("/problems/no-such-problem").status_code == 404


def problem_kinds_in_the_code():
    """Every problem kind the server's code can report: literal kinds of problem() calls, and outcome kinds."""
    found = set()
    for path in (REPO / "server" / "ijdp").glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "problem":
                kind = node.args[2] if len(node.args) > 2 else next((k.value for k in node.keywords if k.arg == "kind"), None)
                if isinstance(kind, ast.Constant) and isinstance(kind.value, str):
                    found.add(kind.value)
            # outcome kinds passed through as the problem kind: `if outcome.kind in ("a", "b"): problem(..., outcome.kind)`
            if isinstance(node, ast.Compare) and getattr(node.left, "attr", "") == "kind":
                for comparator in node.comparators:
                    if isinstance(comparator, ast.Tuple):
                        found.update(e.value for e in comparator.elts if isinstance(e, ast.Constant))
    return found


def test_every_kind_the_code_reports_is_explained():
    kinds = problem_kinds_in_the_code()
    assert {"malformed-query", "service-refused", "not-acceptable", "query-timeout"} <= kinds
    outcome_only = {"ok", "syntax", "federate", "memory", "error", "unavailable", "too-deep"}
    missing = sorted(kinds - set(KINDS) - outcome_only)
    assert not missing, f"add these to problems.KINDS: {missing}"
