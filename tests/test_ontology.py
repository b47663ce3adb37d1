"""The ontology header, and a label, a definition and an alignment for every local term."""
import pytest
import rdflib
from rdflib import OWL, RDF, RDFS, SKOS, URIRef
from rdflib.namespace import DCTERMS

from ijdp.vocab import IJDP

ONTOLOGY = URIRef("https://w3id.org/ijdp/ontology")
VANN = "http://purl.org/vocab/vann/"


def local_terms(graph):
    kinds = (OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty)
    return {s for k in kinds for s in graph.subjects(RDF.type, k) if str(s).startswith(str(IJDP))}


def test_header_is_complete(publication):
    g = publication.graphs["ontology"]
    for predicate in (DCTERMS.title, DCTERMS.description, DCTERMS.creator, DCTERMS.license, DCTERMS.created,
                      DCTERMS.modified, OWL.versionIRI, OWL.versionInfo,
                      URIRef(VANN + "preferredNamespacePrefix"), URIRef(VANN + "preferredNamespaceUri")):
        assert g.value(ONTOLOGY, predicate) is not None, predicate
    assert str(g.value(ONTOLOGY, URIRef(VANN + "preferredNamespaceUri"))) == str(IJDP)


def test_every_local_term_has_label_definition_and_alignment(publication):
    g = publication.graphs["ontology"]
    terms = local_terms(g)
    assert len(terms) >= 25
    for term in terms:
        assert g.value(term, RDFS.label) is not None, term
        assert g.value(term, SKOS.definition) is not None, term
        parents = set(g.objects(term, RDFS.subClassOf)) | set(g.objects(term, RDFS.subPropertyOf))
        assert parents, f"{term} is not aligned to any vocabulary"
        # aligned, directly or through a local parent, to a standard term
        frontier, seen = parents, set()
        while frontier and all(str(p).startswith(str(IJDP)) for p in frontier):
            seen |= frontier
            frontier = {q for p in frontier for q in set(g.objects(p, RDFS.subClassOf)) | set(g.objects(p, RDFS.subPropertyOf))} - seen
        assert any(not str(p).startswith(str(IJDP)) for p in frontier), term


def test_every_term_the_data_uses_is_declared(publication):
    g = publication.graphs["ontology"]
    declared = {s for s in g.subjects(RDF.type, None)}
    facts = publication.graphs["facts"]
    used = set(facts.predicates()) | set(facts.objects(None, RDF.type))
    assert used - declared - {RDF.type} == set()


def test_one_alternative_label_names_one_thing(publication):
    """"MoC" is the instance's alternative label (the source's own acronym), not also the class's."""
    skos = rdflib.Namespace("http://www.w3.org/2004/02/skos/core#")
    named = {s for graph in publication.graphs.values() for s in graph.subjects(skos.altLabel, rdflib.Literal("MoC", lang="en"))}
    assert named == {rdflib.URIRef("https://w3id.org/ijdp/id/agreement/semiconductor-supply-chain-moc-2023")}


def test_partners_are_not_spatial_coverage(publication):
    between = rdflib.URIRef("https://w3id.org/ijdp/ontology#between")
    parents = set(publication.graphs["ontology"].objects(between, rdflib.RDFS.subPropertyOf))
    assert rdflib.URIRef("http://purl.org/dc/terms/spatial") not in parents and parents


def test_support_types_have_their_own_class(publication):
    """As cooperation modes and facility types do: the range of ijdp:supportType is a class of concepts."""
    ijdp = rdflib.Namespace("https://w3id.org/ijdp/ontology#")
    ontology = publication.graphs["ontology"]
    assert set(ontology.objects(ijdp.supportType, RDFS.range)) == {ijdp.SupportType}
    assert (ijdp.SupportType, RDFS.subClassOf, SKOS.Concept) in ontology
    fiscal = rdflib.URIRef("https://w3id.org/ijdp/id/concept/support-type/fiscal-support")
    assert (fiscal, RDF.type, ijdp.SupportType) in publication.graphs["facts"]


def test_the_chair_is_the_head_not_merely_a_member(publication):
    """chairedBy implies org:headOf from the body's side: a sub-property of its inverse, not the inverse
    (tests/test_ontology_meaning.py checks what a reasoner makes of it)."""
    ijdp = rdflib.Namespace("https://w3id.org/ijdp/ontology#")
    org = rdflib.Namespace("http://www.w3.org/ns/org#")
    ontology = publication.graphs["ontology"]
    assert (ijdp.chairedBy, OWL.inverseOf, org.headOf) not in ontology
    inverses = [p for p in ontology.objects(ijdp.chairedBy, RDFS.subPropertyOf)
                if (p, OWL.inverseOf, org.headOf) in ontology]
    assert inverses == [ijdp.headedBy]
    assert not list(ontology.objects(ijdp.headedBy, RDFS.range))   # a head may be an organisation


@pytest.mark.parametrize("term", ["http://www.w3.org/2006/time#hasXSDDuration",
                                  "http://www.w3.org/2006/time#inXSDgYearMonth", "http://xmlns.com/foaf/0.1/name"])
def test_datatype_properties_are_declared_as_their_vocabularies_declare_them(publication, term):
    ontology = publication.graphs["ontology"]
    assert (rdflib.URIRef(term), RDF.type, OWL.DatatypeProperty) in ontology
    assert (rdflib.URIRef(term), RDF.type, OWL.AnnotationProperty) not in ontology


def test_the_reasoner_sees_no_value_outside_the_owl2_datatype_map(publication):
    from ijdp.build import OUTSIDE_OWL2_DATATYPES, reasoner_input
    graph = reasoner_input(publication)
    assert not [o for o in graph.objects() if isinstance(o, rdflib.Literal) and o.datatype in OUTSIDE_OWL2_DATATYPES]
    # while the facts keep them
    assert [o for o in publication.graphs["facts"].objects() if isinstance(o, rdflib.Literal)
            and o.datatype in OUTSIDE_OWL2_DATATYPES]
