"""Plans API views: validate shape → authorise (plans.access) → call one service → serialize.

Access: ``access_*`` fetches or 404s (another organisation's object, a patient outside the
care team); ``require`` 403s a visible object the role may not change (promise 7). Audit: each
request touching patient data records exactly one ``AuditEvent`` — writes inside the service,
reads here (list endpoints: one event, with the patient when the list is scoped to one).
"""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response

from backend.audit.models import AuditAction
from backend.audit.services import record_event, record_object
from plans import access
from plans.errors import PlanErrorCode as P

# Domain codes the services return (400) per input kind; each view declares its ``error_codes``
# (status → codes) so the OpenAPI schema documents them (api/schema.py).
PATIENT_INPUT_CODES = (
    P.INVALID_PHONE,
    P.INVALID_TIMEZONE,
    P.CARE_TEAM_MEMBER_INVALID,
    P.USER_NOT_IN_ORGANIZATION,
)
COMPONENT_INPUT_CODES = (P.INDICATION_NOT_IN_PROTOCOL, P.PROTOCOL_INACTIVE, P.INVALID_COVERAGE)


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def audit_read(request: Request, obj: Any, patient_id: int | None) -> None:
    record_object(actor=request.user, action=AuditAction.READ, obj=obj, patient_id=patient_id)


def int_param(request: Request, name: str) -> int | None:
    try:
        return int(request.query_params[name])
    except (KeyError, ValueError):
        return None


class AuditedListMixin:
    """List endpoints: one read event per request; ``patient_id`` when scoped to one patient."""

    audit_object_type = ""

    def scoped_patient_id(self, request: Request) -> int | None:
        patient = int_param(request, "patient")
        if patient is not None:
            return patient
        plan = int_param(request, "plan")
        if plan is not None:
            return (
                access.visible_plans(request.user)
                .filter(pk=plan)
                .values_list("patient_id", flat=True)
                .first()
            )
        return None

    def audit_list(self, request: Request) -> None:
        """The one read event of a list request (promise 7)."""
        record_event(
            actor=request.user,
            action=AuditAction.READ,
            object_type=self.audit_object_type,
            patient_id=self.scoped_patient_id(request),
            detail={"list": True, "query": dict(request.query_params.items())},
        )

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().list(request, *args, **kwargs)  # type: ignore[misc]
        self.audit_list(request)
        return response


def write_scope(request: Request, values: dict[str, Any]):
    """Patient, optional plan and component — each already resolved inside what the caller may
    see (``VisibleRelatedField``: unknown and invisible ids are the same 404)."""
    return values.pop("patient"), values.pop("plan", None), values.pop("component", None)
