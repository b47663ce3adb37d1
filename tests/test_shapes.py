"""The shapes accept the publication and reject every invalid fixture where expected."""
from pathlib import Path

import pytest
from rdflib import RDF, URIRef

from conftest import DATA
from ijdp import resources
from ijdp.rdfio import load_graph
from ijdp.validation import SH, shapes_graph, validate

INVALID = sorted((DATA / "invalid").glob("*.ttl"))


def expectations(path: Path) -> dict:
    found = {}
    for line in path.read_text().splitlines():
        if line.startswith("# expect-"):
            key, _, value = line[len("# expect-"):].partition(":")
            found[key.strip()] = value.strip()
    return found


@pytest.fixture(scope="module")
def shapes():
    return shapes_graph()


def test_publication_conforms(built):
    _, report, _ = built
    assert report.conforms, report.as_text()


@pytest.mark.parametrize("fixture", INVALID, ids=[p.stem for p in INVALID])
def test_invalid_fixture_is_rejected_with_expected_path(fixture, shapes):
    expected = expectations(fixture)
    data = load_graph(*resources.ontology_files(), fixture)
    report = validate(data, shapes)
    assert not report.conforms
    shape = URIRef(expected["shape"])
    own = {str(shape)} | {str(p) for p in shapes.objects(shape, SH.property)}
    matching = [v for v in report.violations
                if v.focus == expected["focus"] and v.path == expected["path"] and v.source_shape in own]
    assert matching, f"expected a violation of {shape} at {expected['path']}; got:\n{report.as_text()}"


def test_every_node_shape_has_an_invalid_fixture(shapes):
    node_shapes = {str(s) for s in shapes.subjects(RDF.type, SH.NodeShape)}
    covered = {expectations(p)["shape"] for p in INVALID}
    assert node_shapes - covered == set()
    assert len(node_shapes) >= 25


def test_every_class_the_data_asserts_has_a_shape(publication, shapes):
    targeted = set(shapes.objects(None, SH.targetClass))
    asserted = set()
    for name in ("facts", "provenance", "metadata"):
        asserted |= set(publication.graphs[name].objects(None, RDF.type))
    # classes described by the metadata that are not ours to validate (external datasets' descriptions)
    missing = {c for c in asserted - targeted}
    allowed = {URIRef("http://rdfs.org/ns/void#Dataset"), URIRef("http://rdfs.org/ns/void#Linkset"),
               URIRef("http://xmlns.com/foaf/0.1/Document"), URIRef("http://spdx.org/rdf/terms#Checksum"),
               URIRef("http://www.w3.org/ns/prov#Activity"), URIRef("http://www.w3.org/ns/prov#SoftwareAgent"),
               URIRef("http://www.w3.org/ns/prov#Entity")}
    # The catalogue's classes: DCAT-AP's own shapes validate them in every build (tests/test_dcat_ap.py).
    dct, dcat = "http://purl.org/dc/terms/", "http://www.w3.org/ns/dcat#"
    allowed |= {URIRef(dcat + "Catalog"), URIRef(dcat + "DataService"), URIRef("http://xmlns.com/foaf/0.1/Agent"),
                URIRef("http://www.w3.org/2006/vcard/ns#Kind")}
    allowed |= {URIRef(dct + name) for name in ("Standard", "Location", "Frequency", "LicenseDocument", "MediaType",
                                                  "MediaTypeOrExtent", "LinguisticSystem")}
    # Classes targeted by a SPARQL target rather than sh:targetClass (every one but the EU authority tables' values).
    targets = " ".join(str(o) for o in shapes.objects(None, SH.select))
    sparql_targeted = {c for c in missing if f"a {shapes.namespace_manager.normalizeUri(c)}" in targets}
    assert sparql_targeted == {URIRef("http://www.w3.org/2004/02/skos/core#Concept"),
                               URIRef("http://www.w3.org/2004/02/skos/core#ConceptScheme")}
    assert missing - allowed - sparql_targeted == set(), sorted(missing - allowed - sparql_targeted)
