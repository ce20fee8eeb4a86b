"""The facts the readiness rules read and the results they return (plain frozen dataclasses).

The Django layer builds the ``*Facts`` from models (``plans/selectors.py``); STYLE.md habit 9.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from modalities.specs import IndicationSpec, ProtocolSpec
from modalities.vocab import (
    EvaluationKind,
    Evidence,
    Instrument,
    LabelStatus,
    PayerType,
    RequirementStatus,
    Severity,
    Timing,
)

# ---------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PriorAuthFact:
    """The payer's authorisation recorded on the component (PlanComponent coverage fields)."""

    number: str
    sessions: int | None
    expires_on: dt.date | None


@dataclass(frozen=True, slots=True)
class CourseFacts:
    """Where the course stands, as the rules see it.

    ``at_sequence``: the course session being judged (checked in, or the next to come), 1-based.
    ``started_on``: the date of the first course session that took place (arrived/fulfilled);
    ``None`` while none has. ``session_dates``: sequence → date of each active course session
    (booked, arrived, fulfilled), which dates the ``every_n_sessions`` due points.
    """

    at_sequence: int
    started_on: dt.date | None = None
    session_dates: Mapping[int, dt.date] = field(default_factory=dict, hash=False)

    @property
    def started(self) -> bool:
        return self.started_on is not None and self.at_sequence > 1


NOT_STARTED = CourseFacts(at_sequence=1)


@dataclass(frozen=True, slots=True)
class ComponentFacts:
    """One plan component as the rules see it.

    ``label_status`` is the component's derived status (normally ``indication.label_status``);
    ``prior_auth`` is the coverage authorisation, if the coordinator recorded one on the component
    (it satisfies the ``prior_authorization`` requirement like an evaluation of that kind would).
    """

    component_id: Any
    protocol: ProtocolSpec
    indication: IndicationSpec
    label_status: LabelStatus
    payer_type: PayerType
    prior_auth: PriorAuthFact | None = None
    course: CourseFacts = NOT_STARTED


@dataclass(frozen=True, slots=True)
class EvaluationFact:
    """A recorded evaluation step (not entered-in-error).

    ``component_id=None`` = patient-wide: it satisfies matching requirements in every component;
    otherwise only in that component. ``valid_until`` overrides the requirement's
    ``validity_days`` when set. ``data`` is the kind-specific payload (see
    ``evaluation_data_errors``).
    """

    id: Any
    kind: EvaluationKind
    component_id: Any | None
    performed_at: dt.datetime  # aware
    valid_until: dt.date | None = None
    data: Mapping[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True, slots=True)
class MeasureFact:
    """A scored outcome measure. Patient-wide. ``is_baseline`` marks the pre-course score."""

    id: Any
    instrument: Instrument
    taken_at: dt.datetime  # aware
    is_baseline: bool
    total: float | int | None = None


@dataclass(frozen=True, slots=True)
class ClinicFacts:
    """Clinic attributes that requirements with evidence ``clinic`` read, and the clinic's time
    zone: evidence counts by its date *there* (promise 9) — an evaluation recorded at 21:30 in
    New York (02:30 UTC the next day) is dated the day it was done, the day ``today`` is."""

    rems_certified_until: dt.date | None = None
    zone: dt.tzinfo = dt.UTC


# ---------------------------------------------------------------------------------------------
# Outputs
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RequirementResult:
    key: str
    evidence: Evidence
    code: str
    status: RequirementStatus
    severity: Severity
    reason: str
    source: str
    satisfied_by: Any | None  # evaluation/measure id, "prior_auth:<number>" or "clinic"
    expires_on: dt.date | None
    detail: str
    applies_because: str
    timing: Timing

    @property
    def blocks_start(self) -> bool:
        return self.severity == Severity.BLOCKING and self.status in (
            RequirementStatus.MISSING,
            RequirementStatus.EXPIRED,
        )


@dataclass(frozen=True, slots=True)
class ComponentReadiness:
    component_id: Any
    ready_to_start: bool
    items: tuple[RequirementResult, ...]

    def item(self, key: str) -> RequirementResult:
        for it in self.items:
            if it.key == key:
                return it
        raise KeyError(key)

    @property
    def outstanding(self) -> tuple[RequirementResult, ...]:
        """Items missing or expired (blocking and warning)."""
        return tuple(
            it
            for it in self.items
            if it.status in (RequirementStatus.MISSING, RequirementStatus.EXPIRED)
        )


@dataclass(frozen=True, slots=True)
class CombinationWarning:
    code: EvaluationKind  # always COMBINATION_REVIEW
    component_ids: tuple[Any, ...]
    severity: Severity
    reason: str
    source: str


@dataclass(frozen=True, slots=True)
class PlanReadiness:
    components: tuple[ComponentReadiness, ...]
    warnings: tuple[CombinationWarning, ...]

    @property
    def ready_to_start(self) -> bool:
        return all(c.ready_to_start for c in self.components)

    def component(self, component_id: Any) -> ComponentReadiness:
        for c in self.components:
            if c.component_id == component_id:
                return c
        raise KeyError(component_id)
