"""Shared calendars, requests and checks of the course-rule tests (a synthetic US clinic:
America/New_York, Monday–Friday 08:00–18:00, weekends closed)."""

from __future__ import annotations

from collections import Counter
from datetime import date, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from modalities.rules.phases import Pattern, Phase
from scheduling.rules.course import (
    ClinicCalendar,
    CoursePlan,
    CourseRequest,
)

NEW_YORK = "America/New_York"
THANKSGIVING_2026 = date(2026, 11, 26)
WEEKDAY_HOURS = {weekday: [(time(8), time(18))] for weekday in range(5)}

TMS_PHASES = (
    Phase("acute", 30, Pattern.WEEKDAYS, sessions_per_week=5),
    Phase("taper-1", 3, Pattern.WEEKDAYS, sessions_per_week=3),
    Phase("taper-2", 2, Pattern.WEEKDAYS, sessions_per_week=2),
    Phase("taper-3", 1, Pattern.WEEKDAYS, sessions_per_week=1),
)
SPRAVATO_TRD_PHASES = (
    Phase("induction", 8, Pattern.SPACED, sessions_per_week=2, min_gap_hours=48),
    Phase("maintenance-weekly", 4, Pattern.SPACED, interval_days=7),
    Phase("maintenance-fortnightly", 6, Pattern.SPACED, interval_days=14),
)
SAINT_PHASES = (Phase("saint", 50, Pattern.ACCELERATED, sessions_per_day=10, interval_minutes=50),)


def us_clinic(*closures: date, tz: str = NEW_YORK, hours=None) -> ClinicCalendar:
    return ClinicCalendar(tz=tz, hours=hours or WEEKDAY_HOURS, closures=frozenset(closures))


def tms_request(**overrides) -> CourseRequest:
    values = {
        "phases": TMS_PHASES,
        "starts_on": date(2026, 10, 26),  # a Monday; US DST ends Sunday 1 November 2026
        "preferred_start": time(10),
        "window_end": None,
        "session_minutes": 38,
        "chair_minutes": 45,
        "mapping_minutes": 60,
    }
    return CourseRequest(**{**values, **overrides})


def spravato_request(**overrides) -> CourseRequest:
    values = {
        "phases": SPRAVATO_TRD_PHASES,
        "starts_on": date(2026, 3, 3),  # a Tuesday; US DST starts Sunday 8 March 2026
        "preferred_start": time(9),
        "window_end": time(12),
        "session_minutes": 30,
        "chair_minutes": 150,  # dosing + ≥ 2 h REMS monitoring (DOMAIN.md §2.4)
    }
    return CourseRequest(**{**values, **overrides})


def per_week(plan: CoursePlan, phase: str) -> list[int]:
    weeks = Counter(
        slot.local_start.date().isocalendar()[:2] for slot in plan.slots if slot.phase == phase
    )
    return [weeks[key] for key in sorted(weeks)]


def assert_well_formed(plan: CoursePlan, calendar: ClinicCalendar) -> None:
    """Every slot inside opening hours, off closures, strictly increasing and not overlapping."""
    zone = ZoneInfo(calendar.tz)
    for slot in plan.slots:
        assert slot.start.utcoffset() == timedelta(0)
        assert slot.end.utcoffset() == timedelta(0)
        assert slot.local_start == slot.start
        assert slot.local_start.tzinfo == zone
        local_end = slot.end.astimezone(zone)
        day = slot.local_start.date()
        assert day not in calendar.closures
        assert local_end.date() == day
        assert any(
            opens <= slot.local_start.time() and local_end.time() <= closes
            for opens, closes in calendar.hours.get(day.weekday(), ())
        ), slot
    for earlier, later in pairwise(plan.slots):
        assert earlier.end <= later.start
        assert later.sequence == earlier.sequence + 1
