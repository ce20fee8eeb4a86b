"""Scoring of outcome instruments (plans/rules/scoring.py) — pure, no database.

The band oracles below re-state DOMAIN.md §5.2 as explicit ranges, independently of the
module's tables, so a typo in either shows up as a failing property.
"""

from __future__ import annotations

import dataclasses
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modalities.vocab import Instrument
from plans.rules.scoring import (
    ALERT_CSSRS_HIGH_RISK,
    ALERT_PHQ9_ITEM9,
    BAND_TABLES,
    INSTRUMENT_RANGES,
    REQUIRED,
    SKIPPED_WHEN_Q2_NO,
    SKIPPED_WHEN_Q6_NO,
    TOO_FEW_INTERFERENCE,
    UNKNOWN_ITEM,
    Change,
    ScoringError,
    compare_to_baseline,
    score,
)

# --- Oracles: DOMAIN.md §5.2, written out by hand -------------------------------------------

PHQ9_ORACLE = (
    ("minimal", range(0, 5)),
    ("mild", range(5, 10)),
    ("moderate", range(10, 15)),
    ("moderately_severe", range(15, 20)),
    ("severe", range(20, 28)),
)
GAD7_ORACLE = (
    ("minimal", range(0, 5)),
    ("mild", range(5, 10)),
    ("moderate", range(10, 15)),
    ("severe", range(15, 22)),
)
PAIN_NRS_ORACLE = (
    ("none", range(0, 1)),
    ("mild", range(1, 4)),
    ("moderate", range(4, 7)),
    ("severe", range(7, 11)),
)
# BPI severity bands 0–4 / 5–6 / 7–10 on the mean of four items, the mean rounded half up.
# Stated on the SUM of the four items (mean = sum / 4): mean < 4.5 ⇔ sum ≤ 17; mean < 6.5 ⇔
# sum ≤ 25.
BPI_SUM_ORACLE = (
    ("mild", range(0, 18)),
    ("moderate", range(18, 26)),
    ("severe", range(26, 41)),
)


def oracle_band(oracle: tuple[tuple[str, range], ...], total: int) -> str:
    (band,) = [name for name, values in oracle if total in values]
    return band


PHQ9_ITEMS = [f"q{i}" for i in range(1, 10)]
GAD7_ITEMS = [f"q{i}" for i in range(1, 8)]
BPI_SEVERITY = ["worst", "least", "average", "now"]
BPI_INTERFERENCE = [
    "general_activity",
    "mood",
    "walking",
    "work",
    "relations",
    "sleep",
    "enjoyment",
]

# --- Strategies ------------------------------------------------------------------------------

_DROP = object()  # marker: remove the item from the answers


def int_answers(items: list[str], low: int, high: int) -> st.SearchStrategy[dict]:
    return st.fixed_dictionaries({item: st.integers(low, high) for item in items})


def bad_int_value(low: int, high: int) -> st.SearchStrategy[object]:
    return st.one_of(
        st.just(_DROP),
        st.none(),  # null = not answered
        st.integers(max_value=low - 1),
        st.integers(min_value=high + 1),
        st.booleans(),  # bool is an int subclass in Python; must still be refused
        st.text(max_size=3),
        st.sampled_from([str(low), str(high)]),  # numeric strings are still strings
        st.floats(allow_nan=True, allow_infinity=True),  # even 1.0 is not an integer answer
    )


@st.composite
def corrupted_int_answers(draw, items: list[str], low: int, high: int, known: tuple = ()):
    """Valid answers with some items broken and/or unknown items added; returns the bad keys.

    ``known`` lists other item names of the instrument, never drawn as unknown extras.
    """
    answers = draw(int_answers(items, low, high))
    broken = draw(st.sets(st.sampled_from(items)))
    extras = draw(
        st.sets(
            st.text(min_size=1, max_size=12).filter(lambda key: key not in (*items, *known)),
            min_size=0 if broken else 1,
            max_size=3,
        )
    )
    for item in broken:
        value = draw(bad_int_value(low, high))
        if value is _DROP:
            del answers[item]
        else:
            answers[item] = value
    for extra in extras:
        answers[extra] = draw(st.integers(low, high))
    return answers, broken | extras


def scoring_error_fields(instrument: Instrument, answers: dict) -> dict[str, str]:
    with pytest.raises(ScoringError) as caught:
        score(instrument, answers)
    return caught.value.fields


# --- PHQ-9 -----------------------------------------------------------------------------------


@given(int_answers(PHQ9_ITEMS, 0, 3))
def test_phq9_total_is_item_sum_and_band_matches_table(answers):
    # Given any complete PHQ-9 with every item 0–3
    # When it is scored
    result = score(Instrument.PHQ9, answers)
    # Then the total is the sum and the band is the DOMAIN §5.2 band for that sum
    assert result.total == sum(answers.values())
    assert result.band == oracle_band(PHQ9_ORACLE, result.total)
    assert result.risk is None
    assert result.subscores == {}


@given(int_answers(PHQ9_ITEMS, 0, 3))
def test_phq9_safety_alert_exactly_when_item9_positive(answers):
    # Given any complete PHQ-9
    # When it is scored
    result = score(Instrument.PHQ9, answers)
    # Then the alert follows item 9 alone, whatever the total
    assert result.safety_alert is (answers["q9"] > 0)
    assert result.alert_reason == (ALERT_PHQ9_ITEM9 if answers["q9"] > 0 else None)


def test_phq9_item9_positive_raises_safety_alert():
    # Given a PHQ-9 whose only non-zero answer is item 9 = 1 (total 1, band minimal)
    answers = dict.fromkeys(PHQ9_ITEMS, 0) | {"q9": 1}
    # When it is scored
    result = score(Instrument.PHQ9, answers)
    # Then the total is minimal but the safety alert is raised for item 9
    assert (result.total, result.band) == (1, "minimal")
    assert result.safety_alert is True
    assert result.alert_reason == "phq9_item9"


@pytest.mark.parametrize("total", range(0, 28))
def test_phq9_every_total_gets_the_table_band(total):
    # Given answers adding up to each possible total (items filled 3, 3, …, remainder)
    values = [min(3, max(0, total - 3 * i)) for i in range(9)]
    answers = dict(zip(PHQ9_ITEMS, values, strict=True))
    # When scored
    result = score("phq9", answers)
    # Then the band is the table's band for that total
    assert result.total == total
    assert result.band == oracle_band(PHQ9_ORACLE, total)


@given(corrupted_int_answers(PHQ9_ITEMS, 0, 3))
def test_phq9_invalid_answers_raise_scoring_error_naming_exactly_the_bad_items(case):
    # Given a PHQ-9 with missing, out-of-range, bool, string, float or unknown items
    answers, bad = case
    # When scored, Then ScoringError names exactly those items
    assert set(scoring_error_fields(Instrument.PHQ9, answers)) == bad


@pytest.mark.parametrize("flag", [True, False])
def test_phq9_boolean_answer_is_refused_although_bool_is_an_int(flag):
    # Given a PHQ-9 with q1 answered True/False (Python bools are ints 1/0)
    answers = dict.fromkeys(PHQ9_ITEMS, 0) | {"q1": flag}
    # When scored, Then q1 is named
    assert set(scoring_error_fields(Instrument.PHQ9, answers)) == {"q1"}


def test_phq9_error_messages_distinguish_missing_and_unknown():
    # Given a PHQ-9 missing q9 and carrying an extra q10
    answers = dict.fromkeys(PHQ9_ITEMS[:-1], 0) | {"q10": 0}
    # When scored
    fields = scoring_error_fields(Instrument.PHQ9, answers)
    # Then q9 is reported as required and q10 as unknown
    assert fields == {"q9": REQUIRED, "q10": UNKNOWN_ITEM}


# --- GAD-7 -----------------------------------------------------------------------------------


@given(int_answers(GAD7_ITEMS, 0, 3))
def test_gad7_total_is_item_sum_and_band_matches_table(answers):
    # Given any complete GAD-7
    # When it is scored
    result = score(Instrument.GAD7, answers)
    # Then the total is the sum, the band is the table's, and there is no safety alert
    assert result.total == sum(answers.values())
    assert result.band == oracle_band(GAD7_ORACLE, result.total)
    assert result.safety_alert is False
    assert result.alert_reason is None


def test_gad7_every_answer_set_matches_table_exhaustively():
    # Given every one of the 4**7 possible GAD-7 answer sets
    for values in itertools.product(range(4), repeat=7):
        # When each is scored, Then total and band match the oracle
        result = score(Instrument.GAD7, dict(zip(GAD7_ITEMS, values, strict=True)))
        assert result.total == sum(values)
        assert result.band == oracle_band(GAD7_ORACLE, sum(values))


@given(corrupted_int_answers(GAD7_ITEMS, 0, 3))
def test_gad7_invalid_answers_raise_scoring_error_naming_exactly_the_bad_items(case):
    # Given a GAD-7 with some bad items
    answers, bad = case
    # When scored, Then exactly those are named
    assert set(scoring_error_fields(Instrument.GAD7, answers)) == bad


def test_gad7_phq9_item_names_beyond_q7_are_unknown():
    # Given a GAD-7 submitted with PHQ-9's q8 and q9
    answers = dict.fromkeys(PHQ9_ITEMS, 1)
    # When scored, Then q8 and q9 are unknown items
    assert scoring_error_fields(Instrument.GAD7, answers) == {
        "q8": UNKNOWN_ITEM,
        "q9": UNKNOWN_ITEM,
    }


# --- Pain NRS --------------------------------------------------------------------------------


@pytest.mark.parametrize("value", range(0, 11))
def test_pain_nrs_total_is_score_and_band_matches_table(value):
    # Given a pain NRS answer
    # When scored
    result = score(Instrument.PAIN_NRS, {"score": value})
    # Then total is the answer and the band the table's
    assert result.total == value
    assert result.band == oracle_band(PAIN_NRS_ORACLE, value)


@given(corrupted_int_answers(["score"], 0, 10))
def test_pain_nrs_invalid_answers_raise_scoring_error_naming_exactly_the_bad_items(case):
    # Given a pain NRS with a bad score and/or unknown items
    answers, bad = case
    # When scored, Then exactly those are named
    assert set(scoring_error_fields(Instrument.PAIN_NRS, answers)) == bad


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


# --- Cross-instrument ------------------------------------------------------------------------


def test_unknown_instrument_is_a_scoring_error_on_the_instrument_field():
    # Given an instrument code that does not exist
    # When scored, Then the instrument field is named
    with pytest.raises(ScoringError) as caught:
        score("hamd17_typo", {"q1": 0})
    assert set(caught.value.fields) == {"instrument"}
    assert caught.value.code == "invalid_answers"


def test_answers_that_are_not_an_object_are_refused():
    # Given answers sent as a list
    # When scored, Then the error is on the answers field
    with pytest.raises(ScoringError) as caught:
        score(Instrument.PHQ9, [0] * 9)  # type: ignore[arg-type]
    assert set(caught.value.fields) == {"answers"}


def test_score_is_frozen():
    # Given a score
    result = score(Instrument.PAIN_NRS, {"score": 3})
    # When someone tries to change it, Then it refuses
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.total = 0  # type: ignore[misc]


def test_instrument_ranges_cover_every_instrument_and_match_the_band_tables():
    # Given the chart ranges and the band tables
    # Then every instrument has a range, and each band table spans exactly that range
    assert set(INSTRUMENT_RANGES) == set(Instrument)
    assert INSTRUMENT_RANGES[Instrument.PHQ9] == (0, 27)
    assert INSTRUMENT_RANGES[Instrument.GAD7] == (0, 21)
    assert INSTRUMENT_RANGES[Instrument.PAIN_NRS] == (0, 10)
    assert INSTRUMENT_RANGES[Instrument.BPI_SF] == (0, 10)
    for instrument, table in BAND_TABLES.items():
        assert table.range == INSTRUMENT_RANGES[instrument]
        assert table.source


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
