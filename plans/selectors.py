"""Reads of the plans domain, with the prefetching they need (STYLE.md habit 12: no N+1).

``get_plan_readiness`` / ``get_component_readiness`` are the one way to ask "may this start?":
the check-in gate (scheduling), the dashboard, the API and the readiness flag sync all call them.
They build the pure facts of ``plans/rules/readiness.py`` from the database in a constant number
of queries, whatever the number of components, evaluations or measures:

1. components with protocol and indication (one join)
2. the protocols' indications (prefetch)
3. the protocols' requirement specs (prefetch)
4. the patient's evaluations (not entered-in-error)
5. the patient's measures (not entered-in-error)
(+1 for the clinic when ``plan.clinic`` is not already loaded)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db.models import Case, Prefetch, QuerySet, Value, When
from django.utils import timezone

from modalities.services import indication_spec_from_model, protocol_spec_from_model
from modalities.vocab import EvaluationKind, Instrument, LabelStatus, PayerType, Severity
from plans.models import (
    CarePlan,
    Evaluation,
    Flag,
    FlagStatus,
    Measure,
    PlanComponent,
    RecordStatus,
)
from plans.rules.readiness import (
    ClinicFacts,
    ComponentFacts,
    ComponentReadiness,
    EvaluationFact,
    MeasureFact,
    PlanReadiness,
    PriorAuthFact,
    evaluate_plan,
)
from plans.rules.scoring import Change, ScoringError, compare_to_baseline

# ---------------------------------------------------------------------------------------------
# Readiness
# ---------------------------------------------------------------------------------------------


def components_with_protocols(qs: QuerySet[PlanComponent] | None = None) -> QuerySet:
    """Components with everything readiness and the API need: 3 queries for any number."""
    qs = PlanComponent.objects.all() if qs is None else qs
    return qs.select_related("protocol", "indication").prefetch_related(
        "protocol__indications", "protocol__requirements"
    )


def _number(value: Decimal | float | int | None) -> float | int | None:
    if value is None:
        return None
    value = Decimal(value)
    return int(value) if value == value.to_integral_value() else float(value)


def component_facts(component: PlanComponent) -> ComponentFacts:
    prior_auth = None
    if component.prior_auth_number:
        prior_auth = PriorAuthFact(
            number=component.prior_auth_number,
            sessions=component.prior_auth_sessions,
            expires_on=component.prior_auth_expires_on,
        )
    return ComponentFacts(
        component_id=component.pk,
        protocol=protocol_spec_from_model(component.protocol),
        indication=indication_spec_from_model(component.indication),
        label_status=LabelStatus(component.label_status),
        payer_type=PayerType(component.payer_type),
        prior_auth=prior_auth,
    )


def evaluation_facts(evaluations: Iterable[Evaluation]) -> list[EvaluationFact]:
    return [
        EvaluationFact(
            id=e.pk,
            kind=EvaluationKind(e.kind),
            component_id=e.component_id,
            performed_at=e.performed_at,
            valid_until=e.valid_until,
            data=e.data or {},
        )
        for e in evaluations
        if e.status == RecordStatus.FINAL
    ]


def measure_facts(measures: Iterable[Measure]) -> list[MeasureFact]:
    return [
        MeasureFact(
            id=m.pk,
            instrument=Instrument(m.instrument),
            taken_at=m.taken_at,
            is_baseline=m.is_baseline,
            total=_number(m.total),
        )
        for m in measures
        if m.status == RecordStatus.FINAL
    ]


def _patient_evaluations(patient_id: int) -> list[Evaluation]:
    return list(Evaluation.objects.filter(patient_id=patient_id, status=RecordStatus.FINAL))


def _patient_measures(patient_id: int) -> list[Measure]:
    return list(Measure.objects.filter(patient_id=patient_id, status=RecordStatus.FINAL))


def clinic_today(clinic: Any) -> dt.date:
    """Today's date in the clinic's time zone (promise 9)."""
    tz: dt.tzinfo
    try:
        tz = ZoneInfo(clinic.timezone)
    except (ZoneInfoNotFoundError, ValueError):  # a bad zone falls back to UTC
        tz = dt.UTC
    return timezone.now().astimezone(tz).date()


def readiness_from(
    *,
    plan: CarePlan,
    components: Sequence[PlanComponent],
    evaluations: Sequence[Evaluation],
    measures: Sequence[Measure],
    today: dt.date | None = None,
) -> PlanReadiness:
    """Readiness from already-loaded rows (no query except ``plan.clinic`` if not loaded)."""
    clinic = plan.clinic
    return evaluate_plan(
        components=[component_facts(c) for c in components],
        evaluations=evaluation_facts(evaluations),
        measures=measure_facts(measures),
        clinic=ClinicFacts(rems_certified_until=clinic.rems_certified_until),
        today=today or clinic_today(clinic),
    )


def get_plan_readiness(*, plan: CarePlan, today: dt.date | None = None) -> PlanReadiness:
    """Readiness of every component of ``plan`` and its combination warnings (5–6 queries)."""
    components = list(components_with_protocols(PlanComponent.objects.filter(plan_id=plan.pk)))
    return readiness_from(
        plan=plan,
        components=components,
        evaluations=_patient_evaluations(plan.patient_id),
        measures=_patient_measures(plan.patient_id),
        today=today,
    )


def get_component_readiness(
    *, component: PlanComponent, today: dt.date | None = None
) -> ComponentReadiness:
    """Readiness of one component (what the check-in gate asks). Constant query count."""
    loaded = components_with_protocols(
        PlanComponent.objects.filter(pk=component.pk)
    ).select_related("plan", "plan__clinic")
    row = loaded.get()
    plan = row.plan
    readiness = readiness_from(
        plan=plan,
        components=[row],
        evaluations=_patient_evaluations(plan.patient_id),
        measures=_patient_measures(plan.patient_id),
        today=today,
    )
    return readiness.component(row.pk)


# ---------------------------------------------------------------------------------------------
# Measures: latest per instrument, baseline and change
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MeasureSummary:
    instrument: str
    latest: Measure
    baseline: Measure | None
    change: Change | None


def measure_change(*, measure: Measure, baseline: Measure | None) -> Change | None:
    """Change of ``measure`` against ``baseline`` (scoring.compare_to_baseline), None if n/a."""
    if baseline is None or baseline.pk == measure.pk:
        return None
    base, current = _number(baseline.total), _number(measure.total)
    if base is None or current is None:
        return None
    try:
        return compare_to_baseline(measure.instrument, base, current)
    except ScoringError:
        return None


def baseline_for(measures: Sequence[Measure], *, instrument: str) -> Measure | None:
    """The plan's baseline of ``instrument``: the one flagged, else the first taken."""
    same = [m for m in measures if m.instrument == instrument and m.status == RecordStatus.FINAL]
    flagged = [m for m in same if m.is_baseline]
    pool = flagged or same
    return min(pool, key=lambda m: (m.taken_at, m.pk)) if pool else None


def get_measure_baseline(*, measure: Measure) -> Measure | None:
    """Baseline for a single measure (one query): same plan (or patient when no plan)."""
    qs = Measure.objects.filter(
        patient_id=measure.patient_id,
        instrument=measure.instrument,
        status=RecordStatus.FINAL,
    )
    qs = qs.filter(plan_id=measure.plan_id) if measure.plan_id else qs.filter(plan__isnull=True)
    return baseline_for(list(qs), instrument=measure.instrument)


def latest_measures(measures: Sequence[Measure]) -> list[MeasureSummary]:
    """Latest final measure per instrument with its baseline and change (no query)."""
    final = [m for m in measures if m.status == RecordStatus.FINAL]
    out: list[MeasureSummary] = []
    for instrument in sorted({m.instrument for m in final}):
        same = [m for m in final if m.instrument == instrument]
        latest = max(same, key=lambda m: (m.taken_at, m.pk))
        baseline = baseline_for(same, instrument=instrument)
        out.append(
            MeasureSummary(
                instrument=instrument,
                latest=latest,
                baseline=baseline,
                change=measure_change(measure=latest, baseline=baseline),
            )
        )
    return out


# ---------------------------------------------------------------------------------------------
# Plan detail
# ---------------------------------------------------------------------------------------------


# Plan detail shows the most severe, newest open flags only; the rest are one link away (flags
# list filtered by plan and status). A long SPRAVATO course can hold one open flag per session.
DETAIL_OPEN_FLAGS = 20


@dataclass(frozen=True, slots=True)
class PlanDetail:
    plan: CarePlan
    components: list[PlanComponent]
    readiness: PlanReadiness
    open_flags: list[Flag]
    latest_measures: list[MeasureSummary]
    # True when ``open_flags`` was cut at ``open_flag_limit`` (more are open).
    more_open_flags: bool = False


def plans_for_detail(qs: QuerySet[CarePlan]) -> QuerySet[CarePlan]:
    return qs.select_related("patient", "clinic", "coordinator")


def get_plan_detail(
    *,
    plan: CarePlan,
    today: dt.date | None = None,
    open_flag_limit: int | None = DETAIL_OPEN_FLAGS,
) -> PlanDetail:
    """Everything the plan detail shows, in a constant number of queries (7 with a loaded plan):
    components + protocol indications + protocol requirements (3), evaluations (1), measures (1),
    open flags (1), patient/clinic/coordinator when not already joined on ``plan`` (0–3).

    Open flags: most severe first, then newest; the first ``open_flag_limit`` (``None``: all,
    e.g. for an export or the dashboard), with ``more_open_flags`` telling the caller to link to
    the rest."""
    components = list(components_with_protocols(PlanComponent.objects.filter(plan_id=plan.pk)))
    evaluations = _patient_evaluations(plan.patient_id)
    measures = _patient_measures(plan.patient_id)
    # Most severe first, then newest: a cut list never hides a blocking gap behind newer notes.
    severity_rank = Case(
        *(When(severity=s.value, then=Value(n)) for n, s in enumerate(reversed(Severity))),
        default=Value(len(Severity)),
    )
    flags_qs = Flag.objects.filter(plan_id=plan.pk, status=FlagStatus.OPEN).order_by(
        severity_rank, "-opened_at", "-id"
    )
    if open_flag_limit is not None:
        flags_qs = flags_qs[: open_flag_limit + 1]
    open_flags = list(flags_qs)
    more_open_flags = open_flag_limit is not None and len(open_flags) > open_flag_limit
    open_flags = open_flags[:open_flag_limit] if more_open_flags else open_flags
    for flag in open_flags:
        flag.plan = plan  # serializers read flag.plan.patient_id: no query per flag
    readiness = readiness_from(
        plan=plan,
        components=components,
        evaluations=evaluations,
        measures=measures,
        today=today,
    )
    return PlanDetail(
        plan=plan,
        components=components,
        readiness=readiness,
        open_flags=open_flags,
        latest_measures=latest_measures([m for m in measures if m.plan_id == plan.pk]),
        more_open_flags=more_open_flags,
    )


def list_plans_prefetched(qs: QuerySet[CarePlan]) -> QuerySet[CarePlan]:
    return plans_for_detail(qs).prefetch_related(
        Prefetch(
            "components", queryset=PlanComponent.objects.select_related("protocol", "indication")
        )
    )
