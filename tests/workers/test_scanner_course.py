"""The scanner across a whole course (issue 15): judged at the next booked session, it raises no
false "expired" flag for a before-first-session step recorded on time, flags the motor-threshold
re-measurement when due, and warns at least 3 days before an expiry would block a booked session.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from plans.flag_codes import FlagCode
from plans.models import Evaluation, Flag, Measure
from plans.scanner import scan_all_plans
from plans.services import record_evaluation
from scheduling.models import Session
from tests import factories
from tests.workers.conftest import make_component, make_patient

NY = ZoneInfo("America/New_York")
DAY1 = date(2027, 1, 4)


def _weekdays(n: int, start: date = DAY1) -> list[date]:
    out, day = [], start
    while len(out) < n:
        if day.weekday() < 5:
            out.append(day)
        day += timedelta(days=1)
    return out


def _book(component, days: list[date], *, done: int, minutes: int = 50) -> list[Session]:
    sessions = []
    for sequence, day in enumerate(days, start=1):
        start = datetime.combine(day, time(10), tzinfo=NY)
        sessions.append(
            Session(
                component=component,
                patient_id=component.plan.patient_id,
                clinic_id=component.plan.clinic_id,
                kind="mapping"
                if sequence == 1 and component.protocol.mapping_minutes
                else "treatment",
                sequence=sequence,
                starts_at=start,
                ends_at=start + timedelta(minutes=minutes),
                status="fulfilled" if sequence <= done else "booked",
            )
        )
    return Session.objects.bulk_create(sessions)


def _evaluate(patient, kind: str, at: datetime, data=None) -> Evaluation:
    recorder = factories.CoordinatorFactory(organization=patient.organization)
    return Evaluation.objects.create(
        patient=patient, kind=kind, performed_at=at, data=data or {}, recorded_by=recorder
    )


def _open(code: str, component) -> dict[str, Flag]:
    return {
        f.requirement_key.rpartition(":")[2]: f
        for f in Flag.objects.filter(status="open", code=code, component=component)
    }


@pytest.mark.django_db
def test_thirty_six_session_tms_course_has_no_false_expiry_and_flags_the_mt_recheck(
    catalogue, organization, clinic, coordinator
):
    # Given a 36-session 10 Hz course, every step recorded a week before session 1, the motor
    # threshold measured at the mapping session, sessions 1–24 done, re-measured at 6, 11, 16
    patient = make_patient(organization)
    component = make_component(
        patient=patient,
        clinic=clinic,
        code="tms_10hz_ldlpfc_mdd",
        coordinator=coordinator,
        prior_auth_number="PA-1",
        prior_auth_sessions=36,
        prior_auth_expires_on=date(2028, 1, 1),
    )
    days = _weekdays(36)
    _book(component, days, done=24)
    week_before = datetime.combine(DAY1 - timedelta(days=7), time(9), tzinfo=NY)
    _evaluate(patient, "psychiatric_evaluation", week_before)
    _evaluate(patient, "target_rationale", week_before)
    _evaluate(
        patient,
        "tms_safety_screen",
        week_before,
        {
            "answers": {f"q{i}": False for i in range(1, 16)},
            "decision": "cleared",
            "physician": "Dr. Example",
        },
    )
    _evaluate(patient, "antidepressant_trials", week_before, factories.TWO_FAILED_TRIALS)
    Measure.objects.create(
        patient=patient,
        plan=component.plan,
        instrument="phq9",
        answers={f"q{i}": 2 for i in range(1, 9)} | {"q9": 0},
        total=16,
        band="moderately_severe",
        is_baseline=True,
        taken_at=week_before,
        recorded_by=coordinator,
    )
    for sequence in (1, 6, 11, 16):
        _evaluate(
            patient,
            "motor_threshold",
            datetime.combine(days[sequence - 1], time(9, 50), tzinfo=NY),
            {"percent": 55, "method": "emg"},
        )

    # When the scanner runs the morning of session 25 (weeks after the 7- and 30-day windows)
    now = datetime.combine(days[24], time(7), tzinfo=NY).astimezone(UTC)
    scan_all_plans(now=now)

    # Then no before-first-session step is flagged missing or expired
    gaps = {
        **_open(FlagCode.REQUIREMENT_MISSING, component),
        **_open(FlagCode.REQUIREMENT_EXPIRED, component),
    }
    assert not {"motor_threshold", "tms_safety_screen", "baseline_phq9"} & set(gaps)
    # And the re-measurement due at session 21 is flagged (a warning, DOMAIN.md §1.3)
    assert "motor_threshold_recheck" in gaps
    assert gaps["motor_threshold_recheck"].severity == "warning"

    # When it is re-measured through the service, the readiness sync resolves that flag
    with time_machine.travel(now, tick=False):
        record_evaluation(
            patient=patient,
            by=coordinator,
            kind="motor_threshold",
            performed_at=now,
            data={"percent": 56, "method": "emg"},
        )
        scan_all_plans(now=now + timedelta(minutes=10))
    assert "motor_threshold_recheck" not in _open(FlagCode.REQUIREMENT_MISSING, component)


@pytest.mark.django_db
def test_expiring_site_certification_is_warned_at_least_three_days_before_it_blocks(
    catalogue, organization, clinic, coordinator
):
    # Given a SPRAVATO course (twice weekly) at a clinic certified until 15 January 2027, with
    # sessions booked after that date
    factories.rems_certified(clinic, until=date(2027, 1, 15))
    patient = make_patient(organization)
    component = make_component(
        patient=patient,
        clinic=clinic,
        code="spravato_trd",
        coordinator=coordinator,
        prior_auth_number="PA-2",
        prior_auth_sessions=18,
        prior_auth_expires_on=date(2028, 1, 1),
    )
    days = [DAY1 + timedelta(days=d) for d in (0, 3, 7, 10, 14, 17)]  # Mon/Thu
    sessions = _book(component, days, done=2, minutes=150)
    blocked = sessions[4]  # Monday 18 January, the first after the certification ends
    assert blocked.starts_at.astimezone(NY).date() == date(2027, 1, 18)

    # When the scanner runs 10 days before that session: outside the 7-day look-ahead
    scan_all_plans(now=blocked.starts_at - timedelta(days=10))
    assert "site_rems_certification" not in _open(FlagCode.REQUIREMENT_EXPIRING, component)

    # When it runs 6 days before: a warning names the session it would block
    warned_at = blocked.starts_at - timedelta(days=6)
    scan_all_plans(now=warned_at)
    flag = _open(FlagCode.REQUIREMENT_EXPIRING, component)["site_rems_certification"]
    assert flag.severity == "warning"
    assert flag.detail["blocks_sequence"] == 5
    assert flag.detail["expires_on"] == "2027-01-15"
    assert blocked.starts_at - warned_at >= timedelta(days=3)
    # And it stays open up to the session (3 days before, still warned)
    scan_all_plans(now=blocked.starts_at - timedelta(days=3))
    assert "site_rems_certification" in _open(FlagCode.REQUIREMENT_EXPIRING, component)

    # When the clinic renews its certification, the next scan resolves the warning
    factories.rems_certified(clinic, until=date(2028, 12, 31))
    scan_all_plans(now=warned_at + timedelta(hours=1))
    assert "site_rems_certification" not in _open(FlagCode.REQUIREMENT_EXPIRING, component)


@pytest.mark.django_db
def test_the_scanner_reads_the_data_a_check_needs_as_the_plan_readiness_does(
    catalogue, organization, clinic, coordinator
):
    # Given a TMS course about to start whose antidepressant-trial record lists only one
    # failed trial (a commercial payer requires two), and an evaluation kind no rule reads
    from plans.selectors import get_plan_readiness

    patient = make_patient(organization)
    component = make_component(
        patient=patient, clinic=clinic, code="tms_10hz_ldlpfc_mdd", coordinator=coordinator
    )
    _book(component, _weekdays(3), done=0)
    week_before = datetime.combine(DAY1 - timedelta(days=7), time(9), tzinfo=NY)
    one_trial = {"trials": factories.TWO_FAILED_TRIALS["trials"][:1]}
    _evaluate(patient, "antidepressant_trials", week_before, one_trial)
    _evaluate(patient, "other", week_before, {"note": "not read by any requirement"})
    now = datetime.combine(DAY1 - timedelta(days=1), time(9), tzinfo=NY).astimezone(UTC)

    # When the scanner runs the day before session 1
    before = scan_all_plans(now=now)

    # Then the record fails its check: flagged missing with the check's reason, as the plan's
    # readiness (read on its own path) says
    flag = _open(FlagCode.REQUIREMENT_MISSING, component)["antidepressant_trials_payer"]
    assert "only 1 failed antidepressant trial" in flag.detail["detail"]
    with time_machine.travel(now, tick=False):
        item = get_plan_readiness(plan=component.plan).component(component.pk)
    assert item.item("antidepressant_trials_payer").detail == flag.detail["detail"]
    assert item.item("antidepressant_trials").status == "satisfied"  # the one-trial check

    # When a second failed trial is recorded in the same record's place
    Evaluation.objects.filter(patient=patient, kind="antidepressant_trials").update(
        data=factories.TWO_FAILED_TRIALS
    )
    after = scan_all_plans(now=now + timedelta(minutes=10))
    # Then the scanner no longer wants that one gap (the readiness sync owns its resolution),
    # and the plan's readiness agrees
    assert after.wanted == before.wanted - 1
    with time_machine.travel(now, tick=False):
        item = get_plan_readiness(plan=component.plan).component(component.pk)
    assert item.item("antidepressant_trials_payer").status == "satisfied"
