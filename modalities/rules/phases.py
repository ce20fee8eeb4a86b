"""Course phases as plain data: the shape shared by the protocol catalogue and course generation.

A protocol's schedule is a list of phases (DESIGN.md §3 'Protocol': weeks × sessions per week).
Course generation (``scheduling/rules/course/``) expands them into dated sessions; the
catalogue (``modalities/catalogue/*.yaml``) writes them. No Django import: pure data.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Pattern(StrEnum):
    WEEKDAYS = "weekdays"
    """``sessions_per_week`` sessions on the first clinic-open weekdays of each week
    (5/week = Mon–Fri; a 3/2/1 taper is three one-week phases of 3, 2 and 1)."""

    SPACED = "spaced"
    """Sessions spread through the week, never closer than ``min_gap_hours`` (twice weekly
    with a 48 h gap for SPRAVATO induction), or every ``interval_days`` days (7 = weekly,
    14 = fortnightly)."""

    ACCELERATED = "accelerated"
    """``sessions_per_day`` sessions a day with an intersession interval of ``interval_minutes``
    (the gap from the end of one session to the start of the next), on consecutive clinic days
    (SAINT: 10 a day, 50-minute intersession interval, 5 days — DOMAIN.md §1.2)."""


@dataclass(frozen=True, slots=True)
class Phase:
    name: str
    sessions: int
    pattern: Pattern
    sessions_per_week: int | None = None  # WEEKDAYS and SPACED-by-week
    min_gap_hours: int | None = None  # SPACED: minimum hours between two sessions
    interval_days: int | None = None  # SPACED: one session every N days instead of per week
    sessions_per_day: int | None = None  # ACCELERATED
    interval_minutes: int | None = None  # ACCELERATED: gap between one end and the next start

    def __post_init__(self) -> None:
        if self.sessions < 1:
            raise ValueError(f"phase {self.name!r}: sessions must be ≥ 1")
        if self.pattern == Pattern.WEEKDAYS and not (1 <= (self.sessions_per_week or 0) <= 5):
            raise ValueError(f"phase {self.name!r}: weekdays needs 1–5 sessions_per_week")
        if self.pattern == Pattern.SPACED and not (self.sessions_per_week or self.interval_days):
            raise ValueError(
                f"phase {self.name!r}: spaced needs sessions_per_week or interval_days"
            )
        if self.pattern == Pattern.ACCELERATED and not (
            (self.sessions_per_day or 0) >= 1 and (self.interval_minutes or 0) >= 1
        ):
            raise ValueError(
                f"phase {self.name!r}: accelerated needs sessions_per_day and interval_minutes"
            )

    @classmethod
    def from_dict(cls, data: dict) -> Phase:
        return cls(**{**data, "pattern": Pattern(data["pattern"])})
