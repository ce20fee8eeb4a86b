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

Modules: ``calendar`` (data types, fitting a slot into opening hours), ``generation``
(``generate_course``), ``makeups`` (``make_up_slot``, ``renumber``). Import from
``scheduling.rules.course``: the names below are the package's API.
"""

from __future__ import annotations

from scheduling.rules.course.calendar import (
    DEFAULT_HORIZON_DAYS,
    ClinicCalendar,
    CoursePlan,
    CourseRequest,
    MakeUp,
    PlannedSlot,
    Problem,
    ProblemCode,
)
from scheduling.rules.course.generation import generate_course
from scheduling.rules.course.makeups import make_up_slot, renumber

__all__ = [
    "DEFAULT_HORIZON_DAYS",
    "ClinicCalendar",
    "CoursePlan",
    "CourseRequest",
    "MakeUp",
    "PlannedSlot",
    "Problem",
    "ProblemCode",
    "generate_course",
    "make_up_slot",
    "renumber",
]
