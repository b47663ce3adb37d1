"""OWL consistency with HermiT: entailed types recorded, contradictions stop the build."""
import pytest
from rdflib import RDF, URIRef

from conftest import DATA
from ijdp import reasoning, resources
from ijdp.errors import IjdpError
from ijdp.rdfio import load_graph

MOC = URIRef("https://w3id.org/ijdp/id/agreement/semiconductor-supply-chain-moc-2023")


def test_entailed_types_go_to_the_derived_graph(publication):
    derived = publication.graphs["derived"]
    assert (MOC, RDF.type, URIRef("https://w3id.org/ijdp/ontology#Agreement")) in derived
    assert (URIRef("https://w3id.org/ijdp/id/organization/meity"), RDF.type, URIRef("http://www.w3.org/ns/org#Organization")) in derived
    assert (MOC, RDF.type, URIRef("https://w3id.org/ijdp/ontology#Agreement")) not in publication.graphs["facts"]


def test_inconsistent_fixture_stops_with_the_reasoners_explanation():
    graph = load_graph(*resources.ontology_files(), DATA / "inconsistent-agreement-is-organisation.ttl")
    with pytest.raises(reasoning.InconsistentOntology) as caught:
        reasoning.check_consistency(graph)
    message = str(caught.value)
    assert "inconsistent" in message
    assert "https://example.org/confused" in message
    assert "disjoint" in message


def test_missing_java_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(reasoning.shutil, "which", lambda name: None)
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(IjdpError) as caught:
        reasoning.check_consistency(load_graph(*resources.ontology_files()))
    assert "default-jre-headless" in str(caught.value)
    assert "--skip-reasoner" in str(caught.value)
