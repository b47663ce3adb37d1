"""A page's HTML as a small tree (html.parser), to read tests' answers by structure, not by regex."""
from __future__ import annotations

import html.parser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Node:
    def __init__(self, tag: str, attrs: dict, parent=None):
        self.tag, self.attrs, self.parent, self.children = tag, attrs, parent, []

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def words(self) -> str:
        return " ".join(self.text().split())

    def all(self, tag: str | None = None, **attrs) -> list:
        """Every element under this one with the tag and attributes (class matches one of the classes)."""
        found = []
        for child in self.children:
            if isinstance(child, Node):
                if (tag is None or child.tag == tag) and all(
                        value in child.attrs.get(name.rstrip("_"), "").split() if name.rstrip("_") == "class"
                        else child.attrs.get(name.rstrip("_")) == value for name, value in attrs.items()):
                    found.append(child)
                found.extend(child.all(tag, **attrs))
        return found

    def first(self, tag: str | None = None, **attrs):
        found = self.all(tag, **attrs)
        assert found, f"no <{tag} {attrs}> here"
        return found[0]

    def elements(self) -> list:
        return [c for c in self.children if isinstance(c, Node)]


class _Builder(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = self.current = Node("#document", {})

    def handle_starttag(self, tag, attrs):
        node = Node(tag, {k: v or "" for k, v in attrs}, self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_endtag(self, tag):
        node = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data):
        self.current.children.append(data)


def parse(text: str) -> Node:
    builder = _Builder()
    builder.feed(text)
    builder.close()
    return builder.root
