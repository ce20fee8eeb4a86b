"""Scoring errors (field messages keyed by item) and the frozen results."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from modalities.vocab import Instrument

# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------

# Field messages are short and stable: the API shows them next to the item.
REQUIRED = "required"
NOT_INTEGER = "must be an integer"
NOT_NUMBER = "must be a number"
NOT_BOOLEAN = "must be true or false"
UNKNOWN_ITEM = "unknown item"
UNKNOWN_INSTRUMENT = "unknown instrument"
NOT_AN_OBJECT = "must be an object of item answers"
SKIPPED_WHEN_Q2_NO = "must be absent or false when q2 is false"
SKIPPED_WHEN_Q6_NO = "must be absent or false when q6 is false"
TOO_FEW_INTERFERENCE = "answer at least 4 of the 7 interference items"


def out_of_range(low: float, high: float) -> str:
    return f"must be between {low:g} and {high:g}"


class ScoringError(ValueError):
    """Answers (or totals) that cannot be scored; ``fields`` maps every bad key to a message.

    ``code`` is the stable error code for the API's domain-error handler (STYLE.md habit 5).
    """

    code = "invalid_answers"

    def __init__(self, fields: Mapping[str, str]) -> None:
        self.fields: dict[str, str] = dict(fields)
        super().__init__("; ".join(f"{k}: {v}" for k, v in sorted(self.fields.items())))


# ---------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------

RISK_NONE = "none"
RISK_LOW = "low"
RISK_MODERATE = "moderate"
RISK_HIGH = "high"

ALERT_PHQ9_ITEM9 = "phq9_item9"
ALERT_CSSRS_HIGH_RISK = "cssrs_high_risk"


@dataclass(frozen=True, slots=True)
class Score:
    instrument: Instrument
    total: float | int
    band: str
    risk: str | None = None  # C-SSRS only: 'none' | 'low' | 'moderate' | 'high'
    safety_alert: bool = False
    alert_reason: str | None = None  # 'phq9_item9' | 'cssrs_high_risk'
    subscores: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Change:
    """Current vs baseline total. ``change`` is current − baseline (negative = improvement);
    ``percent_change`` is 100 × change / baseline (a halving is −50.0)."""

    change: float | int | None
    percent_change: float | None  # None when the baseline is 0
    response: bool | None
    remission: bool | None
    meaningful: str | None  # pain only: 'substantial' | 'moderate' | 'minimal' | 'none'
