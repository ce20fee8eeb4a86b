"""Recording audit events: the one mechanism every read and write of patient data goes through."""

from __future__ import annotations

from typing import Any

from django.db import models

from backend.audit import context
from backend.audit.models import AuditAction, AuditEvent
from backend.db.rows import insert_returning_pk


def record_event(
    *,
    actor: Any,
    action: AuditAction | str,
    object_type: str,
    object_id: Any = "",
    patient_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one audit event. ``actor`` may be None (a background task) or an anonymous user.
    One fixed INSERT (``backend.db.rows.insert_returning_pk``: every request writes one, and
    compiling ``objects.create`` cost more than the insert; the model has no ``save`` logic)."""
    ctx = context.current()
    user = actor if getattr(actor, "is_authenticated", False) else None
    event = AuditEvent(
        actor=user,
        actor_role=getattr(user, "role", "") or "",
        organization_id=getattr(user, "organization_id", None),
        action=str(action),
        object_type=object_type,
        object_id=str(object_id) if object_id is not None else "",
        patient_id=patient_id,
        request_id=ctx.request_id if ctx else "",
        ip=ctx.ip if ctx else None,
        path=ctx.path if ctx else "",
        detail=detail or {},
    )
    insert_returning_pk(event)
    return event


def record_object(
    *,
    actor: Any,
    action: AuditAction | str,
    obj: models.Model,
    patient_id: int | None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Audit an action on one model instance, typed by its ``app_label.model`` name."""
    return record_event(
        actor=actor,
        action=action,
        object_type=obj._meta.label_lower,
        object_id=obj.pk,
        patient_id=patient_id,
        detail=detail,
    )
