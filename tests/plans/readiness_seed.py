"""The seed scenario of the readiness-rule tests (DESIGN.md §1) over the real catalogue: its
components, what is missing with nothing recorded, and one recording per missing item."""

from __future__ import annotations

import datetime as dt

from modalities.catalogue import load_catalogue
from modalities.specs import find_protocol
from modalities.vocab import (
    EvaluationKind,
    Instrument,
    PayerType,
)
from plans.rules.readiness import (
    ClinicFacts,
    ComponentFacts,
    EvaluationFact,
    MeasureFact,
    evaluate_plan,
)

CATALOGUE = load_catalogue()
TODAY = dt.date(2026, 11, 16)
NOW = dt.datetime(2026, 11, 16, 9, 0, tzinfo=dt.UTC)
TMS, SPR, PSY = "c-tms", "c-spravato", "c-psych"


def seed_component(cid, code, indication, payer, prior_auth=None):
    protocol = find_protocol(CATALOGUE, code)
    ind = protocol.indication(indication)
    return ComponentFacts(cid, protocol, ind, ind.label_status, payer, prior_auth)


SEED = (
    seed_component(TMS, "tms_hf_lm1_fibromyalgia", "fibromyalgia", PayerType.SELF_PAY),
    seed_component(SPR, "spravato_trd", "trd", PayerType.COMMERCIAL),
    seed_component(PSY, "psychiatric_follow_up", "follow_up", PayerType.COMMERCIAL),
)

SEED_MISSING = {
    (TMS, "psychiatric_evaluation"),
    (TMS, "tms_safety_screen"),
    (TMS, "motor_threshold"),
    (TMS, "target_rationale"),
    (TMS, "off_label_consent"),
    (TMS, "financial_acknowledgment_gfe"),
    (TMS, "baseline_pain_nrs"),
    (SPR, "psychiatric_evaluation"),
    (SPR, "rems_enrollment"),
    (SPR, "spravato_contraindication_screen"),
    (SPR, "antidepressant_trials"),
    (SPR, "baseline_phq9"),
    (SPR, "transport_plan"),
    (SPR, "site_rems_certification"),
    (SPR, "prior_authorization"),
    (SPR, "pdmp_check"),
    (PSY, "psychiatric_evaluation"),
}

TWO_FAILED_TRIALS = {
    "trials": [
        {
            "drug": "drug-a",
            "drug_class": "ssri",
            "max_dose_mg": 20,
            "weeks": 8,
            "outcome": "inadequate_response",
        },
        {
            "drug": "drug-b",
            "drug_class": "snri",
            "max_dose_mg": 150,
            "weeks": 6,
            "outcome": "intolerance",
        },
    ]
}
SAFETY_CLEARED = {
    "answers": {f"q{i}": False for i in range(1, 16)},
    "decision": "cleared",
    "physician": "dr-synthetic-1",
}


def seed_ev(ident, kind, component_id=None, *, days_ago=1, data=None, valid_until=None):
    return EvaluationFact(
        ident, kind, component_id, NOW - dt.timedelta(days=days_ago), valid_until, data or {}
    )


def seed_baseline(ident, instrument, *, days_ago=1, is_baseline=True):
    return MeasureFact(ident, instrument, NOW - dt.timedelta(days=days_ago), is_baseline, 12)


# One recording per seed item: (evaluations, measures, clinic cert) → the items it must remove.
RECORDINGS = {
    "psychiatric_evaluation": (
        [seed_ev("e-psy", EvaluationKind.PSYCHIATRIC_EVALUATION)],
        [],
        None,
        {
            (TMS, "psychiatric_evaluation"),
            (SPR, "psychiatric_evaluation"),
            (PSY, "psychiatric_evaluation"),
        },
    ),
    "tms_safety_screen": (
        [seed_ev("e-ss", EvaluationKind.TMS_SAFETY_SCREEN, TMS, data=SAFETY_CLEARED)],
        [],
        None,
        {(TMS, "tms_safety_screen")},
    ),
    "motor_threshold": (
        [
            seed_ev(
                "e-mt", EvaluationKind.MOTOR_THRESHOLD, TMS, data={"percent": 55, "method": "emg"}
            )
        ],
        [],
        None,
        {(TMS, "motor_threshold")},
    ),
    "target_rationale": (
        [seed_ev("e-tr", EvaluationKind.TARGET_RATIONALE, TMS, data={"note": "left M1, QoL"})],
        [],
        None,
        {(TMS, "target_rationale")},
    ),
    "off_label_consent": (
        [seed_ev("e-olc", EvaluationKind.OFF_LABEL_CONSENT, TMS)],
        [],
        None,
        {(TMS, "off_label_consent")},
    ),
    "financial_acknowledgment_gfe": (
        [
            seed_ev(
                "e-gfe",
                EvaluationKind.FINANCIAL_ACKNOWLEDGMENT,
                TMS,
                data={"form": "good_faith_estimate"},
            )
        ],
        [],
        None,
        {(TMS, "financial_acknowledgment_gfe")},
    ),
    "baseline_pain_nrs": (
        [],
        [seed_baseline("m-nrs", Instrument.PAIN_NRS)],
        None,
        {(TMS, "baseline_pain_nrs")},
    ),
    "baseline_phq9": (
        [],
        [seed_baseline("m-phq", Instrument.PHQ9)],
        None,
        {(SPR, "baseline_phq9")},
    ),
    "rems_enrollment": (
        [
            seed_ev(
                "e-rems", EvaluationKind.REMS_ENROLLMENT, SPR, data={"enrolled_on": "2026-11-15"}
            )
        ],
        [],
        None,
        {(SPR, "rems_enrollment")},
    ),
    "spravato_contraindication_screen": (
        [seed_ev("e-ci", EvaluationKind.SPRAVATO_CONTRAINDICATION_SCREEN, SPR)],
        [],
        None,
        {(SPR, "spravato_contraindication_screen")},
    ),
    "antidepressant_trials": (
        [seed_ev("e-adt", EvaluationKind.ANTIDEPRESSANT_TRIALS, data=TWO_FAILED_TRIALS)],
        [],
        None,
        {(SPR, "antidepressant_trials")},
    ),
    "transport_plan": (
        [seed_ev("e-tp", EvaluationKind.TRANSPORT_PLAN, SPR)],
        [],
        None,
        {(SPR, "transport_plan")},
    ),
    "site_rems_certification": (
        [],
        [],
        dt.date(2027, 6, 30),
        {(SPR, "site_rems_certification")},
    ),
    "prior_authorization": (
        [seed_ev("e-pa", EvaluationKind.PRIOR_AUTHORIZATION, SPR)],
        [],
        None,
        {(SPR, "prior_authorization")},
    ),
    "pdmp_check": (
        [seed_ev("e-pdmp", EvaluationKind.PDMP_CHECK, SPR)],
        [],
        None,
        {(SPR, "pdmp_check")},
    ),
}


def seed_evaluate(evaluations=(), measures=(), cert=None, components=SEED, today=TODAY):
    return evaluate_plan(
        components=components,
        evaluations=list(evaluations),
        measures=list(measures),
        clinic=ClinicFacts(rems_certified_until=cert),
        today=today,
    )


def outstanding_items(readiness):
    return {(c.component_id, it.key) for c in readiness.components for it in c.outstanding}
