"""A class as a table: its members, their main properties as columns, facets, pages, CSV and JSON.

Like a Datasette table: the columns are the properties most members have; a facet lists a column's most
frequent values with their counts, each a link that adds ?<column>=<value> and narrows the rows; every
table is also CSV and JSON, same rows and columns. Everything is read through the query pool by bounded
queries: a page of rows, a limited number of columns, and facet values counted under a LIMIT.
"""
from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from urllib.parse import urlencode

from rdflib import BNode, Literal, URIRef

from .describe import readable_name, shown_literal

PAGE_SIZE = 100          # rows a page, and the most a client may ask for with _size
MAX_COLUMNS = 8
FACET_VALUES = 10        # values shown per facet
FACET_ROWS = 500         # the facet query's LIMIT, over all columns
CELL_ROWS = 20_000       # the cell query's LIMIT, for a page of rows
RESERVED = ("_format", "_page", "_size")
LABELS = ("http://www.w3.org/2004/02/skos/core#prefLabel", "http://www.w3.org/2000/01/rdf-schema#label",
          "http://purl.org/dc/terms/title", "http://xmlns.com/foaf/0.1/name")
PREFIXES = """PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX dcterms: <http://purl.org/dc/terms/>
PREFIX foaf: <http://xmlns.com/foaf/0.1/>
"""
LABEL_OF = "OPTIONAL {{ {term} skos:prefLabel|rdfs:label|dcterms:title|foaf:name {var} FILTER(LANG({var}) IN (\"en\", \"\")) }}"


class BadTable(ValueError):
    """A request the table cannot answer (an unknown column, a page out of range): a 400."""


@dataclass
class Column:
    key: str           # its parameter name: the property's prefixed name
    iri: str
    label: str
    members: int       # how many of the class's members have it


@dataclass
class Cell:
    value: str         # the IRI or the literal's lexical form
    label: str
    href: str | None


@dataclass
class Row:
    iri: str
    label: str
    href: str
    cells: list        # per column, a list of Cells


@dataclass
class FacetValue:
    value: str
    label: str
    count: int
    link: str


@dataclass
class Table:
    class_iri: str
    class_label: str
    path: str
    columns: list
    rows: list
    total: int
    page: int
    size: int
    filters: list = field(default_factory=list)    # (column, value, label, link that removes it)
    facets: list = field(default_factory=list)     # (column, [FacetValue])

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    def link(self, filters=None, page: int = 1, suffix: str = "") -> str:
        """This table's address with the given filters (default: the current ones) and page."""
        chosen = sorted(self.filter_pairs() if filters is None else filters)
        params = chosen + ([("_size", str(self.size))] if self.size != PAGE_SIZE else []) + \
            ([("_page", str(page))] if page > 1 else [])
        return self.path + suffix + ("?" + urlencode(params) if params else "")

    def filter_pairs(self) -> list:
        return [(column.key, value) for column, value, _, _ in self.filters]

    def header(self) -> list:
        return ["iri", "label"] + [c.label for c in self.columns]

    def records(self) -> list:
        """The rows as the HTML table shows them: the item, its label, each cell's labels."""
        return [[row.iri, row.label] + ["\n".join(c.label for c in cells) for cells in row.cells] for row in self.rows]

    def as_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(self.header())
        writer.writerows(self.records())
        return out.getvalue()

    def as_json(self) -> str:
        return json.dumps({
            "class": self.class_iri, "label": self.class_label, "total": self.total, "page": self.page,
            "pages": self.pages, "size": self.size,
            "filters": [{"column": column.key, "value": value} for column, value, _, _ in self.filters],
            "columns": [{"key": c.key, "iri": c.iri, "label": c.label} for c in self.columns],
            "rows": [{"iri": row.iri, "label": row.label,
                      "cells": {column.key: [{"value": c.value, "label": c.label} for c in cells]
                                for column, cells in zip(self.columns, row.cells)}} for row in self.rows],
        }, ensure_ascii=False, indent=1)


def sparql_string(text: str) -> str:
    return Literal(text).n3()


def members_pattern(types: list, base: str, filters: list) -> str:
    """The class's members (its own and its subclasses' types), narrowed by the filters."""
    values = " ".join(f"<{t}>" for t in sorted(types))
    narrowing = "".join(f" ?s <{column.iri}> ?f{n} . FILTER(STR(?f{n}) = {sparql_string(value)})"
                        for n, (column, value) in enumerate(filters))
    return (f"VALUES ?type {{ {values} }} ?s a ?type . FILTER(STRSTARTS(STR(?s), {sparql_string(base + 'id/')}))"
            + narrowing)


def _distinct(types: list, base: str, filters: list) -> str:
    return f"{{ SELECT DISTINCT ?s WHERE {{ {members_pattern(types, base, filters)} }} }}"


def _values(variable: str, iris) -> str:
    return f"VALUES {variable} {{ {' '.join(f'<{iri}>' for iri in iris)} }}"


def columns_query(types: list, base: str) -> str:
    return PREFIXES + (
        "SELECT ?p ?n (SAMPLE(?pl) AS ?label) WHERE {\n"
        f"  {{ SELECT ?p (COUNT(DISTINCT ?s) AS ?n) WHERE {{ {_distinct(types, base, [])} ?s ?p ?o }} GROUP BY ?p }}\n"
        "  OPTIONAL { ?p rdfs:label ?pl FILTER(LANG(?pl) IN (\"en\", \"\")) }\n"
        f"}} GROUP BY ?p ?n ORDER BY DESC(?n) STR(?p) LIMIT {4 * MAX_COLUMNS + len(LABELS) + 1}")


def count_query(types: list, base: str, filters: list) -> str:
    return f"SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE {{ {members_pattern(types, base, filters)} }}"


def rows_query(types: list, base: str, filters: list, size: int, offset: int) -> str:
    return PREFIXES + (
        f"SELECT ?s (MIN(STR(?l)) AS ?label) WHERE {{ {_distinct(types, base, filters)}\n"
        f"  {LABEL_OF.format(term='?s', var='?l')} }}\n"
        f"GROUP BY ?s ORDER BY LCASE(MIN(STR(?l))) STR(?s) LIMIT {size} OFFSET {offset}")


def cells_query(subjects: list, columns: list) -> str:
    return PREFIXES + (
        f"SELECT ?s ?p ?o (MIN(STR(?ol)) AS ?label) WHERE {{ {_values('?s', subjects)} "
        f"{_values('?p', (c.iri for c in columns))} ?s ?p ?o {LABEL_OF.format(term='?o', var='?ol')} }}"
        f" GROUP BY ?s ?p ?o LIMIT {CELL_ROWS}")


def facets_query(types: list, base: str, filters: list, columns: list) -> str:
    return PREFIXES + (
        "SELECT ?p ?o ?n (MIN(STR(?ol)) AS ?label) WHERE {\n"
        f"  {{ SELECT ?p ?o (COUNT(DISTINCT ?s) AS ?n) WHERE {{ {_distinct(types, base, filters)} "
        f"{_values('?p', (c.iri for c in columns))} ?s ?p ?o FILTER(!isBlank(?o)) }}\n"
        f"    GROUP BY ?p ?o ORDER BY DESC(?n) STR(?o) LIMIT {FACET_ROWS} }}\n"
        f"  {LABEL_OF.format(term='?o', var='?ol')}\n"
        "} GROUP BY ?p ?o ?n ORDER BY DESC(?n) STR(?o)")


def term_of(binding: dict):
    if binding["type"] == "uri":
        return URIRef(binding["value"])
    if binding["type"] == "bnode":
        return BNode(binding["value"])
    return Literal(binding["value"], lang=binding.get("xml:lang"), datatype=binding.get("datatype"))


def shown(term, label: str | None) -> str:
    if label:
        return label
    if isinstance(term, BNode):
        return "(a blank node)"
    return readable_name(str(term)) if isinstance(term, URIRef) else shown_literal(term)


def choose_columns(rows: list, total: int, name_of) -> list:
    """The properties at least half the members have, labels aside (they name the row), most used first."""
    chosen = []
    for row in rows:
        iri, count = row["p"]["value"], int(row["n"]["value"])
        if iri in LABELS or 2 * count < total:
            continue
        label = row["label"]["value"] if "label" in row else readable_name(iri)
        chosen.append(Column(name_of(iri), iri, label, count))
    return chosen[:MAX_COLUMNS]


def read_filters(args, columns: list) -> list:
    """[(Column, value)] from the query string; an unknown parameter is refused, not ignored."""
    by_key = {c.key: c for c in columns}
    filters = []
    for key in sorted(args):
        if key in RESERVED:
            continue
        if key not in by_key:
            known = ", ".join(sorted(by_key)) or "none"
            raise BadTable(f"This table has no column {key!r} to filter by (its columns: {known}).")
        filters.extend((by_key[key], value[:2000]) for value in sorted(set(args.getlist(key))))
    return filters


def read_page(args) -> tuple[int, int]:
    def number(name: str, default: int, top: int | None) -> int:
        text = args.get(name, "")
        if not text:
            return default
        if not re.fullmatch(r"[0-9]{1,9}", text) or int(text) < 1 or (top is not None and int(text) > top):
            limit = f" from 1 to {top}" if top else " from 1"
            raise BadTable(f"{name} must be a whole number{limit}, not {text[:40]!r}.")
        return int(text)
    return number("_page", 1, None), number("_size", PAGE_SIZE, PAGE_SIZE)


def build_table(select, class_iri: str, class_label: str, types: list, members: int, base: str, path: str, args,
                name_of, href) -> Table:
    """The table of a class (members: how many it has) for a request's filters and page.
    select(query) gives a SELECT's bindings; name_of(iri) a column's key; href(iri) a link."""
    columns = choose_columns(select(columns_query(types, base)), members, name_of)
    filters = read_filters(args, columns)
    page, size = read_page(args)
    total = int(select(count_query(types, base, filters))[0]["n"]["value"])
    if page > 1 and (page - 1) * size >= total:
        raise BadTable(f"There is no page {page}: the table has {total} rows, {size} a page.")
    found = select(rows_query(types, base, filters, size, (page - 1) * size))
    rows = [Row(r["s"]["value"], r["label"]["value"] if "label" in r else readable_name(r["s"]["value"]),
                href(r["s"]["value"]), [[] for _ in columns]) for r in found]
    index = {c.iri: n for n, c in enumerate(columns)}
    labels: dict = {}
    if rows and columns:
        where = {row.iri: row for row in rows}
        for r in select(cells_query(list(where), columns)):
            term = term_of(r["o"])
            cell = Cell(str(term), shown(term, r.get("label", {}).get("value")),
                        href(str(term)) if isinstance(term, URIRef) else None)
            where[r["s"]["value"]].cells[index[r["p"]["value"]]].append(cell)
            labels[str(term)] = cell.label
        for row in rows:
            for cells in row.cells:
                cells.sort(key=lambda c: (c.label.lower(), c.value))
    table = Table(class_iri, class_label, path, columns, rows, total, page, size)
    current = [(c.key, v) for c, v in filters]
    for column, value in filters:
        table.filters.append((column, value, labels.get(value, value),
                              table.link([pair for pair in current if pair != (column.key, value)])))
    if columns and total > 1:
        counted: dict = {}
        for r in select(facets_query(types, base, filters, columns)):
            count, term = int(r["n"]["value"]), term_of(r["o"])
            # A value every row has would narrow nothing; one only one row has is that row's own.
            if 1 < count < total:
                counted.setdefault(r["p"]["value"], []).append((term, r.get("label", {}).get("value"), count))
        for column in columns:
            values = counted.get(column.iri, [])[:FACET_VALUES]
            if values:
                table.facets.append((column, [FacetValue(str(t), shown(t, label), n,
                                                         table.link(current + [(column.key, str(t))]))
                                              for t, label, n in values]))
    return table
