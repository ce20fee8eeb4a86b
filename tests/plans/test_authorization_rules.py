"""Pure prior-authorisation rules (plans/rules/authorization.py): no database."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from plans.rules.authorization import (
    AuthorizationWindow,
    alerts_for,
    booking_problem,
    governing,
    usage_of,
)

D = dt.date
W30 = AuthorizationWindow(
    id=1, number="PA-30", units=30, starts_on=D(2026, 10, 1), ends_on=D(2027, 3, 31)
)
TODAY = D(2026, 11, 1)


COURSE_START = D(2026, 10, 5)


def _days(n: int, status: str = "fulfilled", start: dt.date = COURSE_START):
    return [(start + dt.timedelta(days=i), status) for i in range(n)]


def _codes(alerts) -> set[str]:
    return {a.code for a in alerts}


def test_units_are_fulfilled_sessions_inside_the_window():
    sessions = _days(3, start=D(2026, 9, 28)) + _days(5) + _days(2, "booked", D(2026, 11, 2))
    usage = usage_of(W30, sessions, today=TODAY)
    # 28–30 Sep are before the window: neither used nor held
    assert (usage.used, usage.held, usage.remaining) == (5, 5 + 2, 25)
    assert usage.next_booked == D(2026, 11, 2)


def test_80_percent_threshold_is_exact():
    assert "prior_auth_units_low" not in _codes(
        alerts_for(usage_of(W30, _days(23), today=TODAY), today=TODAY)
    )
    alerts = alerts_for(usage_of(W30, _days(24), today=TODAY), today=TODAY)
    (low,) = [a for a in alerts if a.code == "prior_auth_units_low"]
    assert low.severity == "warning"
    all_used = alerts_for(usage_of(W30, _days(30), today=TODAY), today=TODAY)
    assert [a.severity for a in all_used if a.code == "prior_auth_units_low"] == ["critical"]


def test_expiry_warning_starts_14_days_before_the_end_while_the_course_needs_it():
    w = AuthorizationWindow(2, "PA-E", 30, D(2026, 10, 1), D(2026, 11, 15))
    sessions = _days(10)
    before = D(2026, 10, 31)  # 15 days before the end
    off = alerts_for(usage_of(w, sessions, today=before), today=before)
    assert "prior_auth_expiring" not in _codes(off)
    on = alerts_for(usage_of(w, sessions, today=D(2026, 11, 1)), today=D(2026, 11, 1))
    assert "prior_auth_expiring" in _codes(on)
    # all units used and nothing booked: nothing left to expire
    done = usage_of(w, _days(30), today=D(2026, 11, 10))
    assert "prior_auth_expiring" not in _codes(alerts_for(done, today=D(2026, 11, 10)))


def test_booked_after_the_end_date_is_flagged():
    w = AuthorizationWindow(3, "PA-B", 30, D(2026, 10, 1), D(2026, 10, 9))
    usage = usage_of(w, _days(3) + _days(2, "booked", D(2026, 10, 12)), today=D(2026, 10, 8))
    assert usage.booked_after_end == 2
    assert "sessions_beyond_authorization" in _codes(alerts_for(usage, today=D(2026, 10, 8)))


def test_booking_problem_reasons():
    assert booking_problem([], day=D(2026, 10, 5), held_in_window={}) is None
    assert booking_problem([W30], day=D(2026, 10, 5), held_in_window={1: 29}) is None
    assert booking_problem([W30], day=D(2026, 10, 5), held_in_window={1: 30}).reason == (
        "beyond_units"
    )
    assert booking_problem([W30], day=D(2027, 4, 1), held_in_window={}).reason == "after_end_date"
    assert booking_problem([W30], day=D(2026, 9, 1), held_in_window={}).reason == "outside_window"


def test_a_re_authorisation_governs_its_own_window():
    again = AuthorizationWindow(9, "PA-6", 6, D(2026, 11, 17), D(2027, 1, 15))
    assert governing([W30, again], D(2026, 11, 20)) == again
    assert governing([W30, again], D(2026, 11, 10)) == W30


@given(units=st.integers(1, 60), fulfilled=st.integers(0, 80))
def test_percent_flag_iff_used_at_least_80_percent(units, fulfilled):
    w = AuthorizationWindow(1, "PA", units, None, None)
    usage = usage_of(w, _days(fulfilled), today=TODAY)
    flagged = "prior_auth_units_low" in _codes(alerts_for(usage, today=TODAY))
    assert flagged == (fulfilled * 100 >= units * 80)
    assert usage.remaining == max(units - fulfilled, 0)
