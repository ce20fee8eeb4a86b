"""Readiness rules: kind-specific evaluation data, and the property that adding evidence never
turns a satisfied item into a missing one (pure, real catalogue)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modalities.vocab import (
    EvaluationKind,
    Instrument,
    RequirementStatus,
)
from plans.rules.readiness import (
    EvaluationFact,
    MeasureFact,
    evaluation_data_errors,
)
from tests.plans.readiness_seed import (
    NOW,
    PSY,
    SAFETY_CLEARED,
    SPR,
    TMS,
    TODAY,
    TWO_FAILED_TRIALS,
    seed_evaluate,
)


@pytest.mark.parametrize(
    ("kind", "data", "expected_fields"),
    [
        (EvaluationKind.MOTOR_THRESHOLD, {"percent": 55, "method": "emg"}, set()),
        (EvaluationKind.MOTOR_THRESHOLD, {"percent": 0, "method": "guess"}, {"percent", "method"}),
        (EvaluationKind.TMS_SAFETY_SCREEN, SAFETY_CLEARED, set()),
        (
            EvaluationKind.TMS_SAFETY_SCREEN,
            {"answers": {"q1": True}, "decision": "maybe"},
            {f"answers.q{i}" for i in range(2, 16)} | {"decision", "physician"},
        ),
        (EvaluationKind.REMS_ENROLLMENT, {"enrolled_on": "2026-11-15"}, set()),
        (EvaluationKind.REMS_ENROLLMENT, {"enrolled_on": "yesterday"}, {"enrolled_on"}),
        (EvaluationKind.ANTIDEPRESSANT_TRIALS, TWO_FAILED_TRIALS, set()),
        (
            EvaluationKind.ANTIDEPRESSANT_TRIALS,
            {
                "trials": [
                    {
                        "drug": "x",
                        "drug_class": "ssri",
                        "max_dose_mg": -1,
                        "weeks": 6,
                        "outcome": "meh",
                    }
                ]
            },
            {"trials[0].max_dose_mg", "trials[0].outcome"},
        ),
        (EvaluationKind.BASELINE_BP, {"systolic": 128, "diastolic": 82}, set()),
        (EvaluationKind.BASELINE_BP, {"systolic": 80, "diastolic": 120}, {"diastolic"}),
        (EvaluationKind.BASELINE_BP, {"systolic": "high", "diastolic": 82}, {"systolic"}),
        (EvaluationKind.FINANCIAL_ACKNOWLEDGMENT, {"form": "good_faith_estimate"}, set()),
        (EvaluationKind.FINANCIAL_ACKNOWLEDGMENT, {"form": "napkin"}, {"form"}),
        (EvaluationKind.TRANSPORT_PLAN, {"note": "synthetic relative drives"}, set()),
        (EvaluationKind.TRANSPORT_PLAN, {"note": 3}, {"note"}),
    ],
)
def test_evaluation_data_errors(kind, data, expected_fields):
    assert set(evaluation_data_errors(kind, data)) == expected_fields


# ---------------------------------------------------------------------------------------------
# Property: adding evidence never turns a satisfied item into missing.
# ---------------------------------------------------------------------------------------------

_KINDS = [
    EvaluationKind.PSYCHIATRIC_EVALUATION,
    EvaluationKind.TMS_SAFETY_SCREEN,
    EvaluationKind.ANTIDEPRESSANT_TRIALS,
    EvaluationKind.PRIOR_AUTHORIZATION,
    EvaluationKind.FINANCIAL_ACKNOWLEDGMENT,
    EvaluationKind.REMS_ENROLLMENT,
]
_DATA = st.sampled_from(
    [
        {},
        SAFETY_CLEARED,
        {**SAFETY_CLEARED, "decision": "not_cleared"},
        TWO_FAILED_TRIALS,
        {"trials": TWO_FAILED_TRIALS["trials"][:1]},
        {"form": "good_faith_estimate"},
        {"form": "abn"},
    ]
)
_evaluations = st.builds(
    EvaluationFact,
    id=st.uuids().map(str),
    kind=st.sampled_from(_KINDS),
    component_id=st.sampled_from([None, TMS, SPR, PSY]),
    performed_at=st.integers(-5, 200).map(lambda d: NOW - dt.timedelta(days=d)),
    valid_until=st.none() | st.integers(-30, 30).map(lambda d: TODAY + dt.timedelta(days=d)),
    data=_DATA,
)
_measures = st.builds(
    MeasureFact,
    id=st.uuids().map(str),
    instrument=st.sampled_from([Instrument.PHQ9, Instrument.PAIN_NRS]),
    taken_at=st.integers(-5, 60).map(lambda d: NOW - dt.timedelta(days=d)),
    is_baseline=st.booleans(),
    total=st.integers(0, 27),
)


@settings(max_examples=150, deadline=None)
@given(
    base_e=st.lists(_evaluations, max_size=8),
    extra_e=st.lists(_evaluations, max_size=8),
    base_m=st.lists(_measures, max_size=4),
    extra_m=st.lists(_measures, max_size=4),
)
def test_adding_evidence_never_unsatisfies(base_e, extra_e, base_m, extra_m):
    before = seed_evaluate(base_e, base_m)
    after = seed_evaluate(base_e + extra_e, base_m + extra_m)
    for comp_before in before.components:
        comp_after = after.component(comp_before.component_id)
        for item in comp_before.items:
            if item.status == RequirementStatus.SATISFIED:
                assert comp_after.item(item.key).status == RequirementStatus.SATISFIED
        if comp_before.ready_to_start:
            assert comp_after.ready_to_start
