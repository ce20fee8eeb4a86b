"""Oracles (DOMAIN.md §5.2 written out by hand) and answer strategies of the scoring tests."""

from __future__ import annotations

import pytest
from hypothesis import strategies as st

from modalities.vocab import Instrument
from plans.rules.scoring import (
    ScoringError,
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
