"""Reschedule, cancel, no-show, the check-in gate and completion."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import PermissionDenied

from backend.audit.models import AuditEvent
from backend.errors import ConflictError, InvalidInput
from plans.models import Evaluation, Flag
from scheduling.errors import SchedulingErrorCode
from scheduling.models import Session, SessionResource
from scheduling.services import (
    cancel_session,
    check_in_session,
    complete_session,
    mark_no_show,
    reschedule_session,
    schedule_course,
)
from tests import factories
from tests.scheduling.conftest import TEN_AM

NY = ZoneInfo("America/New_York")


def _course(component, coordinator, starts_on=date(2026, 10, 5)):
    schedule_course(
        component=component,
        starts_on=starts_on,
        preferred_start=TEN_AM,
        by=coordinator,
        commit=True,
    )
    return list(Session.objects.filter(component=component).order_by("starts_at"))


def _active_course(component):
    return list(
        Session.objects.filter(
            component=component,
            kind__in=["mapping", "treatment"],
            status__in=["booked", "arrived", "fulfilled"],
        ).order_by("starts_at")
    )


@time_machine.travel(datetime(2026, 10, 1, 12, tzinfo=NY), tick=False)
def test_no_show_on_session_10_appends_one_make_up(tms_component, coordinator, clinician):
    # given a committed 36-session course
    sessions = _course(tms_component, coordinator)
    tenth = sessions[9]
    assert tenth.sequence == 10
    # when session 10 is marked a no-show
    result = mark_no_show(session=tenth, by=clinician)
    # then exactly one make-up is appended after the last session, replacing it
    make_up = result.session
    assert make_up is not None
    assert make_up.replaces_id == tenth.pk
    assert make_up.starts_at > sessions[-1].starts_at
    assert Session.objects.filter(replaces=tenth).count() == 1
    # and the course still has 36 treatment sessions numbered 1..36
    active = _active_course(tms_component)
    assert len(active) == 36
    assert [s.sequence for s in active] == list(range(1, 37))
    assert make_up.starts_at.astimezone(NY).time() == TEN_AM
    tenth.refresh_from_db()
    assert tenth.status == "noshow"
    assert not SessionResource.objects.get(session=tenth).active


@time_machine.travel(datetime(2026, 10, 1, 12, tzinfo=NY), tick=False)
def test_cancel_respects_cap(catalogue, us_clinic, coordinator):
    from tests.scheduling.conftest import make_component, make_patient

    component = make_component(
        patient=make_patient(us_clinic.organization),
        clinic=us_clinic,
        code="tms_10hz_ldlpfc_mdd",
        prior_auth_sessions=10,
    )
    sessions = _course(component, coordinator)
    assert len(sessions) == 10
    # a cancelled session does not count: one make-up keeps the course at the cap, not above
    result = cancel_session(session=sessions[3], reason="patient ill", by=coordinator)
    assert result.session is not None
    assert [s.sequence for s in _active_course(component)] == list(range(1, 11))
    # a second make-up for the same course still never exceeds the authorised 10
    result = cancel_session(session=sessions[4], reason="patient ill", by=coordinator)
    assert len(_active_course(component)) == 10


def test_illegal_transitions_are_409(tms_component, coordinator, clinician):
    sessions = _course(tms_component, coordinator)
    cancel_session(session=sessions[5], reason="travel", by=coordinator)
    with pytest.raises(ConflictError) as exc:
        mark_no_show(session=sessions[5], by=clinician)
    assert exc.value.code == SchedulingErrorCode.ILLEGAL_TRANSITION
    with pytest.raises(ConflictError) as exc:
        complete_session(session=sessions[6], completion={}, by=clinician)
    assert exc.value.code == SchedulingErrorCode.ILLEGAL_TRANSITION


def test_reschedule_moves_bookings_and_refuses_closed_times(tms_component, coordinator):
    sessions = _course(tms_component, coordinator)
    target = sessions[4]
    new_start = datetime(2026, 10, 9, 15, 0, tzinfo=NY)  # same Friday, 15:00
    reschedule_session(session=target, starts_at=new_start, by=coordinator)
    target.refresh_from_db()
    booking = SessionResource.objects.get(session=target)
    assert target.starts_at == new_start
    assert booking.starts_at == new_start
    assert booking.ends_at == target.ends_at
    with pytest.raises(ConflictError) as exc:
        reschedule_session(
            session=target, starts_at=datetime(2026, 11, 26, 10, tzinfo=NY), by=coordinator
        )
    assert exc.value.code == SchedulingErrorCode.OUTSIDE_CLINIC_HOURS
    # onto the patient's own next session → slot_conflict, not a 500
    with pytest.raises(ConflictError) as exc:
        reschedule_session(session=target, starts_at=sessions[5].starts_at, by=coordinator)
    assert exc.value.code == SchedulingErrorCode.SLOT_CONFLICT


def _record_spravato_prerequisites(patient, component, by, *, rems=True):
    """Everything SPRAVATO TRD asks before dose 1 except (optionally) REMS enrolment."""
    from plans.models import Measure

    now = datetime.now(tz=NY)
    kinds = {
        "psychiatric_evaluation": {},
        "spravato_contraindication_screen": {},
        "transport_plan": {},
        "prior_authorization": {},
        "antidepressant_trials": factories.TWO_FAILED_TRIALS,
    }
    if rems:
        kinds["rems_enrollment"] = {"enrolled_on": now.date().isoformat()}
    for kind, data in kinds.items():
        Evaluation.objects.create(
            patient=patient, kind=kind, performed_at=now, data=data, recorded_by=by
        )
    Measure.objects.create(
        patient=patient,
        instrument="phq9",
        answers=[2] * 9,
        total=18,
        band="moderately_severe",
        is_baseline=True,
        taken_at=now,
        recorded_by=by,
    )


def test_check_in_refused_when_rems_enrollment_missing_then_allowed(
    spravato_component, patient, coordinator, clinician
):
    sessions = _course(spravato_component, coordinator, starts_on=date(2027, 1, 4))
    dose1 = sessions[0]
    _record_spravato_prerequisites(patient, spravato_component, coordinator, rems=False)
    with pytest.raises(ConflictError) as exc:
        check_in_session(session=dose1, by=clinician)
    assert exc.value.code == SchedulingErrorCode.READINESS_GATE_BLOCKED
    assert [g["key"] for g in exc.value.extra["missing"]] == ["rems_enrollment"]
    Evaluation.objects.create(
        patient=patient,
        kind="rems_enrollment",
        performed_at=datetime.now(tz=NY),
        data={"enrolled_on": datetime.now(tz=NY).date().isoformat()},
        recorded_by=coordinator,
    )
    checked = check_in_session(session=dose1, by=clinician)
    assert checked.status == "arrived"
    assert not checked.override_reason


def test_prescriber_override_is_audited_and_flagged(
    spravato_component, patient, coordinator, clinician, organization
):
    dose1 = _course(spravato_component, coordinator, starts_on=date(2027, 1, 4))[0]
    technician = factories.TechnicianFactory(organization=organization)
    with pytest.raises(PermissionDenied):
        check_in_session(session=dose1, by=technician, override_reason="urgent")
    with pytest.raises(ConflictError):
        check_in_session(session=dose1, by=clinician, override_reason="  ")
    checked = check_in_session(session=dose1, by=clinician, override_reason="enrolment faxed")
    assert checked.status == "arrived"
    assert checked.override_reason == "enrolment faxed"
    event = AuditEvent.objects.get(action="override")
    assert event.patient_id == patient.pk
    assert event.detail["reason"] == "enrolment faxed"
    assert "rems_enrollment" in event.detail["missing"]
    assert Flag.objects.filter(code="gate_overridden", session=dose1, severity="info").exists()


def test_motor_threshold_does_not_block_the_mapping_session(tms_component, coordinator):
    from plans.selectors import get_component_readiness
    from scheduling.services.lifecycle import blocking_gaps

    mapping, second = _course(tms_component, coordinator)[:2]
    keys = {it.key for it in get_component_readiness(component=tms_component).items}
    assert "motor_threshold" in keys
    assert "motor_threshold" not in {g["key"] for g in blocking_gaps(mapping)}
    assert "motor_threshold" in {g["key"] for g in blocking_gaps(second)}


def test_spravato_completion_requires_monitoring_and_bp(
    spravato_component, patient, coordinator, clinician
):
    dose1 = _course(spravato_component, coordinator, starts_on=date(2027, 1, 4))[0]
    _record_spravato_prerequisites(patient, spravato_component, coordinator)
    check_in_session(session=dose1, by=clinician)
    with pytest.raises(InvalidInput) as exc:
        complete_session(
            session=dose1, completion={"dose_mg": 56, "monitoring_minutes": 90}, by=clinician
        )
    fields = exc.value.fields["completion"]
    assert {"monitoring_minutes", "bp_before", "bp_40min", "bp_discharge"} <= set(fields)
    bp = {"systolic": 128, "diastolic": 82}
    done = complete_session(
        session=dose1,
        completion={
            "dose_mg": 56,
            "monitoring_minutes": 125,
            "bp_before": bp,
            "bp_40min": bp,
            "bp_discharge": bp,
            "transport_confirmed": True,
        },
        by=clinician,
    )
    assert done.status == "fulfilled"
    assert done.completion["monitoring_minutes"] == 125


def test_reschedule_swaps_a_busy_device_for_a_free_one(catalogue, us_clinic, coordinator):
    from tests.scheduling.conftest import make_component, make_patient

    # given two patients' courses on the two devices, 10:00 and 11:00 on the same days
    first = make_component(
        patient=make_patient(us_clinic.organization, mrn="A"),
        clinic=us_clinic,
        code="tms_10hz_ldlpfc_mdd",
    )
    second = make_component(
        patient=make_patient(us_clinic.organization, mrn="B"),
        clinic=us_clinic,
        code="tms_10hz_ldlpfc_mdd",
    )
    a = _course(first, coordinator)
    schedule_course(
        component=second,
        starts_on=date(2026, 10, 5),
        preferred_start=TEN_AM.replace(hour=11),
        by=coordinator,
        commit=True,
    )
    held = SessionResource.objects.get(session=a[2]).resource_id
    # when A's third session moves to 11:00, where B holds A's device (B got device 1 too)
    reschedule_session(
        session=a[2], starts_at=a[2].starts_at.replace(hour=a[2].starts_at.hour + 1), by=coordinator
    )
    # then A's booking moved to the other, free device instead of failing
    booking = SessionResource.objects.get(session=a[2])
    assert booking.starts_at == Session.objects.get(pk=a[2].pk).starts_at
    b_device = SessionResource.objects.get(
        session__component=second, starts_at=booking.starts_at
    ).resource_id
    assert held == b_device  # the premise: B holds A's device at 11:00
    assert booking.resource_id != held


def test_missed_spravato_induction_dose_is_made_up_in_the_induction_phase(
    spravato_component, coordinator, clinician
):
    # given a committed SPRAVATO TRD course (8 induction, 4 weekly, 6 fortnightly doses)
    with time_machine.travel(datetime(2027, 1, 1, 12, tzinfo=NY), tick=False):
        sessions = _course(spravato_component, coordinator, starts_on=date(2027, 1, 4))
    assert len(sessions) == 18
    fourth = sessions[3]
    first_weekly = next(s for s in sessions if s.phase == "maintenance_weekly")
    # when dose 4 is marked a no-show on its day
    with time_machine.travel(fourth.starts_at, tick=False):
        result = mark_no_show(session=fourth, by=clinician)
    # then the make-up is an induction dose within the induction weeks, ≥ 48 h from the others,
    # not appended after the last fortnightly dose (DOMAIN.md §2.3)
    make_up = result.session
    assert make_up is not None, result.problem
    assert make_up.phase == "induction"
    assert fourth.starts_at < make_up.starts_at < first_weekly.starts_at
    active = _active_course(spravato_component)
    assert len(active) == 18
    assert [s.sequence for s in active] == list(range(1, 19))
    others = [s for s in active if s.pk != make_up.pk]
    assert all(abs(make_up.starts_at - s.starts_at).total_seconds() >= 48 * 3600 for s in others)
    assert sum(1 for s in active if s.phase == "induction") == 8
