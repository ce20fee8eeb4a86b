"""Plausibility bounds of the vital signs and doses clinicians record, defined once (pure).

Readiness (``plans.rules.readiness``: the ``baseline_bp`` evaluation) and session completion
(``scheduling.rules.completion``: SPRAVATO BP before / ~40 min / discharge, ketamine vitals, TMS
% of motor threshold) read these; neither carries its own copy. They are data-entry guards
(a typo such as 1200 mmHg is refused), not treatment thresholds: DOMAIN.md §3 notes that no
formal BP "do not start" threshold is sourced, so the ranges are UNSOURCED (common clinical
practice) plausibility limits, kept here as one configurable default (DOMAIN.md conventions).
What is measured: BP before dosing and ~40 min after (DOMAIN.md §2.4 Vitals [LABEL]); BP, HR
and SpO2 around an infusion (DOMAIN.md §3 Monitoring [WEAK]); intensity as % of the resting
motor threshold, MT as % of stimulator output (DOMAIN.md §1.3).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeGuard


@dataclass(frozen=True, slots=True)
class Bounds:
    """An inclusive integer range of a recorded value, with its unit for messages."""

    low: int
    high: int
    unit: str

    def admits(self, value: Any) -> bool:
        """True for an integer (not a bool) inside [low, high]."""
        return is_int(value) and self.low <= value <= self.high

    @property
    def text(self) -> str:
        return f"{self.low}–{self.high}"


SYSTOLIC_MMHG = Bounds(50, 300, "mmHg")
DIASTOLIC_MMHG = Bounds(20, 200, "mmHg")
HEART_RATE_BPM = Bounds(20, 250, "beats/min")
SPO2_PERCENT = Bounds(50, 100, "%")
PERCENT_OF_MT = Bounds(1, 150, "% of motor threshold")  # treatment intensity, DOMAIN.md §1.3
MT_PERCENT_OUTPUT = Bounds(1, 100, "% of stimulator output")  # the MT itself, DOMAIN.md §1.3


def is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def bp_field_errors(systolic: Any, diastolic: Any) -> dict[str, str]:
    """``{"systolic"|"diastolic": message}`` for an implausible blood pressure; ``{}`` when
    both are integers inside their bounds and the diastolic is below the systolic."""
    errors: dict[str, str] = {}
    if not SYSTOLIC_MMHG.admits(systolic):
        errors["systolic"] = f"an integer mmHg, {SYSTOLIC_MMHG.text}"
    if not DIASTOLIC_MMHG.admits(diastolic):
        errors["diastolic"] = f"an integer mmHg, {DIASTOLIC_MMHG.text}"
    if not errors and diastolic >= systolic:
        errors["diastolic"] = "must be lower than systolic"
    return errors


BP_RULE_TEXT = (
    f"systolic {SYSTOLIC_MMHG.text} and diastolic {DIASTOLIC_MMHG.text} mmHg, "
    "diastolic below systolic"
)
"""The whole BP rule in one sentence, for a field that holds one {systolic, diastolic} reading."""
