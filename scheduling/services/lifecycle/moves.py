"""Moving a booked session (reschedule), swapping a held resource that is busy then."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from backend.audit.models import AuditAction
from backend.errors import ConflictError, InvalidInput
from modalities.vocab import COURSE_KINDS, ResourceKind, normalise_coil
from plans.access import Action, require
from plans.authorizations import course_session_days
from scheduling.errors import SchedulingErrorCode
from scheduling.models import Session, SessionResource
from scheduling.services._common import (
    ResourcePool,
    authorization_problems,
    check_rems_site,
    clinic_calendar,
    fits_hours,
    guarded,
    notify_sessions_changed,
    renumber_course,
)
from scheduling.services.lifecycle.transitions import (
    S,
    audit_session,
    lock_session,
)


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
    session = lock_session(session)
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
    audit_session(
        by,
        session,
        AuditAction.UPDATE,
        moved_from=previous.isoformat(),
        moved_to=starts_at.isoformat(),
        **(
            {
                "authorization_override": {
                    "reason": authorization_override_reason.strip(),
                    "problems": auth_problems,
                }
            }
            if auth_problems
            else {}
        ),
    )
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
