"""Helpers shared by the scheduling views."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from rest_framework.request import Request

from backend.accounts.models import User
from backend.audit.models import AuditAction
from backend.audit.services import record_event
from backend.errors import NotFoundError
from scheduling.models import Clinic


def aware(value: datetime, clinic: Clinic) -> datetime:
    """A naive datetime is the clinic's local wall-clock time (promise 9)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=ZoneInfo(clinic.timezone))
    return value


def audit_read(request: Request, *, object_type: str, object_id: Any = "", patient_id=None,
                **detail: Any) -> None:  # fmt: skip
    record_event(
        actor=request.user,
        action=AuditAction.READ,
        object_type=object_type,
        object_id=object_id,
        patient_id=patient_id,
        detail=detail,
    )


def clinician_in_org(clinician: User | None, organization_id: int | None) -> User | None:
    """The payload's clinician (already resolved inside what the caller sees) must work for the
    plan's organisation — only an admin can name one who does not; same 404 as unknown."""
    if clinician is None:
        return None
    if organization_id is not None and clinician.organization_id != organization_id:
        raise NotFoundError("Clinician not found.", fields={"clinician": ["not found"]})
    return clinician
