"""plans.detail_reads (issue 17): each fixed-SQL read gives what its queryset gives on real rows."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from modalities.vocab import COURSE_KINDS
from plans.detail_reads import (
    patient_evaluation_rows,
    patient_measure_rows,
    plan_components,
)
from plans.flag_order import order_flags_by_priority
from plans.models import Evaluation, Flag, Measure, PlanComponent, PriorAuthorization
from plans.ports import HOLDING_SESSION_STATUSES
from plans.selectors import (
    components_with_protocols,
    course_session_rows,
)
from plans.services.evaluations import record_evaluation
from plans.services.measures import record_measure
from tests.workers.conftest import make_session

pytestmark = pytest.mark.django_db


def _fields(obj) -> dict:
    return {f.attname: getattr(obj, f.attname) for f in type(obj)._meta.concrete_fields}


def test_plan_components_are_the_querysets_components(demo_world):
    # given the demo plan (three components, a prior authorisation) with authorisations of
    # every status, one without a start, and course sessions of several kinds and statuses
    plan = demo_world["plan"]
    first, second, *_ = list(PlanComponent.objects.filter(plan=plan).order_by("position", "id"))
    for n, status in enumerate(("requested", "denied", "approved")):
        PriorAuthorization.objects.create(
            component=first,
            payer_name="Payer",
            number="" if status == "requested" else f"PA-{n}",
            authorized_units=10 + n,
            starts_on=None if status == "approved" else dt.date(2026, 1, 1 + n),
            ends_on=dt.date(2026, 6, 1),
            status=status,
        )
    start = timezone.now().replace(microsecond=123456) + dt.timedelta(days=3)
    for k, (status, kind) in enumerate(
        [("booked", "treatment"), ("fulfilled", "mapping"), ("cancelled", "treatment")]
    ):
        session = make_session(second, start + dt.timedelta(days=k), status=status, kind=kind)
        session.sequence = k + 1
        session.save(update_fields=["sequence"])

    # when the plan's components are read by SQL and by the queryset
    fast, sessions = plan_components(
        plan.pk, session_kinds=COURSE_KINDS, session_statuses=HOLDING_SESSION_STATUSES
    )
    slow = list(components_with_protocols(PlanComponent.objects.filter(plan_id=plan.pk)))

    # then they are the same rows, protocol, indication and authorisations included
    assert [c.pk for c in fast] == [c.pk for c in slow]
    for a, b in zip(fast, slow, strict=True):
        assert _fields(a) == _fields(b)
        assert _fields(a.protocol) == _fields(b.protocol)
        assert _fields(a.indication) == _fields(b.indication)
        assert [_fields(x) for x in a.authorizations.all()] == [
            _fields(x) for x in b.authorizations.all()
        ]
        assert (a.prior_auth_number, a.prior_auth_sessions, a.prior_auth_expires_on) == (
            b.prior_auth_number,
            b.prior_auth_sessions,
            b.prior_auth_expires_on,
        )
        assert a.authorized_units_total == b.authorized_units_total
    assert first.pk in {c.pk for c in fast if c.authorizations.all()}
    # and the course sessions are course_session_rows' (the cancelled one left out)
    assert sessions == course_session_rows(c.pk for c in slow)
    assert [seq for seq, _, _ in sessions[second.pk]] == [1, 2]


def test_open_flags_come_in_the_priority_order(demo_world):
    # given open flags of every severity, safety codes among them, due or not, and a resolved one
    plan = demo_world["plan"]
    now = timezone.now()
    specs = [
        ("requirement_missing", "warning", None),
        ("requirement_missing", "blocking", now + dt.timedelta(days=2)),
        ("safety_phq9_item9", "info", None),
        ("requirement_expired", "critical", now + dt.timedelta(days=1)),
        ("requirement_expired", "critical", None),
        ("follow_up_overdue", "info", now),
        ("safety_cssrs_high_risk", "critical", now + dt.timedelta(days=5)),
    ]
    Flag.objects.bulk_create(
        Flag(
            plan=plan,
            patient_id=plan.patient_id,
            code=code,
            requirement_key=f"k{n}",
            severity=severity,
            due_at=due,
            message="m",
            detail={"n": n},
        )
        for n, (code, severity, due) in enumerate(specs)
    )
    Flag.objects.filter(plan=plan, requirement_key="k0").update(status="resolved")
    ordered = order_flags_by_priority(Flag.objects.filter(plan_id=plan.pk, status="open"))
    # when read by SQL, then in the queryset's order, with the same values (detail decoded)
    assert [_fields(f) for f in _open_flags(plan, limit=None)] == [_fields(f) for f in ordered]
    assert [f.pk for f in _open_flags(plan, limit=3)] == [f.pk for f in ordered[:3]]
    assert _open_flags(plan, limit=None)[0].code.startswith("safety_")


def _open_flags(plan, *, limit):
    from plans.detail_reads import plan_detail_rows

    return plan_detail_rows(
        plan.pk,
        plan.patient_id,
        session_kinds=COURSE_KINDS,
        session_statuses=HOLDING_SESSION_STATUSES,
        flag_limit=limit,
    ).open_flags


def test_patient_rows_are_the_querysets_rows(demo_world):
    # given the demo patient's records, two more evaluations (one with data) and two PHQ-9s
    plan = demo_world["plan"]
    patient_id = plan.patient_id
    by = demo_world["users"]["coordinator"]
    record_evaluation(
        patient=plan.patient, by=by, kind="psychiatric_evaluation", performed_at=timezone.now()
    )
    record_evaluation(
        patient=plan.patient,
        by=by,
        kind="tms_safety_screen",
        plan=plan,
        performed_at=timezone.now() - dt.timedelta(days=3),
        data={
            "answers": {f"q{i}": False for i in range(1, 16)},
            "decision": "cleared",
            "physician": "Dr. Example",
        },
    )
    kinds = {"psychiatric_evaluation", "tms_safety_screen", "medication_change"}
    rows = patient_evaluation_rows(patient_id, kinds)
    # then they are the queryset's tuples, data decoded, newest first
    assert len(rows) >= 2
    assert any(row[5] for row in rows)
    evaluations = Evaluation.objects.filter(patient_id=patient_id, status="final", kind__in=kinds)
    assert rows == list(
        evaluations.values_list("id", "kind", "component_id", "performed_at", "valid_until", "data")
    )
    for days, score in ((20, 2), (1, 1)):
        record_measure(
            patient=plan.patient,
            by=by,
            plan=plan,
            instrument="phq9",
            answers={f"q{j}": score for j in range(1, 9)} | {"q9": 0},
            taken_at=timezone.now() - dt.timedelta(days=days),
        )
    columns = ("id", "instrument", "taken_at", "is_baseline", "total", "plan_id", "band", "risk")
    assert len(patient_measure_rows(patient_id)) >= 2
    assert patient_measure_rows(patient_id) == list(
        Measure.objects.filter(patient_id=patient_id, status="final").values_list(*columns)
    )


def test_latest_measures_of_the_picked_rows_are_those_of_every_row():
    # given measure rows of two plans, three instruments, ties on taken_at, a flagged baseline
    # that is not the first taken, and an instrument with no flagged baseline
    from decimal import Decimal

    from plans.selectors import _plan_measures, latest_measures

    day = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    rows = [
        (pk, instrument, day + dt.timedelta(days=d), flagged, Decimal(total), plan, "b", "")
        for pk, instrument, d, flagged, total, plan in [
            (1, "phq9", 5, False, 20, 1),
            (2, "phq9", 9, True, 18, 1),
            (3, "phq9", 30, False, 9, 1),
            (4, "phq9", 30, False, 7, 1),
            (5, "phq9", 2, True, 25, 2),
            (6, "gad7", 3, False, 15, 1),
            (7, "gad7", 3, False, 14, 1),
            (8, "gad7", 40, False, 5, 1),
            (9, "pain_nrs", 1, False, 8, 1),
        ]
    ]
    every = [
        Measure(
            id=pk,
            instrument=i,
            taken_at=t,
            is_baseline=b,
            total=total,
            plan_id=p,
            band=band,
            risk=risk,
            status="final",
        )
        for pk, i, t, b, total, p, band, risk in rows
        if p == 1
    ]

    def summary(measures):
        return [
            (s.instrument, s.latest.pk, s.baseline and s.baseline.pk, s.change)
            for s in latest_measures(measures)
        ]

    # when only the rows latest_measures can pick become instances, then it picks the same
    picked = _plan_measures(rows, 1)
    assert len(picked) < len(every)
    assert summary(picked) == summary(every)
    assert summary(picked)[2][:3] == ("phq9", 4, 2)  # a tie goes to the higher id; flagged


def _plan_parties(plan) -> dict:
    return {
        "plan": _fields(plan),
        "patient": _fields(plan.patient),
        "clinic": _fields(plan.clinic),
        "coordinator": None if plan.coordinator is None else _fields(plan.coordinator),
    }


def test_access_plan_reads_what_the_queryset_reads_for_admins_and_coordinators(
    demo_world, admin_user, django_assert_num_queries
):
    from backend.errors import NotFoundError
    from plans.access import access_plan, visible_plans
    from plans.models import CarePlan
    from tests import factories

    coordinator = demo_world["users"]["coordinator"]
    plan = demo_world["plan"]
    # a second plan of the patient's without a coordinator
    bare = CarePlan.objects.create(
        patient=plan.patient,
        organization=plan.organization,
        clinic=plan.clinic,
        title="No coordinator",
        diagnoses=["G89.4"],
    )
    outsider = factories.CoordinatorFactory()  # another organisation's coordinator
    for user in (coordinator, admin_user):
        for target in (plan, bare):
            expected = (
                visible_plans(user)
                .select_related("patient", "clinic", "coordinator")
                .get(pk=target.pk)
            )
            # one query, and the relations come with it
            with django_assert_num_queries(1):
                got = access_plan(user=user, plan_id=str(target.pk))
                parties = _plan_parties(got)
            assert parties == _plan_parties(expected)
            assert not got._state.adding
            assert got.get_deferred_fields() == set()
    assert _plan_parties(access_plan(user=coordinator, plan_id=bare.pk))["coordinator"] is None
    # another organisation's plan, an unknown id, ids that are not plan ids: 404, no query
    for user, plan_id in [
        (outsider, plan.pk),
        (coordinator, bare.pk + 1000),
        (admin_user, bare.pk + 1000),
    ]:
        with pytest.raises(NotFoundError):
            access_plan(user=user, plan_id=plan_id)
    for plan_id in ("abc", None, "1.5", 0, -1, 2**63, 10**40):
        with django_assert_num_queries(0), pytest.raises(NotFoundError):
            access_plan(user=coordinator, plan_id=plan_id)
    # the other roles and a locked read keep the queryset (care-team scoping)
    clinician = demo_world["users"]["psychiatrist"]
    assert access_plan(user=clinician, plan_id=plan.pk) == plan
    assert access_plan(user=coordinator, plan_id=plan.pk, for_update=True) == plan


def test_the_detail_rows_read_together_are_the_three_reads(demo_world):
    from plans.detail_reads import plan_detail_rows

    plan = demo_world["plan"]
    record_measure(
        patient=plan.patient,
        by=demo_world["users"]["psychiatrist"],
        plan=plan,
        instrument="phq9",
        answers={f"q{j}": 1 for j in range(1, 9)} | {"q9": 0},
        taken_at=timezone.now() - dt.timedelta(days=1),
    )
    Flag.objects.create(
        plan=plan, patient=plan.patient, code="x_note", severity="info", message="A note."
    )
    kinds, statuses = COURSE_KINDS, HOLDING_SESSION_STATUSES
    together = plan_detail_rows(
        plan.pk, plan.patient_id, session_kinds=kinds, session_statuses=statuses, flag_limit=3
    )
    components, sessions = plan_components(plan.pk, session_kinds=kinds, session_statuses=statuses)
    assert [_fields(c) for c in together.components] == [_fields(c) for c in components]
    assert [_fields(c.protocol) for c in together.components] == [
        _fields(c.protocol) for c in components
    ]
    assert together.sessions == sessions
    assert together.measure_rows == patient_measure_rows(plan.patient_id)
    assert together.measure_rows
    ordered = order_flags_by_priority(Flag.objects.filter(plan_id=plan.pk, status="open"))
    assert [_fields(f) for f in together.open_flags] == [_fields(f) for f in ordered[:3]]
    assert together.open_flags
