"""Links that mean what they say (issue 21): identity only where things are identical, exact mappings only
to identifiers, predicates a reasoner cannot misread, and a linking flow that cannot publish the wrong one."""
import shutil

import owlrl
import pytest
import rdflib
from click.testing import CliRunner
from hypothesis import given, settings, strategies as st
from rdflib import OWL, RDF, SKOS, URIRef

from conftest import DATA, REPO, SHARED
from ijdp.cli import main
from ijdp.errors import IjdpError
from ijdp.linking import Candidate, Ours, evaluate, find_candidates, our_entities
from ijdp.links import (IDENTIFIER_NAMESPACES, MAPPING_PREDICATES, SCHEMA_SAME_AS, identifier_namespace,
                        links_graph, read_sssom)
from ijdp.rdfio import load_graph

ID = "https://w3id.org/ijdp/id/"
TABLE = REPO / "data" / "links.sssom.tsv"
EU_COUNTRIES = SHARED / "linking" / "eu-countries-skos.rdf"
TARGETS = sorted((DATA / "link-targets").glob("*.ttl")) + sorted((DATA / "link-targets").glob("*.rdf")) + \
    sorted((SHARED / "linking").glob("*.rdf"))
VOCABULARIES = DATA / "vocabularies" / "rdfs-axioms.ttl"
INDIA, JAPAN = URIRef(ID + "country/india"), URIRef(ID + "country/japan")


def table_with(tmp_path, *rows, drop=()):
    """The published table, without the rows naming any of `drop`, with `rows` (tab-separated) appended."""
    lines = [line for line in TABLE.read_text().splitlines(keepends=True) if not any(d in line for d in drop)]
    path = tmp_path / "links.sssom.tsv"
    path.write_text("".join(lines) + "".join(row + "\n" for row in rows))
    return path, len(lines)


def refusal(path) -> str:
    metadata, rows = read_sssom(path)
    with pytest.raises(IjdpError) as caught:
        links_graph(metadata, rows)
    return str(caught.value)


def row(subject, predicate, obj, justification="semapv:ManualMappingCuration", confidence="",
        author="ijdp project", comment="checked."):
    return "\t".join([subject, "label", predicate, obj, "label", justification, confidence, author, "a reviewer",
                      "2026-12-02", comment])


# ------------------------------------------------------------------ 1. identity only for the same kind

def smushed_labels(graph: rdflib.Graph, resource) -> dict:
    """skos:prefLabel and altLabel of the resource and everything owl:sameAs makes it (OWL's reading)."""
    same, frontier = {resource}, [resource]
    while frontier:
        node = frontier.pop()
        for other in set(graph.objects(node, OWL.sameAs)) | set(graph.subjects(OWL.sameAs, node)):
            if other not in same:
                same.add(other)
                frontier.append(other)
    labels = {"pref": [], "alt": []}
    for node in same:
        labels["pref"] += list(graph.objects(node, SKOS.prefLabel))
        labels["alt"] += list(graph.objects(node, SKOS.altLabel))
    return labels


@pytest.mark.parametrize("target", TARGETS, ids=[t.name for t in TARGETS])
def test_merged_with_a_link_target_every_country_keeps_one_preferred_label(publication, target):
    """SKOS S14 (one prefLabel per language) and S13 (pref and alt labels disjoint) hold for India and Japan
    after owl:sameAs merges them with what each shipped target says: the EU table's entries are no longer
    owl:sameAs (its "India" was a second English preferred label and India's alternative label)."""
    merged = publication.merged(("facts", "curated", "links")) + load_graph(target)
    for country in (INDIA, JAPAN):
        labels = smushed_labels(merged, country)
        languages = [label.language for label in labels["pref"]]
        assert len(languages) == len(set(languages)), (country, labels["pref"])
        assert not set(labels["pref"]) & set(labels["alt"]), (country, labels)


def test_the_eu_tables_entries_identify_the_countries_without_being_them(publication):
    links = publication.graphs["links"]
    eu = "http://publications.europa.eu/resource/authority/country/"
    assert (INDIA, SCHEMA_SAME_AS, URIRef(eu + "IND")) in links and (JAPAN, SCHEMA_SAME_AS, URIRef(eu + "JPN")) in links
    assert not [o for o in links.objects(None, OWL.sameAs) if str(o).startswith(eu)]
    # owl:sameAs is kept for the individuals of the same kind: Wikidata's items and GeoNames' features
    assert {str(o) for o in links.objects(INDIA, OWL.sameAs)} == {"http://www.wikidata.org/entity/Q668",
                                                                   "https://sws.geonames.org/1269750/"}


# ------------------------------------------------------------------ 2. targets that are identifiers

def test_every_published_target_is_an_identifier_in_a_known_namespace(publication):
    links = publication.graphs["links"]
    targets = {o for s, p, o in links if p in MAPPING_PREDICATES}
    assert targets and all(identifier_namespace(str(o)) for o in targets)
    assert {n.name for n in IDENTIFIER_NAMESPACES} >= {"Wikidata", "GeoNames"}
    assert not [o for o in targets if "iso.org" in str(o)]


@pytest.mark.parametrize("bad,words", [
    (row("ijdp:country/india", "schema:sameAs", "https://www.iso.org/obp/ui/#iso:code:3166:IN"),
     "is not an identifier in a known namespace"),
    (row("ijdp:country/india", "owl:sameAs", "euc:IND"), "is an entry of the EU Publications Office"),
    (row("ijdp:organization/meti", "skos:exactMatch", "gbiz:4000012090001"), "would make"),
    (row("ijdp:organization/meti", "schema:sameAs", "gbiz:4000012090002"), "is not an identifier"),  # check digit
    (row("ijdp:organization/meity", "owl:sameAs", "geonames:1269750/"), "needs a thing of the same kind"),
    (row("ijdp:post/prime-minister", "owl:sameAs", "wikidata:Q192711"), "models positions as classes"),
    (row("ijdp:country/japan", "owl:sameAs", "wikidata:Q17x"), "is not an identifier"),
    (row("ijdp:person/narendra-modi", "owl:sameAs", "wikidata:Q1058", author="ijdp link (lexical and identifier matching)",
         confidence="0.95"), "the matcher"),
    (row("ijdp:person/narendra-modi", "owl:sameAs", "wikidata:Q1058", justification="semapv:LexicalMatching"),
     "states the matcher's confidence"),
    (row("ijdp:person/narendra-modi", "owl:sameAs", "wikidata:Q1058", confidence="0.9"), "a manual curation"),
    (row("ijdp:person/narendra-modi", "owl:sameAs", "wikidata:Q1058", justification="semapv:LexicalMatching",
         confidence="1.5"), "between 0 and 1"),
], ids=["web-page", "sameAs-to-an-entry", "exactMatch-from-a-ministry", "wrong-check-digit",
        "geonames-for-a-ministry", "sameAs-for-a-post", "malformed-item", "matcher-as-manual",
        "matcher-without-confidence", "manual-with-confidence", "confidence-out-of-range"])
def test_the_build_refuses_a_link_that_says_what_its_target_is_not(tmp_path, bad, words):
    path, line = table_with(tmp_path, bad, drop=("wikidata:Q1058",))
    message = refusal(path)
    assert message.startswith(f"{path}:{line + 1}: ") and words in message and "\n" not in message


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(["owl:sameAs", "schema:sameAs"]),
       st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-./#", min_size=1, max_size=30))
def test_an_identity_link_outside_the_known_namespaces_is_refused(tmp_path_factory, predicate, local):
    iri = f"https://example.org/{local}"
    path, line = table_with(tmp_path_factory.mktemp("t"), row("ijdp:country/india", predicate, iri))
    assert refusal(path).startswith(f"{path}:{line + 1}: ")


def test_the_build_reports_a_refused_link_in_one_line_naming_file_and_line(tmp_path, monkeypatch):
    data = tmp_path / "data"
    shutil.copytree(REPO / "data", data)
    path, line = table_with(data, row("ijdp:country/japan", "skos:exactMatch", "https://www.iso.org/obp/ui/#iso:code:3166:JP"))
    monkeypatch.setenv("IJDP_DATA_DIR", str(data))
    result = CliRunner().invoke(main, ["build", "--skip-reasoner", "--out", str(tmp_path / "dist")])
    assert result.exit_code == 2
    message = result.output.strip().splitlines()[-1]
    assert message.startswith(f"ijdp: {path}:{line + 1}: ") and "skos:exactMatch relates concepts" in message


# ------------------------------------------------------------------ 3. the linking flow

def test_the_predicate_comes_from_the_kind_of_target():
    ours = our_entities(__import__("ijdp.knowledge", fromlist=["assemble"]).assemble()
                        .merged(("facts", "curated", "ontology", "links")))
    eu = {(c.ours.iri[len(ID):], c.target.rsplit("/", 1)[1]): c.predicate for c in find_candidates(ours, EU_COUNTRIES)}
    assert eu[("country/india", "IND")] == eu[("country/japan", "JPN")] == "schema:sameAs"   # a code list's concept
    wikidata = {(c.ours.iri[len(ID):], c.target.rsplit("/", 1)[1]): c.predicate
                for c in find_candidates(ours, DATA / "link-targets" / "wikidata-extract.ttl")}
    assert wikidata[("person/narendra-modi", "Q1058")] == "owl:sameAs"      # an individual of the same kind
    assert wikidata[("country/india", "Q668")] == "owl:sameAs"
    assert wikidata[("post/prime-minister", "Q192711")] == "schema:sameAs"  # Wikidata's positions are classes


def test_a_concept_of_ours_is_matched_to_a_concept(tmp_path):
    from ijdp.links import EXACT_MATCH, proposed_predicate
    concept = ID + "concept/facility-type/semiconductor-fab"
    assert proposed_predicate(concept, "http://example.org/c", target_is_entry=True, kinds_agree=True) == EXACT_MATCH
    assert proposed_predicate(ID + "country/india", "http://example.org/c", True, True) == SCHEMA_SAME_AS


def eu_flow(tmp_path, monkeypatch, drop=()):
    data = tmp_path / "data"
    shutil.copytree(REPO / "data", data)
    table_with(data, drop=drop)
    monkeypatch.setenv("IJDP_DATA_DIR", str(data))
    candidates = tmp_path / "eu.sssom.tsv"
    assert CliRunner().invoke(main, ["link", "--target", str(EU_COUNTRIES), "--out", str(candidates)]).exit_code == 0
    return data / "links.sssom.tsv", candidates


def test_accept_links_refuses_a_pair_mapped_with_another_predicate_naming_both(tmp_path, monkeypatch):
    table, candidates = eu_flow(tmp_path, monkeypatch)
    candidates.write_text(candidates.read_text().replace("\tschema:sameAs\t", "\towl:sameAs\t"))
    before = table.read_bytes()
    result = CliRunner().invoke(main, ["accept-links", str(candidates), "--reviewer", "r", "--how", "h."])
    assert result.exit_code == 2
    message = result.output.strip()
    assert len(message.splitlines()) == 1
    lines = table.read_text().splitlines()
    held = next(n for n, line in enumerate(lines, start=1) if "\teuc:" in line and "schema:sameAs" in line)
    assert f"{candidates}:" in message and f"{table}:{held}" in message
    assert "owl:sameAs" in message and "schema:sameAs" in message
    assert table.read_bytes() == before


def test_the_build_refuses_a_pair_mapped_twice_with_different_predicates(tmp_path):
    path, line = table_with(tmp_path, row("ijdp:person/narendra-modi", "schema:sameAs", "wikidata:Q1058"))
    first = next(n for n, text in enumerate(path.read_text().splitlines(), start=1) if "wikidata:Q1058" in text)
    message = refusal(path)
    assert message.startswith(f"{path}:{line + 1}: ") and f"{path}:{first}" in message and "one predicate" in message


def test_accepted_candidates_keep_the_matchers_justification_and_confidence(tmp_path, monkeypatch):
    table, candidates = eu_flow(tmp_path, monkeypatch, drop=("\teuc:",))
    result = CliRunner().invoke(main, ["accept-links", str(candidates), "--reviewer", "a reviewer", "--how", "codes."])
    assert result.exit_code == 0 and "accepted 2 link(s)" in result.output
    metadata, rows = read_sssom(table)
    accepted = [r for r in rows if r["object_id"].startswith("euc:")]
    assert {r["predicate_id"] for r in accepted} == {"schema:sameAs"}
    assert {r["mapping_justification"] for r in accepted} == {"semapv:LexicalMatching"}
    assert all(0.9 <= float(r["confidence"]) <= 1.0 and r["reviewer_label"] == "a reviewer" for r in accepted)
    links_graph(metadata, rows)   # and the build accepts them


def test_evaluate_counts_a_wrong_predicate_as_a_miss():
    india = Ours(str(INDIA), "Republic of India", {"country"})
    target = "http://publications.europa.eu/resource/authority/country/IND"
    candidate = Candidate(india, target, "India", 1.0, "codes", target_is_entry=True)
    assert candidate.predicate == "schema:sameAs"
    right = evaluate([candidate], [(str(INDIA), "schema:sameAs", target)], {target})
    wrong = evaluate([candidate], [(str(INDIA), "owl:sameAs", target)], {target})
    assert (right["precision"], right["recall"]) == (1.0, 1.0)
    assert (wrong["precision"], wrong["recall"]) == (0.0, 0.0)
    assert wrong["missed"] == [(str(INDIA), "owl:sameAs", target)]
    assert wrong["wrong"] == [(str(INDIA), "schema:sameAs", target)]


# ------------------------------------------------------------------ 4. what RDFS makes of the links

def rdfs_closure(graph: rdflib.Graph) -> rdflib.Graph:
    closed = rdflib.Graph()
    closed += graph
    closed += load_graph(VOCABULARIES)
    owlrl.DeductiveClosure(owlrl.RDFS_Semantics, axiomatic_triples=False, datatype_axioms=False).expand(closed)
    return closed


def inferred_about_ours(graph: rdflib.Graph) -> set:
    closed = rdfs_closure(graph)
    ours = {s for s in graph.subjects() if str(s).startswith(ID)}
    return {(str(s)[len(ID):], p, o) for s, p, o in set(closed) - set(graph) if s in ours}


def test_rdfs_infers_nothing_but_identity_typing_from_the_published_links(publication):
    """A standard RDFS closure (owlrl) over the links graph and the SKOS, OWL, DCMI and schema.org axioms:
    owl:sameAs makes its subjects owl:Things, every resource is an rdfs:Resource, and nothing else; in
    particular no country, ministry or post becomes a skos:Concept (skos:exactMatch would have made it one)."""
    links = rdflib.Graph()
    for triple in publication.graphs["links"]:
        if triple[1] in MAPPING_PREDICATES:
            links.add(triple)
    inferred = inferred_about_ours(links)
    same_as = {str(s)[len(ID):] for s in links.subjects(OWL.sameAs, None)}
    subjects = {str(s)[len(ID):] for s in links.subjects()}
    assert inferred == {(s, RDF.type, rdflib.RDFS.Resource) for s in subjects} | \
        {(s, RDF.type, OWL.Thing) for s in same_as}
    assert same_as == {"country/india", "country/japan", "person/narendra-modi"}


def test_rdfs_would_have_made_the_countries_concepts_under_skos_exact_match():
    """The control: the links as they were (skos:exactMatch from India to the ISO page) make India a concept."""
    old = rdflib.Graph()
    old.add((INDIA, SKOS.exactMatch, URIRef("https://www.iso.org/obp/ui/#iso:code:3166:IN")))
    assert ("country/india", RDF.type, SKOS.Concept) in inferred_about_ours(old)


def test_the_published_data_closed_under_rdfs_still_conforms_to_its_concept_shape(publication):
    """Our shapes check every skos:Concept for a scheme: after RDFS, none of our non-concepts is one."""
    closed = rdfs_closure(publication.merged(("facts", "curated", "links")))
    concepts = {str(s)[len(ID):] for s in closed.subjects(RDF.type, SKOS.Concept) if str(s).startswith(ID)}
    assert concepts and all(c.startswith("concept/") for c in concepts)
