"""Judging each requirement of a component at one session of its course, and the whole plan."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from modalities.rules.rems import rems_site_certified
from modalities.specs import RequirementSpec
from modalities.vocab import (
    ClinicAttribute,
    EvaluationKind,
    Evidence,
    RequirementStatus,
    Timing,
)
from plans.rules.readiness.checks import GATED_TIMINGS, check_failure, condition_applies
from plans.rules.readiness.facts import (
    ClinicFacts,
    ComponentFacts,
    ComponentReadiness,
    CourseFacts,
    EvaluationFact,
    MeasureFact,
    PlanReadiness,
    RequirementResult,
)
from plans.rules.readiness.forecast import combination_warnings

# ---------------------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Candidate:
    ident: Any
    at: dt.datetime
    on: dt.date  # ``at``'s date in the clinic's zone
    expires_on: dt.date | None
    failure: str | None


def _day(when: dt.datetime, zone: dt.tzinfo) -> dt.date:
    """The date of ``when`` in the clinic's zone — the calendar ``today`` is on."""
    return when.astimezone(zone).date()


def _expiry(req: RequirementSpec, day: dt.date, valid_until: dt.date | None) -> dt.date | None:
    if valid_until is not None:
        return valid_until
    if req.validity_days is not None:
        return day + dt.timedelta(days=req.validity_days)
    return None


def _candidates(
    req: RequirementSpec,
    component: ComponentFacts,
    evaluations: Sequence[EvaluationFact],
    measures: Sequence[MeasureFact],
    today: dt.date,
    zone: dt.tzinfo,
    since: dt.date | None = None,
) -> list[_Candidate]:
    """Evidence for ``req`` dated (in ``zone``) on or before ``today`` (and on or after
    ``since`` if given)."""
    out: list[_Candidate] = []
    if req.evidence == Evidence.EVALUATION:
        for ev in evaluations:
            if ev.kind != req.code:
                continue
            day = _day(ev.performed_at, zone)
            if day > today or (since is not None and day < since):
                continue
            if ev.component_id is not None and ev.component_id != component.component_id:
                continue
            out.append(
                _Candidate(
                    ev.id,
                    ev.performed_at,
                    day,
                    _expiry(req, day, ev.valid_until),
                    check_failure(req, ev.data),
                )
            )
        if req.code == EvaluationKind.PRIOR_AUTHORIZATION and component.prior_auth is not None:
            pa = component.prior_auth
            out.append(
                _Candidate(
                    f"prior_auth:{pa.number}",
                    dt.datetime.combine(today, dt.time.min, tzinfo=zone),
                    today,
                    pa.expires_on,
                    None,
                )
            )
    elif req.evidence == Evidence.MEASURE:
        baseline_only = req.timing == Timing.BEFORE_FIRST_SESSION
        for m in measures:
            if m.instrument != req.code or (baseline_only and not m.is_baseline):
                continue
            day = _day(m.taken_at, zone)
            if day > today or (since is not None and day < since):
                continue
            out.append(_Candidate(m.id, m.taken_at, day, _expiry(req, day, None), None))
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


def _result(
    req: RequirementSpec,
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


# (id(req), label status, payer type, indication category) → (req, applies_because, the result
# when it is decided before any evidence). The entry holds ``req`` itself, so its id cannot be
# reused while cached; results are frozen, so one instance serves every component alike.
_BEFORE_EVIDENCE: dict[tuple, tuple[RequirementSpec, str, RequirementResult | None]] = {}
_BEFORE_EVIDENCE_MAX = 4096


def _before_evidence(
    req: RequirementSpec, component: ComponentFacts
) -> tuple[str, RequirementResult | None]:
    """(why it applies, its result if that is already decided): not applicable when the
    condition is not met or the timing is not part of readiness to start. A pure function of
    the requirement and the component's label status, payer type and indication category
    (``condition_applies``), remembered per process: a flag scan asks it for every
    requirement of every component, most of them the same few dozen combinations."""
    category = component.indication.category
    key = (id(req), component.label_status, component.payer_type, category)
    hit = _BEFORE_EVIDENCE.get(key)
    if hit is not None and hit[0] is req:
        return hit[1], hit[2]
    applies, because = condition_applies(req.condition, component)
    decided: RequirementResult | None = None
    if not applies:
        decided = _result(
            req, RequirementStatus.NOT_APPLICABLE, "condition not met for this component", ""
        )
    elif req.timing not in GATED_TIMINGS:
        decided = _result(
            req,
            RequirementStatus.NOT_APPLICABLE,
            f"applies once sessions happen ({req.timing.value}); not part of readiness to start",
            because,
        )
    if len(_BEFORE_EVIDENCE) >= _BEFORE_EVIDENCE_MAX:
        _BEFORE_EVIDENCE.clear()
    _BEFORE_EVIDENCE[key] = (req, because, decided)
    return because, decided


def _evaluate_requirement(
    req: RequirementSpec,
    component: ComponentFacts,
    evaluations: Sequence[EvaluationFact],
    measures: Sequence[MeasureFact],
    clinic: ClinicFacts,
    today: dt.date,
) -> RequirementResult:
    result = functools.partial(_result, req)
    because, decided = _before_evidence(req, component)
    if decided is not None:
        return decided
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
            and course.started_on <= _day(ev.performed_at, clinic.zone) <= today
            and (ev.component_id is None or ev.component_id == component.component_id)
        ]
        if not changes:
            return result(
                RequirementStatus.NOT_APPLICABLE,
                "no medication change recorded during the course",
                because,
            )
        changed = max(changes, key=lambda ev: ev.performed_at)
        since = _day(changed.performed_at, clinic.zone)
        because = f"{because}; medication changed on {since.isoformat()}"

    if req.evidence == Evidence.CLINIC:
        if req.code == ClinicAttribute.SPRAVATO_REMS_CERTIFICATION:
            until = clinic.rems_certified_until
            if until is None:
                return result(
                    RequirementStatus.MISSING, "clinic certification not recorded", because
                )
            if not rems_site_certified(until, today):
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
    candidates = _candidates(req, component, evaluations, measures, today, clinic.zone, since)
    passing = [c for c in candidates if c.failure is None]
    valid = [c for c in passing if c.expires_on is None or c.expires_on >= max(judged_on, c.on)]
    if valid:
        best = max(valid, key=lambda c: c.at)
        return result(RequirementStatus.SATISFIED, "", because, best.ident, best.expires_on)
    if passing:
        latest = max(passing, key=lambda c: c.at)
        assert latest.expires_on is not None
        return result(
            RequirementStatus.EXPIRED,
            f"last recorded {latest.on.isoformat()}, expired on {latest.expires_on.isoformat()}",
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
