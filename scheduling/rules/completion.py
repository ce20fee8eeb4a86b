"""Is a session's completion data valid for its protocol? Pure rules, the protocol's own values.

``completion_errors(modality, kind, data, parameters)`` → field errors (``{}`` when valid). The
clinical limits are read from the protocol's catalogue ``parameters`` (rules as data:
``modalities.rules.parameters``) and the shared plausibility bounds
(``modalities.clinical_bounds``, also read by readiness); this module holds no clinical number.
A SPRAVATO protocol without a monitoring minimum or doses cannot be loaded from the catalogue;
should a stored row lack one anyway, the completion is refused, never judged against a default.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modalities.clinical_bounds import (
    BP_RULE_TEXT,
    HEART_RATE_BPM,
    PERCENT_OF_MT,
    SPO2_PERCENT,
    bp_field_errors,
    is_int,
)
from modalities.rules.parameters import dose_range_mg_per_kg, monitoring_minutes_min, spravato_doses
from modalities.vocab import COURSE_KINDS, Modality

EM_CODES = ("99212", "99213", "99214", "99215")
"""E/M levels a follow-up may bill (billing/codes.yaml, issue 11)."""
MAX_INFUSION_MINUTES = 24 * 60  # one day: a data-entry guard, not a clinical limit

SPRAVATO_BP_FIELDS = ("bp_before", "bp_40min", "bp_discharge")
"""BP before dosing, ~40 min after and before discharge (DOMAIN.md §2.4 Vitals, PMF)."""

Errors = dict[str, list[str]]


def bp_problem(value: Any) -> str | None:
    """Why one {systolic, diastolic} reading is implausible, or ``None``."""
    if not isinstance(value, dict):
        return "an object {systolic, diastolic}"
    if bp_field_errors(value.get("systolic"), value.get("diastolic")):
        return BP_RULE_TEXT
    return None


def billing_errors(data: Mapping[str, Any]) -> Errors:
    """Billing facts any session may carry: the E/M level of a follow-up, the infusion time."""
    errors: Errors = {}
    if "em_code" in data and data["em_code"] not in EM_CODES:
        errors["em_code"] = ["one of " + ", ".join(EM_CODES)]
    if "infusion_minutes" in data:
        minutes = data["infusion_minutes"]
        if not is_int(minutes) or not 1 <= minutes <= MAX_INFUSION_MINUTES:
            errors["infusion_minutes"] = [f"an integer number of minutes, 1–{MAX_INFUSION_MINUTES}"]
    return errors


def spravato_errors(data: Mapping[str, Any], parameters: Mapping[str, Any]) -> Errors:
    """dose_mg one of the protocol's doses, monitoring_minutes ≥ the protocol's
    ``monitoring_minutes_min``, the three BP readings, transport_confirmed true (DOMAIN.md
    §2.3–2.4 [LABEL]/[REG])."""
    errors: Errors = {}
    doses = spravato_doses(parameters)
    if not doses:
        errors["dose_mg"] = ["the protocol lists no SPRAVATO dose (catalogue error)"]
    elif data.get("dose_mg") not in doses:
        errors["dose_mg"] = [" or ".join(str(d) for d in doses)]
    minimum = monitoring_minutes_min(parameters)
    minutes = data.get("monitoring_minutes")
    if minimum is None:
        errors["monitoring_minutes"] = ["the protocol sets no monitoring minimum (catalogue error)"]
    elif not is_int(minutes) or minutes < minimum:
        errors["monitoring_minutes"] = [f"an integer ≥ {minimum} (the protocol's REMS minimum)"]
    for key in SPRAVATO_BP_FIELDS:
        problem = bp_problem(data.get(key))
        if problem:
            errors[key] = [problem]
    if data.get("transport_confirmed") is not True:
        errors["transport_confirmed"] = ["must be true (no driving until the next day)"]
    return errors


def tms_errors(data: Mapping[str, Any]) -> Errors:
    """percent_mt within the plausible % of motor threshold, pulses ≥ 1 (DOMAIN.md §1.2–1.3)."""
    errors: Errors = {}
    if not PERCENT_OF_MT.admits(data.get("percent_mt")):
        errors["percent_mt"] = [f"an integer % of motor threshold, {PERCENT_OF_MT.text}"]
    pulses = data.get("pulses")
    if not is_int(pulses) or pulses < 1:
        errors["pulses"] = ["a positive integer"]
    return errors


def ketamine_errors(data: Mapping[str, Any], parameters: Mapping[str, Any]) -> Errors:
    """vitals {bp, heart_rate, spo2}, driver_confirmed true, and an optional dose_mg_per_kg
    inside the protocol's ``dose_range_mg_per_kg`` (DOMAIN.md §3)."""
    errors: Errors = {}
    vitals = data.get("vitals")
    if not isinstance(vitals, dict) or bp_problem(vitals.get("bp")):
        errors["vitals"] = ["an object with bp {systolic, diastolic}, heart_rate, spo2"]
    elif not (
        HEART_RATE_BPM.admits(vitals.get("heart_rate")) and SPO2_PERCENT.admits(vitals.get("spo2"))
    ):
        errors["vitals"] = [f"heart_rate {HEART_RATE_BPM.text} and spo2 {SPO2_PERCENT.text}"]
    if data.get("driver_confirmed") is not True:
        errors["driver_confirmed"] = ["must be true (a responsible adult drives home)"]
    dose_range = dose_range_mg_per_kg(parameters)
    if "dose_mg_per_kg" in data and dose_range is not None:
        dose, (low, high) = data["dose_mg_per_kg"], dose_range
        if not isinstance(dose, int | float) or isinstance(dose, bool) or not low <= dose <= high:
            errors["dose_mg_per_kg"] = [f"a dose of {low}–{high} mg/kg"]
    return errors


def completion_errors(modality: str, kind: str, data: Any, parameters: Mapping[str, Any]) -> Errors:
    """Field errors of kind-specific completion data; ``{}`` when valid.

    Any kind: the billing facts (``billing_errors``). Mapping/treatment sessions: SPRAVATO
    (``spravato_errors``), TMS (``tms_errors``), ketamine (``ketamine_errors``), read against
    the protocol's ``parameters``. Other modalities/kinds: a free-form object.
    """
    if not isinstance(data, dict):
        return {"completion": ["must be an object"]}
    errors = billing_errors(data)
    if kind not in COURSE_KINDS:
        return errors
    if modality == Modality.SPRAVATO:
        errors.update(spravato_errors(data, parameters))
    elif modality == Modality.TMS:
        errors.update(tms_errors(data))
    elif modality == Modality.KETAMINE:
        errors.update(ketamine_errors(data, parameters))
    return errors
