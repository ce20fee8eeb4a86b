"""Reads of the plans domain, with the prefetching they need (STYLE.md habit 12: no N+1).

``get_plan_readiness`` / ``get_component_readiness`` are the one way to ask "may this start?":
the check-in gate (scheduling), the dashboard, the API and the readiness flag sync all call them.
They build the pure facts of ``plans/rules/readiness.py`` from the database in a constant number
of queries, whatever the number of components, evaluations or measures:

1. components with protocol and indication (one join), their prior authorisations (issue 11)
   and active course sessions (where each course stands: ``CourseFacts``) — for a whole plan
   one fixed-SQL query (``plans.detail_reads``), for the gate's one component three
2. the patient's evaluations (not entered-in-error) of the kinds the requirements read
3. the patient's measures (not entered-in-error)
(+1 for the clinic when ``plan.clinic`` is not already loaded; +2 the first time this process
reads a protocol revision: its indications and requirement specs, ``modalities.spec_cache``)

Evaluations and measures are read as narrow tuples straight into the rules' facts, never as
model instances (issue 17: a long history costs one small row each, not an ORM object).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db.models import QuerySet
from django.utils import timezone

from modalities.rules.rems import recorded_until
from modalities.services import indication_spec_from_model
from modalities.spec_cache import protocol_spec, protocol_specs
from modalities.specs import ProtocolSpec
from modalities.vocab import (
    COURSE_KINDS,
    EvaluationKind,
    Evidence,
    Instrument,
    LabelStatus,
    PayerType,
)
from plans.detail_reads import (
    patient_evaluation_rows,
    patient_measure_rows,
    plan_components,
    plan_detail_rows,
)
from plans.models import (
    CarePlan,
    Evaluation,
    Flag,
    Measure,
    PlanComponent,
    RecordStatus,
)
from plans.ports import HOLDING_SESSION_STATUSES, TAKEN_SESSION_STATUSES, session_facts
from plans.rules.readiness import (
    NOT_STARTED,
    ClinicFacts,
    ComponentFacts,
    ComponentReadiness,
    CourseFacts,
    EvaluationFact,
    MeasureFact,
    PlanReadiness,
    PriorAuthFact,
    evaluate_plan,
)
from plans.rules.scoring import Change, ScoringError, compare_to_baseline

# ---------------------------------------------------------------------------------------------
# Flag order: safety first everywhere (issue 15)
# ---------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------
# Readiness
# ---------------------------------------------------------------------------------------------


def components_with_protocols(qs: QuerySet[PlanComponent] | None = None) -> QuerySet:
    """Components with everything readiness and the API need: 2 queries for any number (the
    protocols' specs come from ``modalities.spec_cache``, keyed on the joined revision)."""
    qs = PlanComponent.objects.all() if qs is None else qs
    return qs.select_related("protocol", "indication").prefetch_related("authorizations")


def _number(value: Decimal | float | int | None) -> float | int | None:
    if value is None:
        return None
    value = Decimal(value)
    return int(value) if value == value.to_integral_value() else float(value)


def course_session_rows(component_ids: Iterable[Any]) -> dict[Any, list[tuple]]:
    """(sequence, starts_at, status) of each component's active course sessions (one query)."""
    rows: dict[Any, list[tuple]] = {}
    for component_id, sequence, starts_at, status in (
        session_facts()
        .sessions()
        .filter(
            component_id__in=list(component_ids),
            kind__in=COURSE_KINDS,
            status__in=HOLDING_SESSION_STATUSES,
            sequence__isnull=False,
        )
        .order_by("starts_at", "id")
        .values_list("component_id", "sequence", "starts_at", "status")
    ):
        rows.setdefault(component_id, []).append((sequence, starts_at, status))
    return rows


def course_facts(
    rows: Sequence[tuple], *, zone: dt.tzinfo, at_sequence: int | None = None
) -> CourseFacts:
    """Where a course stands from its active sessions: the session judged is ``at_sequence``
    (the one being checked in) or the one after the last taken (arrived/fulfilled) session."""
    if not rows:
        return NOT_STARTED if at_sequence is None else CourseFacts(at_sequence=at_sequence)
    dates = {seq: start.astimezone(zone).date() for seq, start, _ in rows}
    taken = [(seq, start) for seq, start, status in rows if status in TAKEN_SESSION_STATUSES]
    started_on = min(start for _, start in taken).astimezone(zone).date() if taken else None
    if at_sequence is None:
        done = [seq for seq, start, status in rows if status == "fulfilled"]
        at_sequence = (max(done) + 1) if done else 1
    return CourseFacts(at_sequence=at_sequence, started_on=started_on, session_dates=dates)


def zone_named(name: str) -> dt.tzinfo:
    """A clinic's time zone by its name (promise 9); a bad zone falls back to UTC."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def clinic_zone(clinic: Any) -> dt.tzinfo:
    """The clinic's time zone (``zone_named``)."""
    return zone_named(clinic.timezone)


def prior_auth_fact(component: PlanComponent) -> PriorAuthFact | None:
    """The current approved authorisation as readiness sees it (issue 11: records, not
    component fields); a requested or denied one satisfies nothing."""
    current = component.current_authorization
    if current is None:
        return None
    return PriorAuthFact(
        number=current.number, sessions=current.authorized_units, expires_on=current.ends_on
    )


def component_facts(
    component: PlanComponent, protocol: ProtocolSpec | None = None
) -> ComponentFacts:
    """``protocol``: the spec of ``component.protocol`` when the caller has it
    (``protocol_specs`` of several components at once), else read from the cache."""
    prior_auth = prior_auth_fact(component)
    return ComponentFacts(
        component_id=component.pk,
        protocol=protocol or protocol_spec(component.protocol),
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


def checked_kinds(components: Iterable[ComponentFacts]) -> set[str]:
    """The evaluation kinds whose ``data`` a requirement's ``check`` reads (failed trials,
    contraindications…): the only rows readiness needs the data of; the rest count by presence
    and date alone (``plans.rules.readiness.checks.check_failure``)."""
    return {
        str(req.code)
        for c in components
        for req in c.protocol.requirements
        if req.evidence == Evidence.EVALUATION and req.check
    }


def evidence_codes(components: Iterable[ComponentFacts]) -> tuple[set[str], set[str]]:
    """(evaluation kinds, instruments) the components' requirements can read: their evidence
    codes, plus medication changes (``after_medication_change`` timing). Other rows cannot
    change readiness (``plans/rules/readiness.py`` matches evidence on ``kind == code``)."""
    kinds, instruments = {str(EvaluationKind.MEDICATION_CHANGE)}, set()
    for c in components:
        for req in c.protocol.requirements:
            if req.evidence == Evidence.EVALUATION:
                kinds.add(str(req.code))
            elif req.evidence == Evidence.MEASURE:
                instruments.add(str(req.code))
    return kinds, instruments


def _patient_evaluations(patient_id: int, kinds: Iterable[str]) -> list[EvaluationFact]:
    """The patient's final evaluations of ``kinds`` as readiness facts, read as tuples (no
    model instances: a long history costs one narrow row each)."""
    return [
        EvaluationFact(
            id=pk,
            kind=EvaluationKind(kind),
            component_id=component_id,
            performed_at=performed_at,
            valid_until=valid_until,
            data=data or {},
        )
        for pk, kind, component_id, performed_at, valid_until, data in patient_evaluation_rows(
            patient_id, kinds
        )
    ]


def _measure_facts_of(rows: Iterable[tuple], instruments: set[str] | None = None) -> list:
    return [
        MeasureFact(
            id=pk,
            instrument=Instrument(instrument),
            taken_at=taken_at,
            is_baseline=is_baseline,
            total=_number(total),
        )
        for pk, instrument, taken_at, is_baseline, total, *_ in rows
        if instruments is None or instrument in instruments
    ]


def clinic_today(clinic: Any) -> dt.date:
    """Today's date in the clinic's time zone (promise 9)."""
    return timezone.now().astimezone(clinic_zone(clinic)).date()


def readiness_facts(
    *,
    plan: CarePlan,
    components: Sequence[PlanComponent],
    sessions: dict[Any, list[tuple]] | None = None,
    at_sequence: dict[Any, int] | None = None,
) -> list[ComponentFacts]:
    """The components as readiness facts, each with where its course stands.

    ``sessions``: ``course_session_rows`` of the components (none = no course started);
    ``at_sequence``: component id → the session being judged (default: the next one)."""
    zone = clinic_zone(plan.clinic)
    sessions = sessions or {}
    at_sequence = at_sequence or {}
    specs = protocol_specs(c.protocol for c in components)
    return [
        replace(
            component_facts(c, specs[c.protocol_id]),
            course=course_facts(
                sessions.get(c.pk, []), zone=zone, at_sequence=at_sequence.get(c.pk)
            ),
        )
        for c in components
    ]


def clinic_facts(clinic: Any) -> ClinicFacts:
    """What readiness knows of the clinic: its time zone (evidence is dated there) and its
    SPRAVATO REMS setting certification, which counts only with the certification id recorded
    too (``modalities.rules.rems.recorded_until``), exactly as the booking check reads it
    (``scheduling.services._common.check_rems_site``)."""
    return ClinicFacts(
        rems_certified_until=recorded_until(
            clinic.rems_certification_id, clinic.rems_certified_until
        ),
        zone=clinic_zone(clinic),
    )


def readiness_from(
    *,
    plan: CarePlan,
    facts: Sequence[ComponentFacts],
    evaluations: Sequence[EvaluationFact],
    measures: Sequence[MeasureFact],
    today: dt.date | None = None,
) -> PlanReadiness:
    """Readiness from facts already built (no query except ``plan.clinic`` if not loaded)."""
    clinic = plan.clinic
    return evaluate_plan(
        components=facts,
        evaluations=evaluations,
        measures=measures,
        clinic=clinic_facts(clinic),
        today=today or clinic_today(clinic),
    )


def _load_readiness(
    plan: CarePlan,
    components: Sequence[PlanComponent],
    *,
    today: dt.date | None,
    at_sequence: dict[Any, int] | None = None,
    measure_rows: list[tuple] | None = None,
    sessions: dict[Any, list[tuple]] | None = None,
) -> PlanReadiness:
    """Readiness of ``components`` (already loaded with their protocols) in three queries: the
    course sessions (unless ``sessions`` were read with the components), the evaluations of
    the kinds the requirements read, the measures (unless ``measure_rows`` were already read)."""
    facts = readiness_facts(
        plan=plan,
        components=components,
        sessions=course_session_rows(c.pk for c in components) if sessions is None else sessions,
        at_sequence=at_sequence,
    )
    kinds, instruments = evidence_codes(facts)
    rows = patient_measure_rows(plan.patient_id) if measure_rows is None else measure_rows
    return readiness_from(
        plan=plan,
        facts=facts,
        evaluations=_patient_evaluations(plan.patient_id, kinds),
        measures=_measure_facts_of(rows, instruments),
        today=today,
    )


def get_plan_readiness(*, plan: CarePlan, today: dt.date | None = None) -> PlanReadiness:
    """Readiness of every component of ``plan`` at its next session, and its combination
    warnings (3–4 queries: components with their sessions, evaluations, measures, + the clinic
    when not loaded)."""
    components, sessions = _plan_components(plan)
    return _load_readiness(plan, components, today=today, sessions=sessions)


def _plan_components(plan: CarePlan) -> tuple[list[PlanComponent], dict[Any, list[tuple]]]:
    components, sessions = plan_components(
        plan.pk, session_kinds=COURSE_KINDS, session_statuses=HOLDING_SESSION_STATUSES
    )
    for c in components:
        c.plan = plan
    return components, sessions


def get_component_readiness(
    *, component: PlanComponent, today: dt.date | None = None, at_sequence: int | None = None
) -> ComponentReadiness:
    """Readiness of one component at course session ``at_sequence`` (default: the next one) —
    what the check-in gate asks. Constant query count."""
    loaded = components_with_protocols(
        PlanComponent.objects.filter(pk=component.pk)
    ).select_related("plan", "plan__clinic")
    row = loaded.get()
    readiness = _load_readiness(
        row.plan, [row], today=today, at_sequence={row.pk: at_sequence} if at_sequence else None
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
    """Everything the plan detail shows, in a constant number of queries (4 with a loaded plan,
    ``plans.detail_reads``): components with their protocol, indication, prior authorisations
    and course sessions (1), measures (1: readiness and the latest measures read the same rows),
    open flags (1) — these three sent together, one round trip (``plan_detail_rows``) —,
    evaluations (1: the kinds the components' requirements read); patient/clinic/coordinator
    when not already joined on ``plan`` (0–3); the protocols' specs the first time this process
    meets their revision (3, ``modalities.spec_cache``).

    Open flags in the one priority order (``order_flags_by_priority``: safety first, then most
    severe, soonest due): the first ``open_flag_limit`` (``None``: all, e.g. for an export or the
    dashboard), with ``more_open_flags`` telling the caller to link to the rest — so a cut list
    never hides a safety flag or a blocking gap behind newer notes."""
    rows = plan_detail_rows(
        plan.pk,
        plan.patient_id,
        session_kinds=COURSE_KINDS,
        session_statuses=HOLDING_SESSION_STATUSES,
        flag_limit=None if open_flag_limit is None else open_flag_limit + 1,
    )
    components, sessions, measure_rows = rows.components, rows.sessions, rows.measure_rows
    for c in components:
        c.plan = plan
    open_flags = rows.open_flags
    more_open_flags = open_flag_limit is not None and len(open_flags) > open_flag_limit
    open_flags = open_flags[:open_flag_limit] if more_open_flags else open_flags
    for flag in open_flags:
        flag.plan = plan  # serializers read flag.plan.patient_id: no query per flag
    readiness = _load_readiness(
        plan, components, today=today, measure_rows=measure_rows, sessions=sessions
    )
    return PlanDetail(
        plan=plan,
        components=components,
        readiness=readiness,
        open_flags=open_flags,
        latest_measures=latest_measures(_plan_measures(measure_rows, plan.pk)),
        more_open_flags=more_open_flags,
    )


def _plan_measures(rows: Iterable[tuple], plan_id: int) -> list[Measure]:
    """The plan's measures of ``patient_measure_rows`` that ``latest_measures`` can pick — per
    instrument the latest (taken_at, id) and the earliest, flagged baseline or not — as
    (unsaved) instances with only the columns it and ``MeasureRef`` read: a long history costs
    a tuple each, not a model instance."""

    def taken(row: tuple) -> tuple:  # (taken_at, id): the order latest_measures picks by
        return (row[2], row[0])

    latest: dict[str, tuple] = {}
    first: dict[str, tuple] = {}
    first_flagged: dict[str, tuple] = {}
    for row in rows:
        instrument, is_baseline, row_plan = row[1], row[3], row[5]
        if row_plan != plan_id:
            continue
        if instrument not in latest or taken(row) > taken(latest[instrument]):
            latest[instrument] = row
        if instrument not in first or taken(row) < taken(first[instrument]):
            first[instrument] = row
        if is_baseline and (
            instrument not in first_flagged or taken(row) < taken(first_flagged[instrument])
        ):
            first_flagged[instrument] = row
    chosen = {row[0]: row for picks in (latest, first, first_flagged) for row in picks.values()}
    return [
        Measure(
            id=pk,
            instrument=instrument,
            taken_at=taken_at,
            is_baseline=is_baseline,
            total=total,
            plan_id=row_plan,
            band=band,
            risk=risk,
            status=RecordStatus.FINAL,
        )
        for pk, instrument, taken_at, is_baseline, total, row_plan, band, risk in chosen.values()
    ]
