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
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from modalities.specs import IndicationSpec, ProtocolSpec, RequirementSpec
from modalities.vocab import (
    ClinicAttribute,
    EvaluationKind,
    Evidence,
    Instrument,
    LabelStatus,
    Modality,
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
    """Clinic attributes that requirements with evidence ``clinic`` read."""

    rems_certified_until: dt.date | None = None


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


# ---------------------------------------------------------------------------------------------
# Conditions
# ---------------------------------------------------------------------------------------------

_START_TIMINGS = (
    Timing.BEFORE_FIRST_SESSION,
    Timing.VALID_DURING_COURSE,
    Timing.BEFORE_EVERY_SESSION,
)
GATED_TIMINGS = frozenset(
    {*_START_TIMINGS, Timing.EVERY_N_SESSIONS, Timing.AFTER_MEDICATION_CHANGE}
)
"""Timings the check-in gate evaluates at a session (the rest are the flag scanner's)."""
RECHECKED_TIMINGS = frozenset({Timing.VALID_DURING_COURSE, Timing.BEFORE_EVERY_SESSION})
"""Timings whose validity window is re-checked on the day of every session."""


def _condition_facts(component: ComponentFacts) -> dict[str, str]:
    return {
        "label_status": component.label_status.value,
        "payer_type": component.payer_type.value,
        "indication_category": component.indication.category,
    }


def condition_applies(
    condition: Mapping[str, Iterable[str]], component: ComponentFacts
) -> tuple[bool, str]:
    """(applies, why) for a requirement condition (all-of). ``why`` is for ``applies_because``."""
    facts = _condition_facts(component)
    reasons: list[str] = []
    for key, values in condition.items():
        allowed = {str(v) for v in values}
        negated = key.endswith("_not")
        fact_name = key.removesuffix("_not")
        fact = facts[fact_name]
        if negated == (fact in allowed):
            return False, ""
        label = fact_name.replace("_", " ")
        if fact_name == "label_status" and fact == LabelStatus.OFF_LABEL and not negated:
            reasons.append("off-label indication")
        else:
            reasons.append(f"{label} {fact}")
    return True, ", ".join(reasons) or "protocol"


# ---------------------------------------------------------------------------------------------
# Checks on evidence data
# ---------------------------------------------------------------------------------------------

TRIAL_OUTCOMES = frozenset({"inadequate_response", "intolerance", "response"})
SAFETY_DECISIONS = frozenset({"cleared", "cleared_with_precautions", "not_cleared"})
FINANCIAL_FORMS = frozenset({"abn", "good_faith_estimate", "waiver_not_needed"})
MT_METHODS = frozenset({"visual", "emg"})
SAFETY_HARD_CONTRAINDICATION_FIELDS = ("magnetic_implant_within_30cm",)
"""Safety-screen fields naming a device-label hard contraindication (DOMAIN.md §1.4)."""
IFCN_ITEMS = tuple(f"q{i}" for i in range(1, 16))  # DOMAIN.md §1.4: IFCN 15-item questionnaire
DEFAULT_MIN_TRIAL_WEEKS = 6  # payer adequacy, DOMAIN.md §1.6 / §2.5 [PAYER]


def _failed_trials(data: Mapping[str, Any], min_weeks: int) -> list[Mapping[str, Any]]:
    trials = data.get("trials") if isinstance(data, Mapping) else None
    if not isinstance(trials, list):
        return []
    out = []
    for trial in trials:
        if not isinstance(trial, Mapping):
            continue
        weeks = trial.get("weeks")
        if (
            trial.get("outcome") in TRIAL_OUTCOMES - {"response"}
            and isinstance(weeks, int | float)
            and not isinstance(weeks, bool)
            and weeks >= min_weeks
        ):
            out.append(trial)
    return out


def count_failed_trials(
    data: Mapping[str, Any], *, min_weeks: int = DEFAULT_MIN_TRIAL_WEEKS
) -> int:
    """Failed adequate antidepressant trials: outcome is not 'response' and weeks ≥ ``min_weeks``.

    DOMAIN.md §1.6 Adequate trial [PAYER]; §2.5 (≥6 weeks at therapeutic dose) [PAYER].
    Malformed entries do not count.
    """
    return len(_failed_trials(data, min_weeks))


def drug_class_key(value: Any) -> str:
    """A drug class as compared: case and punctuation ignored ("SSRI" = "ssri" = "S.S.R.I.")."""
    return "".join(ch for ch in str(value).casefold() if ch.isalnum())


def count_failed_drug_classes(
    data: Mapping[str, Any], *, min_weeks: int = DEFAULT_MIN_TRIAL_WEEKS
) -> int:
    """Distinct drug classes among the failed adequate trials (two SSRIs count once).

    DOMAIN.md §1.6 Failed antidepressant trials: ≥2 adequate trials from ≥2 different classes
    [PAYER]; §2.5 nonresponse to ≥2 antidepressants from different classes [PAYER].
    """
    return len(
        {
            key
            for trial in _failed_trials(data, min_weeks)
            if (key := drug_class_key(trial.get("drug_class", "")))
        }
    )


def _check_failure(req: RequirementSpec, data: Mapping[str, Any]) -> str | None:
    """Why the evidence fails the requirement's ``check``, or None when it passes."""
    check = req.check
    if "min_failed_trials" in check:
        need = int(check["min_failed_trials"])
        weeks = int(check.get("min_trial_weeks", DEFAULT_MIN_TRIAL_WEEKS))
        got = count_failed_trials(data, min_weeks=weeks)
        if got < need:
            noun = "trial" if got == 1 else "trials"
            return (
                f"only {got} failed antidepressant {noun} of ≥{weeks} weeks recorded; "
                f"{need} required"
            )
    if "min_drug_classes" in check:
        need = int(check["min_drug_classes"])
        weeks = int(check.get("min_trial_weeks", DEFAULT_MIN_TRIAL_WEEKS))
        got = count_failed_drug_classes(data, min_weeks=weeks)
        if got < need:
            noun = "class" if got == 1 else "classes"
            return (
                f"failed trials of ≥{weeks} weeks cover {got} drug {noun}; "
                f"{need} different classes required"
            )
    if "hard_contraindications" in check:
        present = [name for name in check["hard_contraindications"] if data.get(name) is True]
        if present:
            return (
                "hard contraindication recorded ("
                + ", ".join(name.replace("_", " ") for name in present)
                + "); the screen cannot clear stimulation whatever its decision"
            )
    if "decision_in" in check:
        decision = data.get("decision")
        if decision not in check["decision_in"]:
            return (
                f"safety screen decision is {decision!r}; "
                f"needs one of {', '.join(check['decision_in'])}"
            )
    if "form_in" in check:
        form = data.get("form")
        if form not in check["form_in"]:
            return f"financial acknowledgment form is {form!r}; needs {', '.join(check['form_in'])}"
    return None


# ---------------------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Candidate:
    ident: Any
    at: dt.datetime
    expires_on: dt.date | None
    failure: str | None


def _expiry(req: RequirementSpec, when: dt.datetime, valid_until: dt.date | None) -> dt.date | None:
    if valid_until is not None:
        return valid_until
    if req.validity_days is not None:
        return when.date() + dt.timedelta(days=req.validity_days)
    return None


def _candidates(
    req: RequirementSpec,
    component: ComponentFacts,
    evaluations: Sequence[EvaluationFact],
    measures: Sequence[MeasureFact],
    today: dt.date,
    since: dt.date | None = None,
) -> list[_Candidate]:
    """Evidence for ``req`` dated on or before ``today`` (and on or after ``since`` if given)."""
    out: list[_Candidate] = []
    if req.evidence == Evidence.EVALUATION:
        for ev in evaluations:
            if ev.kind != req.code or ev.performed_at.date() > today:
                continue
            if since is not None and ev.performed_at.date() < since:
                continue
            if ev.component_id is not None and ev.component_id != component.component_id:
                continue
            out.append(
                _Candidate(
                    ev.id,
                    ev.performed_at,
                    _expiry(req, ev.performed_at, ev.valid_until),
                    _check_failure(req, ev.data),
                )
            )
        if req.code == EvaluationKind.PRIOR_AUTHORIZATION and component.prior_auth is not None:
            pa = component.prior_auth
            out.append(
                _Candidate(
                    f"prior_auth:{pa.number}",
                    dt.datetime.combine(today, dt.time.min, tzinfo=dt.UTC),
                    pa.expires_on,
                    None,
                )
            )
    elif req.evidence == Evidence.MEASURE:
        baseline_only = req.timing == Timing.BEFORE_FIRST_SESSION
        for m in measures:
            if m.instrument != req.code or m.taken_at.date() > today:
                continue
            if since is not None and m.taken_at.date() < since:
                continue
            if baseline_only and not m.is_baseline:
                continue
            out.append(_Candidate(m.id, m.taken_at, _expiry(req, m.taken_at, None), None))
    return out


def _due_point(req: RequirementSpec, course: CourseFacts, today: dt.date) -> tuple[int, dt.date]:
    """(sequence, date) of the latest ``every_n_sessions`` due point at or before the session
    judged: sessions 1+N, 1+2N, … (session 1 is the requirement's first-session twin)."""
    n = req.timing_value or 1
    due = 1 + n * ((course.at_sequence - 1) // n)
    on = course.session_dates.get(due)
    if on is None:  # renumbered or not loaded: the latest known session date before it
        earlier = [d for seq, d in course.session_dates.items() if seq <= due]
        on = max(earlier) if earlier else today
    return due, on


def _evaluate_requirement(
    req: RequirementSpec,
    component: ComponentFacts,
    evaluations: Sequence[EvaluationFact],
    measures: Sequence[MeasureFact],
    clinic: ClinicFacts,
    today: dt.date,
) -> RequirementResult:
    def result(
        status: RequirementStatus,
        detail: str,
        because: str,
        satisfied_by: Any = None,
        expires_on: dt.date | None = None,
    ) -> RequirementResult:
        return RequirementResult(
            key=req.key,
            evidence=req.evidence,
            code=str(req.code),
            status=status,
            severity=req.severity,
            reason=req.reason,
            source=req.source,
            satisfied_by=satisfied_by,
            expires_on=expires_on,
            detail=detail,
            applies_because=because,
            timing=req.timing,
        )

    applies, because = condition_applies(req.condition, component)
    if not applies:
        return result(RequirementStatus.NOT_APPLICABLE, "condition not met for this component", "")
    if req.timing not in GATED_TIMINGS:
        return result(
            RequirementStatus.NOT_APPLICABLE,
            f"applies once sessions happen ({req.timing.value}); not part of readiness to start",
            because,
        )
    course = component.course
    since: dt.date | None = None
    if req.timing == Timing.EVERY_N_SESSIONS:
        n = req.timing_value or 1
        if course.at_sequence <= n:
            return result(
                RequirementStatus.NOT_APPLICABLE,
                f"not due yet: first due at session {n + 1}",
                because,
            )
        due, since = _due_point(req, course, today)
        because = f"{because}; due at session {due} (every {n} sessions)"
    elif req.timing == Timing.AFTER_MEDICATION_CHANGE:
        changes = [
            ev
            for ev in evaluations
            if ev.kind == EvaluationKind.MEDICATION_CHANGE
            and course.started_on is not None
            and course.started_on <= ev.performed_at.date() <= today
            and (ev.component_id is None or ev.component_id == component.component_id)
        ]
        if not changes:
            return result(
                RequirementStatus.NOT_APPLICABLE,
                "no medication change recorded during the course",
                because,
            )
        changed = max(changes, key=lambda ev: ev.performed_at)
        since = changed.performed_at.date()
        because = f"{because}; medication changed on {since.isoformat()}"

    if req.evidence == Evidence.CLINIC:
        if req.code == ClinicAttribute.SPRAVATO_REMS_CERTIFICATION:
            until = clinic.rems_certified_until
            if until is None:
                return result(
                    RequirementStatus.MISSING, "clinic certification not recorded", because
                )
            if until < today:
                return result(
                    RequirementStatus.EXPIRED,
                    f"clinic certification expired on {until.isoformat()}",
                    because,
                    expires_on=until,
                )
            return result(RequirementStatus.SATISFIED, "", because, "clinic", until)
        return result(RequirementStatus.MISSING, f"unknown clinic attribute {req.code}", because)

    # A before-first-session step is judged at the first session, never again (issue 15).
    judged_on = today
    if req.timing == Timing.BEFORE_FIRST_SESSION and course.started:
        assert course.started_on is not None
        judged_on = min(course.started_on, today)
    candidates = _candidates(req, component, evaluations, measures, today, since)
    passing = [c for c in candidates if c.failure is None]
    valid = [
        c for c in passing if c.expires_on is None or c.expires_on >= max(judged_on, c.at.date())
    ]
    if valid:
        best = max(valid, key=lambda c: c.at)
        return result(RequirementStatus.SATISFIED, "", because, best.ident, best.expires_on)
    if passing:
        latest = max(passing, key=lambda c: c.at)
        assert latest.expires_on is not None
        return result(
            RequirementStatus.EXPIRED,
            f"last recorded {latest.at.date().isoformat()}, expired on "
            f"{latest.expires_on.isoformat()}",
            because,
            expires_on=latest.expires_on,
        )
    if candidates:
        latest = max(candidates, key=lambda c: c.at)
        return result(RequirementStatus.MISSING, latest.failure or "", because)
    if since is not None:
        return result(
            RequirementStatus.MISSING,
            f"no {req.code} recorded since {since.isoformat()}",
            because,
        )
    if req.evidence == Evidence.MEASURE and req.timing == Timing.BEFORE_FIRST_SESSION:
        return result(RequirementStatus.MISSING, f"no baseline {req.code} recorded", because)
    return result(RequirementStatus.MISSING, f"no {req.code} recorded", because)


def evaluate_component(
    *,
    component: ComponentFacts,
    evaluations: Sequence[EvaluationFact],
    measures: Sequence[MeasureFact],
    clinic: ClinicFacts,
    today: dt.date,
) -> ComponentReadiness:
    items = tuple(
        _evaluate_requirement(req, component, evaluations, measures, clinic, today)
        for req in component.protocol.requirements
    )
    return ComponentReadiness(
        component_id=component.component_id,
        ready_to_start=not any(it.blocks_start for it in items),
        items=items,
    )


def evaluate_plan(
    *,
    components: Sequence[ComponentFacts],
    evaluations: Sequence[EvaluationFact],
    measures: Sequence[MeasureFact],
    clinic: ClinicFacts,
    today: dt.date,
) -> PlanReadiness:
    """Readiness of every component plus plan-level combination warnings.

    Per requirement: condition not met → not_applicable; post-start timing → not_applicable;
    the most recent evidence that passes the check and is still valid → satisfied; only expired
    passing evidence → expired; only evidence failing the check → missing with the reason;
    nothing → missing. Evidence dated after ``today`` is ignored.
    """
    return PlanReadiness(
        components=tuple(
            evaluate_component(
                component=c, evaluations=evaluations, measures=measures, clinic=clinic, today=today
            )
            for c in components
        ),
        warnings=tuple(combination_warnings(components)),
    )


def post_session_window(req: RequirementSpec) -> dt.timedelta | None:
    """How long after each session a ``within_days_after_each_session`` step may wait (the
    SPRAVATO REMS Patient Monitoring Form: 7 days, DOMAIN.md §2.4); ``None`` for other timings.
    The flag scanner reads it per protocol."""
    if req.timing != Timing.WITHIN_DAYS_AFTER_EACH_SESSION or req.timing_value is None:
        return None
    return dt.timedelta(days=req.timing_value)


# ---------------------------------------------------------------------------------------------
# Expiry forecast (the scanner warns before an expiry blocks a booked session)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExpiryForecast:
    """A satisfied blocking step whose validity ends before a booked session it must cover."""

    key: str
    code: str
    expires_on: dt.date
    blocks_sequence: int
    blocks_on: dt.date
    reason: str
    source: str


def forecast_expiries(
    readiness: ComponentReadiness,
    *,
    booked: Sequence[tuple[int, dt.date]],
    started: bool,
) -> list[ExpiryForecast]:
    """Which satisfied blocking steps would be expired at a booked future session.

    ``booked``: (sequence, local date) of the booked course sessions still to come. A
    ``valid_during_course`` / ``before_every_session`` step must cover every one of them; a
    ``before_first_session`` step only the first session, and nothing once the course started
    (it is never re-checked). The earliest session it would block is reported.
    """
    out: list[ExpiryForecast] = []
    ordered = sorted(booked)
    for item in readiness.items:
        if (
            item.status != RequirementStatus.SATISFIED
            or item.expires_on is None
            or item.severity != Severity.BLOCKING
        ):
            continue
        if item.timing in RECHECKED_TIMINGS:
            sessions = ordered
        elif item.timing == Timing.BEFORE_FIRST_SESSION and not started:
            sessions = ordered[:1]
        else:
            continue
        expires = item.expires_on
        blocked = next(((seq, on) for seq, on in sessions if on > expires), None)
        if blocked is None:
            continue
        out.append(
            ExpiryForecast(
                key=item.key,
                code=item.code,
                expires_on=expires,
                blocks_sequence=blocked[0],
                blocks_on=blocked[1],
                reason=item.reason,
                source=item.source,
            )
        )
    return out


# ---------------------------------------------------------------------------------------------
# Combination warnings
# ---------------------------------------------------------------------------------------------


def combination_warnings(components: Sequence[ComponentFacts]) -> list[CombinationWarning]:
    """SPRAVATO with ketamine or TMS in one plan → a ``combination_review`` warning.

    DOMAIN.md §2.5 [PAYER]: some plans bar concomitant ECT/TMS/VNS/DBS and concomitant ketamine
    with SPRAVATO. DOMAIN.md §1.6 [PAYER]: concurrent ketamine/esketamine with TMS was historically
    a contraindication; some plans now require documentation.
    """
    by_modality: dict[Modality, list[Any]] = {}
    for c in components:
        by_modality.setdefault(c.protocol.modality, []).append(c.component_id)
    spravato = by_modality.get(Modality.SPRAVATO, [])
    if not spravato:
        return []
    warnings: list[CombinationWarning] = []
    ketamine = by_modality.get(Modality.KETAMINE, [])
    if ketamine:
        warnings.append(
            CombinationWarning(
                code=EvaluationKind.COMBINATION_REVIEW,
                component_ids=(*spravato, *ketamine),
                severity=Severity.WARNING,
                reason=(
                    "SPRAVATO and IV ketamine in one plan: some payer policies bar concomitant "
                    "ketamine with SPRAVATO; a prescriber should review and document the "
                    "combination."
                ),
                source="DOMAIN.md §2.5 Typical payer criteria (SPRAVATO) [PAYER]",
            )
        )
    tms = by_modality.get(Modality.TMS, [])
    if tms:
        warnings.append(
            CombinationWarning(
                code=EvaluationKind.COMBINATION_REVIEW,
                component_ids=(*spravato, *tms),
                severity=Severity.WARNING,
                reason=(
                    "SPRAVATO and TMS in one plan: some payer policies bar concomitant TMS with "
                    "SPRAVATO (and concurrent esketamine with TMS); check payer policy and "
                    "document the combination."
                ),
                source=(
                    "DOMAIN.md §2.5 Typical payer criteria (SPRAVATO) [PAYER]; "
                    "§1.6 Concurrent ketamine/esketamine [PAYER]"
                ),
            )
        )
    return warnings


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
    if not _is_int(percent) or not 1 <= percent <= 100:
        errors["percent"] = "an integer percentage of stimulator output, 1–100"
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
    systolic, diastolic = data.get("systolic"), data.get("diastolic")
    if not _is_int(systolic) or not 50 <= systolic <= 300:
        errors["systolic"] = "an integer mmHg, 50–300"
    if not _is_int(diastolic) or not 20 <= diastolic <= 200:
        errors["diastolic"] = "an integer mmHg, 20–200"
    valid = "systolic" not in errors and "diastolic" not in errors
    if valid and _is_int(systolic) and _is_int(diastolic) and diastolic >= systolic:
        errors["diastolic"] = "must be lower than systolic"


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
