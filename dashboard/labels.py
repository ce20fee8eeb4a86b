"""Human labels for stored codes (the codes themselves stay stable: modalities.vocab).

Every code the dashboard can show has a label here — requirement keys and evidence codes, flag
codes, instruments, audit object types — and ``humanize`` rewrites any code that slipped into
free text (a flag message, a readiness detail such as "no pain_nrs recorded"). The coverage test
(tests/dashboard/test_labels.py) walks the vocabularies and the catalogue so a new code cannot
reach a clinician's screen raw.
"""

from __future__ import annotations

import re
from functools import lru_cache

MODALITY_LABELS = {
    "tms": "TMS",
    "spravato": "SPRAVATO",
    "ketamine": "IV ketamine",
    "neurofeedback": "Neurofeedback",
    "psychiatry": "Psychiatry",
}

STEP_LABELS = {
    "phq9": "Baseline PHQ-9",
    "gad7": "Baseline GAD-7",
    "pain_nrs": "Baseline pain score (NRS)",
    "bpi_sf": "Baseline Brief Pain Inventory",
    "cssrs_screener": "C-SSRS screen",
    "tms_safety_screen": "TMS safety screen",
    "rems_enrollment": "REMS patient enrolment",
    "spravato_rems_certification": "Site REMS certification",
    "spravato_contraindication_screen": "SPRAVATO contraindication screen",
    "pdmp_check": "PDMP check",
    "baseline_bp": "Baseline blood pressure",
    "baseline_qeeg": "Baseline qEEG",
    "mri_neuronavigation": "MRI neuronavigation",
    "antidepressant_trials": "Antidepressant trials (≥ 2 failed)",
    "antidepressant_trials_payer": "Antidepressant trials (payer criteria)",
    "baseline_phq9": "Baseline PHQ-9",
    "baseline_pain_nrs": "Baseline pain score (NRS)",
    "site_rems_certification": "Site REMS certification",
    "financial_acknowledgment_gfe": "Financial acknowledgment (good-faith estimate)",
    "financial_acknowledgment_abn": "Financial acknowledgment (Medicare ABN)",
    "motor_threshold_recheck": "Motor threshold re-check",
    "motor_threshold_after_medication_change": "Motor threshold re-check after a medication change",
    "motor_threshold": "Motor threshold",
    "psychiatric_evaluation": "Psychiatric evaluation",
    "target_rationale": "Target rationale",
    "symptom_provocation_plan": "Symptom provocation plan",
    "medical_clearance": "Medical clearance",
    "substance_psychosis_screen": "Substance use and psychosis screen",
    "informed_consent": "Informed consent",
    "off_label_consent": "Off-label consent",
    "financial_acknowledgment": "Financial acknowledgment",
    "prior_authorization": "Prior authorisation",
    "transport_plan": "Transport plan (ride home)",
    "rems_monitoring_form": "REMS patient monitoring form",
    "combination_review": "Combination review",
    "medication_change": "Medication change",
    "end_of_induction_phq9": "End-of-induction PHQ-9",
    "reassessment_qeeg": "qEEG re-assessment",
    "suicide_screen_each_contact": "Suicide-risk screen at this contact",
}

INSTRUMENT_LABELS = {
    "phq9": "PHQ-9",
    "gad7": "GAD-7",
    "pain_nrs": "Pain score (NRS)",
    "bpi_sf": "Brief Pain Inventory",
    "cssrs_screener": "C-SSRS screen",
}

FLAG_LABELS = {
    "requirement_missing": "Required step missing",
    "requirement_expired": "Required step expired",
    "requirement_expiring": "Required step expiring before a booked session",
    "combination_review": "Treatment combination needs review",
    "safety_phq9_item9": "Safety: PHQ-9 item 9 (thoughts of self-harm)",
    "safety_cssrs_high_risk": "Safety: C-SSRS high suicide risk",
    "rems_monitoring_form_overdue": "REMS monitoring form overdue",
    "induction_review_due": "End-of-induction review due",
    "weekly_phq9_overdue": "Weekly PHQ-9 overdue",
    "prior_auth_expiring": "Prior authorisation expiring",
    "sessions_beyond_authorization": "Sessions beyond the authorisation",
    "prior_auth_units_low": "Prior authorisation nearly used up",
    "follow_up_overdue": "Psychiatric follow-up overdue",
    "no_show_streak": "Repeated no-shows",
    "reminder_failed": "Reminder could not be delivered",
    "gate_overridden": "Check-in gate overridden",
}

SEVERITY_LABELS = {
    "info": "Info",
    "warning": "Warning",
    "critical": "Critical",
    "blocking": "Blocking",
}

AUDIT_OBJECT_LABELS = {
    "plans.careplan": "Plan",
    "plans.plancomponent": "Plan component",
    "plans.evaluation": "Evaluation step",
    "plans.measure": "Outcome measure",
    "plans.flag": "Flag",
    "plans.patient": "Patient record",
    "scheduling.session": "Session",
    "scheduling.calendarfeed": "Calendar feed",
    "scheduling.smsoptout": "SMS opt-out",
    "dashboard.worklist": "Worklist",
    "authtoken.token": "API token",
}


def modality_label(code: str) -> str:
    return MODALITY_LABELS.get(str(code), str(code).replace("_", " ").capitalize())


def step_label(code: str) -> str:
    code = str(code)
    return STEP_LABELS.get(code) or INSTRUMENT_LABELS.get(code) or _fallback(code)


def instrument_label(code: str) -> str:
    return INSTRUMENT_LABELS.get(str(code)) or _fallback(str(code))


def flag_label(code: str) -> str:
    return FLAG_LABELS.get(str(code)) or _fallback(str(code))


def severity_label(code: str) -> str:
    return SEVERITY_LABELS.get(str(code)) or _fallback(str(code))


def audit_object_label(object_type: str) -> str:
    return AUDIT_OBJECT_LABELS.get(str(object_type)) or _fallback(
        str(object_type).rpartition(".")[2]
    )


def phase_label(code: str) -> str:
    """A course phase name as written in the catalogue (``taper_3`` → "Taper 3")."""
    return _fallback(str(code))


def _fallback(code: str) -> str:
    return code.replace("_", " ").capitalize()


@lru_cache(maxsize=1)
def _code_pattern() -> tuple[re.Pattern[str], dict[str, str]]:
    table = {**STEP_LABELS, **INSTRUMENT_LABELS}
    # the "x y" spelling older flag messages used ("baseline phq9: …") maps to the same label
    table |= {code.replace("_", " "): label for code, label in list(table.items()) if "_" in code}
    alternatives = "|".join(re.escape(k) for k in sorted(table, key=len, reverse=True))
    return re.compile(rf"(?<![\w-])({alternatives})(?![\w-])"), table


def humanize(text: str) -> str:
    """``text`` with every known code (``pain_nrs``, ``baseline phq9``) replaced by its label."""
    pattern, table = _code_pattern()
    return pattern.sub(lambda m: table[m.group(1)], str(text or ""))


def flag_text(flag) -> str:
    """What a flag says on screen: its human label, then the gap in human words."""
    label = flag_label(flag.code)
    key = (flag.requirement_key or "").rpartition(":")[2]
    if flag.code.startswith("requirement_") and key:
        detail = (flag.detail or {}).get("detail") or ""
        step = step_label(key)
        return f"{label}: {step}" + (f" — {humanize(detail)}" if detail else "")
    if flag.code.startswith("safety_") and flag.message:  # the message names the item itself
        return f"Safety: {humanize(flag.message)}"
    return f"{label}: {humanize(flag.message)}" if flag.message else label


TARGET_LABELS = {
    "left_dlpfc": "Left DLPFC",
    "right_dlpfc": "Right DLPFC",
    "dmpfc": "DMPFC (dorsomedial prefrontal cortex)",
    "m1_contralateral": "M1 contralateral to the pain",
    "left_m1": "Left M1 (primary motor cortex)",
    "occipital": "Occipital",
    "individualized_qeeg": "Sites chosen from the qEEG map",
    "none": "No stimulation target",
}


def target_label(code: str) -> str:
    return TARGET_LABELS.get(str(code), str(code).replace("_", " "))


def parameters_text(parameters: dict) -> str:
    """Protocol parameters as a short line: ``frequency hz 10 · percent mt 80``."""
    if not isinstance(parameters, dict):
        return ""
    return " · ".join(
        f"{str(k).replace('_', ' ')} {v}"
        for k, v in parameters.items()
        if not isinstance(v, dict | list) and "source" not in str(k)
    )
