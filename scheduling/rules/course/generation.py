"""Course generation: the phases of a request laid out in a clinic calendar."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from modalities.rules.phases import Pattern, Phase
from scheduling.rules.course.calendar import (
    DEFAULT_HORIZON_DAYS,
    ONE_DAY,
    ClinicCalendar,
    CoursePlan,
    CourseRequest,
    Fitter,
    PlannedSlot,
    Problem,
    ProblemCode,
    local_date,
    min_gap,
    monday_of,
    spaced_steps,
)


class _Builder:
    def __init__(self, request: CourseRequest, calendar: ClinicCalendar, horizon_days: int):
        self.request = request
        self.fitter = Fitter(request, calendar)
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
            first_day, not_before = (
                monday_of(last.local_start.date()) + timedelta(weeks=1),
                last.end,
            )
        per_week = phase.sessions_per_week or 5
        week, placed, since = monday_of(first_day), 0, first_day
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
        steps, gap = spaced_steps(phase), min_gap(phase)
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
                nominal = local_date(start, self.zone)  # the rhythm follows the first session
        return True

    def accelerated(self, phase: Phase, count: int) -> bool:
        per_day = phase.sessions_per_day or 1
        gap = timedelta(minutes=phase.interval_minutes or 0)
        last = self.last
        day = self.request.starts_on if last is None else last.local_start.date() + ONE_DAY
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
            day += ONE_DAY
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
