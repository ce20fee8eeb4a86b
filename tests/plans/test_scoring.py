"""Scoring of outcome instruments (plans/rules/scoring/) — pure, no database.

The band oracles below re-state DOMAIN.md §5.2 as explicit ranges, independently of the
module's tables, so a typo in either shows up as a failing property.
"""

from __future__ import annotations

import dataclasses
import itertools

import pytest
from hypothesis import given

from modalities.vocab import Instrument
from plans.rules.scoring import (
    ALERT_PHQ9_ITEM9,
    BAND_TABLES,
    INSTRUMENT_RANGES,
    REQUIRED,
    UNKNOWN_ITEM,
    ScoringError,
    score,
)
from tests.plans.scoring_oracles import (
    GAD7_ITEMS,
    GAD7_ORACLE,
    PAIN_NRS_ORACLE,
    PHQ9_ITEMS,
    PHQ9_ORACLE,
    corrupted_int_answers,
    int_answers,
    oracle_band,
    scoring_error_fields,
)

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
