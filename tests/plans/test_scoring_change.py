"""Change from baseline: response, remission, meaningful change (plans/rules/scoring/)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modalities.vocab import Instrument
from plans.rules.scoring import (
    Change,
    ScoringError,
    compare_to_baseline,
)

# --- Change from baseline --------------------------------------------------------------------


@given(baseline=st.integers(1, 27), current=st.integers(0, 27))
def test_phq9_response_is_at_least_half_and_remission_below_five(baseline, current):
    # Given any PHQ-9 baseline > 0 and current total
    # When compared
    change = compare_to_baseline(Instrument.PHQ9, baseline, current)
    # Then response ⇔ reduction ≥ 50 % (integer form: 2·(b − c) ≥ b), remission ⇔ c < 5
    assert change.response is (2 * (baseline - current) >= baseline)
    assert change.remission is (current < 5)
    assert change.change == current - baseline
    assert change.percent_change == pytest.approx(100 * (current - baseline) / baseline)
    assert change.meaningful is None


def test_phq9_exactly_50_percent_reduction_is_a_response():
    # Given baseline 20, current 10 (exactly −50 %)
    # When compared
    change = compare_to_baseline(Instrument.PHQ9, 20, 10)
    # Then it is a response but not a remission
    assert change == Change(
        change=-10, percent_change=-50.0, response=True, remission=False, meaningful=None
    )


@pytest.mark.parametrize(
    ("baseline", "current"),
    [
        (10, 5.01),  # −49.9 %
        (27, 14),  # −48.1 %: the nearest integer totals get to 50 % from below
    ],
)
def test_phq9_just_under_50_percent_reduction_is_not_a_response(baseline, current):
    # Given a reduction just short of 50 %
    # When compared
    change = compare_to_baseline(Instrument.PHQ9, baseline, current)
    # Then it is not a response
    assert change.response is False


def test_phq9_baseline_zero_gives_no_percent_and_no_response():
    # Given a baseline of 0
    # When compared with a current total of 3
    change = compare_to_baseline(Instrument.PHQ9, 0, 3)
    # Then nothing relative is judged, remission still is
    assert change.percent_change is None
    assert change.response is None
    assert change.remission is True
    assert change.change == 3


@pytest.mark.parametrize(("current", "remission"), [(4, True), (5, False)])
def test_gad7_remission_cut_off_is_below_five(current, remission):
    # Given a GAD-7 baseline 15
    # When the current total is at the remission boundary
    change = compare_to_baseline(Instrument.GAD7, 15, current)
    # Then remission is strictly below 5, and a ≥ 50 % drop is a response
    assert change.remission is remission
    assert change.response is True


@given(baseline=st.integers(1, 10), current=st.integers(0, 10))
def test_pain_nrs_immpact_categories_and_30_percent_response(baseline, current):
    # Given any pain NRS baseline > 0 and current score
    # When compared
    change = compare_to_baseline(Instrument.PAIN_NRS, baseline, current)
    # Then IMMPACT categories hold (integer form: 100·(b − c) ≥ k·b) and response ⇔ ≥ 30 %
    drop = 100 * (baseline - current)
    if drop >= 50 * baseline:
        expected = "substantial"
    elif drop >= 30 * baseline:
        expected = "moderate"
    elif drop >= 10 * baseline:
        expected = "minimal"
    else:
        expected = "none"
    assert change.meaningful == expected
    assert change.response is (drop >= 30 * baseline)
    assert change.remission is None


@pytest.mark.parametrize(
    ("current", "meaningful", "response"),
    [
        (5.0, "substantial", True),  # −50 %
        (5.01, "moderate", True),  # −49.9 %
        (7.0, "moderate", True),  # −30 %
        (7.01, "minimal", False),  # −29.9 %
        (9.0, "minimal", False),  # −10 %
        (9.01, "none", False),  # −9.9 %
        (10.0, "none", False),  # no change
    ],
)
def test_bpi_immpact_boundaries(current, meaningful, response):
    # Given a BPI severity baseline of 10
    # When compared with a current severity mean at an IMMPACT boundary
    change = compare_to_baseline(Instrument.BPI_SF, 10.0, current)
    # Then the category and the 30 % response flip exactly at the boundary
    assert (change.meaningful, change.response) == (meaningful, response)


def test_bpi_baseline_zero_has_no_meaningful_category():
    # Given a BPI severity baseline of 0
    # When compared
    change = compare_to_baseline(Instrument.BPI_SF, 0, 2.5)
    # Then no relative judgement is made
    assert (change.percent_change, change.response, change.meaningful) == (None, None, None)


def test_cssrs_has_no_baseline_comparison():
    # Given a C-SSRS "total" (risk ordinal)
    # When compared, Then every field is None
    assert compare_to_baseline(Instrument.CSSRS_SCREENER, 3, 0) == Change(
        change=None, percent_change=None, response=None, remission=None, meaningful=None
    )


@pytest.mark.parametrize(
    ("baseline", "current", "bad"),
    [
        (28, 10, {"baseline_total"}),
        (10, -1, {"current_total"}),
        (True, 10, {"baseline_total"}),
        ("10", "5", {"baseline_total", "current_total"}),
        (float("nan"), 5, {"baseline_total"}),
    ],
)
def test_compare_refuses_totals_outside_the_instrument_range(baseline, current, bad):
    # Given totals a PHQ-9 cannot have
    # When compared, Then ScoringError names them
    with pytest.raises(ScoringError) as caught:
        compare_to_baseline(Instrument.PHQ9, baseline, current)
    assert set(caught.value.fields) == bad
