"""Make-ups (one session for a missed one) and renumbering of a course."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta

from modalities.rules.phases import Pattern
from modalities.vocab import SessionKind
from scheduling.rules.course.calendar import (
    DEFAULT_HORIZON_DAYS,
    ONE_DAY,
    ClinicCalendar,
    CourseRequest,
    Fitter,
    K,
    MakeUp,
    PlannedSlot,
    Problem,
    ProblemCode,
    local_date,
    min_gap,
    monday_of,
    spaced_steps,
)


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
    last_day = local_date(last, zone)
    # The last active session may be the longer mapping one; stay clear of either length.
    longest = timedelta(minutes=max(request.chair_minutes, request.mapping_minutes or 0))
    earliest = max(last + longest, not_before.astimezone(UTC) if not_before else last)
    phase = request.phases[-1]
    first_day = last_day + ONE_DAY
    accept: Callable[[date], bool] = lambda _day: True  # noqa: E731

    if phase.pattern == Pattern.WEEKDAYS:
        in_last_week = sum(
            1 for s in starts if monday_of(local_date(s, zone)) == monday_of(last_day)
        )
        week_full = in_last_week >= (phase.sessions_per_week or 5)

        def accept(day: date) -> bool:
            return day.weekday() < 5 and not (week_full and monday_of(day) == monday_of(last_day))

    elif phase.pattern == Pattern.SPACED:
        steps = spaced_steps(phase)
        first_day = last_day + timedelta(days=phase.interval_days or min(steps))
        if (gap := min_gap(phase)) is not None:
            earliest = max(earliest, last + gap)
    else:  # ACCELERATED
        on_last_day = sum(1 for s in starts if local_date(s, zone) == last_day)
        if on_last_day < (phase.sessions_per_day or 1):
            first_day = last_day
            # the intersession interval runs from the end of the last session
            earliest = max(
                earliest, last + longest + timedelta(minutes=phase.interval_minutes or 0)
            )
    if not_before is not None:
        first_day = max(first_day, local_date(not_before, zone))

    fitter = Fitter(request, calendar)
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
    gap = min_gap(phase) or ONE_DAY
    duration = timedelta(minutes=request.chair_minutes)
    earliest = missed_start.astimezone(UTC)
    if not_before is not None:
        earliest = max(earliest, not_before.astimezone(UTC))
    active = [start.astimezone(UTC) for start in existing_starts]
    busy_days = {local_date(start, zone) for start in active}
    fitter = Fitter(request, calendar)
    # never on the missed session's own day (the patient did not come, or the visit was off)
    day = max(local_date(earliest, zone), local_date(missed_start, zone) + ONE_DAY)
    while day <= local_date(window_end, zone):
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
        day += ONE_DAY
    return None


def renumber(starts: Mapping[K, datetime]) -> dict[K, int]:
    """Sequence numbers 1..N in time order for the course's active sessions, keyed as given.

    Pass only sessions that count (not cancelled, no-show or entered-in-error); ties keep the
    mapping's order. The caller writes back the numbers that changed.
    """
    ordered = sorted(starts.items(), key=lambda item: item[1])
    return {key: sequence for sequence, (key, _start) in enumerate(ordered, start=1)}
