"""Reminder policy and timing: the per-clinic ``ReminderPolicy``, the data the planner reads, and
when a reminder may go out (quiet hours, whole-day offsets in local wall time).

Pure rules (STYLE.md habit 9): stdlib only. See the package docstring for sources and decisions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from typing import Literal
from zoneinfo import ZoneInfo

_FCC_SMS_PER_DAY = 1  # FCC 15-72
_FCC_SMS_PER_WEEK = 3  # FCC 15-72
_EARLIEST_QUIET_START = time(8, 0)  # 47 CFR 64.1200, DOMAIN.md §7.3
_LATEST_QUIET_END = time(21, 0)


class ReminderKind(StrEnum):
    REMINDER = "reminder"
    SAME_DAY = "same_day"
    WEEKLY_DIGEST = "weekly_digest"
    CHANGE_NOTICE = "change_notice"


class SkipReason(StrEnum):
    SMS_DAILY_LIMIT = "sms_daily_limit"  # FCC 15-72: max 1/day
    SMS_WEEKLY_LIMIT = "sms_weekly_limit"  # FCC 15-72: max 3/week
    NO_ALLOWED_TIME = "no_allowed_time"  # no 08:00–21:00 moment left before the session


# Lower number wins when the SMS budget is short.
_PRIORITY = {
    ReminderKind.WEEKLY_DIGEST: 0,
    ReminderKind.CHANGE_NOTICE: 1,
    ReminderKind.REMINDER: 2,
    ReminderKind.SAME_DAY: 3,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class ReminderPolicy:
    """Per-clinic reminder settings. Defaults are the safe ones; a clinic may only tighten them.

    - ``offsets``: 24 h (DOMAIN.md §7.1, 24–48 h common default [WEAK]).
    - ``same_day_offset``: UNSOURCED (DOMAIN.md §7.1, §8 item 6) → off unless a clinic opts in.
    - quiet hours 08:00–21:00 recipient time (47 CFR 64.1200, DOMAIN.md §7.3).
    - 1 SMS/day, 3/week (FCC 15-72, DOMAIN.md §7.3); a policy above these is rejected.
    - a course with more than ``digest_threshold_per_week`` sessions in a week gets a weekly digest
      (DESIGN.md §4 promise 5), sent ``digest_weekday`` (Mon=0 … Sun=6) at ``digest_time`` local.
    """

    offsets: tuple[timedelta, ...] = (timedelta(hours=24),)
    same_day_offset: timedelta | None = None
    quiet_start: time = time(8, 0)
    quiet_end: time = time(21, 0)
    sms_per_day: int = _FCC_SMS_PER_DAY
    sms_per_week: int = _FCC_SMS_PER_WEEK
    digest_threshold_per_week: int = 3
    digest_weekday: int = 6
    digest_time: time = time(17, 0)

    def __post_init__(self) -> None:
        all_offsets = [*self.offsets, *([self.same_day_offset] if self.same_day_offset else [])]
        if any(o <= timedelta(0) for o in all_offsets):
            raise ValueError("reminder offsets must be positive")
        if len(set(self.offsets)) != len(self.offsets):
            raise ValueError("reminder offsets must be distinct")
        if not (_EARLIEST_QUIET_START <= self.quiet_start < self.quiet_end <= _LATEST_QUIET_END):
            raise ValueError("allowed hours must lie within 08:00–21:00 (47 CFR 64.1200)")
        if not (0 <= self.sms_per_day <= _FCC_SMS_PER_DAY):
            raise ValueError("sms_per_day must be 0..1 (FCC 15-72)")
        if not (0 <= self.sms_per_week <= _FCC_SMS_PER_WEEK):
            raise ValueError("sms_per_week must be 0..3 (FCC 15-72)")
        if not 0 <= self.digest_weekday <= 6:
            raise ValueError("digest_weekday must be 0 (Mon) .. 6 (Sun)")
        if self.digest_threshold_per_week < 0:
            raise ValueError("digest_threshold_per_week must be ≥ 0")


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionInfo:
    session_id: int | str
    start: datetime  # aware
    clinic_name: str
    clinic_phone: str
    clinic_address: str
    room: str | None
    preparation: str  # patient-safe practical text, or ''
    clinic_tz: str


Channel = Literal["sms", "email", "none"]


@dataclass(frozen=True, slots=True, kw_only=True)
class PatientInfo:
    patient_id: int | str
    tz: str
    channel: Channel
    sms_opted_out: bool
    has_phone: bool
    has_email: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class PlannedReminder:
    """One future ``Reminder`` row. ``key`` is stable across re-plans (upsert by key)."""

    key: str
    session_id: int | str | None  # None for a weekly digest
    channel: Literal["sms", "email"]
    kind: ReminderKind
    due_at: datetime | None  # UTC; None only when skipped for NO_ALLOWED_TIME
    session_ids: tuple[int | str, ...]
    skip_reason: SkipReason | None = None

    @property
    def skipped(self) -> bool:
        return self.skip_reason is not None


def require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (DESIGN.md §4 promise 9)")


def in_quiet_hours(instant: datetime, tz: str, policy: ReminderPolicy) -> bool:
    """True when ``instant`` is before ``quiet_start`` or at/after ``quiet_end`` in zone ``tz``.

    47 CFR 64.1200 / DOMAIN.md §7.3: only 08:00–21:00 recipient local time.
    """
    require_aware(instant, "instant")
    local = instant.astimezone(ZoneInfo(tz)).time()
    return not (policy.quiet_start <= local < policy.quiet_end)


def wall_to_utc(wall: datetime, zone: ZoneInfo, *, prefer: Literal["earlier", "later"]) -> datetime:
    """Resolve a naive local wall time to UTC.

    Ambiguous (fall back): both readings are real; pick per ``prefer``. Nonexistent (spring
    forward gap): neither reading round-trips; ``earlier`` gives the instant just before the gap,
    ``later`` the one after it.
    """
    readings = [wall.replace(tzinfo=zone, fold=f).astimezone(UTC) for f in (0, 1)]
    valid = [
        r for r in readings if r.astimezone(zone).replace(tzinfo=None) == wall.replace(tzinfo=None)
    ]
    pool = valid or readings
    return min(pool) if prefer == "earlier" else max(pool)


def _latest_allowed_at_or_before(instant: datetime, tz: str, policy: ReminderPolicy) -> datetime:
    zone = ZoneInfo(tz)
    local = instant.astimezone(zone)
    if not in_quiet_hours(instant, tz, policy):
        return instant.astimezone(UTC)
    day = local.date() if local.time() >= policy.quiet_end else local.date() - timedelta(days=1)
    for _ in range(3):  # a DST oddity can at most push one day further back
        wall = datetime.combine(day, policy.quiet_end) - timedelta(minutes=1)
        candidate = wall_to_utc(wall, zone, prefer="earlier")
        if candidate <= instant and not in_quiet_hours(candidate, tz, policy):
            return candidate
        day -= timedelta(days=1)
    raise AssertionError("no allowed local time found")  # pragma: no cover


def _earliest_allowed_at_or_after(instant: datetime, tz: str, policy: ReminderPolicy) -> datetime:
    zone = ZoneInfo(tz)
    local = instant.astimezone(zone)
    if not in_quiet_hours(instant, tz, policy):
        return instant.astimezone(UTC)
    day = local.date() if local.time() < policy.quiet_start else local.date() + timedelta(days=1)
    for _ in range(3):
        candidate = wall_to_utc(datetime.combine(day, policy.quiet_start), zone, prefer="later")
        if candidate >= instant and not in_quiet_hours(candidate, tz, policy):
            return candidate
        day += timedelta(days=1)
    raise AssertionError("no allowed local time found")  # pragma: no cover


def place_in_allowed_hours(
    nominal: datetime, *, deadline: datetime, tz: str, policy: ReminderPolicy, now: datetime | None
) -> datetime | None:
    candidate = _latest_allowed_at_or_before(nominal, tz, policy)
    if now is not None and candidate < now:
        candidate = _earliest_allowed_at_or_after(now, tz, policy)
    return candidate if candidate < deadline else None


def due_time(
    *,
    session_start: datetime,
    offset: timedelta,
    patient_tz: str,
    policy: ReminderPolicy,
    now: datetime | None = None,
) -> datetime | None:
    """When a reminder ``offset`` before ``session_start`` may go out, in UTC, or ``None``.

    Rule (47 CFR 64.1200 quiet hours, DOMAIN.md §7.3; DESIGN.md §4 promises 5 and 9): the
    nominal instant (``nominal_due_time``: whole days in local wall time) if it falls in the
    patient's allowed local hours; otherwise the latest allowed local minute before it
    (``quiet_end - 1 min`` the evening before). With ``now`` given and that moment past, the
    first allowed moment from ``now``. ``None`` when the result would not be strictly before the
    session (the caller records a skip).
    """
    require_aware(session_start, "session_start")
    if now is not None:
        require_aware(now, "now")
    nominal = nominal_due_time(session_start=session_start, offset=offset, patient_tz=patient_tz)
    return place_in_allowed_hours(
        nominal, deadline=session_start, tz=patient_tz, policy=policy, now=now
    )


def nominal_due_time(*, session_start: datetime, offset: timedelta, patient_tz: str) -> datetime:
    """``session_start - offset`` before quiet hours are applied, in UTC.

    Whole-day offsets are calendar days in the patient's wall time ("the day before at the same
    time", DESIGN.md §4 promise 9), so across a DST change a 24 h reminder for a 10:00 session is
    at 10:00 local, 23 or 25 real hours ahead. Other offsets (e.g. 2 h) are elapsed time.
    A wall time that falls in a DST gap or overlap resolves to the earlier instant.
    """
    require_aware(session_start, "session_start")
    seconds = offset.total_seconds()
    if seconds % 86400:
        return (session_start - offset).astimezone(UTC)
    zone = ZoneInfo(patient_tz)
    wall = session_start.astimezone(zone).replace(tzinfo=None) - offset
    return wall_to_utc(wall, zone, prefer="earlier")
