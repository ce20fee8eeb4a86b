"""Protocol specs: the typed, validated shape of one catalogue protocol, and the vocabularies the
catalogue may use (condition keys, check keys, measure schedule).

Pure (no Django import). ``modalities/catalogue.py`` parses the YAML into these; the readiness
evaluator (``plans/rules/readiness.py``) and the scheduling rules read them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from modalities.rules.phases import Phase
from modalities.vocab import (
    ClinicAttribute,
    Coil,
    EvaluationKind,
    Evidence,
    Instrument,
    LabelStatus,
    Modality,
    PayerType,
    ResourceKind,
    Severity,
    Target,
    Timing,
)

# ---------------------------------------------------------------------------------------------
# Vocabularies for condition / check / measure schedule
# ---------------------------------------------------------------------------------------------

INDICATION_CATEGORIES: frozenset[str] = frozenset({"depression", "anxiety", "ocd", "pain", "other"})

CONDITION_KEYS: dict[str, type[StrEnum] | frozenset[str]] = {
    "label_status": LabelStatus,  # component's label status is one of
    "label_status_not": LabelStatus,  # … is none of
    "payer_type": PayerType,  # component's payer type is one of
    "payer_type_not": PayerType,  # … is none of
    "indication_category": INDICATION_CATEGORIES,  # component's indication category is one of
    "indication_category_not": INDICATION_CATEGORIES,  # … is none of
}
"""Requirement condition keys → allowed values. Each value in YAML is a non-empty list."""

CHECK_KEYS: dict[str, tuple[EvaluationKind, type]] = {
    # at least N failed trials (outcome not 'response' and weeks ≥ min_trial_weeks)
    "min_failed_trials": (EvaluationKind.ANTIDEPRESSANT_TRIALS, int),
    # minimum weeks for a trial to count as adequate (payer adequacy, DOMAIN.md §1.6/§2.5)
    "min_trial_weeks": (EvaluationKind.ANTIDEPRESSANT_TRIALS, int),
    # at least N distinct drug classes among the failed trials (DOMAIN.md §1.6/§2.5)
    "min_drug_classes": (EvaluationKind.ANTIDEPRESSANT_TRIALS, int),
    # safety-screen boolean fields that fail the screen whatever its decision (DOMAIN.md §1.4)
    "hard_contraindications": (EvaluationKind.TMS_SAFETY_SCREEN, list),
    # safety-screen data['decision'] must be one of these
    "decision_in": (EvaluationKind.TMS_SAFETY_SCREEN, list),
    # financial-acknowledgment data['form'] must be one of these
    "form_in": (EvaluationKind.FINANCIAL_ACKNOWLEDGMENT, list),
}
"""Requirement check keys → (the evaluation kind they apply to, the YAML type of the value)."""

MEASURE_WHEN: frozenset[str] = frozenset({"baseline", "weekly", "every_n_sessions", "end_of_phase"})


class CatalogueError(ValueError):
    """A catalogue file is invalid. The message names the file, the protocol code and the field."""

    def __init__(self, file: str, protocol: str | None, field_path: str, message: str) -> None:
        self.file = file
        self.protocol = protocol
        self.field = field_path
        where = f"{file}: protocol {protocol!r}" if protocol else file
        super().__init__(f"{where}: {field_path}: {message}")


# ---------------------------------------------------------------------------------------------
# Specs
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IndicationSpec:
    """One indication a protocol treats, with its label status for the device/drug and age range."""

    code: str
    name: str
    icd10: tuple[str, ...]  # ICD-10 code prefixes, e.g. ("F33", "F32")
    category: str  # INDICATION_CATEGORIES
    label_status: LabelStatus
    source: str
    device: str | None = None
    coil: str | None = None
    min_age: int | None = None
    max_age: int | None = None
    adjunct: bool = False
    # Coils (vocab.Coil) the clearance covers; empty = not device-specific in the catalogue.
    cleared_coils: tuple[Coil, ...] = ()

    def matches_icd10(self, code: str) -> bool:
        return any(code.upper().startswith(prefix.upper()) for prefix in self.icd10)


@dataclass(frozen=True, slots=True)
class RequirementSpec:
    """A step that must be evidenced (an evaluation, a measure or a clinic attribute).

    ``condition``: all-of mapping from ``CONDITION_KEYS`` to lists; empty = always applies.
    ``check``: data checks on the evidence (``CHECK_KEYS``); empty = presence is enough.
    ``validity_days``: evidence older than this (from its date) is expired; ``None`` = never.
    """

    key: str
    evidence: Evidence
    code: EvaluationKind | Instrument | ClinicAttribute
    timing: Timing
    severity: Severity
    reason: str
    source: str
    timing_value: int | None = None
    validity_days: int | None = None
    condition: Mapping[str, tuple[str, ...]] = field(default_factory=dict, hash=False)
    check: Mapping[str, Any] = field(default_factory=dict, hash=False)

    @property
    def applies_before_start(self) -> bool:
        return self.timing in (
            Timing.BEFORE_FIRST_SESSION,
            Timing.VALID_DURING_COURSE,
            Timing.BEFORE_EVERY_SESSION,
        )


@dataclass(frozen=True, slots=True)
class MeasureScheduleItem:
    instrument: Instrument
    when: str  # MEASURE_WHEN
    n: int | None = None  # for every_n_sessions


@dataclass(frozen=True, slots=True)
class ProtocolSpec:
    """A versioned protocol template [PlanDefinition] (DESIGN.md §3 'Protocol')."""

    code: str
    version: int
    modality: Modality
    title: str
    description: str
    target: Target
    parameters: Mapping[str, Any] = field(hash=False)
    phases: tuple[Phase, ...]
    session_minutes: int  # treatment time
    chair_minutes: int  # total time in clinic incl. monitoring
    mapping_minutes: int | None  # TMS first-session mapping / motor threshold, else None
    session_cap: int
    resource_kinds: tuple[ResourceKind, ...]
    measure_schedule: tuple[MeasureScheduleItem, ...]
    preparation: str  # patient-safe (no notifications.terms.FORBIDDEN_TERMS entry appears)
    indications: tuple[IndicationSpec, ...]
    requirements: tuple[RequirementSpec, ...]
    sources: tuple[str, ...]
    source_file: str = field(default="", compare=False, hash=False)

    @property
    def total_sessions(self) -> int:
        return sum(p.sessions for p in self.phases)

    def indication(self, code: str) -> IndicationSpec:
        for ind in self.indications:
            if ind.code == code:
                return ind
        raise KeyError(f"protocol {self.code!r} v{self.version}: no indication {code!r}")

    def requirement(self, key: str) -> RequirementSpec:
        for req in self.requirements:
            if req.key == key:
                return req
        raise KeyError(f"protocol {self.code!r} v{self.version}: no requirement {key!r}")


def find_protocol(
    protocols: list[ProtocolSpec], code: str, version: int | None = None
) -> ProtocolSpec:
    """The protocol ``code`` at ``version`` (latest when ``None``); KeyError if absent."""
    matching = [
        p for p in protocols if p.code == code and (version is None or p.version == version)
    ]
    if not matching:
        raise KeyError(f"no protocol {code!r}" + (f" v{version}" if version else ""))
    return max(matching, key=lambda p: p.version)
