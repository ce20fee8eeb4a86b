"""Prior-authorisation endpoints (issue 11): record, decide, attach evidence; stable codes."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from plans.models import AuthorizationEvidence, PriorAuthorization
from tests import factories
from tests.scheduling.conftest import make_component, make_patient

pytestmark = pytest.mark.django_db


def _client(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def component(catalogue, organization):
    clinic = factories.ClinicFactory(organization=organization)
    return make_component(
        patient=make_patient(organization), clinic=clinic, code="tms_10hz_ldlpfc_mdd"
    )


def test_request_then_approve_then_read_back_with_units(component, coordinator):
    client = _client(coordinator)
    url = f"/api/v1/components/{component.pk}/authorizations/"
    # given a request sent to the payer
    created = client.post(
        url, {"status": "requested", "payer_name": "Example Health Plan"}, format="json"
    )
    assert created.status_code == 201, created.json()
    pk = created.json()["id"]
    # when approval is recorded without the payer's details
    bad = client.patch(f"/api/v1/authorizations/{pk}/", {"status": "approved"}, format="json")
    # then the missing fields are named
    assert bad.status_code == 400
    assert bad.json()["code"] == "invalid_authorization"
    assert set(bad.json()["fields"]) == {"number", "authorized_units", "starts_on", "ends_on"}
    # when it is recorded with them
    ok = client.patch(
        f"/api/v1/authorizations/{pk}/",
        {
            "status": "approved",
            "number": "PA-77",
            "authorized_units": 30,
            "starts_on": "2026-10-01",
            "ends_on": "2027-03-31",
        },
        format="json",
    )
    assert ok.status_code == 200, ok.json()
    body = ok.json()
    assert (body["status"], body["used"], body["remaining"]) == ("approved", 0, 30)
    # and the component's coverage fields read from the record
    detail = client.get(f"/api/v1/components/{component.pk}/").json()
    assert (detail["prior_auth_number"], detail["prior_auth_sessions"]) == ("PA-77", 30)
    assert detail["prior_auth_expires_on"] == "2027-03-31"
    listed = client.get(url).json()
    assert [a["number"] for a in listed] == ["PA-77"]


def test_denial_needs_the_payer_reason_and_an_approved_one_cannot_go_back(component, coordinator):
    client = _client(coordinator)
    url = f"/api/v1/components/{component.pk}/authorizations/"
    pk = client.post(url, {"status": "requested"}, format="json").json()["id"]
    denied = client.patch(f"/api/v1/authorizations/{pk}/", {"status": "denied"}, format="json")
    assert (denied.status_code, denied.json()["code"]) == (400, "invalid_authorization")
    assert "decision_note" in denied.json()["fields"]
    approved = client.post(
        url,
        {
            "status": "approved",
            "number": "PA-1",
            "authorized_units": 5,
            "starts_on": "2026-10-01",
            "ends_on": "2026-12-31",
        },
        format="json",
    ).json()
    back = client.patch(
        f"/api/v1/authorizations/{approved['id']}/", {"status": "requested"}, format="json"
    )
    assert (back.status_code, back.json()["code"]) == (409, "illegal_transition")
    window = client.post(
        url,
        {
            "status": "approved",
            "number": "PA-2",
            "authorized_units": 5,
            "starts_on": "2026-10-01",
            "ends_on": "2026-09-01",
        },
        format="json",
    )
    assert window.json()["fields"] == {"ends_on": ["on or after starts_on"]}


def test_self_pay_component_takes_no_authorisation(catalogue, organization, coordinator):
    clinic = factories.ClinicFactory(organization=organization)
    component = factories.make_active_component(
        patient=make_patient(organization),
        clinic=clinic,
        code="tms_hf_lm1_fibromyalgia",
        payer_type="self_pay",
    )
    response = _client(coordinator).post(
        f"/api/v1/components/{component.pk}/authorizations/", {"status": "requested"}, format="json"
    )
    assert (response.status_code, response.json()["code"]) == (400, "invalid_coverage")


def test_evidence_link_file_and_evaluation(component, coordinator, tmp_path):
    client = _client(coordinator)
    auth = PriorAuthorization.objects.create(component=component, status="requested")
    url = f"/api/v1/authorizations/{auth.pk}/evidence/"
    # exactly one target
    none = client.post(url, {"title": "Nothing"}, format="json")
    assert (none.status_code, none.json()["code"]) == (400, "invalid_authorization")
    link = client.post(
        url, {"title": "Letter", "url": "https://docs.example.com/l.pdf"}, format="json"
    )
    assert link.status_code == 201
    with override_settings(MEDIA_ROOT=tmp_path):
        upload = SimpleUploadedFile("trials.pdf", b"%PDF-1.4 synthetic", "application/pdf")
        filed = client.post(url, {"title": "Trial history", "file": upload}, format="multipart")
        assert filed.status_code == 201, filed.json()
        assert filed.json()["kind"] == "file"
        assert filed.json()["file"].startswith("authorizations/")
    other = factories.PatientUserFactory(organization=component.plan.organization)
    foreign = client.post(url, {"title": "x", "evaluation": 999999}, format="json")
    assert (foreign.status_code, foreign.json()["code"]) == (400, "invalid_authorization")
    assert AuthorizationEvidence.objects.filter(authorization=auth).count() == 2
    assert other.role == "patient"


def test_the_data_migration_copies_component_fields_into_a_record():
    # the forward function of plans/migrations/0003 on a fake app registry
    from importlib import import_module

    migration = import_module("plans.migrations.0003_prior_authorizations")
    created = []

    class Rows(list):
        def exclude(self, **kw):
            return Rows(r for r in self if r.prior_auth_number)

        def select_related(self, *a):
            return self

        def iterator(self, chunk_size):
            return iter(self)

    class Plan:
        coordinator_id = 7

    class C:
        def __init__(self, pk, number, sessions, expires):
            self.pk, self.prior_auth_number = pk, number
            self.prior_auth_sessions, self.prior_auth_expires_on = sessions, expires
            self.payer_name, self.plan = "Example Health Plan", Plan()

    class Component:
        objects = Rows([C(1, "PA-1", 18, None), C(2, "", None, None)])

    class Authorization:
        def __init__(self, **kw):
            self.kw = kw

        class objects:
            @staticmethod
            def bulk_create(rows):
                created.extend(r.kw for r in rows)

    class Apps:
        def get_model(self, app, name):
            return {"PlanComponent": Component, "PriorAuthorization": Authorization}[name]

    migration.copy_component_authorizations(Apps(), None)
    assert created == [
        {
            "component_id": 1,
            "payer_name": "Example Health Plan",
            "number": "PA-1",
            "authorized_units": 18,
            "starts_on": None,
            "ends_on": None,
            "status": "approved",
            "created_by_id": 7,
            "updated_by_id": 7,
        }
    ]
