"""A model that means what it says (issue 21): what a reasoner makes of chairedBy, disjointness only between
our own classes, ranges that fit, and the last claims of the source stated as the source states them."""
import pytest
import rdflib
from rdflib import OWL, RDF, RDFS, SKOS, Literal, URIRef
from rdflib.namespace import DCTERMS

from conftest import DATA, MOC_FOLDER, SHARED
from ijdp import reasoning, resources
from ijdp.axioms import check_disjointness, foreign_disjointness
from ijdp.errors import IjdpError
from ijdp.rdfio import load_graph
from ijdp.vocab import IJDP, OA, PROV

ID = "https://w3id.org/ijdp/id/"
ORG = rdflib.Namespace("http://www.w3.org/ns/org#")
FOAF = rdflib.Namespace("http://xmlns.com/foaf/0.1/")
SCHEMA = rdflib.Namespace("https://schema.org/")
EX = rdflib.Namespace("https://example.org/")
needs_java = pytest.mark.skipif(not reasoning.java_available(), reason="the reasoner needs Java")


def ontology_with(turtle: str) -> rdflib.Graph:
    graph = load_graph(*resources.ontology_files())
    graph.parse(data="@prefix ex: <https://example.org/> . @prefix org: <http://www.w3.org/ns/org#> .\n"
                     "@prefix ijdp: <https://w3id.org/ijdp/ontology#> . @prefix foaf: <http://xmlns.com/foaf/0.1/> .\n"
                     "@prefix owl: <http://www.w3.org/2002/07/owl#> .\n" + turtle, format="turtle")
    return graph


# ------------------------------------------------------------------ 5. chairing implies heading, not back

@needs_java
def test_chairing_implies_heading_but_an_organisation_at_the_head_is_no_chair_and_no_person():
    graph = ontology_with("""
        ex:Heads owl:equivalentClass [ a owl:Restriction ; owl:onProperty org:headOf ; owl:someValuesFrom owl:Thing ] .
        ex:Chairs owl:equivalentClass [ a owl:Restriction ; owl:onProperty [ owl:inverseOf ijdp:chairedBy ] ;
                                        owl:someValuesFrom owl:Thing ] .
        ex:cabinet a ijdp:Cabinet ; ijdp:chairedBy ex:chair .
        ex:Agent a owl:Class .
        ex:chair a ex:Agent .
        ex:holding a org:Organization ; org:headOf ex:subsidiary .
        ex:subsidiary a org:Organization .""")
    entailed = reasoning.check_consistency(graph)
    assert (EX.chair, EX.Heads) in entailed and (EX.chair, FOAF.Person) in entailed
    assert (EX.holding, EX.Chairs) not in entailed and (EX.holding, FOAF.Person) not in entailed


# ------------------------------------------------------------------ 6. disjointness between our classes only

def test_the_ontology_declares_no_disjointness_on_other_vocabularies_classes(publication):
    assert foreign_disjointness(publication.graphs["ontology"]) == []
    disjoint = {frozenset(pair) for pair in publication.graphs["ontology"].subject_objects(OWL.disjointWith)}
    assert {frozenset((IJDP.Agreement, IJDP.Ministry)), frozenset((IJDP.Partnership, IJDP.Agreement)),
            frozenset((IJDP.Programme, IJDP.Agreement))} <= disjoint


@pytest.mark.parametrize("axiom,word", [
    ("ijdp:Agreement a owl:Class ;\n    rdfs:label \"a\"@en ;\n    owl:disjointWith org:Organization .\n", "disjointWith"),
    ("[] a owl:AllDisjointClasses ;\n    owl:members ( ijdp:Agreement foaf:Person ) .\n", "AllDisjointClasses"),
    ("org:Organization a owl:Class ;\n    owl:disjointUnionOf ( ijdp:Ministry ijdp:Mission ) .\n", "disjointUnionOf"),
], ids=["disjointWith", "AllDisjointClasses", "disjointUnionOf"])
def test_the_build_refuses_disjointness_on_another_vocabularys_class(tmp_path, axiom, word):
    path = tmp_path / "ontology.ttl"
    header = ("@prefix ijdp: <https://w3id.org/ijdp/ontology#> .\n@prefix org: <http://www.w3.org/ns/org#> .\n"
              "@prefix foaf: <http://xmlns.com/foaf/0.1/> .\n@prefix owl: <http://www.w3.org/2002/07/owl#> .\n"
              "@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n\n")
    path.write_text(header + axiom)
    with pytest.raises(IjdpError) as caught:
        check_disjointness(load_graph(path), [path])
    message = str(caught.value)
    line = int(message.split(f"{path}:", 1)[1].split(":", 1)[0])
    assert word in path.read_text().splitlines()[line - 1] and f"owl:{word}" in message and "\n" not in message
    check_disjointness(load_graph(*resources.ontology_files()), resources.ontology_files())   # ours passes


def link_targets_as_rdf(tmp_path) -> rdflib.Graph:
    """Every shipped link target (RDF as it is; a CSV's rows as labelled resources)."""
    import csv
    graph = rdflib.Graph()
    for path in sorted((DATA / "link-targets").iterdir()) + sorted((SHARED / "linking").glob("*.rdf")):
        if path.suffix == ".csv":
            for row in csv.DictReader(path.open(encoding="utf-8")):
                graph.add((URIRef(row["id"]), RDFS.label, Literal(row["name"])))
        else:
            graph += load_graph(path)
    return graph


@needs_java
def test_the_published_data_merged_with_every_link_target_is_consistent(publication, tmp_path):
    """HermiT over the reasoner's input, every shipped link target, and the readings other data makes
    (Wikidata: a state is an organisation and an agent; ORG: a partnership is an organisational
    collaboration, an organisation heads another)."""
    from ijdp.build import reasoner_input
    graph = reasoner_input(publication) + link_targets_as_rdf(tmp_path)
    graph.parse(data="""
        @prefix org: <http://www.w3.org/ns/org#> . @prefix foaf: <http://xmlns.com/foaf/0.1/> .
        @prefix owl: <http://www.w3.org/2002/07/owl#> . @prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
        org:OrganizationalCollaboration a owl:Class ; rdfs:subClassOf org:Organization .
        foaf:Agent a owl:Class .
        <http://www.wikidata.org/entity/Q668> a org:Organization , foaf:Agent .
        <https://w3id.org/ijdp/id/partnership/india-japan-digital-partnership> a org:OrganizationalCollaboration .
        <https://w3id.org/ijdp/id/government/india> org:headOf <https://w3id.org/ijdp/id/organization/meity> .
        """, format="turtle")
    entailed = reasoning.check_consistency(graph)
    india = URIRef(ID + "country/india")
    assert (india, ORG.Organization) in entailed          # through owl:sameAs Wikidata's Q668, consistently
    assert (URIRef(ID + "government/india"), FOAF.Person) not in entailed


# ------------------------------------------------------------------ 7. ranges that fit

def test_fiscal_support_is_no_class_under_rdfs(publication):
    from test_links_meaning import rdfs_closure
    closed = rdfs_closure(publication.merged(("ontology", "facts", "curated")))
    fiscal = URIRef(ID + "concept/support-type/fiscal-support")
    assert (fiscal, RDF.type, RDFS.Class) not in closed
    assert (IJDP.supportType, RDFS.subPropertyOf, DCTERMS.type) not in publication.graphs["ontology"]
    assert not [s for s in closed.subjects(RDF.type, RDFS.Class) if str(s).startswith(ID)]


# ------------------------------------------------------------------ 8. smaller points

def test_the_cabinet_was_apprised_not_responsible(publication):
    facts, ontology = publication.graphs["facts"], publication.graphs["ontology"]
    briefing, cabinet = URIRef(ID + "event/cabinet-apprised-of-moc"), URIRef(ID + "organization/union-cabinet")
    assert (briefing, IJDP.apprised, cabinet) in facts
    assert (briefing, PROV.wasAssociatedWith, cabinet) not in facts
    assert (IJDP.apprised, RDFS.subPropertyOf, SCHEMA.recipient) in ontology


def test_the_visit_is_a_visit_of_no_stated_category(publication):
    visit = URIRef(ID + "event/pm-visit-to-japan-2018")
    assert (visit, RDF.type, IJDP.Visit) in publication.graphs["facts"]
    everything = publication.merged()
    assert not list(everything.triples((None, None, IJDP.OfficialVisit))) and (IJDP.OfficialVisit, None, None) not in everything


def test_partners_read_from_names_are_curated_alike(publication):
    facts, curated = publication.graphs["facts"], publication.graphs["curated"]
    partnerships = set(facts.subjects(RDF.type, IJDP.Partnership))
    assert len(partnerships) == 3
    assert not [p for p in partnerships if (p, IJDP.between, None) in facts]
    for partnership in partnerships:
        assert set(curated.objects(partnership, IJDP.between)) == {URIRef(ID + "country/india"), URIRef(ID + "country/japan")}


def test_definitions_and_alignments_claim_only_what_is_known(publication):
    ontology = publication.graphs["ontology"]
    assert "international law" not in str(ontology.value(IJDP.MemorandumOfCooperation, SKOS.definition))
    assert (IJDP.Programme, RDFS.subClassOf, PROV.Plan) not in ontology
    assert (IJDP.quote, RDFS.subPropertyOf, OA.exact) not in ontology
    # a partnership may be an org:OrganizationalCollaboration: disjoint with none of ORG's classes
    disjoint = set(ontology.objects(IJDP.Partnership, OWL.disjointWith)) | set(ontology.subjects(OWL.disjointWith, IJDP.Partnership))
    assert disjoint and all(str(c).startswith(str(IJDP)) for c in disjoint)


def test_evidence_annotations_say_the_quote_supports_the_statements(publication):
    provenance, ontology = publication.graphs["provenance"], publication.graphs["ontology"]
    annotations = set(provenance.subjects(RDF.type, OA.Annotation))
    assert annotations and {provenance.value(a, OA.motivatedBy) for a in annotations} == {IJDP.supporting}
    assert (IJDP.supporting, RDF.type, OA.Motivation) in ontology
    assert (IJDP.supporting, SKOS.broader, OA.describing) in ontology


# ------------------------------------------------------------------ 9. the last claims of the source

def quote_of(publication, triple) -> str:
    """The exact words of the quote a fact is derived from."""
    from ijdp.knowledge import statement_iri
    prov = publication.graphs["provenance"]
    target = prov.value(prov.value(statement_iri(triple), PROV.wasDerivedFrom), OA.hasTarget)
    return next(str(prov.value(s, OA.exact)) for s in prov.objects(target, OA.hasSelector) if prov.value(s, OA.exact))


def test_the_agreements_pursue_the_mandate_with_this_objective(publication):
    facts = publication.graphs["facts"]
    group, meity = URIRef(ID + "agreement-group/meity-with-counterparts"), URIRef(ID + "organization/meity")
    mandate = [p for p in facts.objects(meity, ORG.purpose) if "international cooperation" in str(p)]
    assert len(mandate) == 1
    triple = (group, IJDP.objective, mandate[0])
    assert triple in facts
    quote = quote_of(publication, triple)
    assert "mandated" in quote and "With this objective, MeitY has entered into" in quote


def test_the_counterparts_are_a_typed_unnamed_set(publication):
    facts = publication.graphs["facts"]
    group = URIRef(ID + "agreement-group/meity-with-counterparts")
    counterparts = list(facts.objects(group, IJDP.counterparts))
    assert len(counterparts) == 1 and (counterparts[0], RDF.type, IJDP.OrganisationSet) in facts
    label = str(facts.value(counterparts[0], SKOS.prefLabel))
    assert label == "counterpart organizations/agencies of various countries"
    assert label in quote_of(publication, (group, IJDP.counterparts, counterparts[0]))


# ------------------------------------------------------------------ 10. a label and a kind

def test_the_government_of_india_is_called_what_it_calls_itself(publication):
    government = URIRef(ID + "government/india")
    labels = {str(l) for g in publication.graphs.values() for l in g.objects(government, SKOS.prefLabel)}
    assert labels == {"Government of India"}


def test_the_documents_kind_is_its_metadata_not_a_quote(publication):
    import tomllib
    document = URIRef(ID + "document/press-release")
    assert (document, RDF.type, SCHEMA.NewsArticle) not in publication.graphs["facts"]
    assert (document, RDF.type, SCHEMA.NewsArticle) in publication.graphs["metadata"]
    assert tomllib.loads((MOC_FOLDER / "source.toml").read_text())["kind"] == "news article"
    texts = " ".join(str(o) for o in publication.graphs["metadata"].objects() if isinstance(o, Literal))
    assert "press release" not in texts


def test_the_published_data_merged_with_every_link_target_still_conforms(publication, tmp_path):
    """Our shapes over the published graphs plus every shipped link target: no violation on a resource of
    ours (the targets' own resources are theirs to validate: they carry no provenance of ours)."""
    from ijdp.validation import validate
    merged = publication.merged() + link_targets_as_rdf(tmp_path)
    ours = [v for v in validate(merged).violations if v.focus.startswith("https://w3id.org/ijdp/")]
    assert ours == []
