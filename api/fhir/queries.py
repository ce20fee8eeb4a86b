"""Loading for the FHIR facade: authorise through ``plans.access`` / ``scheduling.access``
(deny by default; another organisation's object is ``NotFoundError``), then fetch each kind of row
in one query so that a whole patient costs the same number of queries for 5 sessions or 500.

Each function returns FHIR dicts (``api.fhir.mapping``) and the patient id the request touched,
so the view can write its one audit event.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import F, Q, QuerySet
from django.utils import timezone

from api.fhir import codes, mapping
from backend.accounts.models import User
from backend.errors import NotFoundError
from plans import access
from plans.models import CarePlan, Evaluation, Flag, FlagStatus, Measure, PlanComponent
from scheduling.access import visible_sessions
from scheduling.models import Session

# --- row loaders (constant query counts) ---------------------------------------------------------


def _components(qs: QuerySet[PlanComponent]) -> list[PlanComponent]:
    """Components with protocol, indication and their prior authorisations (Coverage reads the
    current one, issue 11) — one query each whatever the number of components."""
    return list(
        qs.select_related("protocol", "indication")
        .prefetch_related("authorizations")
        .order_by("plan_id", "position", "id")
    )


def _session_qs(qs: QuerySet[Session]) -> QuerySet[Session]:
    """Sessions with clinic and clinician, and their plan id and protocol title as plain columns
    (joining the protocol row would decode its JSON columns once per session)."""
    return (
        qs.select_related("clinic", "clinician")
        .annotate(plan_pk=F("component__plan_id"), protocol_title=F("component__protocol__title"))
        .order_by("starts_at", "id")
    )


def _sessions(qs: QuerySet[Session]) -> list[Session]:
    return list(_session_qs(qs))


def _by_component(sessions: Sequence[Session]) -> dict[int, list[Session]]:
    out: dict[int, list[Session]] = defaultdict(list)
    for s in sessions:
        out[s.component_id].append(s)
    return out


def _care_plans(plans: Sequence[CarePlan]) -> list[dict[str, Any]]:
    """CarePlans for already-loaded plans (clinic + coordinator joined): 2 queries for any
    number of plans, components and sessions."""
    ids = [p.pk for p in plans]
    components = _components(PlanComponent.objects.filter(plan_id__in=ids))
    sessions = Session.objects.filter(component__plan_id__in=ids).order_by("starts_at", "id")
    by_component = _by_component(list(sessions.only("id", "component_id", "starts_at", "ends_at")))
    by_plan: dict[int, list[PlanComponent]] = defaultdict(list)
    for c in components:
        by_plan[c.plan_id].append(c)
    return [mapping.care_plan(p, by_plan[p.pk], by_component) for p in plans]


def _plans(qs: QuerySet[CarePlan]) -> QuerySet[CarePlan]:
    return qs.select_related("clinic", "coordinator")


def _appointment(session: Any) -> dict[str, Any]:
    """For a session from ``_sessions`` (annotated with ``plan_pk`` and ``protocol_title``)."""
    return mapping.appointment(
        session, plan_id=session.plan_pk, protocol_title=session.protocol_title
    )


def _measure_resources(measures: Sequence[Measure]) -> list[dict[str, Any]]:
    out = []
    for m in measures:
        out.append(mapping.questionnaire_response(m))
        if mapping.has_observation(m.instrument):
            out.append(mapping.observation(m))
    return out


def _consents(evaluations: Sequence[Evaluation], today: dt.date) -> list[dict[str, Any]]:
    return [mapping.consent(e, today=today) for e in evaluations]


def _coverages(components: Sequence[PlanComponent], patient_id: int) -> list[dict[str, Any]]:
    return [mapping.coverage_from_component(c, patient_id=patient_id) for c in components]


def _today() -> dt.date:
    return timezone.now().date()


# --- reads by id --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Found:
    resource: dict[str, Any]
    patient_id: int | None


def read(*, user: User, resource_type: str, pk: str) -> Found:
    """One resource by type and id, or ``NotFoundError`` (unknown, invisible or not of that
    type — e.g. an Observation id whose instrument has no LOINC total)."""
    reader = _READERS.get(resource_type)
    if reader is None:
        raise NotFoundError(f"Resource type {resource_type} is not supported.")
    return reader(user, pk)


def _read_patient(user: User, pk: str) -> Found:
    patient = (
        access.visible_patients(user).select_related("organization").filter(pk=_int(pk)).first()
    )
    if patient is None:
        raise NotFoundError("Patient not found.")
    return Found(mapping.patient(patient), patient.pk)


def _read_care_plan(user: User, pk: str) -> Found:
    plan = _plans(access.visible_plans(user)).filter(pk=_int(pk)).first()
    if plan is None:
        raise NotFoundError("CarePlan not found.")
    return Found(_care_plans([plan])[0], plan.patient_id)


def _read_appointment(user: User, pk: str) -> Found:
    session = _session_qs(visible_sessions(user)).filter(pk=_int(pk)).first()
    if session is None:
        raise NotFoundError("Appointment not found.")
    return Found(_appointment(session), session.patient_id)


def _measure(user: User, pk: str) -> Measure:
    return access.access_measure(user=user, measure_id=pk)


def _read_observation(user: User, pk: str) -> Found:
    measure = _measure(user, pk)
    if not mapping.has_observation(measure.instrument):
        raise NotFoundError("Observation not found.")
    return Found(mapping.observation(measure), measure.patient_id)


def _read_qr(user: User, pk: str) -> Found:
    measure = _measure(user, pk)
    return Found(mapping.questionnaire_response(measure), measure.patient_id)


def _read_flag(user: User, pk: str) -> Found:
    f = access.access_flag(user=user, flag_id=pk)
    return Found(mapping.flag(f, patient_id=f.patient_id), f.patient_id)  # plan may be empty


def _read_consent(user: User, pk: str) -> Found:
    evaluation = access.access_evaluation(user=user, evaluation_id=pk)
    if evaluation.kind not in mapping.CONSENT_KINDS:
        raise NotFoundError("Consent not found.")
    return Found(mapping.consent(evaluation, today=_today()), evaluation.patient_id)


def _read_coverage(user: User, pk: str) -> Found:
    component = access.access_component(user=user, component_id=pk)
    patient_id = component.plan.patient_id
    return Found(mapping.coverage_from_component(component, patient_id=patient_id), patient_id)


_READERS = {
    "Patient": _read_patient,
    "CarePlan": _read_care_plan,
    "Appointment": _read_appointment,
    "Observation": _read_observation,
    "QuestionnaireResponse": _read_qr,
    "Flag": _read_flag,
    "Consent": _read_consent,
    "Coverage": _read_coverage,
}
READ_TYPES = tuple(_READERS)
#: resource type → the search parameters it takes (besides ``_count``/paging)
SEARCH_PARAMS: dict[str, tuple[str, ...]] = {
    "CarePlan": ("patient",),
    "Appointment": ("patient", "date"),
    "Observation": ("patient", "code"),
    "Flag": ("patient", "status"),
}


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise NotFoundError("Not found.") from None


# --- searches -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Page:
    resources: list[dict[str, Any]]
    total: int


def _page(qs: QuerySet, *, offset: int, count: int) -> tuple[list[Any], int]:
    total = qs.count()
    return list(qs[offset : offset + count]), total


def search_care_plans(*, user: User, patient_id: int | None, offset: int, count: int) -> Page:
    qs = _plans(access.visible_plans(user)).order_by("-created_at", "-id")
    if patient_id is not None:
        qs = qs.filter(patient_id=patient_id)
    rows, total = _page(qs, offset=offset, count=count)
    return Page(_care_plans(rows) if rows else [], total)


def search_appointments(
    *,
    user: User,
    patient_id: int | None,
    dates: Sequence[tuple[str, dt.datetime]],
    offset: int,
    count: int,
) -> Page:
    """Appointments whose start matches every ``(prefix, instant)`` of the ``date`` params."""
    qs = visible_sessions(user)
    if patient_id is not None:
        qs = qs.filter(patient_id=patient_id)
    lookups = {"ge": "gte", "le": "lte", "gt": "gt", "lt": "lt", "eq": "exact"}
    for prefix, value in dates:
        qs = qs.filter(**{f"starts_at__{lookups[prefix]}": value})
    rows, total = _page(_session_qs(qs), offset=offset, count=count)
    return Page([_appointment(s) for s in rows], total)


def search_observations(
    *,
    user: User,
    patient_id: int | None,
    loinc_codes: Sequence[str] | None,
    offset: int,
    count: int,
) -> Page:
    """Observations are measures of instruments with a LOINC total; ``code`` narrows them."""
    by_instrument = codes.loinc_for_instrument()
    instruments = list(by_instrument)
    if loinc_codes is not None:
        instruments = [i for i, c in by_instrument.items() if c in loinc_codes]
    qs = access.visible_measures(user).filter(instrument__in=instruments)
    if patient_id is not None:
        qs = qs.filter(patient_id=patient_id)
    rows, total = _page(qs.order_by("-taken_at", "-id"), offset=offset, count=count)
    return Page([mapping.observation(m) for m in rows], total)


#: FHIR Flag.status → the domain statuses it stands for (inverse of status_maps.yaml ``flag``)
FLAG_STATUS_SEARCH = {
    "active": [FlagStatus.OPEN],
    "inactive": [FlagStatus.RESOLVED, FlagStatus.DISMISSED],
    "entered-in-error": [],
}


def search_flags(
    *, user: User, patient_id: int | None, statuses: Sequence[str] | None, offset: int, count: int
) -> Page:
    qs = access.visible_flags(user).select_related("plan")
    if patient_id is not None:
        qs = qs.filter(plan__patient_id=patient_id)
    if statuses is not None:
        qs = qs.filter(status__in=[s for fhir in statuses for s in FLAG_STATUS_SEARCH[fhir]])
    rows, total = _page(qs.order_by("-opened_at", "-id"), offset=offset, count=count)
    return Page([mapping.flag(f, patient_id=f.plan.patient_id) for f in rows], total)


# --- $everything and the plan export ------------------------------------------------------------


def everything(*, user: User, patient_id: Any) -> tuple[int, list[dict[str, Any]]]:
    """Every resource of one patient: Patient, CarePlans (one activity per component, with their
    Appointments), Appointments, QuestionnaireResponses + Observations, open Flags, Consents,
    Coverages. 7 queries whatever the number of plans, sessions or measures:
    patient (access + organisation), plans, components, sessions, measures, open flags,
    consent evaluations."""
    patient = (
        access.visible_patients(user).select_related("organization").filter(pk=_int(patient_id))
    ).first()
    if patient is None:
        raise NotFoundError("Patient not found.")
    plans = list(
        _plans(CarePlan.objects.filter(patient_id=patient.pk)).order_by("created_at", "id")
    )
    components = _components(PlanComponent.objects.filter(plan__patient_id=patient.pk))
    sessions = _sessions(Session.objects.filter(patient_id=patient.pk))
    return patient.pk, _assemble(
        patient=patient,
        plans=plans,
        components=components,
        sessions=sessions,
        measures=list(Measure.objects.filter(patient_id=patient.pk).order_by("taken_at", "id")),
        flags=list(
            Flag.objects.filter(plan__patient_id=patient.pk, status=FlagStatus.OPEN).order_by(
                "opened_at", "id"
            )
        ),
        evaluations=list(
            Evaluation.objects.filter(
                patient_id=patient.pk, kind__in=mapping.CONSENT_KINDS
            ).order_by("performed_at", "id")
        ),
    )


def plan_export(*, user: User, plan_id: Any) -> tuple[CarePlan, list[dict[str, Any]]]:
    """One plan with what belongs to it (its sessions, measures and open flags; the patient's
    consents recorded for this plan or patient-wide; its components' coverage). Constant query
    count, like ``everything``."""
    plan = access.access_plan(user=user, plan_id=plan_id)
    plan = _plans(CarePlan.objects.select_related("patient__organization")).get(pk=plan.pk)
    components = _components(PlanComponent.objects.filter(plan_id=plan.pk))
    sessions = _sessions(Session.objects.filter(component__plan_id=plan.pk))
    evaluations = Evaluation.objects.filter(
        Q(plan_id=plan.pk) | Q(plan__isnull=True),
        patient_id=plan.patient_id,
        kind__in=mapping.CONSENT_KINDS,
    )
    return plan, _assemble(
        patient=plan.patient,
        plans=[plan],
        components=components,
        sessions=sessions,
        measures=list(Measure.objects.filter(plan_id=plan.pk).order_by("taken_at", "id")),
        flags=list(
            Flag.objects.filter(plan_id=plan.pk, status=FlagStatus.OPEN).order_by("opened_at", "id")
        ),
        evaluations=list(evaluations.order_by("performed_at", "id")),
    )


def _assemble(
    *,
    patient: Any,
    plans: Sequence[CarePlan],
    components: Sequence[PlanComponent],
    sessions: Sequence[Session],
    measures: Sequence[Measure],
    flags: Sequence[Flag],
    evaluations: Sequence[Evaluation],
) -> list[dict[str, Any]]:
    by_plan: dict[int, list[PlanComponent]] = defaultdict(list)
    for c in components:
        by_plan[c.plan_id].append(c)
    by_component = _by_component(sessions)
    out: list[dict[str, Any]] = [mapping.patient(patient)]
    out += [mapping.care_plan(p, by_plan[p.pk], by_component) for p in plans]
    out += [_appointment(s) for s in sessions]
    out += _measure_resources(measures)
    out += [mapping.flag(f, patient_id=patient.pk) for f in flags]
    out += _consents(evaluations, _today())
    out += _coverages(components, patient.pk)
    return out
