"""A session's life after booking: move, cancel, no-show, check-in gate, complete, in error.

Status machine (FHIR Appointment subset): booked → arrived → fulfilled; booked → cancelled |
noshow; arrived → cancelled; any non-terminal or fulfilled → entered-in-error. Anything else is
409 ``illegal_transition``. A cancelled or missed course session is re-flowed: exactly one
make-up is appended by ``scheduling.rules.course.make_up_slot`` (cadence and cap respected,
``replaces`` set) and the active course sessions are renumbered 1..N.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from backend.audit.models import AuditAction
from backend.audit.services import record_event
from backend.errors import ConflictError, InvalidInput
from modalities.vocab import COURSE_KINDS, ResourceKind, SessionKind, Severity, normalise_coil
from plans.access import Action, require
from plans.authorizations import course_session_days
from plans.flag_codes import FlagCode
from plans.rules.readiness import GATED_TIMINGS
from plans.selectors import get_component_readiness
from plans.services import open_or_escalate_flag
from scheduling.errors import SchedulingErrorCode
from scheduling.models import Session, SessionResource, SessionStatus
from scheduling.rules.completion import completion_errors
from scheduling.rules.course import make_up_slot
from scheduling.services._common import (
    ACTIVE,
    ResourcePool,
    allowed_coils,
    authorization_problems,
    check_rems_site,
    clinic_calendar,
    course_request,
    fits_hours,
    guarded,
    insert_sessions,
    notify_sessions_changed,
    renumber_course,
)

S = SessionStatus
_TRANSITIONS: dict[str, frozenset[str]] = {
    S.BOOKED: frozenset({S.ARRIVED, S.CANCELLED, S.NOSHOW, S.ENTERED_IN_ERROR}),
    S.ARRIVED: frozenset({S.FULFILLED, S.CANCELLED, S.ENTERED_IN_ERROR}),
    S.FULFILLED: frozenset({S.ENTERED_IN_ERROR}),
    S.CANCELLED: frozenset(),
    S.NOSHOW: frozenset({S.ENTERED_IN_ERROR}),
    S.ENTERED_IN_ERROR: frozenset(),
}


def _lock(session: Session) -> Session:
    return (
        Session.objects.select_for_update(of=("self",))
        .select_related("component", "component__protocol", "component__plan", "clinic")
        .get(pk=session.pk)
    )


def _transition(session: Session, target: str) -> None:
    if target not in _TRANSITIONS[session.status]:
        raise ConflictError(
            SchedulingErrorCode.ILLEGAL_TRANSITION,
            f"A {session.status} session cannot become {target}.",
            extra={"status": session.status, "target": target},
        )


def _audit(by: Any, session: Session, action: str, **detail: Any) -> None:
    record_event(
        actor=by,
        action=action,
        object_type="scheduling.session",
        object_id=session.pk,
        patient_id=session.patient_id,
        detail=detail,
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


def _deactivate(session: Session) -> None:
    SessionResource.objects.filter(session_id=session.pk).update(active=False)


def _miss(*, session: Session, status: str, by: Any, reason: str) -> MakeUpResult:
    session = _lock(session)
    _transition(session, status)
    session.status = status
    fields = ["status", "updated_at"]
    if reason:
        session.cancel_reason = reason
        fields.append("cancel_reason")
    session.save(update_fields=fields)
    _deactivate(session)
    result = MakeUpResult(None, None)
    if session.kind in COURSE_KINDS:
        result = _append_make_up(missed=session, now=timezone.now())
    changed = "cancelled" if status == S.CANCELLED else "status"
    notify_sessions_changed(session_ids=[session.pk], change=changed)
    if result.session is not None:
        notify_sessions_changed(session_ids=[result.session.pk], change="created")
    _audit(
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
    session = _lock(session)
    _transition(session, S.ENTERED_IN_ERROR)
    session.status = S.ENTERED_IN_ERROR
    session.cancel_reason = reason.strip()
    session.save(update_fields=["status", "cancel_reason", "updated_at"])
    _deactivate(session)
    renumber_course(component_id=session.component_id)
    notify_sessions_changed(session_ids=[session.pk], change="cancelled")
    _audit(by, session, AuditAction.UPDATE, status=S.ENTERED_IN_ERROR, reason=reason)
    return session


@transaction.atomic
def reschedule_session(
    *, session: Session, starts_at: datetime, by: Any, authorization_override_reason: str = ""
) -> Session:
    """Move a booked session to ``starts_at`` (aware), keeping its length and resources.

    The bookings move in step (their denormalised range feeds the exclusion constraint); a held
    resource that is busy at the new time is swapped for a free one of the same kind; the
    new time must be in opening hours on an open day (409 ``outside_clinic_hours``); a double
    booking is 409 ``slot_conflict``. The course is renumbered (the order may change). Moving a
    course session outside the approved prior authorisation's dates (or into a window whose units
    are all held) is 409 ``authorization_exceeded`` unless ``authorization_override_reason`` is
    given (kept in the audit event; issue 11).
    """
    require(by, Action.SCHEDULE)
    if starts_at.tzinfo is None:
        raise InvalidInput(
            "validation_error", "starts_at needs a UTC offset.", fields={"starts_at": ["naive"]}
        )
    session = _lock(session)
    if session.status != S.BOOKED:
        raise ConflictError(
            SchedulingErrorCode.ILLEGAL_TRANSITION,
            f"Only a booked session can be moved (this one is {session.status}).",
            extra={"status": session.status},
        )
    duration = session.ends_at - session.starts_at
    ends_at = starts_at + duration
    calendar = clinic_calendar(session.clinic)
    if not fits_hours(calendar, starts_at, ends_at):
        raise ConflictError(
            SchedulingErrorCode.OUTSIDE_CLINIC_HOURS,
            "The clinic is closed at that time.",
            fields={"starts_at": ["outside the clinic's opening hours or on a closure day"]},
        )
    auth_problems: list[dict[str, Any]] = []
    if session.kind in COURSE_KINDS:
        new_day = starts_at.astimezone(calendar.zone).date()
        check_rems_site(component=session.component, clinic=session.clinic, days=[new_day])
        # the session itself does not count against the window it moves into
        held = list(course_session_days([session.component_id]).get(session.component_id, []))
        own = (session.starts_at.astimezone(calendar.zone).date(), session.status)
        if own in held:
            held.remove(own)
        auth_problems = authorization_problems(
            component=session.component,
            days=[new_day],
            override_reason=authorization_override_reason or "",
            held=held,
        )
    previous = session.starts_at
    bookings = list(
        SessionResource.objects.filter(session_id=session.pk, active=True).select_related(
            "resource"
        )
    )
    swaps = _swap_busy_resources(session, bookings, starts_at, ends_at)

    def move() -> None:
        Session.objects.filter(pk=session.pk).update(
            starts_at=starts_at, ends_at=ends_at, updated_at=timezone.now()
        )
        for booking in bookings:
            booking.starts_at, booking.ends_at = starts_at, ends_at
            booking.resource_id = swaps.get(booking.pk, booking.resource_id)
        SessionResource.objects.bulk_update(bookings, ["starts_at", "ends_at", "resource"])

    guarded(move)
    session.starts_at, session.ends_at = starts_at, ends_at
    if session.kind in COURSE_KINDS:
        renumber_course(component_id=session.component_id)
        session.refresh_from_db(fields=["sequence"])
    notify_sessions_changed(session_ids=[session.pk], change="moved")
    _audit(
        by,
        session,
        AuditAction.UPDATE,
        moved_from=previous.isoformat(),
        moved_to=starts_at.isoformat(),
        **(
            {"authorization_override": {"reason": authorization_override_reason.strip(),
                                        "problems": auth_problems}}
            if auth_problems
            else {}
        ),
    )  # fmt: skip
    return session


def _swap_busy_resources(
    session: Session, bookings: list[SessionResource], start: datetime, end: datetime
) -> dict[int, int]:
    """{booking id: resource id} for held resources busy at the new time, swapped for a free
    one of the same kind at the clinic; none free → 409 ``slot_conflict``."""
    if not bookings:
        return {}
    tms_coils = frozenset(
        normalise_coil(b.resource.coil_type)
        for b in bookings
        if b.resource.kind == ResourceKind.TMS_DEVICE
    )
    pool = ResourcePool(
        clinic_id=session.clinic_id,
        kinds=[b.resource.kind for b in bookings],
        start=start,
        end=end,
        exclude_session_ids=[session.pk],
        coils=tms_coils or None,  # a swapped device carries the same coil (label unchanged)
    )
    swaps: dict[int, int] = {}
    for booking in bookings:
        if pool.is_free(booking.resource, start, end):
            pool.busy[booking.resource_id].append((start, end))
            continue
        free = next(
            (r for r in pool.by_kind.get(booking.resource.kind, []) if pool.is_free(r, start, end)),
            None,
        )
        if free is None:
            raise ConflictError(
                SchedulingErrorCode.SLOT_CONFLICT,
                f"No {booking.resource.kind.replace('_', ' ')} is free at that time.",
                extra={"missing_kinds": [booking.resource.kind]},
            )
        pool.busy[free.pk].append((start, end))
        swaps[booking.pk] = free.pk
    return swaps


# ---------------------------------------------------------------------------------- check-in gate

_GATED_KINDS = {SessionKind.MAPPING, SessionKind.TREATMENT}
# Motor threshold is measured AT the mapping session (DOMAIN.md §1.3), so it cannot gate it.
_MEASURED_AT_MAPPING = {"motor_threshold"}


def blocking_gaps(session: Session, *, today: Any = None) -> list[dict[str, Any]]:
    """Blocking requirements of the session's component that are missing/expired *at this
    session* (``plans.rules.readiness``: a before-first-session step is judged at session 1 and
    never re-checked; a valid-during-course step on the session's day; repeat and
    after-medication-change steps at their due points)."""
    if session.kind not in _GATED_KINDS:
        return []
    readiness = get_component_readiness(
        component=session.component, today=today, at_sequence=session.sequence or None
    )
    gaps = []
    for item in readiness.items:
        if not item.blocks_start or item.severity != Severity.BLOCKING:
            continue
        if item.timing not in GATED_TIMINGS:
            continue
        if session.kind == SessionKind.MAPPING and (
            item.key in _MEASURED_AT_MAPPING or str(item.code) in _MEASURED_AT_MAPPING
        ):
            continue
        gaps.append(
            {
                "key": item.key,
                "code": str(item.code),
                "status": str(item.status),
                "reason": item.reason,
                "detail": item.detail,
            }
        )
    return gaps


def _flag_override(session: Session, reason: str, gaps: list[dict[str, Any]]) -> None:
    open_or_escalate_flag(
        plan=session.component.plan,
        code=FlagCode.GATE_OVERRIDDEN,
        severity="info",
        message=f"Check-in gate overridden: {reason}",
        requirement_key=str(session.pk),
        component_id=session.component_id,
        session_id=session.pk,
        detail={"reason": reason, "missing": [g["key"] for g in gaps]},
    )


@transaction.atomic
def check_in_session(*, session: Session, by: Any, override_reason: str = "") -> Session:
    """booked → arrived, behind the readiness gate (DESIGN.md promise 2).

    A mapping/treatment session whose component misses a blocking before-start requirement
    (missing or expired; e.g. SPRAVATO REMS patient enrolment, DOMAIN.md §2.4 [REG]) is refused
    with 409 ``readiness_gate_blocked`` listing the gaps — except ``motor_threshold`` at the
    mapping session, where MT is measured (DOMAIN.md §1.3). A prescriber (``can_override_gate``)
    may check in anyway with a non-empty reason: stored on the session, audited as ``override``
    and flagged ``gate_overridden`` (info).
    """
    require(by, Action.CHECK_IN)
    session = _lock(session)
    _transition(session, S.ARRIVED)
    override_reason = (override_reason or "").strip()
    gaps = blocking_gaps(session)
    if gaps and not override_reason:
        raise ConflictError(
            SchedulingErrorCode.READINESS_GATE_BLOCKED,
            f"{len(gaps)} required step(s) missing before this session can start.",
            extra={"missing": gaps},
        )
    overridden = bool(gaps)
    if overridden:
        require(by, Action.OVERRIDE_GATE)
        session.override_reason = override_reason
    session.status = S.ARRIVED
    session.checked_in_at = timezone.now()
    session.checked_in_by = by
    session.save(
        update_fields=[
            "status",
            "checked_in_at",
            "checked_in_by",
            "override_reason",
            "updated_at",
        ]
    )
    notify_sessions_changed(session_ids=[session.pk], change="status")
    if overridden:
        _audit(
            by,
            session,
            AuditAction.OVERRIDE,
            reason=override_reason,
            missing=[g["key"] for g in gaps],
        )
        _flag_override(session, override_reason, gaps)
    else:
        _audit(by, session, AuditAction.UPDATE, status=S.ARRIVED)
    return session


# ---------------------------------------------------------------------------------- completion


@transaction.atomic
def complete_session(*, session: Session, completion: dict[str, Any], by: Any) -> Session:
    """arrived → fulfilled with the kind-specific completion data (400 field errors)."""
    require(by, Action.CHECK_IN)
    session = _lock(session)
    _transition(session, S.FULFILLED)
    protocol = session.component.protocol
    errors = completion_errors(protocol.modality, session.kind, completion, protocol.parameters)
    if errors:
        raise InvalidInput(
            SchedulingErrorCode.COMPLETION_INVALID,
            "The completion data is invalid.",
            fields={"completion": errors},
        )
    session.status = S.FULFILLED
    session.completion = completion
    session.save(update_fields=["status", "completion", "updated_at"])
    notify_sessions_changed(session_ids=[session.pk], change="status")
    _audit(by, session, AuditAction.UPDATE, status=S.FULFILLED)
    return session


__all__ = [
    "MakeUpResult",
    "blocking_gaps",
    "cancel_session",
    "check_in_session",
    "complete_session",
    "mark_entered_in_error",
    "mark_no_show",
    "reschedule_session",
]
