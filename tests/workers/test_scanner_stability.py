"""A scan skips only plans whose answer cannot have changed (issue 17;
``plans.scanner.stability``).

- The oracle: varied plans — sessions, evaluations, PHQ-9s and authorisations placed just past
  every clock threshold the rules are written with (DOMAIN.md's 72 h, 7, 14, 21, 28, 30 and 90
  days, spelled here independently of ``time_offsets``) in clinics from UTC−11 to UTC+14 — are
  judged again at the last instant each one's ``stable_until`` claims, and at instants before
  it: the gaps never differ from those judged at the scan.
- Every write path to what the scanner reads makes the plan due (triggers), the scanner's own
  flag writes do not, a change committed while a scan reads leaves the plan due, and a
  different rule set (settings, catalogue) makes every plan due.
"""

from __future__ import annotations

import json
import random
import re
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, connections
from django.test import override_settings
from hypothesis import given
from hypothesis import strategies as st

from modalities.models import RequirementSpec
from plans.models import (
    CarePlan,
    Evaluation,
    Flag,
    Measure,
    PlanChange,
    PlanComponent,
    PlanScanState,
    PriorAuthorization,
)
from plans.reconcile import FlagScope
from plans.scanner import _ids_q, chunk_bounds, detect_gaps, scan_all_plans, scan_chunk
from plans.scanner import stability as stab
from scheduling.models import Session
from tests import factories
from tests.workers.conftest import make_component, make_patient, make_session

NOW = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
ZONES = ("America/New_York", "Pacific/Kiritimati", "Pacific/Pago_Pago", "Europe/London")
# the clock thresholds of the rules, as DOMAIN.md gives them (not read from the code)
THRESHOLDS = [
    timedelta(0),
    -timedelta(hours=72),
    -timedelta(days=7),
    *(timedelta(days=d) for d in (2, 7, 14, 21, 28, 30, 90)),
]
CODES = ("tms_10hz_ldlpfc_mdd", "spravato_trd", "psychiatric_follow_up")


def _phq9(patient_id: int, at: datetime, by) -> Measure:
    return Measure.objects.create(
        patient_id=patient_id,
        instrument="phq9",
        answers=[1] * 9,
        total=9,
        taken_at=at,
        recorded_by=by,
    )


def _near(rng: random.Random) -> datetime:
    """An instant whose threshold (instant + one of ``THRESHOLDS``) falls in the next 30 h —
    within reach of a stable_until, which is at most a day ahead."""
    return NOW - rng.choice(THRESHOLDS) + timedelta(minutes=rng.randint(1, 30 * 60))


def _add_component(plan, code: str) -> PlanComponent:
    proto = factories.latest_protocol(code)
    indication = proto.indications.first()
    return PlanComponent.objects.create(
        plan=plan,
        protocol=proto,
        indication=indication,
        label_status=indication.label_status,
        target=proto.target,
        payer_type="commercial",
        status="active",
        position=1,
    )


def _number(component) -> None:
    """Number the component's course sessions as scheduling does (1, 2, … by start among those
    holding time): the readiness forecasts read them by sequence."""
    held = Session.objects.filter(
        component=component, kind="treatment", status__in=("booked", "arrived", "fulfilled")
    ).order_by("starts_at")
    for n, session in enumerate(held, start=1):
        Session.objects.filter(pk=session.pk).update(sequence=n)


def _build(organization, n_plans: int, seed: int) -> list[int]:
    rng = random.Random(seed)
    clinics = [
        factories.ClinicFactory(organization=organization, name=f"Site {z}", timezone=z)
        for z in ZONES
    ]
    recorder = factories.ClinicianFactory(organization=organization)
    plan_ids = []
    for _ in range(n_plans):
        clinic = rng.choice(clinics)
        patient = make_patient(organization)
        first, *more = rng.sample(CODES, rng.randint(1, 2))
        comps = [make_component(patient=patient, clinic=clinic, code=first)]
        comps += [_add_component(comps[0].plan, code) for code in more]
        plan_ids.append(comps[0].plan_id)
        taken: list[datetime] = []
        for comp in comps:
            for _ in range(rng.randint(1, 6)):
                at = _near(rng) if rng.random() < 0.8 else NOW + timedelta(days=rng.uniform(-95, 9))
                past = at <= NOW
                status = (
                    rng.choice(["fulfilled", "fulfilled", "noshow", "arrived", "cancelled"])
                    if past
                    else rng.choice(["booked", "booked", "cancelled"])
                )
                kind = "follow_up" if rng.random() < 0.2 else "treatment"
                at = at.replace(second=0, microsecond=0)
                while any(abs(at - other) < timedelta(minutes=45) for other in taken):
                    at += timedelta(minutes=47)  # the patient is in one session at a time
                taken.append(at)
                make_session(comp, at, status=status, kind=kind)
            _number(comp)
            if rng.random() < 0.4:
                PriorAuthorization.objects.create(
                    component=comp,
                    number="PA-9",
                    authorized_units=rng.randint(1, 8),
                    status="approved",
                    ends_on=(NOW + timedelta(days=rng.randint(-2, 20))).date(),
                )
        for _ in range(rng.randint(0, 4)):
            kind = rng.choice(
                [
                    "psychiatric_evaluation",
                    "rems_monitoring_form",
                    "rems_enrollment",
                    "tms_safety_screen",
                    "baseline_bp",
                    "informed_consent",
                ]
            )
            Evaluation.objects.create(
                patient=patient,
                kind=kind,
                status="final",
                performed_at=_near(rng) - timedelta(days=rng.choice([0, 0, 1])),
                recorded_by=recorder,
            )
        for _ in range(rng.randint(0, 3)):
            _phq9(patient.pk, _near(rng), recorder)
    # and one plan for each threshold the random ones may miss
    clinic = clinics[0]
    hours = timedelta(hours=5)
    # a TMS course whose last session leaves the 14-day "active treatment" window in 5 h (the
    # follow-up cadence then no longer applies)
    comp = make_component(patient=make_patient(organization), clinic=clinic, code=CODES[0])
    make_session(comp, NOW - timedelta(days=20), status="fulfilled")
    make_session(comp, NOW - timedelta(days=14) + hours, status="fulfilled")
    plan_ids.append(comp.plan_id)
    # a course not started whose psychiatric evaluation (90 days) expires before the first
    # session, which comes within the 7-day expiry warning in 5 h
    patient = make_patient(organization)
    comp = make_component(patient=patient, clinic=clinic, code=CODES[0])
    make_session(comp, NOW + timedelta(days=7) + hours)
    _number(comp)
    Evaluation.objects.create(
        patient=patient,
        kind="psychiatric_evaluation",
        status="final",
        performed_at=NOW - timedelta(days=85),
        recorded_by=recorder,
    )
    plan_ids.append(comp.plan_id)
    return plan_ids


def _judge(plan_ids: list[int], at: datetime) -> dict[int, list]:
    """The gaps of ``plan_ids`` judged at ``at`` (what a scan would reconcile), per plan."""
    components = list(
        PlanComponent.objects.filter(plan_id__in=plan_ids).values_list("id", flat=True)
    )
    patients = sorted(
        set(CarePlan.objects.filter(pk__in=plan_ids).values_list("patient_id", flat=True))
    )
    _, gaps = detect_gaps(
        plan_q=_ids_q("plan_id", plan_ids),
        session_q=_ids_q("component_id", components),
        patient_ids=patients,
        now=at,
    )
    out: dict[int, list] = {p: [] for p in plan_ids}
    for g in gaps:
        out[g.plan_id].append(
            (
                g.ident,
                g.severity,
                g.message,
                g.due_at,
                g.component_id,
                g.session_id,
                json.dumps(g.detail, sort_keys=True, default=str),
            )
        )
    return {p: sorted(v) for p, v in out.items()}


def _states(plan_ids) -> dict[int, PlanScanState]:
    return PlanScanState.objects.in_bulk(plan_ids)


@pytest.mark.django_db
@pytest.mark.slow
def test_the_answer_holds_until_stable_until(catalogue, organization):
    plan_ids = _build(organization, n_plans=120, seed=17)
    first = scan_all_plans(now=NOW)
    assert first.plans == len(plan_ids) == 122
    states = _states(plan_ids)
    until = {p: states[p].stable_until for p in plan_ids}
    assert all(NOW < u <= NOW + timedelta(hours=26) for u in until.values())
    # the thresholds placed in the next 30 h cut most plans' stability short of midnight
    midnights = {p: stab.next_midnight(NOW, ZoneInfo(z)) for p, z in _zones(plan_ids).items()}
    assert sum(until[p] < midnights[p] for p in plan_ids) > 60

    at_scan = _judge(plan_ids, NOW)
    # every plan at the last instant it claims, and every plan at each earlier such instant
    probes = sorted({u - timedelta(microseconds=1) for u in until.values()})
    for t in probes:
        holding = [p for p in plan_ids if until[p] > t]
        later = _judge(holding, t)
        changed = {p: (at_scan[p], later[p]) for p in holding if later[p] != at_scan[p]}
        assert not changed, f"answer changed at {t.isoformat()} before stable_until: {changed}"

    # and the scan itself skips them until then, judging each again from its stable_until on
    soonest = min(until.values())
    quiet = scan_all_plans(now=soonest - timedelta(microseconds=1))
    assert (quiet.plans, quiet.skipped) == (0, 122)
    again = scan_all_plans(now=soonest)
    assert again.plans == sum(u <= soonest for u in until.values())
    # a scan judged at an earlier instant than the recorded one does not trust it
    assert scan_all_plans(now=NOW - timedelta(hours=1)).plans == 122


def _zones(plan_ids) -> dict[int, str]:
    return dict(CarePlan.objects.filter(pk__in=plan_ids).values_list("id", "clinic__timezone"))


@given(
    at=st.datetimes(datetime(2020, 1, 1), datetime(2035, 1, 1), timezones=st.just(UTC)),
    zone=st.sampled_from(
        [
            "America/New_York",
            "Pacific/Kiritimati",
            "Pacific/Pago_Pago",
            "America/Santiago",
            "Asia/Kolkata",
            "Australia/Lord_Howe",
            "UTC",
        ]
    ),
)
def test_next_midnight_is_the_first_instant_of_the_next_local_date(at, zone):
    tz = ZoneInfo(zone)
    midnight = stab.next_midnight(at, tz)
    assert midnight > at
    assert (midnight - timedelta(microseconds=1)).astimezone(tz).date() == at.astimezone(tz).date()
    assert midnight.astimezone(tz).date() > at.astimezone(tz).date()


@pytest.fixture
def scanned(catalogue, organization, clinic):
    """One TMS plan with past and booked sessions, a PHQ-9 and an authorisation, scanned."""
    patient = make_patient(organization)
    comp = make_component(patient=patient, clinic=clinic, code="tms_10hz_ldlpfc_mdd")
    for d in (-12, -9, -6):
        make_session(comp, NOW + timedelta(days=d), status="fulfilled")
    booked = make_session(comp, NOW + timedelta(days=2))
    PriorAuthorization.objects.create(
        component=comp,
        number="PA-1",
        authorized_units=10,
        status="approved",
        ends_on=date(2027, 3, 1),
    )
    recorder = factories.ClinicianFactory(organization=organization)
    scan_all_plans(now=NOW)
    assert not _due(comp.plan_id)
    return comp, booked, recorder


def _due(plan_id: int, now: datetime = NOW) -> bool:
    return bool(
        stab.due_plans(FlagScope(plan_ids=[plan_id]), now=now, fingerprint=stab.fingerprint())
    )


WRITES = {
    "session booked": lambda comp, booked, who: make_session(comp, NOW + timedelta(days=5)),
    "session cancelled": lambda comp, booked, who: Session.objects.filter(pk=booked.pk).update(
        status="cancelled"
    ),
    "session deleted": lambda comp, booked, who: Session.objects.filter(pk=booked.pk).delete(),
    "PHQ-9 recorded": lambda comp, booked, who: _phq9(
        comp.plan.patient_id, NOW - timedelta(days=1), who
    ),
    "evaluation recorded": lambda comp, booked, who: Evaluation.objects.create(
        patient_id=comp.plan.patient_id,
        kind="tms_safety_screen",
        status="final",
        performed_at=NOW - timedelta(days=3),
        recorded_by=who,
    ),
    "component stopped": lambda comp, booked, who: PlanComponent.objects.filter(pk=comp.pk).update(
        status="stopped"
    ),
    "plan on hold": lambda comp, booked, who: CarePlan.objects.filter(pk=comp.plan_id).update(
        status="on-hold"
    ),
    "authorisation shortened": lambda comp, booked, who: PriorAuthorization.objects.filter(
        component=comp
    ).update(authorized_units=2),
    "clinic moved zone": lambda comp, booked, who: (
        type(comp.plan.clinic)
        .objects.filter(pk=comp.plan.clinic_id)
        .update(timezone="America/Chicago")
    ),
    "flag resolved by hand": lambda comp, booked, who: Flag.objects.filter(
        plan_id=comp.plan_id, status="open"
    ).update(status="resolved"),
}


@pytest.mark.django_db
@pytest.mark.parametrize("write", WRITES)
def test_every_write_to_what_the_scanner_reads_makes_the_plan_due(scanned, write):
    comp, booked, who = scanned
    assert Flag.objects.filter(plan_id=comp.plan_id, status="open").exists()
    WRITES[write](comp, booked, who)
    assert _due(comp.plan_id)
    # and the next scan judges it, after which it is settled again
    assert scan_all_plans(now=NOW).plans == (0 if write == "component stopped" else 1)
    assert not _due(comp.plan_id)


@pytest.mark.django_db
def test_a_clinic_edit_that_the_rules_do_not_read_leaves_plans_settled(scanned):
    comp, _, _ = scanned
    type(comp.plan.clinic).objects.filter(pk=comp.plan.clinic_id).update(address="1 Elm St")
    assert not _due(comp.plan_id)


@pytest.mark.django_db
def test_other_rules_make_every_plan_due(scanned):
    comp, _, _ = scanned
    with override_settings(FOLLOW_UP_CADENCE_DAYS=14):
        assert _due(comp.plan_id)
    assert not _due(comp.plan_id)
    spec = RequirementSpec.objects.filter(protocol=comp.protocol).first()
    RequirementSpec.objects.filter(pk=spec.pk).update(reason=spec.reason + " (revised)")
    assert _due(comp.plan_id)


@pytest.mark.django_db
def test_a_deleted_plan_leaves_no_state(scanned):
    comp, _, _ = scanned
    plan = comp.plan
    Flag.objects.filter(plan=plan).delete()
    Session.objects.filter(component__plan=plan).delete()
    PriorAuthorization.objects.filter(component__plan=plan).delete()
    PlanComponent.objects.filter(plan=plan).delete()
    assert PlanChange.objects.filter(plan_id=plan.pk).exists()
    CarePlan.objects.filter(pk=plan.pk).delete()
    assert not PlanScanState.objects.filter(plan_id=plan.pk).exists()
    assert not PlanChange.objects.filter(plan_id=plan.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_a_change_committed_while_a_scan_reads_leaves_the_plan_due(
    catalogue, organization, clinic, monkeypatch
):
    patient = make_patient(organization)
    comp = make_component(patient=patient, clinic=clinic, code="tms_10hz_ldlpfc_mdd")
    for d in (-12, -9, -6):
        make_session(comp, NOW + timedelta(days=d), status="fulfilled")
    make_session(comp, NOW + timedelta(days=2))
    recorder = factories.ClinicianFactory(organization=organization)
    real = detect_gaps

    def a_phq9_lands_meanwhile(**kwargs):
        found = real(**kwargs)  # the scan has read the facts without the PHQ-9

        def record() -> None:  # another request, on its own connection, commits one
            try:
                _phq9(patient.pk, NOW - timedelta(hours=2), recorder)
            finally:
                connections.close_all()

        worker = threading.Thread(target=record)
        worker.start()
        worker.join()
        return found

    monkeypatch.setattr("plans.scanner.detect_gaps", a_phq9_lands_meanwhile)
    scan_chunk(plan_ids=None, now=NOW)
    monkeypatch.undo()
    assert Flag.objects.filter(code="weekly_phq9_overdue", status="open").count() == 1
    # the scan recorded the version it read before the PHQ-9: the plan is due, and the next
    # scan resolves the flag the PHQ-9 answered
    assert _due(comp.plan_id)
    assert scan_chunk(now=NOW).resolved == 1
    assert not Flag.objects.filter(code="weekly_phq9_overdue", status="open").exists()


@pytest.mark.django_db
def test_the_scanners_own_flag_writes_do_not_make_the_plan_due(scanned):
    comp, _, _ = scanned
    # the scan opened flags, and left no change behind: its own writes record none
    assert Flag.objects.filter(plan_id=comp.plan_id, status="open").count() >= 2
    assert not PlanChange.objects.filter(plan_id=comp.plan_id).exists()
    # while the same write from anyone else does
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE plans_flag SET severity = severity WHERE plan_id = %s", [comp.plan_id]
        )
    assert PlanChange.objects.filter(plan_id=comp.plan_id).count() == 1
    assert _due(comp.plan_id)


@pytest.mark.django_db
def test_a_tick_chunks_only_the_due_plans(catalogue, organization, clinic):
    comps = []
    for _ in range(6):
        comp = make_component(patient=make_patient(organization), clinic=clinic, code=CODES[0])
        make_session(comp, NOW - timedelta(days=3), status="fulfilled")
        comps.append(comp)
    assert len(chunk_bounds(size=2, now=NOW)) == 4  # never judged: all six due
    scan_all_plans(now=NOW, chunk_plans=2)
    assert chunk_bounds(size=2, now=NOW) == [(None, None)]  # none due: one (empty) pass
    recorder = factories.ClinicianFactory(organization=organization)
    for comp in comps[1::2]:
        _phq9(comp.plan.patient_id, NOW - timedelta(hours=1), recorder)
    # three due: two chunks of at most two due plans, whatever lies between them
    assert len(chunk_bounds(size=2, now=NOW)) == 2
    tick = scan_all_plans(now=NOW, chunk_plans=2)
    assert (tick.plans, tick.chunks, tick.skipped) == (3, 2, 3)
    # a full scan still chunks every plan
    assert len(chunk_bounds(size=2)) == 4


def test_every_setting_the_rules_read_is_in_the_fingerprint():
    root = Path(stab.__file__).resolve().parents[2]
    read = set()
    for folder in ("plans/scanner", "plans/rules", "modalities"):
        for path in (root / folder).rglob("*.py"):
            read |= set(re.findall(r"""settings\s*,\s*["']([A-Z_]+)["']""", path.read_text()))
            read |= set(re.findall(r"settings\.([A-Z][A-Z_]+)", path.read_text()))
    assert read - {"FLAG_SCAN_CHUNK_PLANS"} == set(stab.RULE_SETTINGS)
