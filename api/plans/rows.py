"""Plan list rows without DRF's per-field machinery (issue 17).

The plan list is the API's hottest read: 50 plans with their components per page. DRF's
``ModelSerializer`` costs about a millisecond per nested row; these builders produce the very same
JSON as ``PlanOut`` / ``ComponentOut`` (tests/api/test_plan_list_pagination.py compares them
field by field on real rows) from the instances the page already loaded. ``PlanOut`` stays the
schema (OpenAPI) and the shape of every write response.

Only the columns the list shows are loaded (``list_plans``): the protocol's phases, parameters
and sources are large JSON documents that a list never prints.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from plans.models import CarePlan, PlanComponent

PLAN_FIELDS = ("id", "patient_id", "organization_id", "clinic_id", "title", "status",
               "status_reason", "diagnoses", "goals", "coordinator_id", "created_at",
               "updated_at", "activated_at", "ended_at")  # fmt: skip
COMPONENT_FIELDS = ("id", "plan_id", "label_status", "target", "laterality", "rationale",
                    "payer_type", "payer_name", "status", "position", "created_at",
                    "updated_at")  # fmt: skip
PROTOCOL_FIELDS = ("id", "code", "version", "modality", "title", "target")
INDICATION_FIELDS = ("id", "code", "name", "category", "label_status")


def list_plans(qs: QuerySet[CarePlan]) -> QuerySet[CarePlan]:
    """``qs`` with the components (+ protocol and indication, list columns only) prefetched."""
    components = (
        PlanComponent.objects.select_related("protocol", "indication")
        .only(
            *COMPONENT_FIELDS,
            "protocol_id",
            "indication_id",
            *(f"protocol__{f}" for f in PROTOCOL_FIELDS),
            *(f"indication__{f}" for f in INDICATION_FIELDS),
        )
        .prefetch_related("authorizations")
    )  # the coverage fields read the current one (issue 11)
    return qs.prefetch_related(Prefetch("components", queryset=components))


def _when(value: dt.datetime | None) -> str | None:
    """DRF ``DateTimeField`` output: ISO 8601 in the current zone, UTC as ``Z``."""
    if value is None:
        return None
    value = timezone.localtime(value)
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _day(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


def component_row(c: PlanComponent) -> dict[str, Any]:
    p, i = c.protocol, c.indication
    return {
        "id": c.pk,
        "plan": c.plan_id,
        "protocol": {"id": p.pk, "code": p.code, "version": p.version, "modality": p.modality,
                     "title": p.title, "target": p.target},
        "indication": {"id": i.pk, "code": i.code, "name": i.name, "category": i.category,
                       "label_status": i.label_status},
        "label_status": c.label_status,
        "target": c.target,
        "laterality": c.laterality,
        "rationale": c.rationale,
        "payer_type": c.payer_type,
        "payer_name": c.payer_name,
        "prior_auth_number": c.prior_auth_number,
        "prior_auth_sessions": c.prior_auth_sessions,
        "prior_auth_expires_on": _day(c.prior_auth_expires_on),
        "status": c.status,
        "position": c.position,
        "created_at": _when(c.created_at),
        "updated_at": _when(c.updated_at),
    }  # fmt: skip


def plan_row(plan: CarePlan) -> dict[str, Any]:
    return {
        "id": plan.pk,
        "patient": plan.patient_id,
        "organization": plan.organization_id,
        "clinic": plan.clinic_id,
        "title": plan.title,
        "status": plan.status,
        "status_reason": plan.status_reason,
        "diagnoses": list(plan.diagnoses),
        "goals": plan.goals,
        "coordinator": plan.coordinator_id,
        "created_at": _when(plan.created_at),
        "updated_at": _when(plan.updated_at),
        "activated_at": _when(plan.activated_at),
        "ended_at": _when(plan.ended_at),
        "components": [component_row(c) for c in plan.components.all()],
    }


def plan_rows(plans: list[CarePlan]) -> list[dict[str, Any]]:
    return [plan_row(p) for p in plans]
