"""Helpers shared by the scheduling views."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from rest_framework.request import Request

from backend.audit.models import AuditAction
from backend.audit.services import record_event
from scheduling.models import Clinic


def aware(value: datetime, clinic: Clinic) -> datetime:
    """A naive datetime is the clinic's local wall-clock time (promise 9)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=ZoneInfo(clinic.timezone))
    return value


def audit_read(
    request: Request, *, object_type: str, object_id: Any = "", patient_id=None, **detail: Any
) -> None:
    record_event(
        actor=request.user,
        action=AuditAction.READ,
        object_type=object_type,
        object_id=object_id,
        patient_id=patient_id,
        detail=detail,
    )
