"""Completion: arrived → fulfilled with the kind-specific completion data."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from backend.audit.models import AuditAction
from backend.errors import InvalidInput
from plans.access import Action, require
from scheduling.errors import SchedulingErrorCode
from scheduling.models import Session
from scheduling.rules.completion import completion_errors
from scheduling.services._common import (
    notify_sessions_changed,
)
from scheduling.services.lifecycle.transitions import (
    S,
    audit_session,
    check_transition,
    lock_session,
)


@transaction.atomic
def complete_session(*, session: Session, completion: dict[str, Any], by: Any) -> Session:
    """arrived → fulfilled with the kind-specific completion data (400 field errors)."""
    require(by, Action.CHECK_IN)
    session = lock_session(session)
    check_transition(session, S.FULFILLED)
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
    audit_session(by, session, AuditAction.UPDATE, status=S.FULFILLED)
    return session
