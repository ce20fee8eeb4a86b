"""The shared vocabulary of the domain: code values used by models, rules, data files and the API.

Pure Python (no Django import) so that the rules in ``*/rules/`` and the protocol catalogue
can use the same codes as the database. Every value here is a stable code: it is stored in the
database and returned by the API, so renaming one needs a data migration.

FHIR names are given where one exists; code values are validated here rather than trusted to
a FHIR library (DESIGN.md §7: Python FHIR validators accept invalid ``status`` codes).
"""

from __future__ import annotations

from enum import StrEnum


class Modality(StrEnum):
    TMS = "tms"
    SPRAVATO = "spravato"
    KETAMINE = "ketamine"
    NEUROFEEDBACK = "neurofeedback"
    PSYCHIATRY = "psychiatry"


class LabelStatus(StrEnum):
    """Regulatory status of (device/drug, protocol, indication, age) — DOMAIN.md §1.1, §2.1, §3."""

    CLEARED = "cleared"  # device: FDA 510(k) / De Novo clearance
    APPROVED = "approved"  # drug: FDA approval (SPRAVATO)
    OFF_LABEL = "off_label"
    NOT_APPLICABLE = "not_applicable"  # e.g. a psychiatric follow-up visit


class Target(StrEnum):
    """Stimulation targets — DOMAIN.md §1.5."""

    LEFT_DLPFC = "left_dlpfc"
    RIGHT_DLPFC = "right_dlpfc"
    DMPFC = "dmpfc"  # dorsomedial PFC / ACC, deep TMS H7
    M1_CONTRALATERAL = "m1_contralateral"  # M1 contralateral to the painful side
    LEFT_M1 = "left_m1"
    OCCIPITAL = "occipital"
    INDIVIDUALIZED_QEEG = "individualized_qeeg"  # neurofeedback sites chosen from the qEEG map
    NONE = "none"


class PayerType(StrEnum):
    COMMERCIAL = "commercial"
    MEDICARE = "medicare"
    MEDICAID = "medicaid"
    SELF_PAY = "self_pay"


class EvaluationKind(StrEnum):
    """Recorded evaluation steps [Procedure/Observation/Consent]. DESIGN.md §3 'Evaluation'."""

    PSYCHIATRIC_EVALUATION = "psychiatric_evaluation"
    TMS_SAFETY_SCREEN = "tms_safety_screen"  # IFCN questionnaire, DOMAIN.md §1.4
    MOTOR_THRESHOLD = "motor_threshold"  # DOMAIN.md §1.3
    TARGET_RATIONALE = "target_rationale"
    MRI_NEURONAVIGATION = "mri_neuronavigation"  # SAINT, DOMAIN.md §1.3
    SYMPTOM_PROVOCATION_PLAN = "symptom_provocation_plan"  # deep TMS OCD, DOMAIN.md §1.2
    REMS_ENROLLMENT = "rems_enrollment"  # SPRAVATO patient enrolment, DOMAIN.md §2.4
    SPRAVATO_CONTRAINDICATION_SCREEN = "spravato_contraindication_screen"  # DOMAIN.md §2.2
    BASELINE_BP = "baseline_bp"
    MEDICAL_CLEARANCE = "medical_clearance"
    SUBSTANCE_PSYCHOSIS_SCREEN = "substance_psychosis_screen"  # DOMAIN.md §3 (APA consensus)
    PDMP_CHECK = "pdmp_check"  # DOMAIN.md §2.5
    ANTIDEPRESSANT_TRIALS = "antidepressant_trials"  # DOMAIN.md §1.6, §2.1
    BASELINE_QEEG = "baseline_qeeg"  # DOMAIN.md §4
    INFORMED_CONSENT = "informed_consent"
    OFF_LABEL_CONSENT = "off_label_consent"
    FINANCIAL_ACKNOWLEDGMENT = "financial_acknowledgment"  # ABN (Medicare) / GFE (self-pay), §6
    PRIOR_AUTHORIZATION = "prior_authorization"
    TRANSPORT_PLAN = "transport_plan"  # SPRAVATO/ketamine discharge, DOMAIN.md §2.4, §3
    REMS_MONITORING_FORM = "rems_monitoring_form"  # PMF after every SPRAVATO session, §2.4
    COMBINATION_REVIEW = "combination_review"  # SPRAVATO + ketamine/TMS in one plan, §2.5
    MEDICATION_CHANGE = "medication_change"  # an event: MT shifts with medication, §1.3


class Instrument(StrEnum):
    """Outcome instruments [QuestionnaireResponse/Observation] — DOMAIN.md §5.2."""

    PHQ9 = "phq9"
    GAD7 = "gad7"
    PAIN_NRS = "pain_nrs"
    BPI_SF = "bpi_sf"
    CSSRS_SCREENER = "cssrs_screener"


class Timing(StrEnum):
    """When a requirement must be satisfied, relative to the course (``plans/rules/readiness/``).

    - ``before_first_session``: satisfied once, before session 1. Its ``validity_days`` is
      judged at the first session; once the course has started it is never re-checked.
    - ``valid_during_course``: must be valid at every session; its validity window is re-checked
      at each check-in (a prior authorisation, the site's REMS certification).
    - ``before_every_session``: fresh evidence before each session (same check as above).
    - ``every_n_sessions``: repeated evidence due at sessions 1+N, 1+2N, … (motor-threshold
      re-measurement, DOMAIN.md §1.3; neurofeedback re-assessment, §4).
    - ``after_medication_change``: new evidence after a medication change recorded during the
      course (motor threshold shifts with medication, DOMAIN.md §1.3).
    """

    BEFORE_FIRST_SESSION = "before_first_session"
    VALID_DURING_COURSE = "valid_during_course"
    BEFORE_EVERY_SESSION = "before_every_session"
    AFTER_MEDICATION_CHANGE = "after_medication_change"
    WITHIN_DAYS_AFTER_EACH_SESSION = "within_days_after_each_session"
    EVERY_N_SESSIONS = "every_n_sessions"
    END_OF_PHASE = "end_of_phase"


class Evidence(StrEnum):
    """What satisfies a requirement: a recorded evaluation, a measure, or a clinic attribute."""

    EVALUATION = "evaluation"
    MEASURE = "measure"
    CLINIC = "clinic"


class ClinicAttribute(StrEnum):
    SPRAVATO_REMS_CERTIFICATION = "spravato_rems_certification"  # DOMAIN.md §2.4


class Severity(StrEnum):
    """Flag severities, lowest first [Flag]."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"
    BLOCKING = "blocking"


class RequirementStatus(StrEnum):
    SATISFIED = "satisfied"
    MISSING = "missing"
    EXPIRED = "expired"
    NOT_APPLICABLE = "not_applicable"


class ResourceKind(StrEnum):
    TMS_DEVICE = "tms_device"
    TREATMENT_ROOM = "treatment_room"
    MONITORING_CHAIR = "monitoring_chair"  # SPRAVATO ≥2 h observation, DOMAIN.md §2.4
    INFUSION_CHAIR = "infusion_chair"
    EEG_STATION = "eeg_station"
    CONSULT_ROOM = "consult_room"


class Coil(StrEnum):
    """TMS coil / system families a device carries (``Resource.coil_type``) and an indication is
    cleared with (``cleared_coils``). DOMAIN.md §1.1: clearance is device- and coil-specific —
    H7 deep TMS for OCD, H1 for MDD, H4 for smoking; figure-8 MDD devices are not
    interchangeably cleared for OCD."""

    FIGURE8 = "figure8"
    H1 = "h1"
    H4 = "h4"
    H7 = "h7"


def normalise_coil(value: str | None) -> str:
    """``"Figure-8"``, ``"figure 8"`` → ``figure8``; ``"H7"`` → ``h7``; empty stays empty."""
    return "".join(ch for ch in (value or "").lower() if ch.isalnum())


class SessionKind(StrEnum):
    MAPPING = "mapping"  # first TMS session: motor threshold + treatment, DOMAIN.md §1.3
    TREATMENT = "treatment"
    EVALUATION = "evaluation"
    FOLLOW_UP = "follow_up"


COURSE_KINDS = (SessionKind.MAPPING.value, SessionKind.TREATMENT.value)
"""The session kinds that make up a course (numbered, capped, re-flowed, treatment data)."""
