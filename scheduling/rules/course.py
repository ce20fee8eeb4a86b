"""Course-calendar generation: expand protocol phases into dated sessions in a clinic's calendar.

Pure rules (STYLE.md habit 9): stdlib + ``modalities.rules.phases`` + ``modalities.vocab``, no
Django. The service layer turns the result into ``Session`` rows; this module only decides dates.

Public API
----------
Inputs (frozen dataclasses):

- ``ClinicCalendar(tz, hours, closures=frozenset())`` — ``tz`` an IANA name; ``hours`` maps a
  weekday (0 = Monday … 6 = Sunday) to opening intervals ``[(open, close), …]`` in local
  wall-clock time (a weekday that is absent or empty is closed); ``closures`` are local dates.
- ``CourseRequest(phases, starts_on, preferred_start, window_end, session_minutes, chair_minutes,
  mapping_minutes=None, session_cap=None, already_booked=0)``.

Functions:

- ``generate_course(request, calendar, *, horizon_days=365) -> CoursePlan`` with ``slots``
  (``PlannedSlot``: sequence, phase, kind, start/end in UTC, local_start in the clinic zone) and
  ``problems`` (``Problem``: code from ``ProblemCode``, message, detail).
- ``make_up_slot(*, existing_starts, request, calendar, missed_sequence, not_before=None,
  horizon_days=365) -> MakeUp`` — one session appended after the course's last active session.
- ``renumber(starts) -> dict[key, int]`` — contiguous sequence numbers 1..N in time order.

Rules
-----
Time (DESIGN.md promise 9). Every slot starts at ``preferred_start`` *local* wall-clock time in
the clinic zone, so a 10:00 series stays at 10:00 across a daylight-saving change and its UTC time
moves by an hour. Local times are resolved with ``fold=0``: an ambiguous time (clocks go back)
is its first occurrence; a nonexistent time (clocks go forward) is shifted forward by the gap
(02:30 on a spring-forward night becomes 03:30). Durations and gaps are real elapsed time.

Fitting. A slot fits a day when the day is not a closure, it lies inside one opening interval
(start ≥ open, start + duration ≤ close) and its local start is ≤ ``window_end``. If the preferred
time does not fit, the earliest fitting start that day at/after the preferred time is used
(e.g. the opening time of a later interval); if none fits, WEEKDAYS and SPACED move to the next
open day without a problem. A phase whose next session cannot be placed within ``horizon_days``
records ``horizon_exceeded`` and generation stops (later phases depend on it).

Patterns (``modalities.rules.phases.Pattern``):

- WEEKDAYS: up to ``sessions_per_week`` sessions on the first fitting Monday–Friday days of each
  calendar week (Saturday/Sunday are never used, even when open). The phase counts sessions, not
  weeks: a closure (Thanksgiving) or a mid-week start leaves that week short and the phase runs
  on into the following week(s) until its count is reached, never exceeding ``sessions_per_week``
  in any week. A following phase starts in the week after the previous phase's last session.
- SPACED with ``interval_days``: one session every N days (7 weekly, 14 fortnightly) on a nominal
  rhythm anchored at the phase's first session; a closed day shifts that session to the next
  fitting day without moving the rhythm (unless the shift reaches the next nominal date, which
  then re-anchors). The first session of a following SPACED phase is nominally ``interval_days``
  after the previous session.
- SPACED with ``sessions_per_week = k``: nominal days spread through the week (2 → +3 then +4
  days, i.e. Mon/Thu; 3 → +2, +2, +3), same shifting. ``min_gap_hours`` is enforced in elapsed
  hours between consecutive sessions (two induction sessions are never < 48 h apart, even if a
  closure shift or DST would otherwise bring them closer: the session moves later).
  A following per-week phase starts at least ``min_gap_hours`` (or one day) after the previous
  session.
- ACCELERATED: ``sessions_per_day`` sessions a day separated by an intersession interval of
  ``interval_minutes`` (elapsed time from the end of one session to the start of the next, so a
  longer mapping session pushes the rest of the day later — SAINT, DOMAIN.md §1.2), the first at
  the preferred time, on consecutive open days (closed days are skipped silently).
  The whole day's block must fit the opening hours; ``window_end`` applies to the block's first
  start. A day with hours where the block does not fit is skipped and listed in one
  ``no_slot_in_window`` problem for the phase. A following phase starts the next day.

Sessions are never two on one day except in ACCELERATED phases, and never overlap.

Counting. ``session_cap`` and ``already_booked`` count every course session, the mapping one
included. With ``already_booked = n`` the first n sessions of the phases are taken as done: the
plan holds the rest, numbered from n + 1, laid out from ``starts_on`` (no mapping slot, which is
session 1). If the cap leaves fewer sessions than the phases ask for, the course is cut at the cap
and a ``capped`` problem records it.

Make-ups. A missed session of a SPACED phase that is not the course's last phase is made up
inside that phase when a fitting day exists before the next phase's first session, keeping the
phase's minimum gap to every active session (a missed SPRAVATO induction dose is made up in the
induction weeks, DOMAIN.md §2.3); otherwise, and for the last phase, the make-up is appended.

Invalid input (inconsistent minutes, an unknown zone) raises ``ValueError``: problems are
reserved for what the calendar does to a valid request.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from modalities.rules.phases import Pattern, Phase
from modalities.vocab import SessionKind

DEFAULT_HORIZON_DAYS = 365
_ONE_DAY = timedelta(days=1)

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


def _at(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of local ``day at``; fold=0, so a nonexistent time lands after the gap."""
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def _local_date(instant: datetime, zone: ZoneInfo) -> date:
    return instant.astimezone(zone).date()


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


class _Fitter:
    """Finds starts that fit a calendar for one request (all arithmetic in UTC)."""

    def __init__(self, request: CourseRequest, calendar: ClinicCalendar) -> None:
        self.request = request
        self.calendar = calendar
        self.zone = calendar.zone

    def _in_hours(self, day: date, start: datetime, end: datetime) -> bool:
        return any(
            _at(day, opens, self.zone) <= start and end <= _at(day, closes, self.zone)
            for opens, closes in self.calendar.intervals(day)
        )

    def _candidates(self, day: date, not_before: datetime | None) -> Iterable[datetime]:
        """Earliest possible start in each opening interval, at/after preferred and not_before."""
        preferred, window_end = self.request.preferred_start, self.request.window_end
        for opens, _closes in self.calendar.intervals(day):
            start = _at(day, max(preferred, opens), self.zone)
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
                self._in_hours(day, s, s + d) and _local_date(s, self.zone) == day
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


# ---------------------------------------------------------------------------------- generation


def _spaced_steps(phase: Phase) -> list[int]:
    """Nominal day steps between consecutive sessions of a SPACED phase."""
    if phase.interval_days:
        return [phase.interval_days]
    per_week = phase.sessions_per_week or 1
    return [(j + 1) * 7 // per_week - j * 7 // per_week for j in range(per_week)]


def _min_gap(phase: Phase) -> timedelta | None:
    return timedelta(hours=phase.min_gap_hours) if phase.min_gap_hours else None


class _Builder:
    def __init__(self, request: CourseRequest, calendar: ClinicCalendar, horizon_days: int):
        self.request = request
        self.fitter = _Fitter(request, calendar)
        self.zone = self.fitter.zone
        self.horizon_days = horizon_days
        self.slots: list[PlannedSlot] = []
        self.problems: list[Problem] = []
        self.next_sequence = request.already_booked + 1

    # -- bookkeeping

    @property
    def last(self) -> PlannedSlot | None:
        return self.slots[-1] if self.slots else None

    def duration(self) -> timedelta:
        return self.request.duration(self.next_sequence)

    def emit(self, phase: Phase, start: datetime) -> None:
        sequence = self.next_sequence
        self.slots.append(
            PlannedSlot(
                sequence=sequence,
                phase=phase.name,
                kind=self.request.kind(sequence),
                start=start,
                end=start + self.request.duration(sequence),
                local_start=start.astimezone(self.zone),
            )
        )
        self.next_sequence += 1

    def horizon_exceeded(self, phase: Phase, placed: int, wanted: int, since: date) -> bool:
        self.problems.append(
            Problem(
                ProblemCode.HORIZON_EXCEEDED,
                f"Phase {phase.name!r}: no fitting opening within {self.horizon_days} days "
                f"after {since.isoformat()}; {placed} of {wanted} sessions placed.",
                {
                    "phase": phase.name,
                    "placed": placed,
                    "wanted": wanted,
                    "since": since.isoformat(),
                },
            )
        )
        return False

    # -- patterns; each returns False when generation must stop

    def weekdays(self, phase: Phase, count: int) -> bool:
        last = self.last
        if last is None:
            first_day, not_before = self.request.starts_on, None
        else:
            first_day, not_before = _monday(last.local_start.date()) + timedelta(weeks=1), last.end
        per_week = phase.sessions_per_week or 5
        week, placed, since = _monday(first_day), 0, first_day
        while placed < count:
            if week > since + timedelta(days=self.horizon_days):
                return self.horizon_exceeded(phase, placed, count, since)
            in_week = 0
            for offset in range(5):  # Monday–Friday only
                day = week + timedelta(days=offset)
                if day < first_day or in_week == per_week or placed == count:
                    continue
                start = self.fitter.fit(day, self.duration(), not_before)
                if start is not None:
                    self.emit(phase, start)
                    in_week, placed, since = in_week + 1, placed + 1, day
            week += timedelta(weeks=1)
        return True

    def spaced(self, phase: Phase, count: int) -> bool:
        steps, gap = _spaced_steps(phase), _min_gap(phase)
        last = self.last
        if last is None:
            nominal, not_before = self.request.starts_on, None
        else:
            # interval phases keep their interval from the previous phase; per-week ones only
            # need the minimum gap (or the next day)
            nominal = last.local_start.date() + timedelta(days=phase.interval_days or 1)
            not_before = max(last.end, last.start + gap) if gap else last.end
        for j in range(count):
            if j > 0:
                last = self.slots[-1]
                last_day = last.local_start.date()
                step = timedelta(days=steps[(j - 1) % len(steps)])
                nominal += step
                if nominal <= last_day:  # a long shift reached the next date: re-anchor
                    nominal = last_day + step
                not_before = max(last.end, last.start + gap) if gap else last.end
            start = self.fitter.search(nominal, self.duration(), not_before, self.horizon_days)
            if start is None:
                return self.horizon_exceeded(phase, j, count, nominal)
            self.emit(phase, start)
            if j == 0:
                nominal = _local_date(start, self.zone)  # the rhythm follows the first session
        return True

    def accelerated(self, phase: Phase, count: int) -> bool:
        per_day = phase.sessions_per_day or 1
        gap = timedelta(minutes=phase.interval_minutes or 0)
        last = self.last
        day = self.request.starts_on if last is None else last.local_start.date() + _ONE_DAY
        placed, since = 0, day
        skipped: list[date] = []
        while placed < count:
            if day > since + timedelta(days=self.horizon_days):
                self.report_skipped(phase, skipped)
                return self.horizon_exceeded(phase, placed, count, since)
            if self.fitter.calendar.intervals(day):  # closed days are skipped silently
                today = min(per_day, count - placed)
                durations = [self.request.duration(self.next_sequence + i) for i in range(today)]
                starts = self.fitter.fit_block(day, durations, gap)
                if starts is None:
                    skipped.append(day)
                else:
                    for start in starts:
                        self.emit(phase, start)
                    placed, since = placed + today, day
            day += _ONE_DAY
        self.report_skipped(phase, skipped)
        return True

    def report_skipped(self, phase: Phase, skipped: list[date]) -> None:
        if skipped:
            self.problems.append(
                Problem(
                    ProblemCode.NO_SLOT_IN_WINDOW,
                    f"Phase {phase.name!r}: {len(skipped)} open day(s) could not hold the day's "
                    "sessions within opening hours and the start window; the phase skipped them.",
                    {"phase": phase.name, "dates": [day.isoformat() for day in skipped]},
                )
            )


def _phases_to_generate(request: CourseRequest) -> tuple[list[tuple[Phase, int]], Problem | None]:
    """(phase, sessions still to generate) after already-booked sessions and the cap."""
    total = sum(phase.sessions for phase in request.phases)
    wanted = max(0, total - request.already_booked)
    allowed, problem = wanted, None
    if request.session_cap is not None:
        allowed = min(wanted, max(0, request.session_cap - request.already_booked))
        if allowed < wanted:
            problem = Problem(
                ProblemCode.CAPPED,
                f"The authorised cap of {request.session_cap} sessions leaves {allowed} of the "
                f"{wanted} remaining sessions; {wanted - allowed} were not generated.",
                {
                    "cap": request.session_cap,
                    "already_booked": request.already_booked,
                    "requested": wanted,
                    "generated": allowed,
                    "dropped": wanted - allowed,
                },
            )
    work, done, left = [], request.already_booked, allowed
    for phase in request.phases:
        consumed = min(done, phase.sessions)
        done -= consumed
        count = min(phase.sessions - consumed, left)
        left -= count
        if count:
            work.append((phase, count))
    return work, problem


def generate_course(
    request: CourseRequest, calendar: ClinicCalendar, *, horizon_days: int = DEFAULT_HORIZON_DAYS
) -> CoursePlan:
    """Expand the request's phases into dated slots in the clinic calendar (rules: module doc)."""
    work, cap_problem = _phases_to_generate(request)
    builder = _Builder(request, calendar, horizon_days)
    if cap_problem is not None:
        builder.problems.append(cap_problem)
    place = {
        Pattern.WEEKDAYS: builder.weekdays,
        Pattern.SPACED: builder.spaced,
        Pattern.ACCELERATED: builder.accelerated,
    }
    for phase, count in work:
        if not place[phase.pattern](phase, count):
            break
    return CoursePlan(slots=builder.slots, problems=builder.problems)


# ---------------------------------------------------------------------------------- make-ups


def make_up_slot(
    *,
    existing_starts: Sequence[datetime],
    request: CourseRequest,
    calendar: ClinicCalendar,
    missed_sequence: int,
    not_before: datetime | None = None,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    existing_phases: Sequence[str] | None = None,
    missed_start: datetime | None = None,
    missed_phase: str | None = None,
) -> MakeUp:
    """One make-up session: inside the missed session's phase when it is a SPACED phase other
    than the last and a day fits before the next phase (``existing_phases``, aligned with
    ``existing_starts``, ``missed_start`` and ``missed_phase`` tell where it was), otherwise
    appended after the course's last active session.

    ``existing_starts`` are the aware starts of the course's *active* sessions (booked, arrived,
    fulfilled — not the missed one, nor cancelled/no-show/entered-in-error ones); they count
    towards ``request.session_cap`` and the protocol total. ``missed_sequence`` is the sequence
    of the missed session (recorded in problems; the caller renumbers with ``renumber``).
    ``not_before`` (e.g. now) keeps the make-up out of the past.

    The make-up follows the cadence of the request's last phase, at the preferred local time:
    WEEKDAYS — the next fitting Monday–Friday day after the last session, in the same week only
    while that week has fewer than ``sessions_per_week`` sessions; SPACED — ``interval_days``
    after the last session, or for per-week phases the shortest nominal step, never closer than
    ``min_gap_hours``; ACCELERATED — later the same day while that day has fewer than
    ``sessions_per_day`` sessions (``interval_minutes`` after the last), else the next open day.
    It is always a treatment session numbered ``len(existing_starts) + 1``; if the missed session
    was the mapping session, re-kinding the new session 1 is the caller's job.

    Returns ``MakeUp(slot, None)``, or ``MakeUp(None, problem)`` with code ``capped`` (the cap is
    reached), ``course_complete`` (the protocol total is already booked) or ``horizon_exceeded``.
    """
    if not existing_starts:
        raise ValueError("no active session to append to: generate the course instead")
    if any(start.tzinfo is None for start in existing_starts):
        raise ValueError("existing_starts must be aware datetimes")
    zone = calendar.zone
    active = len(existing_starts)
    sequence = active + 1
    total = sum(phase.sessions for phase in request.phases)
    detail = {"missed_sequence": missed_sequence, "active": active, "cap": request.session_cap}
    if request.session_cap is not None and sequence > request.session_cap:
        return MakeUp(
            None,
            Problem(
                ProblemCode.CAPPED,
                f"The authorised cap of {request.session_cap} sessions is reached; "
                "no make-up session can be added.",
                detail,
            ),
        )
    if sequence > total:
        return MakeUp(
            None,
            Problem(
                ProblemCode.COURSE_COMPLETE,
                f"The course already has its {total} sessions; nothing to make up.",
                {**detail, "total": total},
            ),
        )

    in_phase = _in_phase_make_up(
        existing_starts=existing_starts,
        existing_phases=existing_phases,
        request=request,
        calendar=calendar,
        missed_start=missed_start,
        missed_phase=missed_phase,
        not_before=not_before,
        sequence=sequence,
    )
    if in_phase is not None:
        return MakeUp(in_phase)

    starts = sorted(start.astimezone(UTC) for start in existing_starts)
    last = starts[-1]
    last_day = _local_date(last, zone)
    # The last active session may be the longer mapping one; stay clear of either length.
    longest = timedelta(minutes=max(request.chair_minutes, request.mapping_minutes or 0))
    earliest = max(last + longest, not_before.astimezone(UTC) if not_before else last)
    phase = request.phases[-1]
    first_day = last_day + _ONE_DAY
    accept: Callable[[date], bool] = lambda _day: True  # noqa: E731

    if phase.pattern == Pattern.WEEKDAYS:
        in_last_week = sum(1 for s in starts if _monday(_local_date(s, zone)) == _monday(last_day))
        week_full = in_last_week >= (phase.sessions_per_week or 5)

        def accept(day: date) -> bool:
            return day.weekday() < 5 and not (week_full and _monday(day) == _monday(last_day))

    elif phase.pattern == Pattern.SPACED:
        steps = _spaced_steps(phase)
        first_day = last_day + timedelta(days=phase.interval_days or min(steps))
        if (gap := _min_gap(phase)) is not None:
            earliest = max(earliest, last + gap)
    else:  # ACCELERATED
        on_last_day = sum(1 for s in starts if _local_date(s, zone) == last_day)
        if on_last_day < (phase.sessions_per_day or 1):
            first_day = last_day
            # the intersession interval runs from the end of the last session
            earliest = max(
                earliest, last + longest + timedelta(minutes=phase.interval_minutes or 0)
            )
    if not_before is not None:
        first_day = max(first_day, _local_date(not_before, zone))

    fitter = _Fitter(request, calendar)
    duration = timedelta(minutes=request.chair_minutes)
    start = fitter.search(first_day, duration, earliest, horizon_days, accept)
    if start is None:
        return MakeUp(
            None,
            Problem(
                ProblemCode.HORIZON_EXCEEDED,
                f"No fitting opening within {horizon_days} days after {first_day.isoformat()}.",
                {**detail, "since": first_day.isoformat()},
            ),
        )
    slot = PlannedSlot(
        sequence=sequence,
        phase=phase.name,
        kind=SessionKind.TREATMENT,
        start=start,
        end=start + duration,
        local_start=start.astimezone(zone),
    )
    return MakeUp(slot)


def _in_phase_make_up(
    *,
    existing_starts: Sequence[datetime],
    existing_phases: Sequence[str] | None,
    request: CourseRequest,
    calendar: ClinicCalendar,
    missed_start: datetime | None,
    missed_phase: str | None,
    not_before: datetime | None,
    sequence: int,
) -> PlannedSlot | None:
    """A make-up inside the missed SPACED phase, before the next phase begins (module doc)."""
    names = [p.name for p in request.phases]
    if (
        existing_phases is None
        or missed_start is None
        or missed_phase not in names
        or names.index(missed_phase) == len(names) - 1
    ):
        return None
    index = names.index(missed_phase)
    phase = request.phases[index]
    if phase.pattern != Pattern.SPACED:
        return None
    later = [
        start.astimezone(UTC)
        for start, name in zip(existing_starts, existing_phases, strict=True)
        if name in names and names.index(name) > index
    ]
    if not later:
        return None
    window_end = min(later)
    zone = calendar.zone
    gap = _min_gap(phase) or _ONE_DAY
    duration = timedelta(minutes=request.chair_minutes)
    earliest = missed_start.astimezone(UTC)
    if not_before is not None:
        earliest = max(earliest, not_before.astimezone(UTC))
    active = [start.astimezone(UTC) for start in existing_starts]
    busy_days = {_local_date(start, zone) for start in active}
    fitter = _Fitter(request, calendar)
    # never on the missed session's own day (the patient did not come, or the visit was off)
    day = max(_local_date(earliest, zone), _local_date(missed_start, zone) + _ONE_DAY)
    while day <= _local_date(window_end, zone):
        start = None if day in busy_days else fitter.fit(day, duration, earliest)
        if (
            start is not None
            and start < window_end
            and all(abs(start - other) >= gap for other in active)
        ):
            return PlannedSlot(
                sequence=sequence,
                phase=phase.name,
                kind=SessionKind.TREATMENT,
                start=start,
                end=start + duration,
                local_start=start.astimezone(zone),
            )
        day += _ONE_DAY
    return None


def renumber(starts: Mapping[K, datetime]) -> dict[K, int]:
    """Sequence numbers 1..N in time order for the course's active sessions, keyed as given.

    Pass only sessions that count (not cancelled, no-show or entered-in-error); ties keep the
    mapping's order. The caller writes back the numbers that changed.
    """
    ordered = sorted(starts.items(), key=lambda item: item[1])
    return {key: sequence for sequence, (key, _start) in enumerate(ordered, start=1)}
