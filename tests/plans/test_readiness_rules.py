"""Readiness rules over the real catalogue: the seed scenario walk, conditions, checks, expiry.

Seed scenario (DESIGN.md §1): a patient with fibromyalgia and treatment-resistant depression;
plan = off-label HF rTMS to left M1 for pain (self-pay) + SPRAVATO for TRD (commercial) +
psychiatric follow-up (commercial).
"""

from __future__ import annotations

import datetime as dt

import pytest

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
    ComponentFacts,
    PriorAuthFact,
    combination_warnings,
    count_failed_trials,
)
from tests.plans.readiness_seed import (
    CATALOGUE,
    NOW,
    PSY,
    RECORDINGS,
    SAFETY_CLEARED,
    SEED,
    SEED_MISSING,
    SPR,
    TMS,
    TODAY,
    TWO_FAILED_TRIALS,
    outstanding_items,
    seed_baseline,
    seed_component,
    seed_ev,
    seed_evaluate,
)


def test_seed_plan_lists_every_missing_step_with_reasons_and_sources():
    # given the seed plan with nothing recorded
    # when readiness is evaluated
    readiness = seed_evaluate()
    # then exactly the seed items are outstanding, each with a reason and a DOMAIN.md source
    assert outstanding_items(readiness) == SEED_MISSING
    for comp in readiness.components:
        for it in comp.outstanding:
            assert it.status == RequirementStatus.MISSING
            assert it.reason
            assert "DOMAIN.md §" in it.source
    assert not readiness.ready_to_start
    assert not any(c.ready_to_start for c in readiness.components)


def test_seed_plan_explains_why_conditional_items_apply():
    readiness = seed_evaluate()
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
    readiness = seed_evaluate(evaluations, measures, cert)
    # then exactly its items leave the outstanding list, now satisfied by that evidence
    assert outstanding_items(readiness) == SEED_MISSING - removed
    for cid, key in removed:
        item = readiness.component(cid).item(key)
        assert item.status == RequirementStatus.SATISFIED
        expected = evaluations[0].id if evaluations else measures[0].id if measures else "clinic"
        assert item.satisfied_by == expected


def test_recording_everything_makes_the_seed_plan_ready():
    evaluations = [e for ev, _, _, _ in RECORDINGS.values() for e in ev]
    measures = [m for _, ms, _, _ in RECORDINGS.values() for m in ms]
    readiness = seed_evaluate(evaluations, measures, dt.date(2027, 6, 30))
    assert outstanding_items(readiness) == set()
    assert readiness.ready_to_start


def test_warning_items_do_not_block_start():
    # given everything recorded except the PDMP check (a payer warning)
    evaluations = [e for k, (ev, _, _, _) in RECORDINGS.items() if k != "pdmp_check" for e in ev]
    measures = [m for _, ms, _, _ in RECORDINGS.values() for m in ms]
    readiness = seed_evaluate(evaluations, measures, dt.date(2027, 6, 30))
    spr = readiness.component(SPR)
    # then the PDMP item is missing but the component is ready
    assert spr.item("pdmp_check").severity == Severity.WARNING
    assert spr.item("pdmp_check").status == RequirementStatus.MISSING
    assert spr.ready_to_start


def test_rems_enrollment_missing_until_recorded():
    # given no enrolment → missing and blocking
    assert (
        seed_evaluate().component(SPR).item("rems_enrollment").status == RequirementStatus.MISSING
    )
    # when enrolment is recorded for the SPRAVATO component
    ev = seed_ev("e-rems", EvaluationKind.REMS_ENROLLMENT, SPR, data={"enrolled_on": "2026-11-15"})
    item = seed_evaluate([ev]).component(SPR).item("rems_enrollment")
    # then it is satisfied by that record and never expires
    assert (item.status, item.satisfied_by, item.expires_on) == (
        RequirementStatus.SATISFIED,
        "e-rems",
        None,
    )


def test_rems_monitoring_form_is_not_part_of_ready_to_start():
    item = seed_evaluate().component(SPR).item("rems_monitoring_form")
    assert item.status == RequirementStatus.NOT_APPLICABLE
    assert "once sessions happen" in item.detail


def test_psychiatric_evaluation_expires_after_validity_window():
    # given an evaluation 100 days old (validity 90 days, configurable default)
    old = seed_ev("e-old", EvaluationKind.PSYCHIATRIC_EVALUATION, days_ago=100)
    item = seed_evaluate([old]).component(SPR).item("psychiatric_evaluation")
    # then it is expired, with the date it lapsed
    assert item.status == RequirementStatus.EXPIRED
    assert item.expires_on == (NOW - dt.timedelta(days=100)).date() + dt.timedelta(days=90)
    # and the 365-day follow-up requirement still accepts it
    assert seed_evaluate([old]).component(PSY).item("psychiatric_evaluation").status == (
        RequirementStatus.SATISFIED
    )
    # when a fresh one is added, the most recent valid one wins
    fresh = seed_ev("e-new", EvaluationKind.PSYCHIATRIC_EVALUATION, days_ago=2)
    item = seed_evaluate([old, fresh]).component(SPR).item("psychiatric_evaluation")
    assert (item.status, item.satisfied_by) == (RequirementStatus.SATISFIED, "e-new")


def test_explicit_valid_until_overrides_validity_days():
    ev = seed_ev(
        "e-ci",
        EvaluationKind.SPRAVATO_CONTRAINDICATION_SCREEN,
        SPR,
        valid_until=TODAY - dt.timedelta(days=1),
    )
    assert seed_evaluate([ev]).component(SPR).item("spravato_contraindication_screen").status == (
        RequirementStatus.EXPIRED
    )


def test_site_rems_certification_expired():
    item = (
        seed_evaluate(cert=TODAY - dt.timedelta(days=1))
        .component(SPR)
        .item("site_rems_certification")
    )
    assert item.status == RequirementStatus.EXPIRED


def test_component_scoped_evaluation_satisfies_only_its_component():
    # given a psychiatric evaluation recorded against the TMS component only
    ev = seed_ev("e-psy", EvaluationKind.PSYCHIATRIC_EVALUATION, TMS)
    readiness = seed_evaluate([ev])
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
    on_label = seed_component(
        "c-mdd", "tms_10hz_ldlpfc_mdd", "mdd_inadequate_response", PayerType.COMMERCIAL
    )
    item = seed_evaluate(components=(on_label,)).component("c-mdd").item("off_label_consent")
    # then off-label consent is not applicable
    assert item.status == RequirementStatus.NOT_APPLICABLE


def test_prior_authorization_applies_to_commercial_not_self_pay():
    commercial = seed_component(
        "c-com", "tms_hf_lm1_fibromyalgia", "fibromyalgia", PayerType.COMMERCIAL
    )
    readiness = seed_evaluate(components=(SEED[0], commercial))
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
    spr = seed_component(SPR, "spravato_trd", "trd", PayerType.COMMERCIAL, pa)
    item = seed_evaluate(components=(spr,)).component(SPR).item("prior_authorization")
    assert (item.status, item.satisfied_by) == (RequirementStatus.SATISFIED, "prior_auth:PA-0001")
    lapsed = seed_component(
        SPR,
        "spravato_trd",
        "trd",
        PayerType.COMMERCIAL,
        PriorAuthFact("PA-0001", 18, TODAY - dt.timedelta(days=1)),
    )
    item = seed_evaluate(components=(lapsed,)).component(SPR).item("prior_authorization")
    assert item.status == RequirementStatus.EXPIRED


def test_abn_required_for_medicare_off_label_tms():
    medicare = seed_component(
        "c-med", "tms_hf_lm1_fibromyalgia", "fibromyalgia", PayerType.MEDICARE
    )
    comp = seed_evaluate(components=(medicare,)).component("c-med")
    assert comp.item("financial_acknowledgment_abn").status == RequirementStatus.MISSING
    abn = seed_ev("e-abn", EvaluationKind.FINANCIAL_ACKNOWLEDGMENT, "c-med", data={"form": "abn"})
    comp = seed_evaluate([abn], components=(medicare,)).component("c-med")
    assert comp.item("financial_acknowledgment_abn").status == RequirementStatus.SATISFIED


def test_one_failed_trial_is_not_enough_for_trd():
    # given only 1 adequate failed trial (the second lasted 3 weeks)
    data = {
        "trials": [
            dict(TWO_FAILED_TRIALS["trials"][0]),
            {**TWO_FAILED_TRIALS["trials"][1], "weeks": 3},
        ]
    }
    ev = seed_ev("e-adt", EvaluationKind.ANTIDEPRESSANT_TRIALS, data=data)
    item = seed_evaluate([ev]).component(SPR).item("antidepressant_trials")
    # then the requirement is still missing, and says why
    assert item.status == RequirementStatus.MISSING
    assert item.detail == "only 1 failed antidepressant trial of ≥6 weeks recorded; 2 required"
    assert count_failed_trials(data) == 1
    assert count_failed_trials(TWO_FAILED_TRIALS) == 2


def test_safety_screen_not_cleared_does_not_satisfy():
    ev = seed_ev(
        "e-ss",
        EvaluationKind.TMS_SAFETY_SCREEN,
        TMS,
        data={**SAFETY_CLEARED, "decision": "not_cleared"},
    )
    item = seed_evaluate([ev]).component(TMS).item("tms_safety_screen")
    assert item.status == RequirementStatus.MISSING
    assert "not_cleared" in item.detail


def test_non_baseline_measure_does_not_satisfy_baseline_requirement():
    m = seed_baseline("m-phq", Instrument.PHQ9, is_baseline=False)
    assert seed_evaluate(measures=[m]).component(SPR).item("baseline_phq9").status == (
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
    ket = seed_component("c-ket", "ketamine_iv_depression", "trd_off_label", PayerType.SELF_PAY)
    warnings = combination_warnings((*SEED, ket))
    assert len(warnings) == 2
    assert seed_evaluate(components=(*SEED, ket)).warnings == tuple(warnings)
    # and without SPRAVATO → none
    assert combination_warnings((SEED[0], ket)) == []


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
    item = seed_evaluate(components=(comp,)).component("c-x").item("off_label_consent")
    assert item.status == RequirementStatus.MISSING
