"""Plans API acceptance (issue 3), part 2: the seed scenario's readiness walked through the
API — every missing step listed, each record removing it."""

from __future__ import annotations

import datetime as dt

import pytest

from plans.flag_codes import FlagCode
from plans.models import CarePlan, Flag, FlagStatus
from plans.services import sync_readiness_flags
from tests import factories
from tests.api.plans.helpers import API, NOW, ok, outstanding

pytestmark = pytest.mark.django_db


SAFETY_SCREEN = {
    "answers": {f"q{i}": False for i in range(1, 16)},
    "decision": "cleared",
    "physician": "Dr. Example",
}
TRIALS = factories.TWO_FAILED_TRIALS


def test_seed_scenario_readiness_lists_every_missing_step_and_each_record_removes_it(
    client_for, demo_world
):
    plan, patient, clinic = demo_world["plan"], demo_world["patient"], demo_world["clinic"]
    client = client_for(demo_world["users"]["coordinator"])
    comps = {c.protocol.code: c.pk for c in plan.components.select_related("protocol")}
    tms, spr, psy = (
        comps["tms_hf_lm1_fibromyalgia"],
        comps["spravato_trd"],
        comps["psychiatric_follow_up"],
    )

    # given the seed plan: every missing step is listed, with its reason and source
    readiness = ok(client.get(f"{API}/plans/{plan.pk}/readiness/"))
    assert readiness["ready_to_start"] is False
    expected = {
        (tms, "psychiatric_evaluation"),
        (tms, "tms_safety_screen"),
        (tms, "motor_threshold"),
        (tms, "target_rationale"),
        (tms, "off_label_consent"),
        (tms, "financial_acknowledgment_gfe"),
        (tms, "baseline_pain_nrs"),
        (spr, "psychiatric_evaluation"),
        (spr, "rems_enrollment"),
        (spr, "spravato_contraindication_screen"),
        (spr, "antidepressant_trials"),
        (spr, "baseline_phq9"),
        (spr, "transport_plan"),
        (spr, "site_rems_certification"),
        (spr, "pdmp_check"),
        (psy, "psychiatric_evaluation"),
    }
    assert outstanding(readiness) == expected
    items = {(c["component_id"], i["key"]): i for c in readiness["components"] for i in c["items"]}
    for key in expected:
        assert items[key]["reason"]
        assert "DOMAIN.md" in items[key]["source"]
    assert items[(tms, "off_label_consent")]["applies_because"] == "off-label indication"
    assert items[(spr, "prior_authorization")]["status"] == "satisfied"  # PA on the component

    def evaluation(kind, component=None, data=None):
        payload = {
            "patient": patient.pk,
            "plan": plan.pk,
            "kind": kind,
            "data": data or {},
            "performed_at": NOW.isoformat(),
        }
        if component:
            payload["component"] = component
        return lambda: ok(client.post(f"{API}/evaluations/", payload), 201)

    def measure(instrument, answers):
        payload = {
            "patient": patient.pk,
            "plan": plan.pk,
            "instrument": instrument,
            "answers": answers,
            "taken_at": NOW.isoformat(),
        }
        return lambda: ok(client.post(f"{API}/measures/", payload), 201)

    def certify_site():
        # the clinic API belongs to scheduling; certification is a model update here
        factories.rems_certified(clinic, until=NOW.date() + dt.timedelta(days=365))
        sync_readiness_flags(plan=CarePlan.objects.select_related("clinic").get(pk=plan.pk))

    walk = [
        (
            evaluation("psychiatric_evaluation"),
            {
                (tms, "psychiatric_evaluation"),
                (spr, "psychiatric_evaluation"),
                (psy, "psychiatric_evaluation"),
            },
        ),
        (measure("phq9", {f"q{i}": 2 for i in range(1, 10)} | {"q9": 0}), {(spr, "baseline_phq9")}),
        (measure("pain_nrs", {"score": 7}), {(tms, "baseline_pain_nrs")}),
        (evaluation("tms_safety_screen", tms, SAFETY_SCREEN), {(tms, "tms_safety_screen")}),
        (
            evaluation("motor_threshold", tms, {"percent": 55, "method": "emg"}),
            {(tms, "motor_threshold")},
        ),
        (
            evaluation("target_rationale", tms, {"note": "left M1: fibromyalgia QoL, Level B"}),
            {(tms, "target_rationale")},
        ),
        (evaluation("off_label_consent", tms), {(tms, "off_label_consent")}),
        (
            evaluation("financial_acknowledgment", tms, {"form": "good_faith_estimate"}),
            {(tms, "financial_acknowledgment_gfe")},
        ),
        (
            evaluation("rems_enrollment", spr, {"enrolled_on": NOW.date().isoformat()}),
            {(spr, "rems_enrollment")},
        ),
        (
            evaluation("spravato_contraindication_screen", spr),
            {(spr, "spravato_contraindication_screen")},
        ),
        (evaluation("antidepressant_trials", data=TRIALS), {(spr, "antidepressant_trials")}),
        (evaluation("transport_plan", spr), {(spr, "transport_plan")}),
        (certify_site, {(spr, "site_rems_certification")}),
        (evaluation("pdmp_check", spr), {(spr, "pdmp_check")}),
    ]
    remaining = set(expected)
    for record, removes in walk:
        # when one step is recorded, then exactly that item leaves the list …
        record()
        remaining -= removes
        readiness = ok(client.get(f"{API}/plans/{plan.pk}/readiness/"))
        assert outstanding(readiness) == remaining, removes
        # … and the open requirement flags follow, one per remaining gap
        open_keys = set(
            Flag.objects.filter(
                plan=plan,
                status=FlagStatus.OPEN,
                code__in=[FlagCode.REQUIREMENT_MISSING, FlagCode.REQUIREMENT_EXPIRED],
            ).values_list("requirement_key", flat=True)
        )
        assert open_keys == {f"{c}:{k}" for c, k in remaining}
    assert readiness["ready_to_start"] is True
    # the SPRAVATO + TMS combination still asks for a review (a warning, not a gap)
    assert readiness["warnings"]
    assert readiness["warnings"][0]["severity"] == "warning"
    assert (
        Flag.objects.filter(
            plan=plan, status=FlagStatus.OPEN, code=FlagCode.COMBINATION_REVIEW
        ).count()
        == 1
    )


def test_entered_in_error_evaluation_reopens_the_gap(client_for, demo_world):
    plan, patient = demo_world["plan"], demo_world["patient"]
    client = client_for(demo_world["users"]["psychiatrist"])
    created = ok(
        client.post(
            f"{API}/evaluations/",
            {"patient": patient.pk, "plan": plan.pk, "kind": "psychiatric_evaluation"},
        ),
        201,
    )
    gaps = outstanding(ok(client.get(f"{API}/plans/{plan.pk}/readiness/")))
    assert not any(k == "psychiatric_evaluation" for _, k in gaps)
    # without a reason → 400
    bad = client.post(f"{API}/evaluations/{created['id']}/entered-in-error/", {})
    assert bad.status_code == 400
    assert bad.json()["code"] == "reason_required"
    body = ok(
        client.post(
            f"{API}/evaluations/{created['id']}/entered-in-error/", {"reason": "wrong patient"}
        )
    )
    assert body["status"] == "entered-in-error"
    gaps = outstanding(ok(client.get(f"{API}/plans/{plan.pk}/readiness/")))
    assert sum(k == "psychiatric_evaluation" for _, k in gaps) == 3


def test_invalid_evaluation_data_is_a_400_naming_the_field(client_for, demo_world):
    plan, patient = demo_world["plan"], demo_world["patient"]
    tms = plan.components.get(protocol__code="tms_hf_lm1_fibromyalgia")
    response = client_for(demo_world["users"]["technician"]).post(
        f"{API}/evaluations/",
        {
            "patient": patient.pk,
            "component": tms.pk,
            "kind": "motor_threshold",
            "data": {"percent": 140, "method": "guess"},
        },
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_evaluation_data"
    assert set(response.json()["fields"]["data"]) == {"percent", "method"}


def test_evaluation_for_a_component_of_another_patient_is_refused(client_for, demo_world):
    other_plan = CarePlan.objects.get(patient=demo_world["others"][1])
    component = other_plan.components.first()
    response = client_for(demo_world["users"]["coordinator"]).post(
        f"{API}/evaluations/",
        {"patient": demo_world["patient"].pk, "component": component.pk, "kind": "transport_plan"},
    )
    assert response.status_code == 400
    assert response.json()["code"] == "plan_not_of_patient"
