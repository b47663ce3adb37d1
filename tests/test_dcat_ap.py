"""The catalogue as portals harvest it: DCAT-AP 3.0.1, validated with SEMIC's own shapes (../shared/dcat-ap/),
served at /catalog and /.well-known/void, and in agreement with the VoID description beside it."""
from __future__ import annotations

import json

import pytest
import rdflib
import rdflib.compare
from rdflib import RDF, URIRef

from conftest import SHARED
from ijdp.validation import dcat_ap_folder, validate_dcat_ap
from ijdp.vocab import DCAT, VOID

BASE = "https://w3id.org/ijdp/"
CATALOG = URIRef(BASE + "catalog")
DATASET = URIRef(BASE + "id/dataset/ijdp")
SERVICE = URIRef(BASE + "id/service/sparql")
TURTLE = {"Accept": "text/turtle"}


@pytest.fixture(scope="module")
def served(client):
    """The catalogue description exactly as a harvester receives it (with sizes, checksums and dates)."""
    response = client.get("/catalog", headers=TURTLE)
    assert response.status_code == 200 and response.mimetype == "text/turtle"
    return rdflib.Graph().parse(data=response.data, format="turtle")


@pytest.fixture(scope="module")
def client(app):
    return app.test_client()


def test_the_shapes_are_semic_s():
    assert dcat_ap_folder() == SHARED / "dcat-ap", "DCAT-AP's shapes are expected in ../shared/dcat-ap"


def test_the_served_catalogue_has_no_violation_of_dcat_ap(served):
    report = validate_dcat_ap(served, dcat_ap_folder())
    assert report.violations == [], "\n".join(f"{v.focus} {v.path} {v.message}" for v in report.violations)
    # recommended properties the data cannot truthfully fill (period covered, the agent's type, bounding boxes)
    assert len(report.recommended_missing) <= 8, [f"{v.focus} {v.path}" for v in report.recommended_missing]


def test_a_description_a_portal_would_reject_is_caught(served):
    """The check can fail: the description as it was before (literal version, untyped licence, no access URL)."""
    broken = rdflib.Graph() + served
    distribution = URIRef(BASE + "id/distribution/ijdp.ttl")
    broken.remove((distribution, DCAT.accessURL, None))
    broken.add((DATASET, URIRef("http://purl.org/dc/terms/hasVersion"), rdflib.Literal("v1")))
    broken.remove((URIRef("https://creativecommons.org/licenses/by/4.0/"), RDF.type, None))
    report = validate_dcat_ap(broken, dcat_ap_folder())
    paths = {v.path.rsplit("/", 1)[-1].rsplit("#", 1)[-1] for v in report.violations}
    assert {"accessURL", "hasVersion", "license"} <= paths


def test_the_catalogue_holds_the_dataset_and_the_endpoint_as_a_data_service(served):
    assert (CATALOG, RDF.type, DCAT.Catalog) in served
    assert (CATALOG, DCAT.dataset, DATASET) in served and (CATALOG, DCAT.service, SERVICE) in served
    assert (SERVICE, RDF.type, DCAT.DataService) in served
    assert served.value(SERVICE, DCAT.endpointURL) == URIRef(BASE + "sparql")
    assert served.value(SERVICE, DCAT.endpointDescription) == URIRef(BASE + "sparql/description")
    assert (SERVICE, DCAT.servesDataset, DATASET) in served


def test_void_and_dcat_agree(served, client):
    """VoID for linked-data clients and DCAT-AP for portals are one graph, and say the same things."""
    well_known = rdflib.Graph().parse(data=client.get("/.well-known/void", headers=TURTLE).data, format="turtle")
    assert rdflib.compare.isomorphic(well_known, served)
    assert served.value(DATASET, VOID.sparqlEndpoint) == served.value(SERVICE, DCAT.endpointURL)
    dumps = set(served.objects(DATASET, VOID.dataDump))
    downloads = {served.value(d, DCAT.downloadURL) for d in served.objects(DATASET, DCAT.distribution)} - {None}
    assert dumps == downloads and len(dumps) == 12
    info = json.loads(client.get("/dumps/latest/build.json").data)
    for distribution in served.objects(DATASET, DCAT.distribution):
        url = served.value(distribution, DCAT.downloadURL)
        if url is None:
            continue
        name = str(url).rsplit("/", 1)[-1]
        assert int(served.value(distribution, DCAT.byteSize)) == info["files"][name]["bytes"]


def test_the_build_reports_its_dcat_ap_check(dist):
    info = json.loads((dist / "build.json").read_text())
    assert info["dcat_ap"]["violations"] == 0
    assert info["dcat_ap"]["recommended_missing"] == len(info["dcat_ap"]["missing"])


def test_the_catalogue_page_reads_for_people(client):
    page = client.get("/catalog", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert "The catalogue" in page and "dcat:DataService" in page
