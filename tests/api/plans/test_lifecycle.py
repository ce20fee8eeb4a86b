"""Plans API acceptance (issue 3): the state machine and all-or-nothing writes."""

from __future__ import annotations

import pytest

from backend.audit.models import AuditEvent
from modalities.models import Protocol
from plans.flag_codes import FlagCode
from plans.models import CarePlan, Flag, PlanComponent
from tests import factories
from tests.api.plans.helpers import API, ok

pytestmark = pytest.mark.django_db


def test_illegal_transitions_are_409_with_a_stable_code(client_for, demo_world):
    client = client_for(demo_world["users"]["coordinator"])
    plan = demo_world["plan"].pk

    def post(action, **data):
        return client.post(f"{API}/plans/{plan}/{action}/", data)

    for action in ("resume", "hold", "complete"):  # not from draft
        response = post(action)
        assert response.status_code == 409
        assert response.json()["code"] == "illegal_transition"
    assert ok(post("activate"))["status"] == "active"
    assert post("activate").json()["code"] == "illegal_transition"
    assert ok(post("hold", reason="patient travelling"))["status"] == "on-hold"
    assert ok(post("resume"))["status"] == "active"
    assert post("revoke").json()["code"] == "reason_required"
    assert ok(post("complete"))["status"] == "completed"
    for action in ("activate", "hold", "resume", "complete"):
        response = post(action)
        assert response.status_code == 409
        assert response.json()["code"] == "illegal_transition"
    # a completed plan keeps no open readiness flag
    assert not Flag.objects.filter(
        plan_id=plan, status="open", code=FlagCode.REQUIREMENT_MISSING
    ).exists()


def test_activation_needs_a_component_and_components_lock_after_draft(client_for, demo_world):
    client = client_for(demo_world["users"]["coordinator"])
    empty = ok(
        client.post(
            f"{API}/plans/",
            {
                "patient": demo_world["patient"].pk,
                "clinic": demo_world["clinic"].pk,
                "title": "Empty",
            },
        ),
        201,
    )
    response = client.post(f"{API}/plans/{empty['id']}/activate/")
    assert response.status_code == 409
    assert response.json()["code"] == "plan_has_no_components"
    plan = demo_world["plan"]
    component = plan.components.first()
    ok(client.post(f"{API}/plans/{plan.pk}/activate/"))
    response = client.patch(f"{API}/components/{component.pk}/", {"rationale": "x"})
    assert response.status_code == 409
    assert response.json()["code"] == "component_locked"
    assert client.delete(f"{API}/components/{component.pk}/").status_code == 409


def test_failing_component_leaves_nothing_written(client_for, demo_world):
    client = client_for(demo_world["users"]["coordinator"])
    tms = Protocol.objects.get(code="tms_10hz_ldlpfc_mdd")
    spr = Protocol.objects.get(code="spravato_trd")
    follow = Protocol.objects.get(code="psychiatric_follow_up")
    before = (
        CarePlan.objects.count(),
        PlanComponent.objects.count(),
        Flag.objects.count(),
        AuditEvent.objects.count(),
    )
    response = client.post(
        f"{API}/plans/",
        {
            "patient": demo_world["patient"].pk,
            "clinic": demo_world["clinic"].pk,
            "title": "Bad",
            "components": [
                {
                    "protocol": tms.pk,
                    "indication": tms.indications.first().pk,
                    "payer_type": "commercial",
                },
                {
                    "protocol": follow.pk,
                    "indication": follow.indications.first().pk,
                    "payer_type": "commercial",
                },
                # the 3rd component names an indication of another protocol
                {
                    "protocol": spr.pk,
                    "indication": tms.indications.first().pk,
                    "payer_type": "commercial",
                },
            ],
        },
    )
    assert response.status_code == 400
    assert response.json()["code"] == "indication_not_in_protocol"
    assert "components[2].indication" in response.json()["fields"]
    after = (
        CarePlan.objects.count(),
        PlanComponent.objects.count(),
        Flag.objects.count(),
        AuditEvent.objects.count(),
    )
    assert after == before


def test_self_pay_component_takes_no_prior_authorisation(client_for, demo_world):
    client = client_for(demo_world["users"]["coordinator"])
    tms = Protocol.objects.get(code="tms_10hz_ldlpfc_mdd")
    response = client.post(
        f"{API}/plans/{demo_world['plan'].pk}/components/",
        {
            "protocol": tms.pk,
            "indication": tms.indications.get(code="mdd_inadequate_response").pk,
            "payer_type": "self_pay",
            "prior_auth_number": "PA-1",
        },
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_coverage"


def test_label_status_is_derived_from_indication_and_age(client_for, demo_world):
    client = client_for(demo_world["users"]["coordinator"])
    tms = Protocol.objects.get(code="tms_10hz_ldlpfc_mdd")
    adolescent = tms.indications.get(code="mdd_adolescent_adjunct")  # cleared for 15–21
    body = ok(
        client.post(
            f"{API}/plans/{demo_world['plan'].pk}/components/",
            {"protocol": tms.pk, "indication": adolescent.pk, "payer_type": "commercial"},
        ),
        201,
    )
    # the seed patient is in their forties: outside the cleared age range → off-label
    assert body["label_status"] == "off_label"
    assert body["target"] == "left_dlpfc"  # defaults to the protocol's target
    adult = tms.indications.get(code="mdd_inadequate_response")
    body = ok(client.patch(f"{API}/components/{body['id']}/", {"indication": adult.pk}))
    assert body["label_status"] == "cleared"


def test_patient_mrn_phone_and_timezone_are_validated(client_for, demo_world):
    client = client_for(demo_world["users"]["coordinator"])
    base = {
        "mrn": "DEMO-0001",
        "given_name": "A",
        "family_name": "B",
        "birth_date": "1990-01-01",
        "timezone": "America/New_York",
    }
    duplicate = client.post(f"{API}/patients/", base)
    assert duplicate.status_code == 409
    assert duplicate.json()["code"] == "duplicate_mrn"
    bad_tz = client.post(f"{API}/patients/", {**base, "mrn": "N-1", "timezone": "Mars/Base"})
    assert bad_tz.status_code == 400
    assert bad_tz.json()["code"] == "invalid_timezone"
    bad_phone = client.post(f"{API}/patients/", {**base, "mrn": "N-1", "phone": "12"})
    assert bad_phone.status_code == 400
    assert bad_phone.json()["code"] == "invalid_phone"
    created = ok(
        client.post(f"{API}/patients/", {**base, "mrn": "N-1", "phone": "(555) 555-0142"}), 201
    )
    assert created["phone"] == "+15555550142"
    # the same MRN in another organisation is fine
    other = factories.CoordinatorFactory()
    ok(client_for(other).post(f"{API}/patients/", {**base, "mrn": "N-1"}), 201)
