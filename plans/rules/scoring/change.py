"""Change from baseline: response, remission, meaningful change (``compare_to_baseline``)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from modalities.vocab import Instrument
from plans.rules.scoring.instruments import as_instrument
from plans.rules.scoring.results import NOT_NUMBER, Change, ScoringError, out_of_range
from plans.rules.scoring.tables import CHANGE_RULES, INSTRUMENT_RANGES, ChangeRule


def _check_total(value: Any, low: int, high: int) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return NOT_NUMBER
    if not low <= value <= high:
        return out_of_range(low, high)
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
    kind = as_instrument(instrument)
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
