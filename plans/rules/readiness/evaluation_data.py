"""Validation of the kind-specific data of a recorded evaluation (``evaluation_data_errors``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, TypeGuard

from modalities.clinical_bounds import MT_PERCENT_OUTPUT, bp_field_errors
from modalities.vocab import EvaluationKind
from plans.rules.readiness.checks import (
    FINANCIAL_FORMS,
    IFCN_ITEMS,
    MT_METHODS,
    SAFETY_DECISIONS,
    SAFETY_HARD_CONTRAINDICATION_FIELDS,
    TRIAL_OUTCOMES,
)

# ---------------------------------------------------------------------------------------------
# Kind-specific evaluation data validation
# ---------------------------------------------------------------------------------------------


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _nonempty_str(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _validate_motor_threshold(data: Mapping[str, Any], errors: dict[str, str]) -> None:
    # DOMAIN.md §1.3: MT as % stimulator output; visual vs EMG method matters near safety limits.
    percent = data.get("percent")
    if not MT_PERCENT_OUTPUT.admits(percent):
        errors["percent"] = f"an integer percentage of stimulator output, {MT_PERCENT_OUTPUT.text}"
    if data.get("method") not in MT_METHODS:
        errors["method"] = "one of: " + ", ".join(sorted(MT_METHODS))


def _validate_safety_screen(data: Mapping[str, Any], errors: dict[str, str]) -> None:
    # DOMAIN.md §1.4: IFCN 15-item questionnaire; the responsible physician decides.
    answers = data.get("answers")
    if not isinstance(answers, Mapping):
        errors["answers"] = "a mapping of the IFCN items q1..q15 to true/false"
    else:
        for item in IFCN_ITEMS:
            if not isinstance(answers.get(item), bool):
                errors[f"answers.{item}"] = "required, true or false"
        for extra in sorted(set(answers) - set(IFCN_ITEMS)):
            errors[f"answers.{extra}"] = "unknown item (expected q1..q15)"
    if data.get("decision") not in SAFETY_DECISIONS:
        errors["decision"] = "one of: " + ", ".join(sorted(SAFETY_DECISIONS))
    # DOMAIN.md §1.4 device-label contraindication: magnetic-sensitive metal in the head or
    # within 30 cm of the coil. Optional (older screens lack it); when true it blocks stimulation.
    for name in SAFETY_HARD_CONTRAINDICATION_FIELDS:
        if name in data and not isinstance(data[name], bool):
            errors[name] = "true or false"
    if not _nonempty_str(data.get("physician")):
        errors["physician"] = "the responsible physician's name or id"


def _validate_rems_enrollment(data: Mapping[str, Any], errors: dict[str, str]) -> None:
    value = data.get("enrolled_on")
    try:
        dt.date.fromisoformat(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        errors["enrolled_on"] = "an ISO date (YYYY-MM-DD)"


def _validate_trials(data: Mapping[str, Any], errors: dict[str, str]) -> None:
    # DOMAIN.md §1.6 Adequate trial: document drug, class, max dose, duration, reason stopped.
    trials = data.get("trials")
    if not isinstance(trials, list) or not trials:
        errors["trials"] = "a non-empty list of antidepressant trials"
        return
    for i, trial in enumerate(trials):
        path = f"trials[{i}]"
        if not isinstance(trial, Mapping):
            errors[path] = "an object"
            continue
        if not _nonempty_str(trial.get("drug")):
            errors[f"{path}.drug"] = "required"
        if not _nonempty_str(trial.get("drug_class")):
            errors[f"{path}.drug_class"] = "required"
        dose = trial.get("max_dose_mg")
        if not _is_number(dose) or dose <= 0:
            errors[f"{path}.max_dose_mg"] = "a positive number of mg"
        weeks = trial.get("weeks")
        if not _is_number(weeks) or not 0 <= weeks <= 520:
            errors[f"{path}.weeks"] = "a number of weeks, 0–520"
        if trial.get("outcome") not in TRIAL_OUTCOMES:
            errors[f"{path}.outcome"] = "one of: " + ", ".join(sorted(TRIAL_OUTCOMES))


def _validate_bp(data: Mapping[str, Any], errors: dict[str, str]) -> None:
    # one plausibility rule with session completion (modalities.clinical_bounds)
    errors.update(bp_field_errors(data.get("systolic"), data.get("diastolic")))


def _validate_financial(data: Mapping[str, Any], errors: dict[str, str]) -> None:
    # DOMAIN.md §6: ABN (Medicare, CMS-R-131) or Good Faith Estimate (self-pay).
    if data.get("form") not in FINANCIAL_FORMS:
        errors["form"] = "one of: " + ", ".join(sorted(FINANCIAL_FORMS))


def _validate_medication_change(data: Mapping[str, Any], errors: dict[str, str]) -> None:
    # DOMAIN.md §1.3: medications shift the motor threshold; re-check MT after a change.
    if not _nonempty_str(data.get("drug")):
        errors["drug"] = "the drug started, stopped or changed"
    if data.get("change") not in MEDICATION_CHANGES:
        errors["change"] = "one of: " + ", ".join(sorted(MEDICATION_CHANGES))


MEDICATION_CHANGES = frozenset({"started", "stopped", "dose_increased", "dose_decreased"})

_VALIDATORS = {
    EvaluationKind.MEDICATION_CHANGE: _validate_medication_change,
    EvaluationKind.MOTOR_THRESHOLD: _validate_motor_threshold,
    EvaluationKind.TMS_SAFETY_SCREEN: _validate_safety_screen,
    EvaluationKind.REMS_ENROLLMENT: _validate_rems_enrollment,
    EvaluationKind.ANTIDEPRESSANT_TRIALS: _validate_trials,
    EvaluationKind.BASELINE_BP: _validate_bp,
    EvaluationKind.FINANCIAL_ACKNOWLEDGMENT: _validate_financial,
}


def evaluation_data_errors(kind: EvaluationKind | str, data: Any) -> dict[str, str]:
    """Field → message for invalid kind-specific evaluation data; ``{}`` when valid.

    Shapes: motor_threshold {percent 1–100, method visual|emg}; tms_safety_screen {answers
    {q1..q15: bool}, decision cleared|cleared_with_precautions|not_cleared, physician,
    magnetic_implant_within_30cm?: bool}; rems_enrollment {enrolled_on: ISO date};
    medication_change {drug, change}; antidepressant_trials {trials: [{drug, drug_class,
    max_dose_mg, weeks, outcome inadequate_response|intolerance|response}]}; baseline_bp
    {systolic, diastolic}; financial_acknowledgment {form abn|good_faith_estimate|
    waiver_not_needed}. Every kind accepts an optional ``note`` string; other kinds are free-form.
    """
    if not isinstance(data, Mapping):
        return {"data": "must be an object"}
    try:
        kind = EvaluationKind(kind)
    except ValueError:
        return {"kind": f"unknown evaluation kind {kind!r}"}
    errors: dict[str, str] = {}
    if "note" in data and not isinstance(data["note"], str):
        errors["note"] = "must be a string"
    validator = _VALIDATORS.get(kind)
    if validator is not None:
        validator(data, errors)
    return errors
