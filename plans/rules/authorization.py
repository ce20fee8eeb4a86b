"""Prior-authorisation rules: which authorisation governs a session, units used, and the flags.

Pure functions over plain data (no database): ``plans.authorizations`` loads the facts in bulk,
the scanner (``plans.scanner.authorization``) turns the alerts into flags, and the scheduler
(``scheduling.services``) asks ``booking_problem`` before it books.

Rules (issue 11):

- a unit is one fulfilled mapping/treatment session whose clinic-local date lies in the
  authorisation's window [starts_on, ends_on]; units are derived from the sessions, never
  counted into a column, so an entered-in-error session gives its unit back by itself;
- payers authorise a session count over a date window (DOMAIN.md §1.6 "Session cap" [PAYER];
  §2.5 "Approval 6 months (TRD), 2 months (MDD-SI)" [PAYER]); booking beyond either needs an
  explicit override with a reason;
- warning thresholds — 80 % of the units used, 14 days before the end date — are not from a
  source (UNSOURCED, common practice of utilisation review): settings
  ``PRIOR_AUTH_UNITS_WARNING_PERCENT`` / ``PRIOR_AUTH_WARNING_DAYS``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

UNITS_WARNING_PERCENT = 80
EXPIRY_WARNING_DAYS = 14


@dataclass(frozen=True, slots=True)
class AuthorizationWindow:
    """An approved authorisation as the rules see it. ``None`` = not recorded (no limit)."""

    id: Any
    number: str
    units: int | None
    starts_on: dt.date | None
    ends_on: dt.date | None

    def covers(self, day: dt.date) -> bool:
        return (self.starts_on is None or self.starts_on <= day) and (
            self.ends_on is None or day <= self.ends_on
        )


@dataclass(frozen=True, slots=True)
class Usage:
    """Counts of one authorisation's window. ``held`` = booked + arrived + fulfilled."""

    window: AuthorizationWindow
    used: int
    held: int
    booked_after_end: int = 0
    next_booked: dt.date | None = None

    @property
    def remaining(self) -> int | None:
        return None if self.window.units is None else max(self.window.units - self.used, 0)

    @property
    def percent_used(self) -> int | None:
        units = self.window.units
        if not units:
            return None
        return (self.used * 100) // units


@dataclass(frozen=True, slots=True)
class Alert:
    code: str
    severity: str
    message: str
    detail: dict[str, Any] = field(default_factory=dict)


def governing(windows: Sequence[AuthorizationWindow], day: dt.date) -> AuthorizationWindow | None:
    """The approved authorisation covering ``day``: the one with the latest start when
    windows overlap (a re-authorisation supersedes the original)."""
    covering = [w for w in windows if w.covers(day)]
    if not covering:
        return None
    return max(covering, key=lambda w: (w.starts_on or dt.date.min, str(w.id)))


def usage_of(
    window: AuthorizationWindow,
    sessions: Iterable[tuple[dt.date, str]],
    *,
    today: dt.date,
) -> Usage:
    """``sessions``: (clinic-local date, status) of the component's mapping/treatment sessions
    that hold time (booked, arrived, fulfilled)."""
    used = held = after = 0
    next_booked: dt.date | None = None
    for day, status in sessions:
        live = status in ("booked", "arrived")
        if live and day >= today and (next_booked is None or day < next_booked):
            next_booked = day
        if window.ends_on is not None and day > window.ends_on:
            after += live
            continue
        if not window.covers(day):
            continue
        held += 1
        used += status == "fulfilled"
    return Usage(window, used, held, after, next_booked)


@dataclass(frozen=True, slots=True)
class BookingProblem:
    reason: str  # "beyond_units" | "after_end_date" | "outside_window"
    message: str
    detail: dict[str, Any]


def booking_problem(
    windows: Sequence[AuthorizationWindow],
    *,
    day: dt.date,
    held_in_window: dict[Any, int],
) -> BookingProblem | None:
    """Why one more course session on ``day`` would go past the authorisation, or None.

    No approved authorisation at all → None (coverage is then a readiness question, not a
    booking limit). ``held_in_window``: sessions already holding time per window id.
    """
    if not windows:
        return None
    window = governing(windows, day)
    if window is None:
        last = max(windows, key=lambda w: w.ends_on or dt.date.max)
        after = last.ends_on is not None and day > last.ends_on
        return BookingProblem(
            "after_end_date" if after else "outside_window",
            f"The session on {day.isoformat()} falls outside the authorised dates"
            + (
                f" (authorisation {last.number} ends {last.ends_on.isoformat()})."
                if after and last.ends_on
                else "."
            ),
            {
                "authorization": last.id,
                "number": last.number,
                "day": day.isoformat(),
                "ends_on": last.ends_on.isoformat() if last.ends_on else None,
            },
        )
    held = held_in_window.get(window.id, 0)
    if window.units is not None and held >= window.units:
        return BookingProblem(
            "beyond_units",
            f"Authorisation {window.number} covers {window.units} sessions and {held} are "
            "already booked or held.",
            {
                "authorization": window.id,
                "number": window.number,
                "units": window.units,
                "held": held,
                "sequence": held + 1,
            },
        )
    return None


def alerts_for(
    usage: Usage,
    *,
    today: dt.date,
    units_warning_percent: int = UNITS_WARNING_PERCENT,
    expiry_warning_days: int = EXPIRY_WARNING_DAYS,
) -> list[Alert]:
    """The flags one authorisation calls for today (codes from ``plans.flag_codes``)."""
    w = usage.window
    out: list[Alert] = []
    base = {"authorization": w.id, "number": w.number, "units": w.units, "used": usage.used}
    if w.units and usage.used * 100 >= w.units * units_warning_percent:
        out.append(
            Alert(
                "prior_auth_units_low",
                "critical" if usage.used >= w.units else "warning",
                f"{usage.used} of {w.units} authorised sessions used ({usage.percent_used} %)"
                " — request re-authorisation.",
                {**base, "threshold_percent": units_warning_percent},
            )
        )
    beyond_count = w.units is not None and usage.held > w.units
    if beyond_count or usage.booked_after_end:
        out.append(
            Alert(
                "sessions_beyond_authorization",
                "warning",
                (
                    f"{usage.held} sessions booked or held; {w.units} authorised."
                    if beyond_count
                    else f"{usage.booked_after_end} session(s) booked after the authorisation ends "
                    f"({w.ends_on.isoformat() if w.ends_on else ''})."
                ),
                {**base, "held": usage.held, "booked_after_end": usage.booked_after_end},
            )
        )
    if w.ends_on is not None:
        days_left = (w.ends_on - today).days
        still_needed = usage.next_booked is not None or (usage.remaining or 0) > 0
        if (
            days_left <= expiry_warning_days
            and still_needed
            and (days_left >= 0 or usage.next_booked is not None)
        ):
            out.append(
                Alert(
                    "prior_auth_expiring",
                    "critical" if days_left < 0 else "warning",
                    f"Prior authorisation {w.number} "
                    + (
                        f"expired on {w.ends_on.isoformat()}"
                        if days_left < 0
                        else f"expires on {w.ends_on.isoformat()} ({days_left} days)"
                    )
                    + (" with sessions booked." if usage.next_booked else "."),
                    {**base, "ends_on": w.ends_on.isoformat(), "days_left": days_left},
                )
            )
    return out
