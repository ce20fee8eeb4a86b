"""A session's life after booking: move, cancel, no-show, check-in gate, complete, in error.

Status machine (FHIR Appointment subset): booked → arrived → fulfilled; booked → cancelled |
noshow; arrived → cancelled; any non-terminal or fulfilled → entered-in-error. Anything else is
409 ``illegal_transition``. A cancelled or missed course session is re-flowed: exactly one
make-up is appended by ``scheduling.rules.course.make_up_slot`` (cadence and cap respected,
``replaces`` set) and the active course sessions are renumbered 1..N.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeGuard

from django.db import transaction
from django.utils import timezone

from backend.audit.models import AuditAction
from backend.audit.services import record_event
from backend.errors import ConflictError, InvalidInput
from modalities.vocab import Modality, ResourceKind, SessionKind, normalise_coil
from plans.access import Action, require
from plans.authorizations import course_session_days
from scheduling.errors import SchedulingErrorCode
from scheduling.models import Session, SessionResource, SessionStatus
from scheduling.rules.course import make_up_slot
from scheduling.services._common import (
    ACTIVE,
    COURSE_KINDS,
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
    from modalities.vocab import Severity
    from plans.rules.readiness import GATED_TIMINGS
    from plans.selectors import get_component_readiness

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
    try:
        from plans.flag_codes import FlagCode
        from plans.services import open_or_escalate_flag
    except ImportError:  # the plans flag service is optional here
        return
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


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _bp_errors(value: Any) -> str | None:
    if not isinstance(value, dict):
        return "an object {systolic, diastolic}"
    s, d = value.get("systolic"), value.get("diastolic")
    if not (_is_int(s) and 50 <= s <= 300 and _is_int(d) and 20 <= d <= 200 and d < s):
        return "systolic 50–300 and diastolic 20–200 mmHg, diastolic below systolic"
    return None


def spravato_doses(parameters: Mapping[str, Any]) -> tuple[int, ...]:
    """The doses a SPRAVATO protocol allows, from its catalogue parameters (DOMAIN.md §2.3:
    56 or 84 mg for TRD; 84 mg, reducible to 56 mg, for MDD with suicidal ideation)."""
    options = parameters.get("dose_mg_options")
    if isinstance(options, list) and options:
        return tuple(options)
    listed = [parameters.get(k) for k in ("dose_mg", "reduced_dose_mg", "day1_dose_mg")]
    return tuple(sorted({d for d in listed if _is_int(d)})) or (56, 84)


def completion_errors(
    modality: str, kind: str, data: Any, parameters: Mapping[str, Any] | None = None
) -> dict[str, list[str]]:
    """Field errors of kind-specific completion data; ``{}`` when valid.

    The limits come from the protocol's catalogue ``parameters`` when given (rules as data):
    SPRAVATO: dose_mg one of the protocol's doses (``dose_mg_options`` or ``dose_mg`` /
    ``reduced_dose_mg``; default 56|84), monitoring_minutes ≥ ``monitoring_minutes_min``
    (default 120), bp_before / bp_40min / bp_discharge, transport_confirmed true (DOMAIN.md
    §2.3–2.4 [LABEL]/[REG]). TMS: percent_mt (1–150), pulses (≥ 1) (DOMAIN.md §1.2–1.3).
    Ketamine: vitals {bp, heart_rate, spo2}, driver_confirmed true, and an optional
    dose_mg_per_kg inside the protocol's ``dose_range_mg_per_kg`` (DOMAIN.md §3).
    Other modalities/kinds: free-form object.
    """
    if not isinstance(data, dict):
        return {"completion": ["must be an object"]}
    parameters = parameters or {}
    errors: dict[str, list[str]] = {}
    # Billing facts any session may carry (billing/codes.yaml, issue 11): the E/M level of a
    # follow-up, the infusion time of an IV infusion.
    if "em_code" in data and data["em_code"] not in ("99212", "99213", "99214", "99215"):
        errors["em_code"] = ["one of 99212, 99213, 99214, 99215"]
    if "infusion_minutes" in data and (
        not _is_int(data["infusion_minutes"]) or not 1 <= data["infusion_minutes"] <= 24 * 60
    ):
        errors["infusion_minutes"] = ["an integer number of minutes, 1–1440"]
    if kind not in COURSE_KINDS:
        return errors
    if modality == Modality.SPRAVATO:
        doses = spravato_doses(parameters)
        if data.get("dose_mg") not in doses:
            errors["dose_mg"] = [" or ".join(str(d) for d in doses)]
        minimum = parameters.get("monitoring_minutes_min", 120)
        minutes = data.get("monitoring_minutes")
        if not _is_int(minutes) or minutes < minimum:
            errors["monitoring_minutes"] = [f"an integer ≥ {minimum} (REMS: at least 2 hours)"]
        for key in ("bp_before", "bp_40min", "bp_discharge"):
            problem = _bp_errors(data.get(key))
            if problem:
                errors[key] = [problem]
        if data.get("transport_confirmed") is not True:
            errors["transport_confirmed"] = ["must be true (no driving until the next day)"]
    elif modality == Modality.TMS:
        percent = data.get("percent_mt")
        if not _is_int(percent) or not 1 <= percent <= 150:
            errors["percent_mt"] = ["an integer % of motor threshold, 1–150"]
        pulses = data.get("pulses")
        if not _is_int(pulses) or pulses < 1:
            errors["pulses"] = ["a positive integer"]
    elif modality == Modality.KETAMINE:
        vitals = data.get("vitals")
        if not isinstance(vitals, dict) or _bp_errors(vitals.get("bp")):
            errors["vitals"] = ["an object with bp {systolic, diastolic}, heart_rate, spo2"]
        else:
            hr, spo2 = vitals.get("heart_rate"), vitals.get("spo2")
            if not (_is_int(hr) and 20 <= hr <= 250 and _is_int(spo2) and 50 <= spo2 <= 100):
                errors["vitals"] = ["heart_rate 20–250 and spo2 50–100"]
        if data.get("driver_confirmed") is not True:
            errors["driver_confirmed"] = ["must be true (a responsible adult drives home)"]
        dose_range = parameters.get("dose_range_mg_per_kg")
        if "dose_mg_per_kg" in data and isinstance(dose_range, list) and len(dose_range) == 2:
            dose, (low, high) = data["dose_mg_per_kg"], dose_range
            if (
                not isinstance(dose, int | float)
                or isinstance(dose, bool)
                or not low <= dose <= high
            ):
                errors["dose_mg_per_kg"] = [f"a dose of {low}–{high} mg/kg"]
    return errors


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
    "completion_errors",
    "mark_entered_in_error",
    "mark_no_show",
    "reschedule_session",
    "spravato_doses",
]
