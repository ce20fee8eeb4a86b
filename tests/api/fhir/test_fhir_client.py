"""Acceptance 2: a real FHIR client library (``fhirclient``, SMART on FHIR's Python client) reads
``metadata``, a CarePlan and ``$everything`` from the running test server over HTTP, parsing each
answer into its own R4 models (which reject unknown elements and wrong types)."""

from __future__ import annotations

import pytest
from fhirclient import client as fhir_client
from fhirclient.models.bundle import Bundle
from fhirclient.models.capabilitystatement import CapabilityStatement
from fhirclient.models.careplan import CarePlan
from rest_framework.authtoken.models import Token

from tests import factories
from tests.api.fhir.world import demo_plan, latest_protocols


@pytest.fixture
def served_plan(restore_catalogue, live_server, catalogue):
    # restore_catalogue first: the live server's transactional_db flushes the catalogue after
    org = factories.OrganizationFactory()
    clinic = factories.ClinicFactory(organization=org)
    coordinator = factories.CoordinatorFactory(organization=org)
    protocol = next(p for p in latest_protocols() if p.code == "spravato_trd")
    plan = demo_plan(org=org, clinic=clinic, coordinator=coordinator, protocol=protocol, index=1)
    token, _ = Token.objects.get_or_create(user=coordinator)
    return plan, token.key, live_server.url


_OPEN: list[fhir_client.FHIRClient] = []


@pytest.fixture(autouse=True)
def _close_clients():
    # a kept-alive HTTP connection would keep a live-server thread (and its database
    # connection) alive past the test database's teardown
    yield
    while _OPEN:
        _OPEN.pop().server.session.close()


def _smart(base_url: str, token: str) -> fhir_client.FHIRClient:
    smart = fhir_client.FHIRClient(
        settings={"app_id": "clinic-plans-tests", "api_base": f"{base_url}/fhir/R4/"}
    )
    smart.server.session.headers["Authorization"] = f"Token {token}"
    _OPEN.append(smart)
    return smart


def test_fhirclient_reads_metadata_a_care_plan_and_everything(served_plan):
    plan, token, base_url = served_plan
    smart = _smart(base_url, token)
    # when the client prepares itself it fetches and parses the CapabilityStatement
    smart.prepare()
    capability = smart.server.capabilityStatement
    assert isinstance(capability, CapabilityStatement)
    assert capability.fhirVersion == "4.0.1"
    types = {r.type for r in capability.rest[0].resource}
    assert types == {
        "Patient",
        "CarePlan",
        "Appointment",
        "Observation",
        "QuestionnaireResponse",
        "Flag",
        "Consent",
        "Coverage",
    }
    # a CarePlan by id, as the client's model
    care_plan = CarePlan.read(str(plan.pk), smart.server)
    assert care_plan.status == "draft"
    assert care_plan.subject.reference == f"Patient/{plan.patient_id}"
    assert len(care_plan.activity) == plan.components.count()
    first = plan.components.order_by("position", "id").select_related("protocol").first()
    assert (
        care_plan.activity[0]
        .detail.instantiatesCanonical[0]
        .endswith(f"/PlanDefinition/{first.protocol.code}|{first.protocol.version}")
    )
    # and $everything, parsed as a Bundle
    bundle = Bundle(smart.server.request_json(f"Patient/{plan.patient_id}/$everything"))
    assert bundle.type == "searchset"
    kinds = {entry.resource.resource_type for entry in bundle.entry}
    assert kinds >= {
        "Patient",
        "CarePlan",
        "Appointment",
        "Observation",
        "QuestionnaireResponse",
        "Flag",
        "Consent",
        "Coverage",
    }
    assert bundle.total == len(bundle.entry)


def test_fhirclient_search_follows_the_paging_links(served_plan):
    plan, token, base_url = served_plan
    smart = _smart(base_url, token)
    from fhirclient.models.appointment import Appointment

    search = Appointment.where({"patient": str(plan.patient_id), "_count": "3"})
    pages = list(search.perform_iter(smart.server))
    ids = [e.resource.id for page in pages for e in (page.entry or [])]
    assert len(pages) == 3  # 7 sessions, 3 a page
    assert len(ids) == len(set(ids)) == plan.components.get().sessions.count()


def test_fhirclient_sees_an_operation_outcome_for_another_organisations_plan(served_plan):
    plan, _, base_url = served_plan
    outsider = factories.CoordinatorFactory(organization=factories.OrganizationFactory())
    token, _ = Token.objects.get_or_create(user=outsider)
    smart = _smart(base_url, token.key)
    from fhirclient.server import FHIRNotFoundException

    with pytest.raises(FHIRNotFoundException) as caught:
        CarePlan.read(str(plan.pk), smart.server)
    assert caught.value.response.json()["resourceType"] == "OperationOutcome"
