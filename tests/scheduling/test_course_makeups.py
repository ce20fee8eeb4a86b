"""Make-ups of missed course sessions (scheduling/rules/course/makeups.py): pure rules."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from modalities.rules.phases import Pattern, Phase
from modalities.vocab import SessionKind
from scheduling.rules.course import (
    ProblemCode,
    generate_course,
    make_up_slot,
    renumber,
)
from tests.scheduling.course_helpers import (
    NEW_YORK,
    SPRAVATO_TRD_PHASES,
    THANKSGIVING_2026,
    spravato_request,
    tms_request,
    us_clinic,
)

# ---------------------------------------------------------------------------------- (e) make-up


def test_make_up_after_missed_session_ten_keeps_the_total_at_36():
    # Given the 36-session TMS course, with session 10 missed (no-show)
    request = tms_request()
    calendar = us_clinic(THANKSGIVING_2026)
    plan = generate_course(request, calendar)
    active = {slot.sequence: slot.start for slot in plan.slots if slot.sequence != 10}

    # When a make-up is requested
    result = make_up_slot(
        existing_starts=list(active.values()),
        request=request,
        calendar=calendar,
        missed_sequence=10,
    )

    # Then one treatment slot is appended after the last, at 10:00 local, in the following week
    # (the last phase is one session a week)
    slot = result.slot
    assert result.problem is None
    assert slot is not None
    assert slot.kind == SessionKind.TREATMENT
    assert slot.start > plan.slots[-1].end
    assert slot.local_start.date() == date(2027, 1, 4)
    assert slot.local_start.time() == time(10)
    assert slot.sequence == 36
    # And renumbering the active sessions with the make-up gives 1..36
    numbers = renumber({**active, "make-up": slot.start})
    assert sorted(numbers.values()) == list(range(1, 37))
    assert numbers["make-up"] == 36
    assert numbers[11] == 10


def test_make_up_refused_when_the_cap_is_reached():
    # Given a course authorised for 20 sessions that has its 20 active sessions
    request = tms_request(session_cap=20)
    calendar = us_clinic()
    plan = generate_course(request, calendar)

    # When a make-up is requested
    result = make_up_slot(
        existing_starts=[slot.start for slot in plan.slots],
        request=request,
        calendar=calendar,
        missed_sequence=5,
    )

    # Then none is offered and the reason is 'capped'
    assert result.slot is None
    assert result.problem is not None
    assert result.problem.code == ProblemCode.CAPPED


def test_make_up_in_acute_phase_uses_next_weekday_and_spaced_respects_min_gap():
    # Given an acute-only course whose last active session is Wednesday
    acute = (Phase("acute", 5, Pattern.WEEKDAYS, sessions_per_week=5),)
    calendar = us_clinic()
    request = tms_request(phases=acute, mapping_minutes=None)
    wednesday = datetime(2026, 11, 4, 10, tzinfo=ZoneInfo(NEW_YORK))

    # When a make-up is asked for
    weekday = make_up_slot(
        existing_starts=[wednesday - timedelta(days=2), wednesday],
        request=request,
        calendar=calendar,
        missed_sequence=2,
    )
    # and the same for an induction phase (48 h gap) last seen on Wednesday
    spaced = make_up_slot(
        existing_starts=[wednesday],
        request=spravato_request(phases=SPRAVATO_TRD_PHASES[:1]),
        calendar=calendar,
        missed_sequence=2,
    )

    # Then the weekday make-up is Thursday and the induction one at least 48 h later, at 09:00
    assert weekday.slot is not None
    assert weekday.slot.local_start.date() == date(2026, 11, 5)
    assert spaced.slot is not None
    assert spaced.slot.start - wednesday >= timedelta(hours=48)
    assert spaced.slot.local_start.time() == time(9)


# ------------------------------------------------------------------------- make-ups in phase


def test_missed_spravato_induction_dose_is_made_up_inside_the_induction_weeks():
    # Given a full SPRAVATO TRD course (induction twice weekly weeks 1–4, then weekly, then
    # fortnightly — DOMAIN.md §2.3) and dose 4 missed
    calendar = us_clinic()
    request = spravato_request()
    plan = generate_course(request, calendar)
    assert len(plan.slots) == 18
    missed = plan.slots[3]
    active = [s for s in plan.slots if s is not missed]
    induction = [s for s in plan.slots if s.phase == "induction"]

    # When the make-up is asked for the morning after the missed dose
    result = make_up_slot(
        existing_starts=[s.start for s in active],
        existing_phases=[s.phase for s in active],
        request=request,
        calendar=calendar,
        missed_sequence=missed.sequence,
        missed_start=missed.start,
        missed_phase=missed.phase,
        not_before=missed.start + timedelta(hours=20),
    )

    # Then it is an induction dose before the first weekly dose, not months later after the
    # last fortnightly one, and at least 48 h from every other dose
    slot = result.slot
    assert slot is not None
    assert slot.phase == "induction"
    first_weekly = next(s for s in plan.slots if s.phase == "maintenance-weekly")
    assert missed.start < slot.start < first_weekly.start
    assert slot.start < induction[-1].start + timedelta(days=7)
    assert all(abs(slot.start - s.start) >= timedelta(hours=48) for s in active)


def test_missed_last_phase_session_is_still_appended_after_the_course():
    # Given the same course with the last fortnightly dose missed
    calendar = us_clinic()
    request = spravato_request()
    plan = generate_course(request, calendar)
    missed = plan.slots[-1]
    active = plan.slots[:-1]

    # When the make-up is asked for
    result = make_up_slot(
        existing_starts=[s.start for s in active],
        existing_phases=[s.phase for s in active],
        request=request,
        calendar=calendar,
        missed_sequence=missed.sequence,
        missed_start=missed.start,
        missed_phase=missed.phase,
        not_before=missed.start,
    )

    # Then it follows the fortnightly cadence after the last active dose
    assert result.slot is not None
    assert result.slot.phase == "maintenance-fortnightly"
    assert result.slot.start - active[-1].start >= timedelta(days=14)
