"""Helpers shared by the plans services: audit of writes."""

from __future__ import annotations

from typing import Any

from django.db import models

from backend.audit.models import AuditAction
from backend.audit.services import record_object


def audit_write(
    *,
    by: Any,
    action: AuditAction | str,
    obj: models.Model,
    patient_id: int,
    detail: dict[str, Any] | None = None,
) -> None:
    """One audit event per write of patient data (promise 7). Services audit their writes;
    interfaces audit reads — so a request records exactly one event."""
    record_object(actor=by, action=action, obj=obj, patient_id=patient_id, detail=detail)
