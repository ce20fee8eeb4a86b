"""Plan detail (issue 17): a constant number of queries, whatever the size of the plan."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from modalities.models import Protocol
from plans.models import PlanComponent
from tests.api.plans.helpers import API, ok

pytestmark = pytest.mark.django_db


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
    plan = ok(
        client.post(
            f"{API}/plans/",
            {"patient": patient.pk, "clinic": clinic.pk, "title": "Plan", "components": components},
        ),
        201,
    )
    kinds = ["psychiatric_evaluation", "transport_plan", "pdmp_check", "off_label_consent"]
    for i in range(evaluations):
        ok(
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
        ok(
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
    # 7 queries, whatever the size of the plan (the plan is loaded once, issue 17):
    #  1 token → user (authentication)
    #  2 access_plan: plan + patient + clinic + coordinator (one join, organisation column)
    #  3 the read's audit event (insert)
    #  4 components + protocol + indication + prior authorisations (issue 11) + course
    #    sessions (where each course stands, issue 15), one query (plans.detail_reads)
    #  5 the patient's measures             6 the plan's open flags, safety first (bounded)
    #  7 the patient's evaluations of the kinds the requirements read
    # The protocols' specs come from the per-process cache (modalities.spec_cache), warmed by
    # the create above (0 queries). Readiness, latest measures and baselines are computed in
    # Python from 4–7.
    for plan_id in (big, small):
        with django_assert_num_queries(7):
            body = ok(client.get(f"{API}/plans/{plan_id}/"))
    assert len(body["components"]) == 1
    assert "readiness" in body
    assert "open_flags" in body


def test_detail_payload_is_exactly_what_the_detail_serializer_renders(client_for, demo_world):
    # given the demo plan (prior authorisation, readiness warnings) and a plan with history:
    # evaluations, measures against a baseline, more open flags than the detail shows
    from rest_framework.renderers import JSONRenderer

    from api.plans.detail import plan_detail_payload
    from api.plans.serializers.plans import PlanDetailOut
    from plans.models import CarePlan, Flag
    from plans.selectors import get_plan_detail, plans_for_detail

    coordinator = demo_world["users"]["coordinator"]
    client = client_for(coordinator)
    patient = demo_world["others"][0]
    codes = ["spravato_trd", "psychiatric_follow_up"]
    big = _plan_with(client, patient, demo_world["clinic"], codes, evaluations=8, measures=6)
    Flag.objects.bulk_create(
        Flag(
            plan_id=big,
            patient=patient,
            code="MONITORING_FORM_MISSING",
            requirement_key=f"session:{i}",
            severity="warning",
            message="Form missing.",
            detail={"session": i},
        )
        for i in range(22)
    )
    for plan_id in (demo_world["plan"].pk, big):
        plan = plans_for_detail(CarePlan.objects.filter(pk=plan_id)).get()
        detail = get_plan_detail(plan=plan)
        plan.detail = detail
        # when the fast builder and PlanDetailOut render the same detail
        fast = JSONRenderer().render(plan_detail_payload(plan, detail))
        slow = JSONRenderer().render(PlanDetailOut(plan).data)
        # then the JSON is identical, byte for byte (PlanDetailOut stays the schema)
        assert fast == slow
        # and so it is with another zone activated (date-times rendered in it, not in UTC)
        with timezone.override(ZoneInfo("America/New_York")):
            fast = JSONRenderer().render(plan_detail_payload(plan, detail))
            slow = JSONRenderer().render(PlanDetailOut(plan).data)
        assert fast == slow
        assert b"-05:00" in fast or b"-04:00" in fast
    body = ok(client.get(f"{API}/plans/{big}/"))
    assert body["open_flags_more"]
    assert any(s["baseline"] and s["change"] for s in body["latest_measures"])
    assert any(it["satisfied_by"] for c in body["readiness"]["components"] for it in c["items"])


def test_the_hot_reads_fixed_statements_are_planned_once_per_connection(client_for, demo_world):
    # the token, the audit insert, the list page and the detail's own reads run as prepared
    # statements (backend.db.base.prepared_cursor): the second request reuses the plans
    from django.db import connection

    client = client_for(demo_world["users"]["coordinator"])
    plan_id = demo_world["plan"].pk
    with connection.cursor() as cur:
        cur.execute("DEALLOCATE ALL")
    connection.connection._prepared.clear()  # psycopg's own record of what it prepared
    for _ in range(2):
        ok(client.get(f"{API}/plans/"))
        ok(client.get(f"{API}/plans/{plan_id}/"))
    with connection.cursor() as cur:
        cur.execute("SELECT statement FROM pg_prepared_statements")
        statements = [row[0] for row in cur.fetchall()]
    for table in (
        "authtoken_token",  # the token's user
        "audit_auditevent",  # the read's audit event
        "json_build_object",  # the list page
        "plans_plancomponent",  # the detail's components
        "plans_measure",
        "plans_evaluation",
        "plans_flag",
    ):
        assert sum(table in s for s in statements) >= 1, table
    # each statement once per parameter types, however many requests ran it (the audit
    # insert twice: a list's event has no patient, NULL, sent untyped)
    dupes = sorted(s for s in set(statements) if statements.count(s) > 1)
    assert [s.split("(")[0] for s in dupes] == ['INSERT INTO "audit_auditevent" ']
