"""Check-in behind the readiness gate (DESIGN.md promise 2)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from backend.audit.models import AuditAction
from backend.errors import ConflictError
from modalities.vocab import SessionKind, Severity
from plans.access import Action, require
from plans.flag_codes import FlagCode
from plans.rules.readiness import GATED_TIMINGS
from plans.selectors import get_component_readiness
from plans.services import open_or_escalate_flag
from scheduling.errors import SchedulingErrorCode
from scheduling.models import Session
from scheduling.services._common import (
    notify_sessions_changed,
)
from scheduling.services.lifecycle.transitions import (
    S,
    audit_session,
    check_transition,
    lock_session,
)

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
    session = lock_session(session)
    check_transition(session, S.ARRIVED)
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
        audit_session(
            by,
            session,
            AuditAction.OVERRIDE,
            reason=override_reason,
            missing=[g["key"] for g in gaps],
        )
        _flag_override(session, override_reason, gaps)
    else:
        audit_session(by, session, AuditAction.UPDATE, status=S.ARRIVED)
    return session
