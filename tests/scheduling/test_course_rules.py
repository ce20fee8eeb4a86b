"""Course-calendar generation (scheduling/rules/course/): pure rules, no database.

A synthetic US clinic: America/New_York, Monday–Friday 08:00–18:00, weekends closed.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from modalities.rules.phases import Pattern, Phase
from modalities.vocab import SessionKind
from scheduling.rules.course import (
    ClinicCalendar,
    ProblemCode,
    generate_course,
)
from tests.scheduling.course_helpers import (
    NEW_YORK,
    SAINT_PHASES,
    THANKSGIVING_2026,
    WEEKDAY_HOURS,
    assert_well_formed,
    per_week,
    spravato_request,
    tms_request,
    us_clinic,
)

# ---------------------------------------------------------------------------------- (a) TMS


def test_tms_course_crosses_dst_and_thanksgiving_at_ten_local():
    # Given a 10 Hz TMS course (30 acute + 3/2/1 taper) starting Monday 26 October 2026 in a
    # New York clinic closed on Thanksgiving
    calendar = us_clinic(THANKSGIVING_2026)

    # When the course is generated
    plan = generate_course(tms_request(), calendar)

    # Then there are exactly 36 slots numbered 1..36, the first a longer mapping session
    assert plan.problems == []
    assert [slot.sequence for slot in plan.slots] == list(range(1, 37))
    assert plan.slots[0].kind == SessionKind.MAPPING
    assert plan.slots[0].end - plan.slots[0].start == timedelta(minutes=60)
    assert {slot.kind for slot in plan.slots[1:]} == {SessionKind.TREATMENT}
    assert all(slot.end - slot.start == timedelta(minutes=45) for slot in plan.slots[1:])
    # And 30 acute sessions on weekdays (the Thanksgiving session runs on into a 7th week),
    acute = [slot for slot in plan.slots if slot.phase == "acute"]
    assert len(acute) == 30
    assert all(slot.local_start.weekday() < 5 for slot in acute)
    assert per_week(plan, "acute") == [5, 5, 5, 5, 4, 5, 1]
    # then a 3/2/1 taper in the following weeks
    assert [len(per_week(plan, f"taper-{n}")) for n in (1, 2, 3)] == [1, 1, 1]
    assert [sum(per_week(plan, f"taper-{n}")) for n in (1, 2, 3)] == [3, 2, 1]
    assert plan.slots[30].local_start.date() == date(2026, 12, 14)  # week after acute's last
    # And nothing on Thanksgiving
    assert THANKSGIVING_2026 not in {slot.local_start.date() for slot in plan.slots}
    # And every start is 10:00 local, EDT (14:00Z) before 1 November and EST (15:00Z) after
    assert {slot.local_start.time() for slot in plan.slots} == {time(10)}
    before = [slot for slot in plan.slots if slot.local_start.date() < date(2026, 11, 1)]
    after = [slot for slot in plan.slots if slot.local_start.date() > date(2026, 11, 1)]
    assert {slot.start.hour for slot in before} == {14}
    assert {slot.start.hour for slot in after} == {15}
    assert_well_formed(plan, calendar)


def test_weekdays_phase_starting_midweek_keeps_its_count():
    # Given an acute phase of 10 at 5/week starting on a Wednesday
    phases = (Phase("acute", 10, Pattern.WEEKDAYS, sessions_per_week=5),)

    # When generated
    plan = generate_course(tms_request(phases=phases, starts_on=date(2026, 10, 28)), us_clinic())

    # Then the short first week is made up at the end: 3 + 5 + 2
    assert per_week(plan, "acute") == [3, 5, 2]


def test_taper_week_uses_first_open_weekdays_around_a_closure():
    # Given a taper of 3 in a week whose Tuesday is closed
    phases = (Phase("taper", 3, Pattern.WEEKDAYS, sessions_per_week=3),)
    calendar = us_clinic(date(2026, 12, 15))

    # When generated
    plan = generate_course(tms_request(phases=phases, starts_on=date(2026, 12, 14)), calendar)

    # Then Monday, Wednesday and Thursday are used
    assert [slot.local_start.date().day for slot in plan.slots] == [14, 16, 17]


# ---------------------------------------------------------------------------------- (b) SPRAVATO


def test_spravato_induction_never_within_48_hours_and_maintenance_weekly_then_fortnightly():
    # Given a SPRAVATO TRD course: induction twice weekly (≥ 48 h apart), 4 weekly, 6 fortnightly
    calendar = us_clinic()

    # When generated
    plan = generate_course(spravato_request(), calendar)

    # Then 18 sessions, each occupying the 150-minute chair (≥ 2 h monitoring)
    assert plan.problems == []
    assert len(plan.slots) == 18
    assert all(slot.end - slot.start == timedelta(minutes=150) for slot in plan.slots)
    assert all(slot.end - slot.start >= timedelta(hours=2) for slot in plan.slots)
    # And no two induction sessions within 48 h, at most two per calendar week
    induction = [slot for slot in plan.slots if slot.phase == "induction"]
    assert len(induction) == 8
    assert all(b.start - a.start >= timedelta(hours=48) for a, b in pairwise(induction))
    assert per_week(plan, "induction") == [2, 2, 2, 2]
    # And weekly then fortnightly gaps of exactly 7 and 14 local days at the same local time
    maintenance = [slot for slot in plan.slots if slot.phase != "induction"]
    gaps = [
        (b.local_start.date() - a.local_start.date()).days
        for a, b in pairwise([induction[-1], *maintenance])
    ]
    assert gaps == [7, 7, 7, 7] + [14] * 6
    assert {slot.local_start.time() for slot in plan.slots} == {time(9)}
    assert_well_formed(plan, calendar)


def test_spravato_closure_shifts_session_but_keeps_48_hour_gap():
    # Given the induction's second session (Friday 6 March) falls on a closure
    calendar = us_clinic(date(2026, 3, 6))

    # When generated
    plan = generate_course(spravato_request(), calendar)

    # Then it moves to Monday, and the next (nominally Tuesday) waits until 48 h have passed
    days = [slot.local_start.date() for slot in plan.slots[:4]]
    assert days == [date(2026, 3, 3), date(2026, 3, 9), date(2026, 3, 11), date(2026, 3, 13)]
    induction = plan.slots[:8]
    assert all(b.start - a.start >= timedelta(hours=48) for a, b in pairwise(induction))
    assert_well_formed(plan, calendar)


def test_weekly_session_on_closure_shifts_one_day_and_rhythm_resumes():
    # Given weekly sessions on Tuesdays and one closed Tuesday
    phases = (Phase("weekly", 4, Pattern.SPACED, interval_days=7),)
    calendar = us_clinic(date(2026, 3, 10))

    # When generated
    plan = generate_course(spravato_request(phases=phases), calendar)

    # Then that session is on Wednesday and the next is back on Tuesday
    assert [slot.local_start.date().day for slot in plan.slots] == [3, 11, 17, 24]


# ---------------------------------------------------------------------------------- (c) SAINT


def test_saint_ten_a_day_fifty_minutes_apart_for_five_consecutive_days():
    # Given SAINT: 10 sessions a day, 50 minutes apart, 5 days, starting Monday at 08:00
    calendar = us_clinic()
    request = tms_request(
        phases=SAINT_PHASES,
        starts_on=date(2026, 3, 2),
        preferred_start=time(8),
        session_minutes=10,
        chair_minutes=15,
        mapping_minutes=None,
    )

    # When generated
    plan = generate_course(request, calendar)

    # Then 50 slots, 10 on each of Monday..Friday, starting 08:00, each starting 50 minutes
    # after the previous one ends (the intersession interval, DOMAIN.md §1.2)
    assert plan.problems == []
    assert len(plan.slots) == 50
    by_day = Counter(slot.local_start.date() for slot in plan.slots)
    assert sorted(by_day) == [date(2026, 3, d) for d in range(2, 7)]
    assert set(by_day.values()) == {10}
    for day in by_day:
        starts = [slot.start for slot in plan.slots if slot.local_start.date() == day]
        assert starts[0].astimezone(ZoneInfo(NEW_YORK)).time() == time(8)
        assert {b - a for a, b in pairwise(starts)} == {timedelta(minutes=15 + 50)}
        day_slots = [slot for slot in plan.slots if slot.local_start.date() == day]
        assert {b.start - a.end for a, b in pairwise(day_slots)} == {timedelta(minutes=50)}
    assert_well_formed(plan, calendar)


def test_saint_skips_a_short_day_with_a_problem():
    # Given Friday hours of 08:00–12:00 and a SAINT course starting Wednesday
    hours = {**WEEKDAY_HOURS, 4: [(time(8), time(12))]}
    calendar = us_clinic(hours=hours)
    request = tms_request(
        phases=SAINT_PHASES,
        starts_on=date(2026, 3, 4),
        preferred_start=time(8),
        session_minutes=10,
        chair_minutes=15,
        mapping_minutes=None,
    )

    # When generated
    plan = generate_course(request, calendar)

    # Then Friday is skipped and reported; the days are Wed, Thu, Mon, Tue, Wed
    days = sorted({slot.local_start.date() for slot in plan.slots})
    assert [day.day for day in days] == [4, 5, 9, 10, 11]
    assert [problem.code for problem in plan.problems] == [ProblemCode.NO_SLOT_IN_WINDOW]
    assert plan.problems[0].detail["dates"] == ["2026-03-06"]


def test_saint_mapping_session_longer_than_the_interval_fits_and_pushes_the_day_later():
    # Given the catalogue's SAINT shape: a 90-minute mapping session, 10-minute sessions, a
    # 50-minute intersession interval, and a clinic open 08:00–19:00
    hours = {d: [(time(8), time(19))] for d in range(5)}
    request = tms_request(
        phases=SAINT_PHASES,
        starts_on=date(2026, 3, 2),
        preferred_start=time(8),
        session_minutes=10,
        chair_minutes=10,
        mapping_minutes=90,
    )

    # When generated
    plan = generate_course(request, us_clinic(hours=hours))

    # Then 50 sessions over 5 days; day 1 opens with the mapping session and every session
    # starts 50 minutes after the previous one ended (no 500, no overlap)
    assert plan.problems == []
    assert len(plan.slots) == 50
    assert len({slot.local_start.date() for slot in plan.slots}) == 5
    day_one = [slot for slot in plan.slots if slot.local_start.date() == date(2026, 3, 2)]
    assert day_one[0].kind == "mapping"
    assert day_one[0].end - day_one[0].start == timedelta(minutes=90)
    assert {b.start - a.end for a, b in pairwise(day_one)} == {timedelta(minutes=50)}


# ---------------------------------------------------------------------------------- (d) cap


def test_cap_cuts_the_course_with_a_capped_problem():
    # Given a 36-session TMS course authorised for 20 sessions
    request = tms_request(session_cap=20)

    # When generated
    plan = generate_course(request, us_clinic(THANKSGIVING_2026))

    # Then only 20 sessions, numbered 1..20, and a 'capped' problem says 16 were dropped
    assert [slot.sequence for slot in plan.slots] == list(range(1, 21))
    assert [problem.code for problem in plan.problems] == [ProblemCode.CAPPED]
    assert plan.problems[0].detail["dropped"] == 16


def test_continuing_course_numbers_from_already_booked_and_counts_them_against_the_cap():
    # Given 10 sessions already in the course and a cap of 30
    request = tms_request(already_booked=10, session_cap=30, starts_on=date(2026, 11, 9))

    # When the rest is generated
    plan = generate_course(request, us_clinic(THANKSGIVING_2026))

    # Then sessions 11..30 are generated, all treatment, in the acute phase
    assert [slot.sequence for slot in plan.slots] == list(range(11, 31))
    assert {slot.kind for slot in plan.slots} == {SessionKind.TREATMENT}
    assert {slot.phase for slot in plan.slots} == {"acute"}
    assert plan.problems[0].code == ProblemCode.CAPPED


# ---------------------------------------------------------------------------------- time edges


def test_window_takes_later_opening_or_skips_the_day():
    # Given Wednesdays open only 12:00–18:00 and a preferred 10:00 start
    hours = {**WEEKDAY_HOURS, 2: [(time(12), time(18))]}
    phases = (Phase("acute", 5, Pattern.WEEKDAYS, sessions_per_week=5),)
    calendar = us_clinic(hours=hours)
    start = date(2026, 10, 26)

    # When the start window reaches 13:00, and when it ends at 11:00
    wide = generate_course(
        tms_request(phases=phases, starts_on=start, window_end=time(13)), calendar
    )
    narrow = generate_course(
        tms_request(phases=phases, starts_on=start, window_end=time(11)), calendar
    )

    # Then Wednesday's session starts at 12:00; with the narrow window it moves to next Monday
    assert wide.slots[2].local_start.time() == time(12)
    assert [slot.local_start.day for slot in narrow.slots] == [26, 27, 29, 30, 2]
    assert narrow.problems == []


def test_nonexistent_local_time_shifts_forward_and_ambiguous_takes_first_occurrence():
    # Given a 24-hour clinic and weekly sessions at 02:30 from spring-forward Sunday 8 March 2026
    hours = {weekday: [(time(0), time(23, 59))] for weekday in range(7)}
    calendar = us_clinic(hours=hours)
    phases = (Phase("weekly", 2, Pattern.SPACED, interval_days=7),)
    spring = tms_request(
        phases=phases,
        starts_on=date(2026, 3, 8),
        preferred_start=time(2, 30),
        mapping_minutes=None,
    )
    # and one at 01:30 on fall-back Sunday 1 November 2026
    fall = tms_request(
        phases=phases,
        starts_on=date(2026, 11, 1),
        preferred_start=time(1, 30),
        mapping_minutes=None,
    )

    # When generated
    spring_plan = generate_course(spring, calendar)
    fall_plan = generate_course(fall, calendar)

    # Then the nonexistent 02:30 becomes 03:30 EDT, and the next week is back at 02:30
    assert spring_plan.slots[0].local_start.time() == time(3, 30)
    assert spring_plan.slots[0].start == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)
    assert spring_plan.slots[1].local_start.time() == time(2, 30)
    # And the ambiguous 01:30 is the first (EDT) occurrence
    assert fall_plan.slots[0].start == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)


def test_no_opening_within_horizon_stops_with_a_problem():
    # Given a clinic with no opening hours at all
    calendar = ClinicCalendar(tz=NEW_YORK, hours={})

    # When a course is generated
    plan = generate_course(tms_request(), calendar, horizon_days=30)

    # Then nothing is placed and the problem says why
    assert plan.slots == []
    assert [problem.code for problem in plan.problems] == [ProblemCode.HORIZON_EXCEEDED]


def test_unknown_zone_is_refused():
    with pytest.raises(ValueError, match="unknown time zone"):
        ClinicCalendar(tz="Mars/Olympus_Mons", hours=WEEKDAY_HOURS)
