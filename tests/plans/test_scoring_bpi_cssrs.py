"""Scoring of the BPI short form and the C-SSRS screener (plans/rules/scoring/): pure."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modalities.vocab import Instrument
from plans.rules.scoring import (
    ALERT_CSSRS_HIGH_RISK,
    INSTRUMENT_RANGES,
    REQUIRED,
    SKIPPED_WHEN_Q2_NO,
    SKIPPED_WHEN_Q6_NO,
    TOO_FEW_INTERFERENCE,
    score,
)
from tests.plans.scoring_oracles import (
    BPI_INTERFERENCE,
    BPI_SEVERITY,
    BPI_SUM_ORACLE,
    corrupted_int_answers,
    int_answers,
    oracle_band,
    scoring_error_fields,
)

# --- BPI short form --------------------------------------------------------------------------


@given(
    severity=int_answers(BPI_SEVERITY, 0, 10),
    answered=st.sets(st.sampled_from(BPI_INTERFERENCE), min_size=4),
    data=st.data(),
)
def test_bpi_total_is_severity_mean_with_at_least_four_interference_items(severity, answered, data):
    # Given all four severity items and 4–7 interference items
    interference = {item: data.draw(st.integers(0, 10)) for item in answered}
    # When scored
    result = score(Instrument.BPI_SF, severity | interference)
    # Then total = severity mean, band from the severity-sum oracle, subscores are both means
    severity_sum = sum(severity.values())
    assert result.total == severity_sum / 4
    assert result.band == oracle_band(BPI_SUM_ORACLE, severity_sum)
    assert result.subscores["severity"] == severity_sum / 4
    assert result.subscores["interference"] == pytest.approx(
        sum(interference.values()) / len(interference)
    )


@given(
    severity=int_answers(BPI_SEVERITY, 0, 10),
    answered=st.sets(st.sampled_from(BPI_INTERFERENCE), max_size=3),
)
def test_bpi_fewer_than_four_interference_items_names_the_unanswered_ones(severity, answered):
    # Given complete severity but only 0–3 interference items
    answers = severity | dict.fromkeys(answered, 5)
    # When scored
    fields = scoring_error_fields(Instrument.BPI_SF, answers)
    # Then every unanswered interference item is named (and nothing else)
    assert fields == dict.fromkeys(set(BPI_INTERFERENCE) - answered, TOO_FEW_INTERFERENCE)


def test_bpi_interference_answered_out_of_range_is_named_not_the_unanswered():
    # Given three good interference answers and a fourth out of range
    answers = dict.fromkeys(BPI_SEVERITY, 3) | dict.fromkeys(BPI_INTERFERENCE[:3], 2)
    answers["relations"] = 11
    # When scored
    fields = scoring_error_fields(Instrument.BPI_SF, answers)
    # Then only the bad answer is named: four items were answered
    assert set(fields) == {"relations"}


def test_bpi_null_interference_counts_as_unanswered():
    # Given four interference answers plus three explicit nulls
    answers = (
        dict.fromkeys(BPI_SEVERITY, 3)
        | dict.fromkeys(BPI_INTERFERENCE[:4], 4)
        | dict.fromkeys(BPI_INTERFERENCE[4:], None)
    )
    # When scored, Then it is valid and the interference mean uses the four answers
    assert score(Instrument.BPI_SF, answers).subscores["interference"] == 4


@given(corrupted_int_answers(BPI_SEVERITY, 0, 10, known=tuple(BPI_INTERFERENCE)))
def test_bpi_invalid_severity_items_are_named_exactly(case):
    # Given broken severity items (all four are required) and all interference items answered
    answers, bad = case
    answers |= dict.fromkeys(BPI_INTERFERENCE, 1)
    # When scored, Then exactly the broken severity items / unknown keys are named
    assert set(scoring_error_fields(Instrument.BPI_SF, answers)) == bad


@pytest.mark.parametrize(
    ("severity", "mean", "band"),
    [
        ((4, 4, 4, 4), 4.0, "mild"),
        ((5, 4, 4, 4), 4.25, "mild"),
        ((5, 5, 4, 4), 4.5, "moderate"),  # rounded half up to 5
        ((6, 6, 6, 7), 6.25, "moderate"),
        ((7, 7, 6, 6), 6.5, "severe"),
        ((0, 0, 0, 0), 0.0, "mild"),
        ((10, 10, 10, 10), 10.0, "severe"),
    ],
)
def test_bpi_fractional_severity_mean_is_rounded_half_up_for_the_band(severity, mean, band):
    # Given severity answers whose mean falls between the source's integer bands
    answers = dict(zip(BPI_SEVERITY, severity, strict=True)) | dict.fromkeys(BPI_INTERFERENCE, 0)
    # When scored
    result = score(Instrument.BPI_SF, answers)
    # Then the mean is kept exactly and the band uses the mean rounded half up
    assert (result.total, result.band) == (mean, band)


# --- C-SSRS screener -------------------------------------------------------------------------


def cssrs(**answers: bool) -> dict[str, bool]:
    return answers


@pytest.mark.parametrize(
    ("answers", "risk"),
    [
        (cssrs(q1=False, q2=False, q6=False), "none"),
        (cssrs(q1=True, q2=False, q6=False), "low"),
        (cssrs(q1=False, q2=True, q3=False, q4=False, q5=False, q6=False), "low"),
        (cssrs(q1=True, q2=True, q3=True, q4=False, q5=False, q6=False), "moderate"),
        (cssrs(q1=True, q2=True, q3=False, q4=True, q5=False, q6=False), "high"),
        (cssrs(q1=True, q2=True, q3=True, q4=False, q5=True, q6=False), "high"),
        (cssrs(q1=False, q2=False, q6=True, q6_within_3_months=False), "moderate"),
        (cssrs(q1=False, q2=False, q6=True, q6_within_3_months=True), "high"),
        # q2 = no: q3–q5 may be sent as false instead of omitted
        (cssrs(q1=True, q2=False, q3=False, q4=False, q5=False, q6=False), "low"),
        (cssrs(q1=False, q2=False, q6=False, q6_within_3_months=False), "none"),
    ],
)
def test_cssrs_risk_follows_triage_rules(answers, risk):
    # Given a valid screener
    # When scored
    result = score(Instrument.CSSRS_SCREENER, answers)
    # Then the risk (and band) follow the triage rules; only high risk raises the alert
    assert result.risk == risk
    assert result.band == risk
    assert result.safety_alert is (risk == "high")
    assert result.alert_reason == (ALERT_CSSRS_HIGH_RISK if risk == "high" else None)


def valid_cssrs_answer_sets():
    """Every answer set the skip logic allows (absent and false are both offered)."""
    for q1, q2, q6 in itertools.product([False, True], repeat=3):
        middles = (
            [
                dict(zip(("q3", "q4", "q5"), v, strict=True))
                for v in itertools.product(*[[0, 1]] * 3)
            ]
            if q2
            else [{}, dict.fromkeys(("q3", "q4", "q5"), False)]
        )
        within = [{"q6_within_3_months": w} for w in (False, True)] if q6 else [{}]
        for middle, tail in itertools.product(middles, within):
            yield {"q1": q1, "q2": q2, "q6": q6} | {k: bool(v) for k, v in middle.items()} | tail


def test_cssrs_every_valid_answer_set_scores_to_the_oracle_risk():
    # Given every answer set the skip logic allows
    for answers in valid_cssrs_answer_sets():
        # When scored
        result = score(Instrument.CSSRS_SCREENER, answers)
        # Then the risk matches the triage rules re-stated here
        yes = {k for k, v in answers.items() if v}
        if yes & {"q4", "q5"} or {"q6", "q6_within_3_months"} <= yes:
            expected = "high"
        elif yes & {"q3", "q6"}:
            expected = "moderate"
        elif yes & {"q1", "q2"}:
            expected = "low"
        else:
            expected = "none"
        assert result.risk == expected, answers
        assert INSTRUMENT_RANGES[Instrument.CSSRS_SCREENER][0] <= result.total
        assert result.total <= INSTRUMENT_RANGES[Instrument.CSSRS_SCREENER][1]


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        # Q1–Q2 always required, Q6 always required
        ({}, {"q1": REQUIRED, "q2": REQUIRED, "q6": REQUIRED}),
        # q2 = yes → q3–q5 required
        (cssrs(q1=True, q2=True, q6=False), dict.fromkeys(("q3", "q4", "q5"), REQUIRED)),
        # q2 = no → q3–q5 must be absent or false
        (cssrs(q1=True, q2=False, q4=True, q6=False), {"q4": SKIPPED_WHEN_Q2_NO}),
        # q6 = yes → within-3-months required
        (cssrs(q1=False, q2=False, q6=True), {"q6_within_3_months": REQUIRED}),
        # q6 = no → within-3-months must be absent or false
        (
            cssrs(q1=False, q2=False, q6=False, q6_within_3_months=True),
            {"q6_within_3_months": SKIPPED_WHEN_Q6_NO},
        ),
    ],
)
def test_cssrs_skip_logic_violations_name_the_items(answers, expected):
    # Given a screener breaking the skip logic
    # When scored, Then ScoringError names the items with the skip-logic message
    assert scoring_error_fields(Instrument.CSSRS_SCREENER, answers) == expected


@pytest.mark.parametrize("bad_value", [1, 0, "yes", "true", None, 1.0])
def test_cssrs_non_boolean_answers_are_refused(bad_value):
    # Given q1 answered with something other than a boolean (null = missing)
    answers = cssrs(q2=False, q6=False) | {"q1": bad_value}
    # When scored, Then q1 alone is named
    assert set(scoring_error_fields(Instrument.CSSRS_SCREENER, answers)) == {"q1"}


def test_cssrs_invalid_q2_checks_only_the_type_of_q3_to_q5():
    # Given q2 invalid (so the branch is unknown), q3 a string, q4 missing, q5 true, extra key
    answers = {"q1": True, "q2": "yes", "q3": "no", "q5": True, "q6": False, "q7": False}
    # When scored
    fields = scoring_error_fields(Instrument.CSSRS_SCREENER, answers)
    # Then q2, q3 (type) and the unknown q7 are named; q4 absent and q5 true are not judged
    assert set(fields) == {"q2", "q3", "q7"}
