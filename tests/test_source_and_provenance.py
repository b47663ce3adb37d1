"""The snapshot is the source unchanged, and every fact is tied to a verbatim quote."""
import rdflib
import hashlib

import pytest
from rdflib import RDF, URIRef
from rdflib.namespace import DCTERMS

from conftest import MOC_FOLDER, SHARED
from ijdp.vocab import IJDP, OA, PROV, SPDX

SNAPSHOT = MOC_FOLDER / "snapshot.txt"
PUBLISHED_SHA256 = "df4b52c94c306abf82d10207d2b440ec8e7f3c898bb729ad6ea8e14da9da7b20"


def test_snapshot_is_the_source_unchanged():
    assert hashlib.sha256(SNAPSHOT.read_bytes()).hexdigest() == PUBLISHED_SHA256
    shared = SHARED / "source" / "india-japan-semiconductor-moc.txt"
    if shared.exists():
        assert shared.read_bytes() == SNAPSHOT.read_bytes()


def test_metadata_records_the_snapshot_checksum(publication):
    meta = publication.graphs["metadata"]
    values = {str(v) for v in meta.objects(None, SPDX.checksumValue)}
    assert values == {PUBLISHED_SHA256}


def test_every_quote_is_verbatim_at_its_offsets(publication):
    text = SNAPSHOT.read_text(encoding="utf-8")
    prov = publication.graphs["provenance"]
    targets = list(prov.subjects(RDF.type, OA.SpecificResource))
    assert len(targets) >= 20
    for target in targets:
        selectors = list(prov.objects(target, OA.hasSelector))
        quote = next(s for s in selectors if (s, RDF.type, OA.TextQuoteSelector) in prov)
        position = next(s for s in selectors if (s, RDF.type, OA.TextPositionSelector) in prov)
        exact = str(prov.value(quote, OA.exact))
        start, end = int(prov.value(position, OA.start)), int(prov.value(position, OA.end))
        assert text[start:end] == exact
        assert text[:start].endswith(str(prov.value(quote, OA.prefix)))
        assert text[end:].startswith(str(prov.value(quote, OA.suffix)))
        assert text.count(exact) == 1


def test_no_quote_comes_from_the_page_furniture(publication):
    text = SNAPSHOT.read_text(encoding="utf-8")
    furniture_starts = text.index("PM-Shri Schools In Haryana")
    prov = publication.graphs["provenance"]
    ends = [int(o) for o in prov.objects(None, OA.end)]
    assert ends and max(ends) < furniture_starts


def test_every_fact_has_a_quoted_statement(publication):
    facts, prov = publication.graphs["facts"], publication.graphs["provenance"]
    assert len(facts) > 100
    for s, p, o in facts:
        statements = set(prov.subjects(RDF.subject, s)) & set(prov.subjects(RDF.predicate, p)) & set(prov.subjects(RDF.object, o))
        assert statements, f"no provenance for {s} {p} {o}"
        origins = {origin for st in statements for origin in prov.objects(st, PROV.wasDerivedFrom)}
        assert any((origin, RDF.type, OA.Annotation) in prov for origin in origins)


def test_every_derived_triple_says_how_it_was_derived(publication):
    derived, prov = publication.graphs["derived"], publication.graphs["provenance"]
    assert len(derived) > 8  # dates and entailed types
    for s, p, o in derived:
        statement = next(st for st in prov.subjects(RDF.subject, s)
                         if (st, RDF.predicate, p) in prov and (st, RDF.object, o) in prov)
        assert prov.value(statement, IJDP.derivationRule) is not None
        assert list(prov.objects(statement, PROV.wasDerivedFrom))


def test_derived_end_date_is_only_in_the_derived_graph(publication):
    end = URIRef("https://w3id.org/ijdp/id/instant/moc-period-in-force-end")
    assert (None, None, end) in publication.graphs["derived"]
    assert (end, None, None) not in publication.graphs["facts"]
    assert "2028" not in publication.graphs["facts"].serialize(format="nt")


@pytest.mark.parametrize("acronym", ["MoC", "MeitY", "ISM", "DIC", "IJDP", "IJICP", "ATMP", "OSAT", "G2G", "B2B"])
def test_acronyms_are_alternative_labels(publication, acronym):
    from rdflib import SKOS, Literal
    assert list(publication.graphs["facts"].subjects(SKOS.altLabel, Literal(acronym, lang="en")))


def test_what_no_quote_states_is_curated_with_who_why_and_reference(publication):
    """METI, the governments' names and the G2G/B2B expansions are in no quote: they are curated, each justified."""
    from rdflib import SKOS, Literal
    facts, curated, prov = (publication.graphs[n] for n in ("facts", "curated", "provenance"))
    for triple in [(URIRef("https://w3id.org/ijdp/id/organization/meti"), SKOS.altLabel, Literal("METI", lang="en")),
                   (URIRef("https://w3id.org/ijdp/id/government/japan"), SKOS.prefLabel, Literal("Government of Japan", lang="en")),
                   (URIRef("https://w3id.org/ijdp/id/concept/cooperation-mode/g2g"), SKOS.prefLabel,
                    Literal("government-to-government cooperation", lang="en"))]:
        assert triple not in facts and triple in curated
    words = {"METI", "Government of India", "Government of Japan", "government-to-government",
             "business-to-business"}
    assert not [o for o in facts.objects() if isinstance(o, Literal) and any(w in str(o) for w in words)]
    from ijdp.knowledge import statement_iri
    for triple in curated:
        origins = list(prov.objects(statement_iri(triple), PROV.wasDerivedFrom))
        assert len(origins) == 1, triple
        origin = origins[0]
        assert prov.value(origin, DCTERMS.creator) and prov.value(origin, IJDP.justification).language == "en"
        assert str(prov.value(origin, DCTERMS.references)).startswith(("http://", "https://"))


def test_the_rest_of_what_the_source_states(publication):
    """Bilateral, MeitY's agreements and their purpose, 'another such step', and the ongoing partnerships."""
    from rdflib import Literal
    facts = publication.graphs["facts"]
    base = "https://w3id.org/ijdp/id/"
    moc = URIRef(base + "agreement/semiconductor-supply-chain-moc-2023")
    group = URIRef(base + "agreement-group/meity-with-counterparts")
    assert (moc, IJDP.cooperationKind, Literal("bilateral", lang="en")) in facts
    assert (moc, IJDP.amongAgreements, group) in facts
    assert (group, IJDP.partyToEach, URIRef(base + "organization/meity")) in facts
    assert {str(o) for o in facts.objects(group, IJDP.objective)} == {
        "promote bilateral cooperation and exchange of information",
        "ensure supply chain resilience enabling India emerge as trusted partner",
        # "With this objective": the mandate's aim (issue 21)
        "promote international cooperation in the emerging and frontier areas of Information Technology under "
        "bilateral and regional frameworks"}
    assert not [o for o in facts.objects(URIRef(base + "organization/meity"), None) if "trusted partner" in str(o)]
    for partnership in ("india-japan-digital-partnership", "india-japan-industrial-competitiveness-partnership"):
        assert (URIRef(base + "partnership/" + partnership), IJDP.status, Literal("ongoing", lang="en")) in facts


def test_dates_are_as_precise_as_the_source(publication):
    from rdflib import XSD
    dates = {str(o): o.datatype for o in publication.graphs["facts"].objects(None, DCTERMS.date)}
    assert dates == {"2023-07": XSD.gYearMonth, "2018-10": XSD.gYearMonth}


def test_term_is_an_owl_time_duration(publication):
    from rdflib import XSD
    from ijdp.vocab import TIME
    durations = list(publication.graphs["facts"].objects(None, TIME.hasXSDDuration))
    assert [(str(d), d.datatype) for d in durations] == [("P5Y", XSD.duration)]


def test_all_resource_iris_live_under_the_base(publication):
    facts = publication.graphs["facts"]
    for subject in facts.subjects():
        assert str(subject).startswith("https://w3id.org/ijdp/id/"), subject


def test_objectives_and_rationales_are_in_the_words_of_the_source(publication):
    """Each is a phrase of the source as it stands (no-break spaces read as spaces), never two phrases spliced."""
    source = " ".join(SNAPSHOT.read_text(encoding="utf-8").replace("\u00a0", " ").split()).lower()
    ijdp = rdflib.Namespace("https://w3id.org/ijdp/ontology#")
    phrases = [str(o) for p in (ijdp.objective, ijdp.rationale) for o in publication.graphs["facts"].objects(None, p)]
    assert len(phrases) >= 8
    assert [p for p in phrases if " ".join(p.split()).lower() not in source] == []


def test_the_moc_states_why_semiconductors_matter(publication):
    moc = rdflib.URIRef("https://w3id.org/ijdp/id/agreement/semiconductor-supply-chain-moc-2023")
    rationale = rdflib.URIRef("https://w3id.org/ijdp/ontology#rationale")
    assert [str(o) for o in publication.graphs["facts"].objects(moc, rationale)] == [
        "the importance of semiconductor for the advancement of industries and digital technologies"]


def test_ijdp_states_why_it_was_launched_and_what_it_furthers(publication):
    ijdp = rdflib.Namespace("https://w3id.org/ijdp/ontology#")
    partnership = rdflib.URIRef("https://w3id.org/ijdp/id/partnership/india-japan-digital-partnership")
    facts = publication.graphs["facts"]
    assert [str(o) for o in facts.objects(partnership, ijdp.rationale)] == [
        "synergies and complementarities between the two nations"]
    assert [str(o) for o in facts.objects(partnership, ijdp.objective)] == [
        "furthering existing areas of cooperation as well as new initiatives"]


def label_words(text: str) -> set:
    """Words, lower-cased, plurals folded (fabs: fab, facilities: facility)."""
    import re
    tokens = re.findall(r"[a-z0-9]+", text.replace("\u00a0", " ").lower())
    return {t[:-3] + "y" if t.endswith("ies") else t[:-1] if t.endswith("s") and len(t) > 3 else t for t in tokens}


@pytest.mark.parametrize("folder", sorted((MOC_FOLDER.parent).iterdir()), ids=lambda p: p.name)
def test_a_quote_graph_names_things_only_in_its_quote_s_words(folder):
    """Names coined by the publication (events, schemes) and expansions are curated, not quoted."""
    from rdflib import SKOS, Dataset, Literal
    from rdflib.namespace import FOAF
    authoring = Dataset()
    authoring.parse(folder / "facts.trig", format="trig")
    quotes = {s: str(o) for s, o in authoring.default_graph.subject_objects(IJDP.quote)}
    checked, coined = 0, []
    for graph in authoring.graphs():
        if graph.identifier not in quotes:
            continue
        allowed = label_words(quotes[graph.identifier])
        for s, p, o in graph:
            if p in (SKOS.prefLabel, SKOS.altLabel, DCTERMS.title, FOAF.name) and isinstance(o, Literal):
                checked += 1
                if not label_words(str(o)) <= allowed:
                    coined.append((str(graph.identifier).rsplit("/", 1)[-1], str(o), sorted(label_words(str(o)) - allowed)))
    assert checked >= 20 and coined == []
