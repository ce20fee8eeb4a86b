"""Integrated care plans: create (with components, in one transaction), update, transitions.

Status machine [CarePlan.status]: draft → active → on-hold → active …, then completed or
revoked (terminal). Anything else is a 409 ``illegal_transition`` (promise 8).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from backend.audit.models import AuditAction
from backend.errors import ConflictError, InvalidInput
from plans.errors import PlanErrorCode
from plans.models import CarePlan, ComponentStatus, Patient, PlanComponent, PlanStatus
from plans.services._common import audit_write
from plans.services.components import build_component
from plans.services.flags import attach_patient_flags
from plans.services.readiness import sync_readiness_flags
from plans.tasks import on_plan_changed

TRANSITIONS: dict[str, frozenset[str]] = {
    PlanStatus.DRAFT: frozenset({PlanStatus.ACTIVE, PlanStatus.REVOKED}),
    PlanStatus.ACTIVE: frozenset({PlanStatus.ON_HOLD, PlanStatus.COMPLETED, PlanStatus.REVOKED}),
    PlanStatus.ON_HOLD: frozenset({PlanStatus.ACTIVE, PlanStatus.COMPLETED, PlanStatus.REVOKED}),
    PlanStatus.COMPLETED: frozenset(),
    PlanStatus.REVOKED: frozenset(),
}
# Component status that follows each plan status (components that already ended stay ended).
_COMPONENT_STATUS: dict[str, str] = {
    PlanStatus.ACTIVE: ComponentStatus.ACTIVE,
    PlanStatus.ON_HOLD: ComponentStatus.ON_HOLD,
    PlanStatus.COMPLETED: ComponentStatus.COMPLETED,
    PlanStatus.REVOKED: ComponentStatus.STOPPED,
}
PLAN_FIELDS = frozenset({"title", "diagnoses", "goals", "coordinator", "clinic"})


def _check_clinic(clinic: Any, patient: Patient, field: str = "clinic") -> None:
    if clinic.organization_id != patient.organization_id:
        raise InvalidInput(
            PlanErrorCode.CLINIC_NOT_IN_ORGANIZATION,
            "The clinic belongs to another organisation.",
            fields={field: ["a clinic of the patient's organisation"]},
        )


def _check_coordinator(coordinator: Any, patient: Patient) -> None:
    if coordinator is not None and coordinator.organization_id != patient.organization_id:
        raise InvalidInput(
            PlanErrorCode.USER_NOT_IN_ORGANIZATION,
            "The coordinator belongs to another organisation.",
            fields={"coordinator": ["a user of the patient's organisation"]},
        )


@transaction.atomic
def create_plan(
    *,
    patient: Patient,
    clinic: Any,
    by: Any,
    title: str,
    diagnoses: Sequence[str] = (),
    goals: str = "",
    coordinator: Any = None,
    components: Sequence[dict[str, Any]] = (),
) -> CarePlan:
    """Create a draft plan with its components, all or nothing (promise 8: a failing component
    — e.g. an indication of another protocol — leaves no plan and no component behind)."""
    _check_clinic(clinic, patient)
    _check_coordinator(coordinator, patient)
    plan = CarePlan.objects.create(
        patient=patient,
        organization_id=patient.organization_id,
        clinic=clinic,
        title=title,
        diagnoses=[d.upper() for d in diagnoses],
        goals=goals,
        coordinator=coordinator,
    )
    for index, values in enumerate(components):
        build_component(plan=plan, values=dict(values), position=index, index=index, by=by)
    detail: dict[str, Any] = {"components": len(components)}
    attached = attach_patient_flags(plan=plan)  # an intake safety flag raised before the plan
    if attached:
        detail["attached_flags"] = attached
    audit_write(by=by, action=AuditAction.CREATE, obj=plan, patient_id=patient.pk, detail=detail)
    sync_readiness_flags(plan=plan)
    on_plan_changed([plan.pk])
    return plan


def _lock(plan: CarePlan) -> CarePlan:
    return (
        CarePlan.objects.select_for_update(of=("self",))
        .select_related("patient", "clinic")
        .get(pk=plan.pk)
    )


@transaction.atomic
def update_plan(*, plan: CarePlan, by: Any, **changes: Any) -> CarePlan:
    unknown = set(changes) - PLAN_FIELDS
    if unknown:
        raise TypeError(f"unknown plan fields: {sorted(unknown)}")
    plan = _lock(plan)
    if plan.status in (PlanStatus.COMPLETED, PlanStatus.REVOKED):
        raise ConflictError(PlanErrorCode.PLAN_LOCKED, f"The plan is {plan.status}.")
    if "clinic" in changes:
        _check_clinic(changes["clinic"], plan.patient)
    if "coordinator" in changes:
        _check_coordinator(changes["coordinator"], plan.patient)
    if "diagnoses" in changes:
        changes["diagnoses"] = [d.upper() for d in changes["diagnoses"]]
    for name, value in changes.items():
        setattr(plan, name, value)
    plan.save()
    audit_write(
        by=by,
        action=AuditAction.UPDATE,
        obj=plan,
        patient_id=plan.patient_id,
        detail={"fields": sorted(changes)},
    )
    if "clinic" in changes:  # REMS site certification is a readiness input
        sync_readiness_flags(plan=plan)
    on_plan_changed([plan.pk])
    return plan


def _transition(plan: CarePlan, *, to: str, by: Any, reason: str = "") -> CarePlan:
    plan = _lock(plan)
    if to not in TRANSITIONS[plan.status]:
        raise ConflictError(
            PlanErrorCode.ILLEGAL_TRANSITION,
            f"A plan cannot go from {plan.status} to {to}.",
            extra={"from_status": plan.status, "to_status": to},
        )
    if to == PlanStatus.ACTIVE and plan.status == PlanStatus.DRAFT:
        if not plan.components.exists():
            raise ConflictError(
                PlanErrorCode.PLAN_HAS_NO_COMPONENTS, "A plan needs a component to be activated."
            )
        plan.activated_at = timezone.now()
    if to in (PlanStatus.COMPLETED, PlanStatus.REVOKED):
        plan.ended_at = timezone.now()
    previous = plan.status
    plan.status = to
    plan.status_reason = reason
    plan.save(update_fields=["status", "status_reason", "activated_at", "ended_at", "updated_at"])
    PlanComponent.objects.filter(plan=plan).exclude(
        status__in=[ComponentStatus.COMPLETED, ComponentStatus.STOPPED]
    ).update(status=_COMPONENT_STATUS[to], updated_at=timezone.now())
    audit_write(
        by=by,
        action=AuditAction.UPDATE,
        obj=plan,
        patient_id=plan.patient_id,
        detail={"status": [previous, to], "reason": reason},
    )
    sync_readiness_flags(plan=plan)
    on_plan_changed([plan.pk])
    return plan


@transaction.atomic
def activate_plan(*, plan: CarePlan, by: Any) -> CarePlan:
    """draft → active (needs ≥ 1 component)."""
    return _transition(plan, to=PlanStatus.ACTIVE, by=by)


@transaction.atomic
def hold_plan(*, plan: CarePlan, by: Any, reason: str = "") -> CarePlan:
    """active → on-hold."""
    return _transition(plan, to=PlanStatus.ON_HOLD, by=by, reason=reason)


@transaction.atomic
def resume_plan(*, plan: CarePlan, by: Any) -> CarePlan:
    """on-hold → active (a draft is *activated*, not resumed)."""
    current = _lock(plan).status
    if current != PlanStatus.ON_HOLD:
        raise ConflictError(
            PlanErrorCode.ILLEGAL_TRANSITION,
            "Only a plan on hold can be resumed.",
            extra={"from_status": current, "to_status": PlanStatus.ACTIVE},
        )
    return _transition(plan, to=PlanStatus.ACTIVE, by=by)


@transaction.atomic
def complete_plan(*, plan: CarePlan, by: Any, reason: str = "") -> CarePlan:
    return _transition(plan, to=PlanStatus.COMPLETED, by=by, reason=reason)


@transaction.atomic
def revoke_plan(*, plan: CarePlan, by: Any, reason: str) -> CarePlan:
    """Any open status → revoked; the reason is required."""
    if not (reason or "").strip():
        raise InvalidInput(
            PlanErrorCode.REASON_REQUIRED,
            "A reason is required to revoke.",
            fields={"reason": ["required"]},
        )
    return _transition(plan, to=PlanStatus.REVOKED, by=by, reason=reason.strip())
