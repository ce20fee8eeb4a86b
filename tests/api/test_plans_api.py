"""Plans API acceptance (issue 3): catalogue, seed-scenario readiness walk, measures and safety
flags, plan-detail query count, state machine and all-or-nothing writes."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from backend.audit.models import AuditEvent
from modalities.models import Protocol
from plans.flag_codes import FlagCode
from plans.models import CarePlan, Flag, FlagStatus, PlanComponent
from plans.services import sync_readiness_flags
from tests import factories

pytestmark = pytest.mark.django_db

API = "/api/v1"
NOW = timezone.now()


def _ok(response, status=200):
    assert response.status_code == status, response.json()
    return response.json()


def _outstanding(readiness: dict) -> set[tuple[int, str]]:
    return {
        (c["component_id"], item["key"])
        for c in readiness["components"]
        for item in c["items"]
        if item["status"] in ("missing", "expired")
    }


# ---------------------------------------------------------------------------------------------
# 1. Catalogue
# ---------------------------------------------------------------------------------------------


def test_protocols_list_covers_every_modality_with_rules_and_sources(client_for, coordinator):
    body = _ok(client_for(coordinator).get(f"{API}/protocols/", {"page_size": 100}))
    protocols = body["results"]
    assert body["count"] >= 12
    assert {p["modality"] for p in protocols} == {
        "tms",
        "spravato",
        "ketamine",
        "neurofeedback",
        "psychiatry",
    }
    for p in protocols:
        assert p["target"]
        assert p["phases"]
        assert p["session_minutes"]
        assert p["session_cap"]
        assert p["sources"]
        assert all(i["label_status"] and i["source"] for i in p["indications"])
        assert all(r["source"] and r["reason"] for r in p["requirements"])


def test_protocols_filter_by_modality_indication_and_label_status(client_for, coordinator):
    client = client_for(coordinator)
    spravato = _ok(client.get(f"{API}/protocols/", {"modality": "spravato"}))["results"]
    assert {p["code"] for p in spravato} == {"spravato_trd", "spravato_mdd_si"}
    trd = _ok(client.get(f"{API}/protocols/", {"indication": "trd"}))["results"]
    assert [p["code"] for p in trd] == ["spravato_trd"]
    off_label = _ok(client.get(f"{API}/protocols/", {"label_status": "off_label"}))["results"]
    assert "tms_hf_lm1_fibromyalgia" in {p["code"] for p in off_label}
    assert "spravato_trd" not in {p["code"] for p in off_label}
    pain = _ok(client.get(f"{API}/protocols/", {"category": "pain"}))["results"]
    assert "tms_hf_m1_neuropathic_pain" in {p["code"] for p in pain}


# ---------------------------------------------------------------------------------------------
# 2. The seed scenario, walked through the API
# ---------------------------------------------------------------------------------------------

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
    readiness = _ok(client.get(f"{API}/plans/{plan.pk}/readiness/"))
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
    assert _outstanding(readiness) == expected
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
        return lambda: _ok(client.post(f"{API}/evaluations/", payload), 201)

    def measure(instrument, answers):
        payload = {
            "patient": patient.pk,
            "plan": plan.pk,
            "instrument": instrument,
            "answers": answers,
            "taken_at": NOW.isoformat(),
        }
        return lambda: _ok(client.post(f"{API}/measures/", payload), 201)

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
        readiness = _ok(client.get(f"{API}/plans/{plan.pk}/readiness/"))
        assert _outstanding(readiness) == remaining, removes
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
    created = _ok(
        client.post(
            f"{API}/evaluations/",
            {"patient": patient.pk, "plan": plan.pk, "kind": "psychiatric_evaluation"},
        ),
        201,
    )
    gaps = _outstanding(_ok(client.get(f"{API}/plans/{plan.pk}/readiness/")))
    assert not any(k == "psychiatric_evaluation" for _, k in gaps)
    # without a reason → 400
    bad = client.post(f"{API}/evaluations/{created['id']}/entered-in-error/", {})
    assert bad.status_code == 400
    assert bad.json()["code"] == "reason_required"
    body = _ok(
        client.post(
            f"{API}/evaluations/{created['id']}/entered-in-error/", {"reason": "wrong patient"}
        )
    )
    assert body["status"] == "entered-in-error"
    gaps = _outstanding(_ok(client.get(f"{API}/plans/{plan.pk}/readiness/")))
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


# ---------------------------------------------------------------------------------------------
# 3–4. Measures: validation, response/remission, safety flags
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("instrument", "answers", "bad_field"),
    [
        ("phq9", {f"q{i}": 1 for i in range(1, 9)}, "q9"),  # missing item
        ("phq9", {f"q{i}": 1 for i in range(1, 10)} | {"q4": 4}, "q4"),  # out of range
        ("gad7", {f"q{i}": 1 for i in range(1, 7)}, "q7"),
        ("gad7", {f"q{i}": 0 for i in range(1, 8)} | {"q2": -1}, "q2"),
    ],
)
def test_bad_item_is_a_400_naming_the_field(client_for, demo_world, instrument, answers, bad_field):
    response = client_for(demo_world["users"]["psychiatrist"]).post(
        f"{API}/measures/",
        {
            "patient": demo_world["patient"].pk,
            "plan": demo_world["plan"].pk,
            "instrument": instrument,
            "answers": answers,
        },
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_answers"
    assert list(body["fields"]["answers"]) == [bad_field]


def test_response_and_remission_against_the_baseline(client_for, demo_world):
    client = client_for(demo_world["users"]["psychiatrist"])
    base = {
        "patient": demo_world["patient"].pk,
        "plan": demo_world["plan"].pk,
        "instrument": "phq9",
    }

    def phq9(total: int, day: int) -> dict:
        answers = {f"q{i}": 0 for i in range(1, 10)}
        for i in range(total):
            answers[f"q{(i % 8) + 1}"] += 1  # item 9 stays 0
        taken = (NOW - dt.timedelta(days=30 - day)).isoformat()
        return _ok(
            client.post(f"{API}/measures/", {**base, "answers": answers, "taken_at": taken}), 201
        )

    first = phq9(20, 0)
    assert first["is_baseline"] is True
    assert first["band"] == "severe"
    assert first["change"] is None
    partial = phq9(12, 7)  # 40 % drop: neither
    assert partial["is_baseline"] is False
    assert partial["baseline"]["id"] == first["id"]
    assert (partial["response"], partial["remission"]) == (False, False)
    halved = phq9(10, 14)  # exactly 50 %: response
    assert (halved["response"], halved["remission"]) == (True, False)
    remitted = phq9(4, 21)
    assert (remitted["response"], remitted["remission"]) == (True, True)
    assert remitted["change"]["change"] == -16
    assert remitted["band"] == "minimal"
    # plan detail shows the latest PHQ-9 with its baseline and change
    detail = _ok(client.get(f"{API}/plans/{demo_world['plan'].pk}/"))
    latest = {m["instrument"]: m for m in detail["latest_measures"]}
    assert latest["phq9"]["latest"]["id"] == remitted["id"]
    assert latest["phq9"]["baseline"]["id"] == first["id"]
    assert latest["phq9"]["change"]["remission"] is True


def test_phq9_item9_raises_one_critical_flag_in_the_same_request(client_for, demo_world):
    plan = demo_world["plan"]
    client = client_for(demo_world["users"]["nurse"])  # not on the team → 404
    payload = {
        "patient": demo_world["patient"].pk,
        "plan": plan.pk,
        "instrument": "phq9",
        "answers": {f"q{i}": 0 for i in range(1, 9)} | {"q9": 1},
    }
    assert client.post(f"{API}/measures/", payload).status_code == 404
    client = client_for(demo_world["users"]["psychiatrist"])
    body = _ok(client.post(f"{API}/measures/", payload), 201)
    assert body["safety_alert"] is True
    flags = Flag.objects.filter(plan=plan, code=FlagCode.SAFETY_PHQ9_ITEM9, status="open")
    assert [f.severity for f in flags] == ["critical"]
    # repeating it does not open a second flag
    _ok(client.post(f"{API}/measures/", payload), 201)
    assert flags.count() == 1
    listed = _ok(client.get(f"{API}/flags/", {"plan": plan.pk, "severity": "critical"}))
    assert [f["code"] for f in listed["results"]] == ["safety_phq9_item9"]


def test_cssrs_high_risk_raises_a_critical_flag(client_for, demo_world):
    client = client_for(demo_world["users"]["psychiatrist"])
    _ok(
        client.post(
            f"{API}/measures/",
            {
                "patient": demo_world["patient"].pk,
                "plan": demo_world["plan"].pk,
                "instrument": "cssrs_screener",
                "answers": {
                    "q1": True,
                    "q2": True,
                    "q3": True,
                    "q4": True,
                    "q5": False,
                    "q6": False,
                },
            },
        ),
        201,
    )
    flag = Flag.objects.get(plan=demo_world["plan"], code=FlagCode.SAFETY_CSSRS_HIGH_RISK)
    assert flag.severity == "critical"
    assert flag.status == "open"


def test_dismiss_flag_needs_a_reason(client_for, demo_world):
    client = client_for(demo_world["users"]["psychiatrist"])
    flag = Flag.objects.filter(plan=demo_world["plan"], status="open").first()
    response = client.post(f"{API}/flags/{flag.pk}/dismiss/", {"reason": " "})
    assert response.status_code == 400
    assert response.json()["code"] == "reason_required"
    body = _ok(client.post(f"{API}/flags/{flag.pk}/dismiss/", {"reason": "covered elsewhere"}))
    assert body["status"] == "dismissed"
    assert body["dismiss_reason"] == "covered elsewhere"
    again = client.post(f"{API}/flags/{flag.pk}/dismiss/", {"reason": "twice"})
    assert again.status_code == 409
    assert again.json()["code"] == "flag_not_open"


# ---------------------------------------------------------------------------------------------
# 5. Plan detail: constant number of queries
# ---------------------------------------------------------------------------------------------


def _plan_with(client, patient, clinic, codes, evaluations, measures):
    components = []
    for code in codes:
        protocol = Protocol.objects.get(code=code)
        components.append(
            {
                "protocol": protocol.pk,
                "indication": protocol.indications.first().pk,
                "payer_type": "self_pay",
            }
        )
    plan = _ok(
        client.post(
            f"{API}/plans/",
            {"patient": patient.pk, "clinic": clinic.pk, "title": "Plan", "components": components},
        ),
        201,
    )
    kinds = ["psychiatric_evaluation", "transport_plan", "pdmp_check", "off_label_consent"]
    for i in range(evaluations):
        _ok(
            client.post(
                f"{API}/evaluations/",
                {"patient": patient.pk, "plan": plan["id"], "kind": kinds[i % 4]},
            ),
            201,
        )
    for i in range(measures):
        instrument, answers = (
            ("phq9", {f"q{j}": 1 for j in range(1, 10)} | {"q9": 0})
            if i % 2
            else ("gad7", {f"q{j}": 1 for j in range(1, 8)})
        )
        _ok(
            client.post(
                f"{API}/measures/",
                {
                    "patient": patient.pk,
                    "plan": plan["id"],
                    "instrument": instrument,
                    "answers": answers,
                },
            ),
            201,
        )
    return plan["id"]


def test_plan_detail_query_count_does_not_grow(client_for, demo_world, django_assert_num_queries):
    clinic = demo_world["clinic"]
    coordinator = demo_world["users"]["coordinator"]
    client = client_for(coordinator)
    big_patient, small_patient = demo_world["others"]
    big = _plan_with(
        client,
        big_patient,
        clinic,
        [
            "tms_hf_lm1_fibromyalgia",
            "spravato_trd",
            "psychiatric_follow_up",
            "ketamine_iv_depression",
        ],
        evaluations=40,
        measures=30,
    )
    small = _plan_with(
        client, small_patient, clinic, ["psychiatric_follow_up"], evaluations=2, measures=0
    )
    assert PlanComponent.objects.filter(plan_id=big).count() == 4
    # 11 queries, whatever the size of the plan (the plan is loaded once, issue 17):
    #  1 token → user (authentication)
    #  2 access_plan: plan + patient + clinic + coordinator (one join, organisation column)
    #  3 the read's audit event (insert)      4 components + protocol + indication
    #  5 the protocols' indications           6 the protocols' requirement specs
    #  7 the components' prior authorisations (issue 11)
    #  8 the patient's evaluations            9 the patient's measures
    # 10 the components' course sessions (where each course stands, issue 15)
    # 11 the plan's open flags, safety first (bounded: DETAIL_OPEN_FLAGS + 1)
    # Readiness, latest measures and their baselines are computed in Python from 4–10.
    for plan_id in (big, small):
        with django_assert_num_queries(11):
            body = _ok(client.get(f"{API}/plans/{plan_id}/"))
    assert len(body["components"]) == 1
    assert "readiness" in body
    assert "open_flags" in body


# ---------------------------------------------------------------------------------------------
# 7. State machine and all-or-nothing writes
# ---------------------------------------------------------------------------------------------


def test_illegal_transitions_are_409_with_a_stable_code(client_for, demo_world):
    client = client_for(demo_world["users"]["coordinator"])
    plan = demo_world["plan"].pk

    def post(action, **data):
        return client.post(f"{API}/plans/{plan}/{action}/", data)

    for action in ("resume", "hold", "complete"):  # not from draft
        response = post(action)
        assert response.status_code == 409
        assert response.json()["code"] == "illegal_transition"
    assert _ok(post("activate"))["status"] == "active"
    assert post("activate").json()["code"] == "illegal_transition"
    assert _ok(post("hold", reason="patient travelling"))["status"] == "on-hold"
    assert _ok(post("resume"))["status"] == "active"
    assert post("revoke").json()["code"] == "reason_required"
    assert _ok(post("complete"))["status"] == "completed"
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
    empty = _ok(
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
    _ok(client.post(f"{API}/plans/{plan.pk}/activate/"))
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
    body = _ok(
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
    body = _ok(client.patch(f"{API}/components/{body['id']}/", {"indication": adult.pk}))
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
    created = _ok(
        client.post(f"{API}/patients/", {**base, "mrn": "N-1", "phone": "(555) 555-0142"}), 201
    )
    assert created["phone"] == "+15555550142"
    # the same MRN in another organisation is fine
    other = factories.CoordinatorFactory()
    _ok(client_for(other).post(f"{API}/patients/", {**base, "mrn": "N-1"}), 201)
