"""Course-rule data types and calendar helpers: the clinic calendar, requests, slots, fitting."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from modalities.rules.phases import Phase
from modalities.vocab import SessionKind

DEFAULT_HORIZON_DAYS = 365
ONE_DAY = timedelta(days=1)

K = TypeVar("K", bound=Hashable)


class ProblemCode(StrEnum):
    CAPPED = "capped"  # the session cap cut sessions (or refused a make-up)
    NO_SLOT_IN_WINDOW = "no_slot_in_window"  # an accelerated day's block did not fit its hours
    HORIZON_EXCEEDED = "horizon_exceeded"  # no fitting day within the horizon; generation stopped
    COURSE_COMPLETE = "course_complete"  # make-up asked for a course that already has all sessions


# ---------------------------------------------------------------------------------- data types


@dataclass(frozen=True, slots=True)
class ClinicCalendar:
    tz: str
    hours: Mapping[int, Sequence[tuple[time, time]]]
    closures: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {self.tz!r}") from exc
        for weekday, intervals in self.hours.items():
            if not 0 <= weekday <= 6:
                raise ValueError(f"weekday {weekday} outside 0 (Monday)..6 (Sunday)")
            for opens, closes in intervals:
                if not opens < closes:
                    raise ValueError(f"weekday {weekday}: opening {opens} is not before {closes}")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)  # ZoneInfo caches instances per key

    def intervals(self, day: date) -> list[tuple[time, time]]:
        if day in self.closures:
            return []
        return sorted(self.hours.get(day.weekday(), ()))


@dataclass(frozen=True, slots=True)
class CourseRequest:
    phases: tuple[Phase, ...]
    starts_on: date
    preferred_start: time  # local wall-clock time in the clinic zone
    window_end: time | None  # latest local start allowed; None = until the clinic closes
    session_minutes: int
    chair_minutes: int  # time the slot occupies, monitoring included (SPRAVATO ≥ 120)
    mapping_minutes: int | None = None  # session 1 is a longer mapping session (DOMAIN.md §1.3)
    session_cap: int | None = None  # authorised sessions, e.g. prior authorisation
    already_booked: int = 0

    def __post_init__(self) -> None:
        if not self.phases:
            raise ValueError("a course needs at least one phase")
        if self.session_minutes < 1 or self.chair_minutes < self.session_minutes:
            raise ValueError("need 1 ≤ session_minutes ≤ chair_minutes")
        if self.mapping_minutes is not None and self.mapping_minutes < 1:
            raise ValueError("mapping_minutes must be ≥ 1")
        if self.session_cap is not None and self.session_cap < 0:
            raise ValueError("session_cap must be ≥ 0")
        if self.already_booked < 0:
            raise ValueError("already_booked must be ≥ 0")
        if self.window_end is not None and self.window_end < self.preferred_start:
            raise ValueError("window_end is before preferred_start")

    def duration(self, sequence: int) -> timedelta:
        if sequence == 1 and self.mapping_minutes:
            return timedelta(minutes=self.mapping_minutes)
        return timedelta(minutes=self.chair_minutes)

    def kind(self, sequence: int) -> SessionKind:
        if sequence == 1 and self.mapping_minutes:
            return SessionKind.MAPPING
        return SessionKind.TREATMENT


@dataclass(frozen=True, slots=True)
class PlannedSlot:
    sequence: int
    phase: str
    kind: SessionKind
    start: datetime  # aware, UTC
    end: datetime  # aware, UTC (start + chair minutes, or mapping minutes for the mapping slot)
    local_start: datetime  # aware, clinic zone


@dataclass(frozen=True, slots=True)
class Problem:
    code: ProblemCode
    message: str
    detail: dict = field(default_factory=dict)  # JSON-ready: dates as ISO strings


@dataclass(frozen=True, slots=True)
class CoursePlan:
    slots: list[PlannedSlot]
    problems: list[Problem]


@dataclass(frozen=True, slots=True)
class MakeUp:
    slot: PlannedSlot | None
    problem: Problem | None = None


# ---------------------------------------------------------------------------------- time helpers


def local_at(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of local ``day at``; fold=0, so a nonexistent time lands after the gap."""
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def local_date(instant: datetime, zone: ZoneInfo) -> date:
    return instant.astimezone(zone).date()


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


class Fitter:
    """Finds starts that fit a calendar for one request (all arithmetic in UTC)."""

    def __init__(self, request: CourseRequest, calendar: ClinicCalendar) -> None:
        self.request = request
        self.calendar = calendar
        self.zone = calendar.zone

    def _in_hours(self, day: date, start: datetime, end: datetime) -> bool:
        return any(
            local_at(day, opens, self.zone) <= start and end <= local_at(day, closes, self.zone)
            for opens, closes in self.calendar.intervals(day)
        )

    def _candidates(self, day: date, not_before: datetime | None) -> Iterable[datetime]:
        """Earliest possible start in each opening interval, at/after preferred and not_before."""
        preferred, window_end = self.request.preferred_start, self.request.window_end
        for opens, _closes in self.calendar.intervals(day):
            start = local_at(day, max(preferred, opens), self.zone)
            if not_before is not None and start < not_before:
                start = not_before
            local = start.astimezone(self.zone)
            if local.date() != day or (window_end is not None and local.time() > window_end):
                return
            yield start

    def fit(self, day: date, duration: timedelta, not_before: datetime | None) -> datetime | None:
        for start in self._candidates(day, not_before):
            if self._in_hours(day, start, start + duration):
                return start
        return None

    def fit_block(
        self, day: date, durations: list[timedelta], gap: timedelta
    ) -> list[datetime] | None:
        """Starts of a day's block: each session begins ``gap`` after the previous one ends."""
        for first in self._candidates(day, None):
            starts = [first]
            for duration in durations[:-1]:
                starts.append(starts[-1] + duration + gap)
            if all(
                self._in_hours(day, s, s + d) and local_date(s, self.zone) == day
                for s, d in zip(starts, durations, strict=True)
            ):
                return starts
        return None

    def search(
        self,
        first_day: date,
        duration: timedelta,
        not_before: datetime | None,
        horizon_days: int,
        accept: Callable[[date], bool] = lambda _day: True,
    ) -> datetime | None:
        """First fitting start on an accepted day in [first_day, first_day + horizon_days]."""
        for offset in range(horizon_days + 1):
            day = first_day + timedelta(days=offset)
            if accept(day) and (start := self.fit(day, duration, not_before)) is not None:
                return start
        return None


def spaced_steps(phase: Phase) -> list[int]:
    """Nominal day steps between consecutive sessions of a SPACED phase."""
    if phase.interval_days:
        return [phase.interval_days]
    per_week = phase.sessions_per_week or 1
    return [(j + 1) * 7 // per_week - j * 7 // per_week for j in range(per_week)]


def min_gap(phase: Phase) -> timedelta | None:
    return timedelta(hours=phase.min_gap_hours) if phase.min_gap_hours else None
