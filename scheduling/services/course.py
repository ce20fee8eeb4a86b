"""Booking: a whole course from its protocol phases, or one session.

``schedule_course`` expands the protocol with the pure rules (``scheduling/rules/course/``),
picks free resources of each kind the protocol needs with one availability query over the whole
course window, and either returns a preview or inserts everything with two bulk INSERTs — a
constant number of queries whatever the course length (issue 4, acceptance 6). The exclusion
constraints stay the last word under concurrency: a violation becomes 409 ``slot_conflict``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import transaction

from backend.audit.models import AuditAction
from backend.audit.services import record_event
from backend.errors import ConflictError, InvalidInput
from modalities.rules.devices import DeviceFit, device_fit, pinned_coil
from modalities.vocab import COURSE_KINDS, ResourceKind
from plans.access import Action, require
from plans.authorizations import course_session_days
from plans.models import ComponentStatus, PlanComponent
from plans.services.components import relabel_for_devices
from scheduling.errors import SchedulingErrorCode
from scheduling.models import ClinicianHours, Resource, Session
from scheduling.rules.course import generate_course
from scheduling.services._common import (
    ACTIVE,
    ResourcePool,
    allowed_coils,
    authorization_problems,
    check_rems_site,
    clinic_calendar,
    course_request,
    fits_hours,
    insert_sessions,
    notify_sessions_changed,
    patient_busy,
    renumber_course,
    resource_summary,
)

_CLOSED_COMPONENT = {ComponentStatus.COMPLETED, ComponentStatus.STOPPED}


@dataclass
class ProposedSession:
    sequence: int
    phase: str
    kind: str
    starts_at: datetime
    ends_at: datetime
    local_start: datetime
    resources: list[dict[str, Any]]
    conflicts: list[str] = field(default_factory=list)


@dataclass
class CourseSchedule:
    """What ``schedule_course`` proposes (preview) or booked (commit)."""

    component_id: int
    committed: bool
    already_booked: int
    sessions: list[ProposedSession]
    problems: list[dict[str, Any]]
    conflicts: list[dict[str, Any]]
    session_ids: list[int] = field(default_factory=list)


def _clinician_hours(*, clinician: Any, clinic_id: int) -> dict[int, list[tuple[time, time]]]:
    hours: dict[int, list[tuple[time, time]]] = {}
    for weekday, starts, ends in ClinicianHours.objects.filter(
        clinician_id=clinician.pk, clinic_id=clinic_id
    ).values_list("weekday", "starts", "ends"):
        hours.setdefault(weekday, []).append((starts, ends))
    return hours


def _clinician_available(
    hours: dict[int, list[tuple[time, time]]], local_start: datetime, local_end: datetime
) -> bool:
    """No working hours recorded = no restriction; otherwise inside one interval."""
    if not hours:
        return True
    return any(
        s <= local_start.time() and local_end.time() <= e
        for s, e in hours.get(local_start.weekday(), [])
    )


@transaction.atomic
def schedule_course(
    *,
    component: PlanComponent,
    starts_on: date,
    preferred_start: time,
    window_end: time | None = None,
    clinician: Any = None,
    by: Any,
    commit: bool,
    authorization_override_reason: str = "",
) -> CourseSchedule:
    """Generate the component's course from its protocol; preview it or book it all-or-nothing.

    Rules: sessions follow the protocol phases (weekdays / spaced / accelerated, DOMAIN.md §1.2,
    §2.3) at ``preferred_start`` local time in the clinic zone, skipping closures and staying in
    opening hours; the first TMS session is the longer mapping session (``mapping_minutes``,
    DOMAIN.md §1.3); the course is cut at min(protocol cap, prior-authorised sessions); sessions
    already booked for the component count as done. SPRAVATO needs a REMS-certified setting on
    every session date (DOMAIN.md §2.4 [REG]) → 409 ``rems_site_not_certified``. Each session
    holds one free resource of every kind in ``protocol.resource_kinds`` for its whole chair
    time (monitoring included). Commit with any conflict → 409 ``slot_conflict`` and nothing
    written. The course stops at the approved prior authorisation: its units cap the course and
    a session after its end date is 409 ``authorization_exceeded`` (issue 11), unless
    ``authorization_override_reason`` is given — then only the protocol cap holds and the
    override is in the audit event.
    """
    require(by, Action.SCHEDULE)
    override = (authorization_override_reason or "").strip()
    component = (
        PlanComponent.objects.select_for_update(of=("self",))
        .select_related("plan", "plan__patient", "plan__clinic", "protocol", "indication")
        .prefetch_related("authorizations")
        .get(pk=component.pk)
    )
    if component.status in _CLOSED_COMPONENT:
        raise ConflictError(
            SchedulingErrorCode.COMPONENT_NOT_SCHEDULABLE,
            f"A {component.status} component cannot be scheduled.",
        )
    plan, protocol = component.plan, component.protocol
    clinic, patient = plan.clinic, plan.patient
    calendar = clinic_calendar(clinic)
    # the course sessions already holding time, with their clinic dates (one query): how many
    # count as done, and what the prior authorisation has already used
    held_days = course_session_days([component.pk]).get(component.pk, [])
    already = len(held_days)
    request = course_request(
        component=component,
        starts_on=starts_on,
        preferred_start=preferred_start,
        window_end=window_end,
        already_booked=already,
        authorization_override=bool(override),
    )
    total = sum(p.sessions for p in request.phases)
    if already >= total:
        raise ConflictError(
            SchedulingErrorCode.COURSE_ALREADY_SCHEDULED,
            f"All {total} sessions of this course are already booked.",
        )
    plan_out = generate_course(request, calendar)
    slots = plan_out.slots
    problems = [
        {"code": str(p.code), "message": p.message, "detail": p.detail} for p in plan_out.problems
    ]
    check_rems_site(component=component, clinic=clinic, days=[s.local_start.date() for s in slots])
    try:
        auth_problems = authorization_problems(
            component=component,
            days=[s.local_start.date() for s in slots],
            override_reason=override,
            held=held_days,
        )
    except ConflictError as exc:
        if commit:
            raise
        auth_problems = exc.extra["problems"]
    problems.extend(
        {
            "code": SchedulingErrorCode.AUTHORIZATION_EXCEEDED.value,
            "message": p["message"],
            "detail": p,
        }
        for p in auth_problems
    )

    proposals: list[ProposedSession] = []
    conflicts: list[dict[str, Any]] = []
    chosen: list[list[Resource]] = []
    if slots:
        window = (slots[0].start, slots[-1].end)
        pool = ResourcePool(
            clinic_id=clinic.pk,
            kinds=protocol.resource_kinds,
            start=window[0],
            end=window[1],
            coils=allowed_coils(component),  # never a device outside the clearance
        )
        taken = patient_busy(patient_id=patient.pk, start=window[0], end=window[1])
        hours = _clinician_hours(clinician=clinician, clinic_id=clinic.pk) if clinician else {}
        for slot in slots:
            reasons: list[str] = []
            if any(slot.start < e and s < slot.end for s, e in taken):
                reasons.append("patient_busy")
            if clinician and not _clinician_available(
                hours, slot.local_start, slot.end.astimezone(calendar.zone)
            ):
                reasons.append("clinician_unavailable")
            held, missing = pool.take(slot.start, slot.end)
            reasons.extend(f"no_free_{kind}" for kind in missing)
            proposals.append(
                ProposedSession(
                    sequence=slot.sequence,
                    phase=slot.phase,
                    kind=str(slot.kind),
                    starts_at=slot.start,
                    ends_at=slot.end,
                    local_start=slot.local_start,
                    resources=resource_summary(held),
                    conflicts=reasons,
                )
            )
            chosen.append(held)
            if reasons:
                conflicts.append(
                    {
                        "sequence": slot.sequence,
                        "starts_at": slot.start.isoformat(),
                        "reasons": reasons,
                    }
                )
    result = CourseSchedule(
        component_id=component.pk,
        committed=False,
        already_booked=already,
        sessions=proposals,
        problems=problems,
        conflicts=conflicts,
    )
    if not commit:
        return result
    if not slots:
        raise ConflictError(
            SchedulingErrorCode.NO_SLOTS,
            "No session of the course fits the clinic calendar.",
            extra={"problems": problems},
        )
    if conflicts:
        raise ConflictError(
            SchedulingErrorCode.SLOT_CONFLICT,
            f"{len(conflicts)} session(s) of the course conflict with existing bookings.",
            extra={"conflicts": conflicts},
        )
    sessions = [
        Session(
            component_id=component.pk,
            patient_id=patient.pk,
            clinic_id=clinic.pk,
            kind=p.kind,
            sequence=p.sequence,
            phase=p.phase,
            starts_at=p.starts_at,
            ends_at=p.ends_at,
            clinician=clinician,
        )
        for p in proposals
    ]
    created = insert_sessions(sessions, chosen)
    result.committed = True
    result.session_ids = [s.pk for s in created]
    record_event(
        actor=by,
        action=AuditAction.CREATE,
        object_type="scheduling.session",
        object_id=component.pk,
        patient_id=patient.pk,
        detail={
            "component": component.pk,
            "sessions": len(created),
            "schedule": "course",
            **(
                {"authorization_override": {"reason": override, "problems": auth_problems}}
                if override
                else {}
            ),
        },
    )
    notify_sessions_changed(session_ids=result.session_ids, change="created")
    return result


@transaction.atomic
def book_session(
    *,
    component: PlanComponent,
    kind: str,
    starts_at: datetime,
    minutes: int | None = None,
    resources: list[Resource] | None = None,
    clinician: Any = None,
    by: Any,
    authorization_override_reason: str = "",
) -> Session:
    """Book one session (an evaluation, a follow-up, or a single course session).

    ``starts_at`` is aware (UTC or any offset). The session lasts ``minutes`` (default: the
    protocol's chair minutes, monitoring included) and must lie in the clinic's opening hours on
    an open day (409 ``outside_clinic_hours``). ``resources`` pins the resources; otherwise one
    free resource of every kind the protocol needs is picked. A course session counts towards the
    protocol's cap (409 ``cap_reached``) and the course is renumbered. Past the approved prior
    authorisation — beyond its units or after its end date — is 409 ``authorization_exceeded``
    unless ``authorization_override_reason`` is given (kept in the audit event; issue 11).
    Double booking → 409 ``slot_conflict``.
    A TMS device is auto-picked only among those the clearance covers (``allowed_coils``); one
    the coordinator pins outside it makes the component off-label (``relabel_for_devices``), or
    is refused with 409 ``coil_not_allowed`` when the protocol pins another coil (DOMAIN.md §1.1).
    """
    require(by, Action.SCHEDULE)
    override = (authorization_override_reason or "").strip()
    auth_problems: list[dict[str, Any]] = []
    if starts_at.tzinfo is None:
        raise InvalidInput(
            "validation_error", "starts_at needs a UTC offset.", fields={"starts_at": ["naive"]}
        )
    component = (
        PlanComponent.objects.select_related(
            "plan", "plan__patient", "plan__clinic", "protocol", "indication"
        )
        .prefetch_related("authorizations")
        .get(pk=component.pk)
    )
    if component.status in _CLOSED_COMPONENT:
        raise ConflictError(
            SchedulingErrorCode.COMPONENT_NOT_SCHEDULABLE,
            f"A {component.status} component cannot be scheduled.",
        )
    protocol, clinic = component.protocol, component.plan.clinic
    patient_id = component.plan.patient_id
    duration = timedelta(minutes=minutes or protocol.chair_minutes)
    ends_at = starts_at + duration
    calendar = clinic_calendar(clinic)
    if not fits_hours(calendar, starts_at, ends_at):
        raise ConflictError(
            SchedulingErrorCode.OUTSIDE_CLINIC_HOURS,
            "The clinic is closed at that time.",
            fields={"starts_at": ["outside the clinic's opening hours or on a closure day"]},
        )
    local_day = starts_at.astimezone(calendar.zone).date()
    if kind in COURSE_KINDS:
        check_rems_site(component=component, clinic=clinic, days=[local_day])
        cap = protocol.session_cap
        if cap:
            count = Session.objects.filter(
                component_id=component.pk, kind__in=COURSE_KINDS, status__in=ACTIVE
            ).count()
            if count >= cap:
                raise ConflictError(
                    SchedulingErrorCode.CAP_REACHED,
                    f"The protocol's cap of {cap} sessions is reached.",
                    extra={"cap": cap},
                )
        auth_problems = authorization_problems(
            component=component, days=[local_day], override_reason=override
        )
    if patient_busy(patient_id=patient_id, start=starts_at, end=ends_at):
        raise ConflictError(
            SchedulingErrorCode.SLOT_CONFLICT, "The patient already has a session at that time."
        )
    off_label_device = False
    if resources is not None:
        for resource in resources:
            if resource.clinic_id != clinic.pk or not resource.is_active:
                raise InvalidInput(
                    "validation_error",
                    "A resource is not bookable at this clinic.",
                    fields={"resource_ids": [f"resource {resource.pk} is not at {clinic.name}"]},
                )
            if resource.kind != ResourceKind.TMS_DEVICE:
                continue
            fit = device_fit(
                coil=resource.coil_type,
                parameters=protocol.parameters,
                cleared_coils=component.indication.cleared_coils,
            )
            if fit == DeviceFit.REFUSED:
                raise ConflictError(
                    SchedulingErrorCode.COIL_NOT_ALLOWED,
                    f"The protocol is defined for the {pinned_coil(protocol.parameters)} coil; "
                    f"{resource.name} carries {resource.coil_type or 'no recorded coil'}.",
                    fields={"resource_ids": [f"resource {resource.pk}: coil not allowed"]},
                    extra={"pinned_coil": pinned_coil(protocol.parameters)},
                )
            off_label_device = off_label_device or fit == DeviceFit.OFF_LABEL
        pool = ResourcePool(
            clinic_id=clinic.pk,
            kinds=[r.kind for r in resources],
            start=starts_at,
            end=ends_at,
            resources=resources,
        )
        if any(not pool.is_free(r, starts_at, ends_at) for r in resources):
            raise ConflictError(
                SchedulingErrorCode.SLOT_CONFLICT, "A resource is already booked at that time."
            )
        held = list(resources)
    else:
        pool = ResourcePool(
            clinic_id=clinic.pk,
            kinds=protocol.resource_kinds,
            start=starts_at,
            end=ends_at,
            coils=allowed_coils(component),
        )
        held, missing = pool.take(starts_at, ends_at)
        if missing:
            raise ConflictError(
                SchedulingErrorCode.SLOT_CONFLICT,
                "No free resource of the needed kind at that time.",
                extra={"missing_kinds": missing},
            )
    session = Session(
        component_id=component.pk,
        patient_id=patient_id,
        clinic_id=clinic.pk,
        kind=kind,
        starts_at=starts_at,
        ends_at=ends_at,
        clinician=clinician,
    )
    (session,) = insert_sessions([session], [held])
    if kind in COURSE_KINDS:
        renumber_course(component_id=component.pk)
        session.refresh_from_db(fields=["sequence"])
    if off_label_device:
        # the coordinator chose a device outside the clearance: off-label, never silently
        relabel_for_devices(component=component, by=by)
    record_event(
        actor=by,
        action=AuditAction.CREATE,
        object_type="scheduling.session",
        object_id=session.pk,
        patient_id=patient_id,
        detail={
            "component": component.pk,
            "kind": kind,
            **(
                {"authorization_override": {"reason": override, "problems": auth_problems}}
                if auth_problems
                else {}
            ),
        },
    )
    notify_sessions_changed(session_ids=[session.pk], change="created")
    return session
