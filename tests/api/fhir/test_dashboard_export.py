"""The dashboard plan page links to the FHIR download; the download is the plan export Bundle,
scoped and audited like the page."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from backend.audit.models import AuditEvent
from tests import factories
from tests.api.fhir.validate import resources_in, validate
from tests.api.fhir.world import demo_plan, latest_protocols

pytestmark = pytest.mark.django_db


@pytest.fixture
def plan_and_staff(catalogue):
    org = factories.OrganizationFactory()
    clinic = factories.ClinicFactory(organization=org)
    coordinator = factories.CoordinatorFactory(organization=org)
    protocol = next(p for p in latest_protocols() if p.code == "tms_hf_lm1_fibromyalgia")
    plan = demo_plan(org=org, clinic=clinic, coordinator=coordinator, protocol=protocol, index=1)
    return plan, coordinator


def _login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_plan_page_links_to_the_fhir_download(plan_and_staff):
    plan, coordinator = plan_and_staff
    page = _login(coordinator).get(f"/dashboard/plans/{plan.pk}/")
    assert f'href="/dashboard/plans/{plan.pk}/fhir/"' in page.content.decode()


def test_fhir_download_is_a_validated_collection_and_audited_once(plan_and_staff):
    # given a coordinator of the plan's organisation
    plan, coordinator = plan_and_staff
    client = _login(coordinator)
    before = AuditEvent.objects.count()
    # when they download the plan
    response = client.get(f"/dashboard/plans/{plan.pk}/fhir/")
    # then it is an attachment holding the plan's collection Bundle, audited once
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/fhir+json")
    assert response["Content-Disposition"] == f'attachment; filename="plan-{plan.pk}-fhir.json"'
    bundle = json.loads(response.content)
    validate(bundle)
    assert bundle["type"] == "collection"
    kinds = {r["resourceType"] for r in resources_in(bundle)}
    assert kinds >= {"Patient", "CarePlan", "Appointment", "Consent", "Coverage"}
    assert AuditEvent.objects.count() == before + 1
    event = AuditEvent.objects.order_by("-id").first()
    assert (event.object_type, event.patient_id) == ("plans.careplan", plan.patient_id)
    assert event.detail == {"export": "fhir"}


def test_fhir_download_of_another_organisations_plan_is_404(plan_and_staff):
    plan, _ = plan_and_staff
    outsider = factories.CoordinatorFactory(organization=factories.OrganizationFactory())
    assert _login(outsider).get(f"/dashboard/plans/{plan.pk}/fhir/").status_code == 404


def test_fhir_download_needs_sign_in(plan_and_staff):
    plan, _ = plan_and_staff
    response = Client().get(f"/dashboard/plans/{plan.pk}/fhir/")
    assert response.status_code == 302
    assert "/dashboard/login/" in response["Location"]
