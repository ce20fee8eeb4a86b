"""Human labels for stored codes (the codes themselves stay stable: modalities.vocab)."""

from __future__ import annotations

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
}


def modality_label(code: str) -> str:
    return MODALITY_LABELS.get(str(code), str(code).replace("_", " ").capitalize())


def step_label(code: str) -> str:
    code = str(code)
    return STEP_LABELS.get(code, code.replace("_", " ").capitalize())


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
