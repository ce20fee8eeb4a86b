"""Readiness rules over the real catalogue: the seed scenario walk, conditions, checks, expiry.

Seed scenario (DESIGN.md §1): a patient with fibromyalgia and treatment-resistant depression;
plan = off-label HF rTMS to left M1 for pain (self-pay) + SPRAVATO for TRD (commercial) +
psychiatric follow-up (commercial).
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modalities.catalogue import load_catalogue
from modalities.specs import find_protocol
from modalities.vocab import (
    EvaluationKind,
    Instrument,
    LabelStatus,
    PayerType,
    RequirementStatus,
    Severity,
)
from plans.rules.readiness import (
    ClinicFacts,
    ComponentFacts,
    EvaluationFact,
    MeasureFact,
    PriorAuthFact,
    combination_warnings,
    count_failed_trials,
    evaluate_plan,
    evaluation_data_errors,
)

CATALOGUE = load_catalogue()
TODAY = dt.date(2026, 11, 16)
NOW = dt.datetime(2026, 11, 16, 9, 0, tzinfo=dt.UTC)
TMS, SPR, PSY = "c-tms", "c-spravato", "c-psych"


def _component(cid, code, indication, payer, prior_auth=None):
    protocol = find_protocol(CATALOGUE, code)
    ind = protocol.indication(indication)
    return ComponentFacts(cid, protocol, ind, ind.label_status, payer, prior_auth)


SEED = (
    _component(TMS, "tms_hf_lm1_fibromyalgia", "fibromyalgia", PayerType.SELF_PAY),
    _component(SPR, "spravato_trd", "trd", PayerType.COMMERCIAL),
    _component(PSY, "psychiatric_follow_up", "follow_up", PayerType.COMMERCIAL),
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


def _ev(ident, kind, component_id=None, *, days_ago=1, data=None, valid_until=None):
    return EvaluationFact(
        ident, kind, component_id, NOW - dt.timedelta(days=days_ago), valid_until, data or {}
    )


def _baseline(ident, instrument, *, days_ago=1, is_baseline=True):
    return MeasureFact(ident, instrument, NOW - dt.timedelta(days=days_ago), is_baseline, 12)


# One recording per seed item: (evaluations, measures, clinic cert) → the items it must remove.
RECORDINGS = {
    "psychiatric_evaluation": (
        [_ev("e-psy", EvaluationKind.PSYCHIATRIC_EVALUATION)],
        [],
        None,
        {
            (TMS, "psychiatric_evaluation"),
            (SPR, "psychiatric_evaluation"),
            (PSY, "psychiatric_evaluation"),
        },
    ),
    "tms_safety_screen": (
        [_ev("e-ss", EvaluationKind.TMS_SAFETY_SCREEN, TMS, data=SAFETY_CLEARED)],
        [],
        None,
        {(TMS, "tms_safety_screen")},
    ),
    "motor_threshold": (
        [_ev("e-mt", EvaluationKind.MOTOR_THRESHOLD, TMS, data={"percent": 55, "method": "emg"})],
        [],
        None,
        {(TMS, "motor_threshold")},
    ),
    "target_rationale": (
        [_ev("e-tr", EvaluationKind.TARGET_RATIONALE, TMS, data={"note": "left M1, QoL"})],
        [],
        None,
        {(TMS, "target_rationale")},
    ),
    "off_label_consent": (
        [_ev("e-olc", EvaluationKind.OFF_LABEL_CONSENT, TMS)],
        [],
        None,
        {(TMS, "off_label_consent")},
    ),
    "financial_acknowledgment_gfe": (
        [
            _ev(
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
        [_baseline("m-nrs", Instrument.PAIN_NRS)],
        None,
        {(TMS, "baseline_pain_nrs")},
    ),
    "baseline_phq9": (
        [],
        [_baseline("m-phq", Instrument.PHQ9)],
        None,
        {(SPR, "baseline_phq9")},
    ),
    "rems_enrollment": (
        [_ev("e-rems", EvaluationKind.REMS_ENROLLMENT, SPR, data={"enrolled_on": "2026-11-15"})],
        [],
        None,
        {(SPR, "rems_enrollment")},
    ),
    "spravato_contraindication_screen": (
        [_ev("e-ci", EvaluationKind.SPRAVATO_CONTRAINDICATION_SCREEN, SPR)],
        [],
        None,
        {(SPR, "spravato_contraindication_screen")},
    ),
    "antidepressant_trials": (
        [_ev("e-adt", EvaluationKind.ANTIDEPRESSANT_TRIALS, data=TWO_FAILED_TRIALS)],
        [],
        None,
        {(SPR, "antidepressant_trials")},
    ),
    "transport_plan": (
        [_ev("e-tp", EvaluationKind.TRANSPORT_PLAN, SPR)],
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
        [_ev("e-pa", EvaluationKind.PRIOR_AUTHORIZATION, SPR)],
        [],
        None,
        {(SPR, "prior_authorization")},
    ),
    "pdmp_check": (
        [_ev("e-pdmp", EvaluationKind.PDMP_CHECK, SPR)],
        [],
        None,
        {(SPR, "pdmp_check")},
    ),
}


def _evaluate(evaluations=(), measures=(), cert=None, components=SEED, today=TODAY):
    return evaluate_plan(
        components=components,
        evaluations=list(evaluations),
        measures=list(measures),
        clinic=ClinicFacts(rems_certified_until=cert),
        today=today,
    )


def _outstanding(readiness):
    return {(c.component_id, it.key) for c in readiness.components for it in c.outstanding}


def test_seed_plan_lists_every_missing_step_with_reasons_and_sources():
    # given the seed plan with nothing recorded
    # when readiness is evaluated
    readiness = _evaluate()
    # then exactly the seed items are outstanding, each with a reason and a DOMAIN.md source
    assert _outstanding(readiness) == SEED_MISSING
    for comp in readiness.components:
        for it in comp.outstanding:
            assert it.status == RequirementStatus.MISSING
            assert it.reason
            assert "DOMAIN.md §" in it.source
    assert not readiness.ready_to_start
    assert not any(c.ready_to_start for c in readiness.components)


def test_seed_plan_explains_why_conditional_items_apply():
    readiness = _evaluate()
    tms = readiness.component(TMS)
    assert tms.item("off_label_consent").applies_because == "off-label indication"
    assert tms.item("financial_acknowledgment_gfe").applies_because == "payer type self_pay"
    assert tms.item("baseline_pain_nrs").applies_because == "indication category pain"
    assert tms.item("prior_authorization").status == RequirementStatus.NOT_APPLICABLE
    assert tms.item("financial_acknowledgment_abn").status == RequirementStatus.NOT_APPLICABLE
    spr = readiness.component(SPR)
    assert spr.item("prior_authorization").applies_because == "payer type commercial"
    assert spr.item("rems_enrollment").applies_because == "protocol"
    assert spr.item("financial_acknowledgment_gfe").status == RequirementStatus.NOT_APPLICABLE


@pytest.mark.parametrize("name", sorted(RECORDINGS))
def test_recording_one_step_removes_exactly_that_item(name):
    # given the seed plan
    evaluations, measures, cert, removed = RECORDINGS[name]
    # when one piece of evidence is recorded
    readiness = _evaluate(evaluations, measures, cert)
    # then exactly its items leave the outstanding list, now satisfied by that evidence
    assert _outstanding(readiness) == SEED_MISSING - removed
    for cid, key in removed:
        item = readiness.component(cid).item(key)
        assert item.status == RequirementStatus.SATISFIED
        expected = evaluations[0].id if evaluations else measures[0].id if measures else "clinic"
        assert item.satisfied_by == expected


def test_recording_everything_makes_the_seed_plan_ready():
    evaluations = [e for ev, _, _, _ in RECORDINGS.values() for e in ev]
    measures = [m for _, ms, _, _ in RECORDINGS.values() for m in ms]
    readiness = _evaluate(evaluations, measures, dt.date(2027, 6, 30))
    assert _outstanding(readiness) == set()
    assert readiness.ready_to_start


def test_warning_items_do_not_block_start():
    # given everything recorded except the PDMP check (a payer warning)
    evaluations = [e for k, (ev, _, _, _) in RECORDINGS.items() if k != "pdmp_check" for e in ev]
    measures = [m for _, ms, _, _ in RECORDINGS.values() for m in ms]
    readiness = _evaluate(evaluations, measures, dt.date(2027, 6, 30))
    spr = readiness.component(SPR)
    # then the PDMP item is missing but the component is ready
    assert spr.item("pdmp_check").severity == Severity.WARNING
    assert spr.item("pdmp_check").status == RequirementStatus.MISSING
    assert spr.ready_to_start


def test_rems_enrollment_missing_until_recorded():
    # given no enrolment → missing and blocking
    assert _evaluate().component(SPR).item("rems_enrollment").status == RequirementStatus.MISSING
    # when enrolment is recorded for the SPRAVATO component
    ev = _ev("e-rems", EvaluationKind.REMS_ENROLLMENT, SPR, data={"enrolled_on": "2026-11-15"})
    item = _evaluate([ev]).component(SPR).item("rems_enrollment")
    # then it is satisfied by that record and never expires
    assert (item.status, item.satisfied_by, item.expires_on) == (
        RequirementStatus.SATISFIED,
        "e-rems",
        None,
    )


def test_rems_monitoring_form_is_not_part_of_ready_to_start():
    item = _evaluate().component(SPR).item("rems_monitoring_form")
    assert item.status == RequirementStatus.NOT_APPLICABLE
    assert "once sessions happen" in item.detail


def test_psychiatric_evaluation_expires_after_validity_window():
    # given an evaluation 100 days old (validity 90 days, configurable default)
    old = _ev("e-old", EvaluationKind.PSYCHIATRIC_EVALUATION, days_ago=100)
    item = _evaluate([old]).component(SPR).item("psychiatric_evaluation")
    # then it is expired, with the date it lapsed
    assert item.status == RequirementStatus.EXPIRED
    assert item.expires_on == (NOW - dt.timedelta(days=100)).date() + dt.timedelta(days=90)
    # and the 365-day follow-up requirement still accepts it
    assert _evaluate([old]).component(PSY).item("psychiatric_evaluation").status == (
        RequirementStatus.SATISFIED
    )
    # when a fresh one is added, the most recent valid one wins
    fresh = _ev("e-new", EvaluationKind.PSYCHIATRIC_EVALUATION, days_ago=2)
    item = _evaluate([old, fresh]).component(SPR).item("psychiatric_evaluation")
    assert (item.status, item.satisfied_by) == (RequirementStatus.SATISFIED, "e-new")


def test_explicit_valid_until_overrides_validity_days():
    ev = _ev(
        "e-ci",
        EvaluationKind.SPRAVATO_CONTRAINDICATION_SCREEN,
        SPR,
        valid_until=TODAY - dt.timedelta(days=1),
    )
    assert _evaluate([ev]).component(SPR).item("spravato_contraindication_screen").status == (
        RequirementStatus.EXPIRED
    )


def test_site_rems_certification_expired():
    item = (
        _evaluate(cert=TODAY - dt.timedelta(days=1)).component(SPR).item("site_rems_certification")
    )
    assert item.status == RequirementStatus.EXPIRED


def test_component_scoped_evaluation_satisfies_only_its_component():
    # given a psychiatric evaluation recorded against the TMS component only
    ev = _ev("e-psy", EvaluationKind.PSYCHIATRIC_EVALUATION, TMS)
    readiness = _evaluate([ev])
    # then TMS is satisfied, SPRAVATO and follow-up are still missing
    assert readiness.component(TMS).item("psychiatric_evaluation").status == (
        RequirementStatus.SATISFIED
    )
    assert readiness.component(SPR).item("psychiatric_evaluation").status == (
        RequirementStatus.MISSING
    )
    assert readiness.component(PSY).item("psychiatric_evaluation").status == (
        RequirementStatus.MISSING
    )


def test_off_label_consent_does_not_apply_to_on_label_component():
    # given an on-label 10 Hz TMS course for MDD
    on_label = _component(
        "c-mdd", "tms_10hz_ldlpfc_mdd", "mdd_inadequate_response", PayerType.COMMERCIAL
    )
    item = _evaluate(components=(on_label,)).component("c-mdd").item("off_label_consent")
    # then off-label consent is not applicable
    assert item.status == RequirementStatus.NOT_APPLICABLE


def test_prior_authorization_applies_to_commercial_not_self_pay():
    commercial = _component(
        "c-com", "tms_hf_lm1_fibromyalgia", "fibromyalgia", PayerType.COMMERCIAL
    )
    readiness = _evaluate(components=(SEED[0], commercial))
    assert readiness.component(TMS).item("prior_authorization").status == (
        RequirementStatus.NOT_APPLICABLE
    )
    assert readiness.component("c-com").item("prior_authorization").status == (
        RequirementStatus.MISSING
    )
    # and the GFE applies only to self-pay
    assert readiness.component("c-com").item("financial_acknowledgment_gfe").status == (
        RequirementStatus.NOT_APPLICABLE
    )


def test_prior_auth_on_component_satisfies_until_it_expires():
    pa = PriorAuthFact("PA-0001", 18, TODAY + dt.timedelta(days=30))
    spr = _component(SPR, "spravato_trd", "trd", PayerType.COMMERCIAL, pa)
    item = _evaluate(components=(spr,)).component(SPR).item("prior_authorization")
    assert (item.status, item.satisfied_by) == (RequirementStatus.SATISFIED, "prior_auth:PA-0001")
    lapsed = _component(
        SPR,
        "spravato_trd",
        "trd",
        PayerType.COMMERCIAL,
        PriorAuthFact("PA-0001", 18, TODAY - dt.timedelta(days=1)),
    )
    item = _evaluate(components=(lapsed,)).component(SPR).item("prior_authorization")
    assert item.status == RequirementStatus.EXPIRED


def test_abn_required_for_medicare_off_label_tms():
    medicare = _component("c-med", "tms_hf_lm1_fibromyalgia", "fibromyalgia", PayerType.MEDICARE)
    comp = _evaluate(components=(medicare,)).component("c-med")
    assert comp.item("financial_acknowledgment_abn").status == RequirementStatus.MISSING
    abn = _ev("e-abn", EvaluationKind.FINANCIAL_ACKNOWLEDGMENT, "c-med", data={"form": "abn"})
    comp = _evaluate([abn], components=(medicare,)).component("c-med")
    assert comp.item("financial_acknowledgment_abn").status == RequirementStatus.SATISFIED


def test_one_failed_trial_is_not_enough_for_trd():
    # given only 1 adequate failed trial (the second lasted 3 weeks)
    data = {
        "trials": [
            dict(TWO_FAILED_TRIALS["trials"][0]),
            {**TWO_FAILED_TRIALS["trials"][1], "weeks": 3},
        ]
    }
    ev = _ev("e-adt", EvaluationKind.ANTIDEPRESSANT_TRIALS, data=data)
    item = _evaluate([ev]).component(SPR).item("antidepressant_trials")
    # then the requirement is still missing, and says why
    assert item.status == RequirementStatus.MISSING
    assert item.detail == "only 1 failed antidepressant trial of ≥6 weeks recorded; 2 required"
    assert count_failed_trials(data) == 1
    assert count_failed_trials(TWO_FAILED_TRIALS) == 2


def test_safety_screen_not_cleared_does_not_satisfy():
    ev = _ev(
        "e-ss",
        EvaluationKind.TMS_SAFETY_SCREEN,
        TMS,
        data={**SAFETY_CLEARED, "decision": "not_cleared"},
    )
    item = _evaluate([ev]).component(TMS).item("tms_safety_screen")
    assert item.status == RequirementStatus.MISSING
    assert "not_cleared" in item.detail


def test_non_baseline_measure_does_not_satisfy_baseline_requirement():
    m = _baseline("m-phq", Instrument.PHQ9, is_baseline=False)
    assert _evaluate(measures=[m]).component(SPR).item("baseline_phq9").status == (
        RequirementStatus.MISSING
    )


def test_combination_warnings_for_spravato_with_tms_and_ketamine():
    # given the seed plan (SPRAVATO + TMS) → one warning naming payer policy
    (warning,) = combination_warnings(SEED)
    assert warning.code == EvaluationKind.COMBINATION_REVIEW
    assert "payer" in warning.reason
    assert "DOMAIN.md §2.5" in warning.source
    assert set(warning.component_ids) == {SPR, TMS}
    # when ketamine is added → a second warning
    ket = _component("c-ket", "ketamine_iv_depression", "trd_off_label", PayerType.SELF_PAY)
    warnings = combination_warnings((*SEED, ket))
    assert len(warnings) == 2
    assert _evaluate(components=(*SEED, ket)).warnings == tuple(warnings)
    # and without SPRAVATO → none
    assert combination_warnings((SEED[0], ket)) == []


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
    before = _evaluate(base_e, base_m)
    after = _evaluate(base_e + extra_e, base_m + extra_m)
    for comp_before in before.components:
        comp_after = after.component(comp_before.component_id)
        for item in comp_before.items:
            if item.status == RequirementStatus.SATISFIED:
                assert comp_after.item(item.key).status == RequirementStatus.SATISFIED
        if comp_before.ready_to_start:
            assert comp_after.ready_to_start


def test_label_status_on_component_drives_conditions():
    # given an on-label indication recorded as off-label on the component (e.g. adolescent age)
    protocol = find_protocol(CATALOGUE, "tms_10hz_ldlpfc_mdd")
    comp = ComponentFacts(
        "c-x",
        protocol,
        protocol.indication("mdd_inadequate_response"),
        LabelStatus.OFF_LABEL,
        PayerType.SELF_PAY,
    )
    item = _evaluate(components=(comp,)).component("c-x").item("off_label_consent")
    assert item.status == RequirementStatus.MISSING
