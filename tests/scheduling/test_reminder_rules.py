"""Pure reminder policy: DESIGN.md §4 promises 5 and 9; DOMAIN.md §7.2 (HIPAA), §7.3 (FCC 15-72,
FCC 24-24, 47 CFR 64.1200 quiet hours). No database, no Django."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduling.rules.reminders.planning import check_sms_budget, plan_reminders
from scheduling.rules.reminders.policy import (
    ReminderKind,
    ReminderPolicy,
    SkipReason,
    due_time,
    in_quiet_hours,
    nominal_due_time,
)
from tests.scheduling.reminder_helpers import DAY, NY, POLICY, ZONES, local, patient, session

# ---------------------------------------------------------------- due_time and quiet hours

OFFSETS = st.sampled_from([timedelta(hours=24), timedelta(hours=48), timedelta(hours=2)])
STARTS = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
)


@settings(max_examples=400, deadline=None)
@given(start=STARTS, tz=st.sampled_from(ZONES), offset=OFFSETS)
def test_due_time_is_never_in_quiet_hours_nor_after_session(
    start: datetime, tz: str, offset: timedelta
) -> None:
    # Given any session instant in 2026–2028, any patient zone and offset
    # When the due time is computed
    due = due_time(session_start=start, offset=offset, patient_tz=tz, policy=POLICY)
    # Then it exists, is inside 08:00–21:00 local, strictly before the session, never later
    # than nominal, and equals nominal whenever nominal is allowed
    assert due is not None
    assert due.utcoffset() == timedelta(0)
    assert not in_quiet_hours(due, tz, POLICY)
    assert due < start
    nominal = nominal_due_time(session_start=start, offset=offset, patient_tz=tz)
    assert due <= nominal
    if not in_quiet_hours(nominal, tz, POLICY):
        assert due == nominal
    else:
        # moved to the latest allowed minute, i.e. 20:59 local
        assert due.astimezone(ZoneInfo(tz)).time() == time(20, 59)


DST_DAYS = [
    ("America/New_York", date(2026, 3, 8)),
    ("America/New_York", date(2026, 11, 1)),
    ("America/Chicago", date(2026, 3, 8)),
    ("America/Los_Angeles", date(2026, 11, 1)),
    ("Europe/London", date(2026, 3, 29)),
    ("Europe/London", date(2026, 10, 25)),
    ("Australia/Sydney", date(2026, 4, 5)),
    ("Australia/Sydney", date(2026, 10, 4)),
]


@pytest.mark.parametrize(("tz", "day"), DST_DAYS)
@pytest.mark.parametrize("hour", [0, 1, 2, 3, 7, 8, 10, 20, 21, 23])
def test_due_time_on_dst_transition_days(tz: str, day: date, hour: int) -> None:
    # Given a 10:00-local session the day after a DST change (nominal 24h reminder on the change
    # day), and sessions at assorted hours on the change day itself
    zone = ZoneInfo(tz)
    for start in (
        datetime.combine(day + timedelta(days=1), time(10, 0), tzinfo=zone),
        datetime.combine(day, time(hour, 30), tzinfo=zone),
    ):
        # When the due time is computed
        due = due_time(session_start=start, offset=DAY, patient_tz=tz, policy=POLICY)
        # Then it respects quiet hours and precedes the session
        assert due is not None
        assert not in_quiet_hours(due, tz, POLICY)
        assert due < start


@pytest.mark.parametrize(
    ("session_wall", "expected_wall"),
    [
        # Sunday of US spring-forward: 24h reminder at Saturday 10:00 EST (23 real hours ahead)
        (datetime(2026, 3, 8, 10, 0), datetime(2026, 3, 7, 10, 0)),
        # Monday after spring-forward
        (datetime(2026, 3, 9, 10, 0), datetime(2026, 3, 8, 10, 0)),
        # Sunday of US fall-back: Saturday 10:00 EDT (25 real hours ahead)
        (datetime(2026, 11, 1, 10, 0), datetime(2026, 10, 31, 10, 0)),
    ],
)
def test_day_before_reminder_keeps_local_wall_time_across_dst(
    session_wall: datetime, expected_wall: datetime
) -> None:
    # Given a 10:00 New York session around a DST change
    start = session_wall.replace(tzinfo=NY)
    # When the 24h reminder is computed
    due = due_time(session_start=start, offset=DAY, patient_tz="America/New_York", policy=POLICY)
    # Then it is at 10:00 local the day before (DESIGN.md §4 promise 9), whatever the real gap
    assert due is not None
    assert due.astimezone(NY).replace(tzinfo=None) == expected_wall


def test_early_morning_session_reminder_moves_to_previous_evening() -> None:
    # Given a 07:30 session (nominal 24h reminder 07:30 the day before: quiet hours)
    start = local("America/New_York", 2026, 6, 10, 7, 30)
    # When
    due = due_time(session_start=start, offset=DAY, patient_tz="America/New_York", policy=POLICY)
    # Then it moves earlier to 20:59 two evenings before, never later
    assert due is not None
    assert due.astimezone(NY).replace(tzinfo=None) == datetime(2026, 6, 8, 20, 59)


def test_due_time_none_when_no_allowed_moment_before_session() -> None:
    # Given it is 22:00 and the session is at 07:00 tomorrow
    now = local("America/New_York", 2026, 6, 9, 22, 0)
    start = local("America/New_York", 2026, 6, 10, 7, 0)
    # When / Then: there is no 08:00–21:00 moment left, so no reminder
    assert (
        due_time(
            session_start=start, offset=DAY, patient_tz="America/New_York", policy=POLICY, now=now
        )
        is None
    )


def test_late_booking_catches_up_at_next_allowed_moment() -> None:
    # Given a session booked at 07:00 for 15:00 the same day
    now = local("America/New_York", 2026, 6, 10, 7, 0)
    start = local("America/New_York", 2026, 6, 10, 15, 0)
    # When
    due = due_time(
        session_start=start, offset=DAY, patient_tz="America/New_York", policy=POLICY, now=now
    )
    # Then it goes at 08:00 local, not during quiet hours
    assert due is not None
    assert due.astimezone(NY).time() == time(8, 0)


def test_quiet_hours_use_patient_zone_not_clinic_zone() -> None:
    # Given 08:30 in New York (allowed) which is 05:30 in Los Angeles (quiet)
    instant = local("America/New_York", 2026, 6, 10, 8, 30)
    # Then
    assert not in_quiet_hours(instant, "America/New_York", POLICY)
    assert in_quiet_hours(instant, "America/Los_Angeles", POLICY)
    assert in_quiet_hours(local("America/New_York", 2026, 6, 10, 21, 0), "America/New_York", POLICY)


def test_policy_may_not_be_looser_than_fcc_or_quiet_hours() -> None:
    with pytest.raises(ValueError, match="FCC"):
        ReminderPolicy(sms_per_day=2)
    with pytest.raises(ValueError, match="FCC"):
        ReminderPolicy(sms_per_week=4)
    with pytest.raises(ValueError, match="08:00"):
        ReminderPolicy(quiet_start=time(7, 0))
    with pytest.raises(ValueError, match="positive"):
        ReminderPolicy(offsets=(timedelta(0),))


# ---------------------------------------------------------------- planning


def live_sms(plan: list) -> list:
    return [r for r in plan if r.channel == "sms" and not r.skipped]


def assert_within_fcc_budget(plan: list, tz: str) -> None:
    days = [r.due_at.astimezone(ZoneInfo(tz)).date() for r in live_sms(plan)]
    assert max(Counter(days).values(), default=0) <= 1
    weeks = Counter(d.isocalendar()[:2] for d in days)
    assert max(weeks.values(), default=0) <= 3


def test_daily_course_gets_weekly_digests_and_stays_within_sms_budget() -> None:
    # Given a 6-week daily (Mon–Fri 10:00) course and a patient who chose SMS
    monday = date(2026, 10, 19)  # spans the US fall-back on 2026-11-01
    starts = [
        datetime.combine(monday + timedelta(weeks=w, days=d), time(10, 0), tzinfo=NY)
        for w in range(6)
        for d in range(5)
    ]
    sessions = [session(i, s) for i, s in enumerate(starts)]
    now = local("America/New_York", 2026, 10, 16, 12, 0)
    # When
    plan = plan_reminders(sessions=sessions, patient=patient(), policy=POLICY, now=now)
    # Then: one digest per week, due Sunday 17:00 local, covering the five sessions
    sms = live_sms(plan)
    assert [r.kind for r in sms] == [ReminderKind.WEEKLY_DIGEST] * 6
    for r in sms:
        local_due = r.due_at.astimezone(NY)
        assert (local_due.weekday(), local_due.time()) == (6, time(17, 0))
        assert len(r.session_ids) == 5
        assert r.key.startswith("digest:7:")
        assert r.key.endswith(":sms:weekly_digest")
    assert not any(r.kind == ReminderKind.REMINDER for r in plan)
    assert_within_fcc_budget(plan, "America/New_York")
    assert len({r.key for r in plan}) == len(plan)


def test_digest_due_now_when_sunday_already_past() -> None:
    # Given a daily course planned on Monday 08:30 for a week starting Monday 14:00
    starts = [local("America/New_York", 2026, 6, 8 + d, 14, 0) for d in range(5)]
    now = local("America/New_York", 2026, 6, 8, 8, 30)
    # When
    plan = plan_reminders(
        sessions=[session(i, s) for i, s in enumerate(starts)],
        patient=patient(),
        policy=POLICY,
        now=now,
    )
    # Then the digest goes now, before the first session
    (digest,) = live_sms(plan)
    assert digest.due_at == now.astimezone(UTC)


def test_twice_weekly_course_gets_per_session_sms() -> None:
    # Given Tue/Thu 10:00 sessions for three weeks
    starts = [
        local("America/New_York", 2026, 6, 9 + 7 * w + d, 10, 0) for w in range(3) for d in (0, 2)
    ]
    now = local("America/New_York", 2026, 6, 1, 12, 0)
    # When
    plan = plan_reminders(
        sessions=[session(i, s) for i, s in enumerate(starts)],
        patient=patient(),
        policy=POLICY,
        now=now,
    )
    # Then each session has one 24h SMS reminder, due at nominal, none skipped
    sms = live_sms(plan)
    assert [r.key for r in sms] == [f"session:{i}:sms:reminder_24h" for i in range(6)]
    assert all(r.due_at == starts[r.session_id] - DAY for r in sms)  # no DST in June
    assert not any(r.skipped for r in plan)


def test_same_day_reminders_are_dropped_first_when_budget_is_short() -> None:
    # Given Mon/Wed/Fri sessions at 12:00 and a clinic that opted into the 2h same-day reminder
    policy = ReminderPolicy(same_day_offset=timedelta(hours=2))
    starts = [local("America/New_York", 2026, 6, 8 + d, 12, 0) for d in (0, 2, 4)]
    now = local("America/New_York", 2026, 6, 1, 12, 0)
    # When
    plan = plan_reminders(
        sessions=[session(i, s) for i, s in enumerate(starts)],
        patient=patient(),
        policy=policy,
        now=now,
    )
    # Then all 24h reminders win (Sun, Tue, Thu); Monday's same-day text still fits the ISO week
    # (Tue + Thu + Mon = 3); Wednesday's and Friday's are skipped for the weekly limit
    kept = live_sms(plan)
    assert sorted(r.key for r in kept) == [
        "session:0:sms:reminder_24h",
        "session:0:sms:same_day",
        "session:1:sms:reminder_24h",
        "session:2:sms:reminder_24h",
    ]
    skipped = {r.key: r.skip_reason for r in plan if r.skipped}
    assert skipped == {
        "session:1:sms:same_day": SkipReason.SMS_WEEKLY_LIMIT,
        "session:2:sms:same_day": SkipReason.SMS_WEEKLY_LIMIT,
    }
    assert_within_fcc_budget(plan, "America/New_York")


def test_two_sessions_one_day_keep_one_reminder() -> None:
    # Given two sessions on the same day (both 24h reminders fall on the same day)
    starts = [local("America/New_York", 2026, 6, 9, h, 0) for h in (10, 15)]
    now = local("America/New_York", 2026, 6, 1, 12, 0)
    # When
    plan = plan_reminders(
        sessions=[session(i, s) for i, s in enumerate(starts)],
        patient=patient(),
        policy=POLICY,
        now=now,
    )
    # Then the earlier one is sent; the later one is skipped for the daily limit
    assert [(r.key, r.skip_reason) for r in plan] == [
        ("session:0:sms:reminder_24h", None),
        ("session:1:sms:reminder_24h", SkipReason.SMS_DAILY_LIMIT),
    ]


@settings(max_examples=150, deadline=None)
@given(
    tz=st.sampled_from(ZONES),
    first=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 1)),
    gaps=st.lists(st.integers(min_value=1, max_value=60 * 60), min_size=1, max_size=30),
    same_day=st.booleans(),
)
def test_any_schedule_stays_within_fcc_budget_and_quiet_hours(
    tz: str, first: datetime, gaps: list[int], same_day: bool
) -> None:
    # Given an arbitrary schedule (gaps in minutes) in any zone
    policy = ReminderPolicy(same_day_offset=timedelta(hours=2) if same_day else None)
    start = first.replace(tzinfo=ZoneInfo(tz))
    starts = [start]
    for gap in gaps:
        starts.append(starts[-1] + timedelta(minutes=gap))
    now = start - timedelta(days=10)
    # When
    plan = plan_reminders(
        sessions=[session(i, s) for i, s in enumerate(starts)],
        patient=patient(tz=tz),
        policy=policy,
        now=now,
    )
    # Then: budget, quiet hours, due before covered sessions, unique keys
    assert_within_fcc_budget(plan, tz)
    by_id = dict(enumerate(starts))
    for r in live_sms(plan):
        assert not in_quiet_hours(r.due_at, tz, policy)
        assert r.due_at >= now
        assert all(r.due_at < by_id[sid] for sid in r.session_ids)
    assert len({r.key for r in plan}) == len(plan)


def test_opted_out_patient_gets_no_sms() -> None:
    # Given a patient who replied STOP
    starts = [local("America/New_York", 2026, 6, 9 + d, 10, 0) for d in (0, 2)]
    now = local("America/New_York", 2026, 6, 1, 12, 0)
    sessions = [session(i, s) for i, s in enumerate(starts)]
    # When / Then: nothing is planned, not even for email (no silent channel switch)
    assert (
        plan_reminders(
            sessions=sessions, patient=patient(sms_opted_out=True), policy=POLICY, now=now
        )
        == []
    )
    assert (
        plan_reminders(sessions=sessions, patient=patient(channel="none"), policy=POLICY, now=now)
        == []
    )


def test_email_patient_gets_email_reminders_even_for_daily_course() -> None:
    # Given a daily course and a patient who chose email (no FCC SMS budget applies)
    starts = [local("America/New_York", 2026, 6, 8 + d, 10, 0) for d in range(5)]
    now = local("America/New_York", 2026, 6, 1, 12, 0)
    # When
    plan = plan_reminders(
        sessions=[session(i, s) for i, s in enumerate(starts)],
        patient=patient(channel="email", sms_opted_out=True),
        policy=POLICY,
        now=now,
    )
    # Then one email per session, in allowed hours
    assert [r.channel for r in plan] == ["email"] * 5
    assert all(not in_quiet_hours(r.due_at, "America/New_York", POLICY) for r in plan)


def test_prior_sms_use_up_the_budget() -> None:
    # Given an SMS already sent on the day the next reminder would go out
    start = local("America/New_York", 2026, 6, 10, 10, 0)
    now = local("America/New_York", 2026, 6, 8, 12, 0)
    prior = [local("America/New_York", 2026, 6, 9, 8, 0)]
    # When
    (r,) = plan_reminders(
        sessions=[session(1, start)], patient=patient(), policy=POLICY, now=now, prior_sms_due=prior
    )
    # Then it is skipped for the daily limit
    assert r.skip_reason == SkipReason.SMS_DAILY_LIMIT


def test_check_sms_budget() -> None:
    monday = date(2026, 6, 8)
    assert check_sms_budget(sent_local_dates=[], candidate_local_date=monday, policy=POLICY) is None
    assert (
        check_sms_budget(sent_local_dates=[monday], candidate_local_date=monday, policy=POLICY)
        == "sms_daily_limit"
    )
    week = [monday, monday + timedelta(days=1), monday + timedelta(days=2)]
    assert (
        check_sms_budget(
            sent_local_dates=week, candidate_local_date=monday + timedelta(days=4), policy=POLICY
        )
        == "sms_weekly_limit"
    )
    # the next ISO week starts afresh
    assert (
        check_sms_budget(
            sent_local_dates=week, candidate_local_date=monday + timedelta(days=7), policy=POLICY
        )
        is None
    )
