"""The session status machine and what every life-cycle step shares: lock, check, audit."""

from __future__ import annotations

from typing import Any

from backend.audit.services import record_event
from backend.errors import ConflictError
from scheduling.errors import SchedulingErrorCode
from scheduling.models import Session, SessionResource, SessionStatus

S = SessionStatus
_TRANSITIONS: dict[str, frozenset[str]] = {
    S.BOOKED: frozenset({S.ARRIVED, S.CANCELLED, S.NOSHOW, S.ENTERED_IN_ERROR}),
    S.ARRIVED: frozenset({S.FULFILLED, S.CANCELLED, S.ENTERED_IN_ERROR}),
    S.FULFILLED: frozenset({S.ENTERED_IN_ERROR}),
    S.CANCELLED: frozenset(),
    S.NOSHOW: frozenset({S.ENTERED_IN_ERROR}),
    S.ENTERED_IN_ERROR: frozenset(),
}


def lock_session(session: Session) -> Session:
    return (
        Session.objects.select_for_update(of=("self",))
        .select_related("component", "component__protocol", "component__plan", "clinic")
        .get(pk=session.pk)
    )


def check_transition(session: Session, target: str) -> None:
    if target not in _TRANSITIONS[session.status]:
        raise ConflictError(
            SchedulingErrorCode.ILLEGAL_TRANSITION,
            f"A {session.status} session cannot become {target}.",
            extra={"status": session.status, "target": target},
        )


def audit_session(by: Any, session: Session, action: str, **detail: Any) -> None:
    record_event(
        actor=by,
        action=action,
        object_type="scheduling.session",
        object_id=session.pk,
        patient_id=session.patient_id,
        detail=detail,
    )


def release_bookings(session: Session) -> None:
    SessionResource.objects.filter(session_id=session.pk).update(active=False)
