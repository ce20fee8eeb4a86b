"""Readiness of plan components: which required steps are satisfied, missing or expired, and why.

Pure rules (STYLE.md habit 9): plain frozen dataclasses in, plain frozen dataclasses out, no Django
import. The Django layer builds the ``*Facts`` from models (``plans/selectors.py``) and renders the
result; the check-in gate and the flag scanner read it. DESIGN.md §4 promises 1 (readiness is
explainable) and 2 (nothing starts silently).

The requirement specs come from the protocol catalogue (``modalities/catalogue/*.yaml``); every
clinical rule lives there with its DOMAIN.md citation. This module only interprets:

* ``condition`` (all-of): ``label_status`` / ``label_status_not`` (component's label status),
  ``payer_type`` / ``payer_type_not`` (component's payer), ``indication_category`` /
  ``indication_category_not`` (the component's indication). Not met → ``not_applicable``.
* ``check``: ``min_failed_trials`` + ``min_trial_weeks`` (antidepressant_trials),
  ``decision_in`` (tms_safety_screen), ``form_in`` (financial_acknowledgment). Failing → the
  evidence does not count (``missing`` with a detail) .
* ``check`` also knows ``min_drug_classes`` (distinct drug classes among the failed trials,
  DOMAIN.md §1.6/§2.5: two SSRIs are one class) and ``hard_contraindications`` (safety-screen
  fields that, when true, fail the screen whatever its ``decision``: DOMAIN.md §1.4 device-label
  contraindication, magnetic-sensitive implant within 30 cm of the coil).
* Timing (``modalities.vocab.Timing``), judged at one session of the course (``CourseFacts``:
  the session being checked in, or the next one; ``None`` = the course has not started):
  ``before_first_session`` — satisfied once; its validity window is judged at the first session
  and never re-checked after the course started. ``valid_during_course`` /
  ``before_every_session`` — valid on the day of every session. ``every_n_sessions`` — evidence
  dated on/after session 1+kN is due from that session on (not yet due → ``not_applicable``).
  ``after_medication_change`` — a ``medication_change`` recorded during the course needs new
  evidence dated on/after it. ``within_days_after_each_session`` / ``end_of_phase`` are the
  flag scanner's (``not_applicable`` here).

Modules: ``facts`` (inputs and results), ``checks`` (conditions, evidence checks),
``evaluate`` (per requirement, component and plan), ``forecast`` (expiry forecasts, combination
warnings), ``evaluation_data`` (kind-specific evaluation data). This package's API is the names
below: import them from ``plans.rules.readiness``.
"""

from __future__ import annotations

from plans.rules.readiness.checks import (
    DEFAULT_MIN_TRIAL_WEEKS,
    FINANCIAL_FORMS,
    GATED_TIMINGS,
    IFCN_ITEMS,
    MT_METHODS,
    RECHECKED_TIMINGS,
    SAFETY_DECISIONS,
    SAFETY_HARD_CONTRAINDICATION_FIELDS,
    TRIAL_OUTCOMES,
    check_failure,
    condition_applies,
    count_failed_drug_classes,
    count_failed_trials,
    drug_class_key,
)
from plans.rules.readiness.evaluate import (
    evaluate_component,
    evaluate_plan,
    post_session_window,
)
from plans.rules.readiness.evaluation_data import (
    MEDICATION_CHANGES,
    evaluation_data_errors,
)
from plans.rules.readiness.facts import (
    NOT_STARTED,
    ClinicFacts,
    CombinationWarning,
    ComponentFacts,
    ComponentReadiness,
    CourseFacts,
    EvaluationFact,
    MeasureFact,
    PlanReadiness,
    PriorAuthFact,
    RequirementResult,
)
from plans.rules.readiness.forecast import (
    ExpiryForecast,
    combination_warnings,
    forecast_expiries,
)

__all__ = [
    "DEFAULT_MIN_TRIAL_WEEKS",
    "FINANCIAL_FORMS",
    "GATED_TIMINGS",
    "IFCN_ITEMS",
    "MEDICATION_CHANGES",
    "MT_METHODS",
    "NOT_STARTED",
    "RECHECKED_TIMINGS",
    "SAFETY_DECISIONS",
    "SAFETY_HARD_CONTRAINDICATION_FIELDS",
    "TRIAL_OUTCOMES",
    "ClinicFacts",
    "CombinationWarning",
    "ComponentFacts",
    "ComponentReadiness",
    "CourseFacts",
    "EvaluationFact",
    "ExpiryForecast",
    "MeasureFact",
    "PlanReadiness",
    "PriorAuthFact",
    "RequirementResult",
    "check_failure",
    "combination_warnings",
    "condition_applies",
    "count_failed_drug_classes",
    "count_failed_trials",
    "drug_class_key",
    "evaluate_component",
    "evaluate_plan",
    "evaluation_data_errors",
    "forecast_expiries",
    "post_session_window",
]
