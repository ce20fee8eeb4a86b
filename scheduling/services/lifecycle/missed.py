"""Cancel, no-show and entered-in-error; a missed course session gets one make-up."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from backend.audit.models import AuditAction
from backend.errors import ConflictError, InvalidInput
from modalities.vocab import COURSE_KINDS, SessionKind
from plans.access import Action, require
from scheduling.errors import SchedulingErrorCode
from scheduling.models import Session
from scheduling.rules.course import make_up_slot
from scheduling.services._common import (
    ACTIVE,
    ResourcePool,
    allowed_coils,
    authorization_problems,
    check_rems_site,
    clinic_calendar,
    course_request,
    insert_sessions,
    notify_sessions_changed,
    renumber_course,
)
from scheduling.services.lifecycle.transitions import (
    S,
    audit_session,
    check_transition,
    lock_session,
    release_bookings,
)


@dataclass
class MakeUpResult:
    session: Session | None
    problem: dict[str, Any] | None


def _append_make_up(*, missed: Session, now: datetime) -> MakeUpResult:
    """One make-up for a missed/cancelled course session, then renumber (constant queries)."""
    component = missed.component
    clinic = missed.clinic
    calendar = clinic_calendar(clinic)
    active = list(
        Session.objects.filter(
            component_id=component.pk, kind__in=COURSE_KINDS, status__in=ACTIVE
        ).order_by("starts_at")
    )
    if not active:
        renumber_course(component_id=component.pk)
        return MakeUpResult(None, {"code": "no_active_session", "message": "Nothing to append to."})
    first = active[0]
    # the missed session was the mapping one: the next session becomes the mapping session
    if missed.kind == SessionKind.MAPPING and first.kind != SessionKind.MAPPING:
        first.kind = SessionKind.MAPPING
        first.save(update_fields=["kind", "updated_at"])
    # the make-up keeps the missed session's local wall-clock time
    request = course_request(
        component=component,
        starts_on=active[0].starts_at.astimezone(calendar.zone).date(),
        preferred_start=missed.starts_at.astimezone(calendar.zone).time().replace(tzinfo=None),
    )
    outcome = make_up_slot(
        existing_starts=[s.starts_at for s in active],
        request=request,
        calendar=calendar,
        missed_sequence=missed.sequence or 0,
        not_before=now,
        existing_phases=[s.phase for s in active],
        missed_start=missed.starts_at,
        missed_phase=missed.phase,
    )
    if outcome.slot is None:
        renumber_course(component_id=component.pk)
        problem = outcome.problem
        return MakeUpResult(
            None,
            {"code": str(problem.code), "message": problem.message, "detail": problem.detail}
            if problem
            else None,
        )
    slot = outcome.slot
    check_rems_site(component=component, clinic=clinic, days=[slot.local_start.date()])
    try:  # a make-up past the prior authorisation is left to the coordinator (issue 11)
        authorization_problems(
            component=component, days=[slot.local_start.date()], override_reason=""
        )
    except ConflictError as exc:
        renumber_course(component_id=component.pk)
        return MakeUpResult(
            None,
            {
                "code": SchedulingErrorCode.AUTHORIZATION_EXCEEDED.value,
                "message": "The make-up would fall outside the prior authorisation; book it by "
                "hand with an override reason or after re-authorisation.",
                "detail": {"starts_at": slot.start.isoformat(), **exc.extra},
            },
        )
    pool = ResourcePool(
        clinic_id=clinic.pk,
        kinds=component.protocol.resource_kinds,
        start=slot.start,
        end=slot.end,
        coils=allowed_coils(component),  # a make-up stays on a cleared device
    )
    held, missing = pool.take(slot.start, slot.end)
    if missing:
        renumber_course(component_id=component.pk)
        return MakeUpResult(
            None,
            {
                "code": SchedulingErrorCode.SLOT_CONFLICT.value,
                "message": "No free resource for the make-up slot; book it by hand.",
                "detail": {"starts_at": slot.start.isoformat(), "missing_kinds": missing},
            },
        )
    make_up = Session(
        component_id=component.pk,
        patient_id=missed.patient_id,
        clinic_id=clinic.pk,
        kind=SessionKind.TREATMENT,
        sequence=slot.sequence,
        phase=slot.phase,
        starts_at=slot.start,
        ends_at=slot.end,
        clinician_id=missed.clinician_id,
        replaces=missed,
    )
    try:
        (make_up,) = insert_sessions([make_up], [held])
    except ConflictError:
        renumber_course(component_id=component.pk)
        return MakeUpResult(
            None,
            {
                "code": SchedulingErrorCode.SLOT_CONFLICT.value,
                "message": "The make-up slot is taken (the patient has another session then).",
                "detail": {"starts_at": slot.start.isoformat()},
            },
        )
    renumber_course(component_id=component.pk)
    make_up.refresh_from_db(fields=["sequence"])
    return MakeUpResult(make_up, None)


def _miss(*, session: Session, status: str, by: Any, reason: str) -> MakeUpResult:
    session = lock_session(session)
    check_transition(session, status)
    session.status = status
    fields = ["status", "updated_at"]
    if reason:
        session.cancel_reason = reason
        fields.append("cancel_reason")
    session.save(update_fields=fields)
    release_bookings(session)
    result = MakeUpResult(None, None)
    if session.kind in COURSE_KINDS:
        result = _append_make_up(missed=session, now=timezone.now())
    changed = "cancelled" if status == S.CANCELLED else "status"
    notify_sessions_changed(session_ids=[session.pk], change=changed)
    if result.session is not None:
        notify_sessions_changed(session_ids=[result.session.pk], change="created")
    audit_session(
        by,
        session,
        AuditAction.UPDATE,
        status=status,
        reason=reason,
        make_up=result.session.pk if result.session else None,
    )
    return result


@transaction.atomic
def cancel_session(*, session: Session, reason: str, by: Any) -> MakeUpResult:
    """Cancel (booked/arrived) with a reason; a course session gets one make-up appended."""
    require(by, Action.SCHEDULE)
    if not (reason or "").strip():
        raise InvalidInput(
            "validation_error", "A cancellation needs a reason.", fields={"reason": ["required"]}
        )
    return _miss(session=session, status=S.CANCELLED, by=by, reason=reason.strip())


@transaction.atomic
def mark_no_show(*, session: Session, by: Any, note: str = "") -> MakeUpResult:
    """The patient did not come (booked → noshow); a course session gets one make-up."""
    require(by, Action.CHECK_IN)
    return _miss(session=session, status=S.NOSHOW, by=by, reason=note)


@transaction.atomic
def mark_entered_in_error(*, session: Session, reason: str, by: Any) -> Session:
    """The booking should never have existed; it frees its time and leaves the count."""
    require(by, Action.SCHEDULE)
    if not (reason or "").strip():
        raise InvalidInput(
            "validation_error", "A reason is required.", fields={"reason": ["required"]}
        )
    session = lock_session(session)
    check_transition(session, S.ENTERED_IN_ERROR)
    session.status = S.ENTERED_IN_ERROR
    session.cancel_reason = reason.strip()
    session.save(update_fields=["status", "cancel_reason", "updated_at"])
    release_bookings(session)
    renumber_course(component_id=session.component_id)
    notify_sessions_changed(session_ids=[session.pk], change="cancelled")
    audit_session(by, session, AuditAction.UPDATE, status=S.ENTERED_IN_ERROR, reason=reason)
    return session
