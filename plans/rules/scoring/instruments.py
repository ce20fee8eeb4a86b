"""Item validation and the per-instrument scorers; ``score`` dispatches to them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modalities.vocab import Instrument
from plans.rules.scoring.results import (
    ALERT_CSSRS_HIGH_RISK,
    ALERT_PHQ9_ITEM9,
    NOT_AN_OBJECT,
    NOT_BOOLEAN,
    NOT_INTEGER,
    REQUIRED,
    RISK_HIGH,
    RISK_LOW,
    RISK_MODERATE,
    RISK_NONE,
    SKIPPED_WHEN_Q2_NO,
    SKIPPED_WHEN_Q6_NO,
    TOO_FEW_INTERFERENCE,
    UNKNOWN_INSTRUMENT,
    UNKNOWN_ITEM,
    Score,
    ScoringError,
    out_of_range,
)
from plans.rules.scoring.tables import BAND_TABLES, CSSRS_RISK_LEVELS, BandTable

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


def is_answer_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_int(value: Any, low: int, high: int) -> str | None:
    if not is_answer_int(value):
        return NOT_INTEGER
    if not low <= value <= high:
        return out_of_range(low, high)
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


def as_instrument(instrument: Instrument | str) -> Instrument:
    try:
        return Instrument(instrument)
    except ValueError:
        raise ScoringError({"instrument": UNKNOWN_INSTRUMENT}) from None


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
    kind = as_instrument(instrument)
    if not isinstance(answers, Mapping):
        raise ScoringError({"answers": NOT_AN_OBJECT})
    return _SCORERS[kind](answers, bands)
