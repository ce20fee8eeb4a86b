"""Scoring of outcome instruments: totals, bands, safety alerts and change from baseline.

Pure rules over plain data (STYLE.md habit 9): no Django import, so the same code scores a
measure in a service, a data migration or a test. Every threshold lives in a data table below
with the DOMAIN.md §5.2 row it comes from; rules marked [WEAK] or UNSOURCED there are
configurable defaults — callers pass their own table through the ``bands=`` / ``rules=``
keywords (e.g. from Django settings) instead of editing literals.

Answers are validated strictly, because the API turns :class:`ScoringError` into a 400 whose
field errors are keyed by item name: every bad item is reported at once, booleans are not
integers, integers are not booleans, and ``None`` counts as "not answered".
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

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


def _out_of_range(low: float, high: float) -> str:
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


# ---------------------------------------------------------------------------------------------
# Data tables (DOMAIN.md §5.2)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BandTable:
    """Bands as printed in the source: ``(low, high, name)``, both ends inclusive, integers.

    A fractional total (the BPI severity mean) is rounded half up to an integer first: the
    source's bands leave gaps such as 4 < x < 5, and rounding splits each gap in the middle.
    """

    bands: tuple[tuple[int, int, str], ...]
    source: str

    def __post_init__(self) -> None:
        expected_low = self.bands[0][0]
        for low, high, name in self.bands:
            if low != expected_low or high < low:
                raise ValueError(f"band {name!r} is not contiguous with the one before it")
            expected_low = high + 1

    @property
    def range(self) -> tuple[int, int]:
        return self.bands[0][0], self.bands[-1][1]

    def band_for(self, total: float | int) -> str:
        rounded = math.floor(Fraction(total) + Fraction(1, 2))
        for low, high, name in self.bands:
            if low <= rounded <= high:
                return name
        raise ValueError(f"total {total} is outside {self.range}")


PHQ9_BANDS = BandTable(
    bands=(
        (0, 4, "minimal"),
        (5, 9, "mild"),
        (10, 14, "moderate"),
        (15, 19, "moderately_severe"),
        (20, 27, "severe"),
    ),
    source="DOMAIN.md §5.2 PHQ-9 row: Kroenke 2001 [GUIDE]",
)
GAD7_BANDS = BandTable(
    bands=((0, 4, "minimal"), (5, 9, "mild"), (10, 14, "moderate"), (15, 21, "severe")),
    source="DOMAIN.md §5.2 GAD-7 row: Spitzer 2006 [GUIDE]",
)
# [WEAK] in DOMAIN.md — a configurable default. The alternative empirical scheme (Front Psychol
# 2016, 10.3389/fpsyg.2016.01466: ≤5 mild, 6–7 moderate, ≥8 severe) can be passed as ``bands=``.
PAIN_NRS_BANDS = BandTable(
    bands=((0, 0, "none"), (1, 3, "mild"), (4, 6, "moderate"), (7, 10, "severe")),
    source="DOMAIN.md §5.2 Pain NRS row: pharmacologicalsciences.us [WEAK]; 0 = none",
)
BPI_SEVERITY_BANDS = BandTable(
    bands=((0, 4, "mild"), (5, 6, "moderate"), (7, 10, "severe")),
    source="DOMAIN.md §5.2 Brief Pain Inventory row: ePPOC/AHSRI wiki [GUIDE]; on the mean",
)

BAND_TABLES: Mapping[Instrument, BandTable] = {
    Instrument.PHQ9: PHQ9_BANDS,
    Instrument.GAD7: GAD7_BANDS,
    Instrument.PAIN_NRS: PAIN_NRS_BANDS,
    Instrument.BPI_SF: BPI_SEVERITY_BANDS,
}

# C-SSRS has no total in the source; for charts its total is the risk level as an ordinal.
CSSRS_RISK_LEVELS: Mapping[str, int] = {RISK_NONE: 0, RISK_LOW: 1, RISK_MODERATE: 2, RISK_HIGH: 3}

INSTRUMENT_RANGES: Mapping[Instrument, tuple[int, int]] = {
    **{instrument: table.range for instrument, table in BAND_TABLES.items()},
    Instrument.CSSRS_SCREENER: (0, 3),
}


@dataclass(frozen=True, slots=True)
class ChangeRule:
    """How change from baseline is judged. Reductions are fractions of the baseline."""

    source: str
    response_reduction: Fraction | None = None
    remission_below: int | None = None
    # Descending (reduction, label); a reduction below the last one is 'none'.
    meaningful: tuple[tuple[Fraction, str], ...] | None = None


# IMMPACT 0–10 pain-scale change categories.
_IMMPACT = (
    (Fraction(50, 100), "substantial"),
    (Fraction(30, 100), "moderate"),
    (Fraction(10, 100), "minimal"),
)

CHANGE_RULES: Mapping[Instrument, ChangeRule] = {
    Instrument.PHQ9: ChangeRule(
        response_reduction=Fraction(50, 100),
        remission_below=5,
        source="DOMAIN.md §5.2 PHQ-9 response/remission row: Psychiatric Services 2019; NCQA",
    ),
    Instrument.GAD7: ChangeRule(
        # Configurable defaults: DOMAIN.md §5.2 gives GAD-7 bands only; both cut-offs are
        # UNSOURCED (common clinical practice), mirroring the PHQ-9 response/remission row.
        response_reduction=Fraction(50, 100),
        remission_below=5,
        source="UNSOURCED (common clinical practice), by analogy with the PHQ-9 row",
    ),
    Instrument.PAIN_NRS: ChangeRule(
        response_reduction=Fraction(30, 100),
        meaningful=_IMMPACT,
        source="DOMAIN.md §5.2 Brief Pain Inventory row (IMMPACT, 0–10 pain scales); Klein 2015",
    ),
    Instrument.BPI_SF: ChangeRule(
        response_reduction=Fraction(30, 100),
        meaningful=_IMMPACT,
        source="DOMAIN.md §5.2 Brief Pain Inventory row (IMMPACT, 0–10 pain scales); Klein 2015",
    ),
}

# ---------------------------------------------------------------------------------------------
# Item validation
# ---------------------------------------------------------------------------------------------

PHQ9_ITEMS = tuple(f"q{i}" for i in range(1, 10))
GAD7_ITEMS = tuple(f"q{i}" for i in range(1, 8))
PAIN_NRS_ITEMS = ("score",)
BPI_SEVERITY_ITEMS = ("worst", "least", "average", "now")
BPI_INTERFERENCE_ITEMS = (
    "general_activity",
    "mood",
    "walking",
    "work",
    "relations",
    "sleep",
    "enjoyment",
)
BPI_MIN_INTERFERENCE = 4  # DOMAIN.md §5.2 BPI row: ≥4 of 7 answered
CSSRS_ITEMS = ("q1", "q2", "q3", "q4", "q5", "q6", "q6_within_3_months")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_int(value: Any, low: int, high: int) -> str | None:
    if not _is_int(value):
        return NOT_INTEGER
    if not low <= value <= high:
        return _out_of_range(low, high)
    return None


def _unknown(answers: Mapping[Any, Any], known: tuple[str, ...]) -> dict[str, str]:
    return {str(key): UNKNOWN_ITEM for key in answers if key not in known}


def _int_items(
    answers: Mapping[str, Any], items: tuple[str, ...], low: int, high: int
) -> tuple[dict[str, int], dict[str, str]]:
    """All ``items`` required, each an integer in [low, high]. Unknown keys are not checked."""
    values: dict[str, int] = {}
    errors: dict[str, str] = {}
    for item in items:
        value = answers.get(item)
        if value is None:
            errors[item] = REQUIRED
        elif problem := _check_int(value, low, high):
            errors[item] = problem
        else:
            values[item] = value
    return values, errors


# ---------------------------------------------------------------------------------------------
# Instruments
# ---------------------------------------------------------------------------------------------


def _score_phq9(answers: Mapping[str, Any], bands: Mapping[Instrument, BandTable]) -> Score:
    """PHQ-9: 9 items × 0–3, total 0–27 (DOMAIN.md §5.2 PHQ-9 row, Kroenke 2001).

    Any item 9 answer above 0 raises a safety alert regardless of the total (DOMAIN.md §5.2
    'PHQ-9 item 9' row: same-visit clinical follow-up).
    """
    values, errors = _int_items(answers, PHQ9_ITEMS, 0, 3)
    errors.update(_unknown(answers, PHQ9_ITEMS))
    if errors:
        raise ScoringError(errors)
    total = sum(values.values())
    item9 = values["q9"] > 0
    return Score(
        instrument=Instrument.PHQ9,
        total=total,
        band=bands[Instrument.PHQ9].band_for(total),
        safety_alert=item9,
        alert_reason=ALERT_PHQ9_ITEM9 if item9 else None,
    )


def _score_gad7(answers: Mapping[str, Any], bands: Mapping[Instrument, BandTable]) -> Score:
    """GAD-7: 7 items × 0–3, total 0–21 (DOMAIN.md §5.2 GAD-7 row, Spitzer 2006)."""
    values, errors = _int_items(answers, GAD7_ITEMS, 0, 3)
    errors.update(_unknown(answers, GAD7_ITEMS))
    if errors:
        raise ScoringError(errors)
    total = sum(values.values())
    return Score(
        instrument=Instrument.GAD7, total=total, band=bands[Instrument.GAD7].band_for(total)
    )


def _score_pain_nrs(answers: Mapping[str, Any], bands: Mapping[Instrument, BandTable]) -> Score:
    """Pain NRS: one integer 0–10 (DOMAIN.md §5.2 Pain NRS row)."""
    values, errors = _int_items(answers, PAIN_NRS_ITEMS, 0, 10)
    errors.update(_unknown(answers, PAIN_NRS_ITEMS))
    if errors:
        raise ScoringError(errors)
    total = values["score"]
    return Score(
        instrument=Instrument.PAIN_NRS,
        total=total,
        band=bands[Instrument.PAIN_NRS].band_for(total),
    )


def _score_bpi(answers: Mapping[str, Any], bands: Mapping[Instrument, BandTable]) -> Score:
    """Brief Pain Inventory short form (DOMAIN.md §5.2 Brief Pain Inventory row, ePPOC/AHSRI).

    Severity = mean of worst/least/average/now (all four required); interference = mean of the
    answered interference items, valid only when at least 4 of the 7 are answered. The total and
    the band are the severity mean.
    """
    severity, errors = _int_items(answers, BPI_SEVERITY_ITEMS, 0, 10)
    errors.update(_unknown(answers, BPI_SEVERITY_ITEMS + BPI_INTERFERENCE_ITEMS))
    interference: dict[str, int] = {}
    unanswered: list[str] = []
    for item in BPI_INTERFERENCE_ITEMS:
        value = answers.get(item)
        if value is None:
            unanswered.append(item)
        elif problem := _check_int(value, 0, 10):
            errors[item] = problem
        else:
            interference[item] = value
    # Items answered with a bad value are reported as such, not as missing; only when the valid
    # and invalid answers together still fall short do the unanswered items get an error.
    if len(BPI_INTERFERENCE_ITEMS) - len(unanswered) < BPI_MIN_INTERFERENCE:
        errors.update(dict.fromkeys(unanswered, TOO_FEW_INTERFERENCE))
    if errors:
        raise ScoringError(errors)
    severity_mean = sum(severity.values()) / len(severity)
    interference_mean = sum(interference.values()) / len(interference)
    return Score(
        instrument=Instrument.BPI_SF,
        total=severity_mean,
        band=bands[Instrument.BPI_SF].band_for(severity_mean),
        subscores={"severity": severity_mean, "interference": interference_mean},
    )


def _score_cssrs(answers: Mapping[str, Any], bands: Mapping[Instrument, BandTable]) -> Score:
    """C-SSRS screener, yes/no items with the screener's skip logic (DOMAIN.md §5.2 C-SSRS row,
    C-SSRS triage guidelines).

    Q1–Q2 always; Q3–Q5 only when Q2 is yes (otherwise absent or false); Q6 always; Q6's
    "within the past 3 months" when Q6 is yes (otherwise absent or false).
    Risk: Q4 or Q5 yes, or behaviour within 3 months → high (safety alert); Q3 yes or lifetime
    behaviour over 3 months ago → moderate; Q1/Q2 yes only → low; all no → none.
    The total is the risk level as an ordinal (``CSSRS_RISK_LEVELS``), for charts only.
    """
    errors = _unknown(answers, CSSRS_ITEMS)
    values: dict[str, bool] = {}

    def check(item: str, *, required: bool, false_only: str | None = None) -> None:
        value = answers.get(item)
        if value is None:
            if required:
                errors[item] = REQUIRED
        elif not isinstance(value, bool):
            errors[item] = NOT_BOOLEAN
        elif false_only and value:
            errors[item] = false_only
        else:
            values[item] = value

    check("q1", required=True)
    check("q2", required=True)
    check("q6", required=True)
    q2, q6 = values.get("q2"), values.get("q6")
    for item in ("q3", "q4", "q5"):
        # When q2 itself is invalid the branch is unknown: only the type of q3–q5 is checked.
        check(item, required=q2 is True, false_only=SKIPPED_WHEN_Q2_NO if q2 is False else None)
    check(
        "q6_within_3_months",
        required=q6 is True,
        false_only=SKIPPED_WHEN_Q6_NO if q6 is False else None,
    )
    if errors:
        raise ScoringError(errors)

    def yes(item: str) -> bool:
        return values.get(item, False)

    if yes("q4") or yes("q5") or (yes("q6") and yes("q6_within_3_months")):
        risk = RISK_HIGH
    elif yes("q3") or yes("q6"):
        risk = RISK_MODERATE
    elif yes("q1") or yes("q2"):
        risk = RISK_LOW
    else:
        risk = RISK_NONE
    high = risk == RISK_HIGH
    return Score(
        instrument=Instrument.CSSRS_SCREENER,
        total=CSSRS_RISK_LEVELS[risk],
        band=risk,
        risk=risk,
        safety_alert=high,
        alert_reason=ALERT_CSSRS_HIGH_RISK if high else None,
    )


_SCORERS = {
    Instrument.PHQ9: _score_phq9,
    Instrument.GAD7: _score_gad7,
    Instrument.PAIN_NRS: _score_pain_nrs,
    Instrument.BPI_SF: _score_bpi,
    Instrument.CSSRS_SCREENER: _score_cssrs,
}


def _instrument(instrument: Instrument | str) -> Instrument:
    try:
        return Instrument(instrument)
    except ValueError:
        raise ScoringError({"instrument": UNKNOWN_INSTRUMENT}) from None


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------


def score(
    instrument: Instrument | str,
    answers: dict[str, Any],
    *,
    bands: Mapping[Instrument, BandTable] = BAND_TABLES,
) -> Score:
    """Score one completed instrument: total, band, C-SSRS risk and safety alert.

    Raises :class:`ScoringError` naming every missing, unknown, mistyped or out-of-range item.
    ``bands`` overrides the default band tables (DOMAIN.md: [WEAK] rules are configurable).
    """
    kind = _instrument(instrument)
    if not isinstance(answers, Mapping):
        raise ScoringError({"answers": NOT_AN_OBJECT})
    return _SCORERS[kind](answers, bands)


def _check_total(value: Any, low: int, high: int) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return NOT_NUMBER
    if not low <= value <= high:
        return _out_of_range(low, high)
    return None


def compare_to_baseline(
    instrument: Instrument | str,
    baseline_total: float | int,
    current_total: float | int,
    *,
    rules: Mapping[Instrument, ChangeRule] = CHANGE_RULES,
) -> Change:
    """Judge the current total against the baseline total (both from :func:`score`).

    PHQ-9 / GAD-7: response = reduction of at least 50 % of the baseline; remission = current
    below 5 (DOMAIN.md §5.2 PHQ-9 response/remission row; the GAD-7 cut-off is a configurable
    default). Pain NRS / BPI (severity mean): IMMPACT categories — reduction ≥ 50 % substantial,
    ≥ 30 % moderate, ≥ 10 % minimal (DOMAIN.md §5.2 BPI row); response = reduction ≥ 30 %; no
    remission. C-SSRS: no comparison. With a baseline of 0 nothing relative can be judged, so
    ``percent_change``, ``response`` and ``meaningful`` are None (remission still applies).
    Percentages are compared exactly (fractions), so exactly 50 % counts as a response.
    """
    kind = _instrument(instrument)
    rule = rules.get(kind)
    if rule is None:
        return Change(
            change=None, percent_change=None, response=None, remission=None, meaningful=None
        )
    low, high = INSTRUMENT_RANGES[kind]
    errors = {
        name: problem
        for name, value in (("baseline_total", baseline_total), ("current_total", current_total))
        if (problem := _check_total(value, low, high))
    }
    if errors:
        raise ScoringError(errors)

    change = current_total - baseline_total
    remission = current_total < rule.remission_below if rule.remission_below is not None else None
    if baseline_total == 0:
        return Change(
            change=change, percent_change=None, response=None, remission=remission, meaningful=None
        )

    reduction = (Fraction(baseline_total) - Fraction(current_total)) / Fraction(baseline_total)
    response = reduction >= rule.response_reduction if rule.response_reduction is not None else None
    meaningful = None
    if rule.meaningful is not None:
        meaningful = next((label for cut, label in rule.meaningful if reduction >= cut), "none")
    return Change(
        change=change,
        percent_change=float(-reduction * 100),
        response=response,
        remission=remission,
        meaningful=meaningful,
    )
