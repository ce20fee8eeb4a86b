"""Flags: open-or-escalate idempotently, resolve, dismiss with a reason.

At most one open flag per (plan, code, requirement_key) — per (patient, code, key) for
patient-level flags: the partial unique constraints ``one_open_flag_per_gap`` and
``one_open_patient_flag_per_gap`` are the last word under concurrency (promise 3). Opening
takes the row lock of the open flag when there is one; when two requests race to create it,
the loser's insert fails inside a savepoint and it escalates the winner's row instead.
Severity only ever goes up.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from backend.audit.models import AuditAction
from backend.errors import ConflictError, InvalidInput
from plans.errors import PlanErrorCode
from plans.flag_codes import SEVERITY_ORDER
from plans.models import CarePlan, Flag, FlagStatus, Patient
from plans.services._common import audit_write


def _escalate(flag: Flag, *, severity: str, message: str, detail: dict | None) -> Flag:
    fields = ["updated_at"]
    if SEVERITY_ORDER[severity] > SEVERITY_ORDER[flag.severity]:
        flag.severity = severity
        fields.append("severity")
    if message and message != flag.message:
        flag.message = message
        fields.append("message")
    if detail is not None and detail != flag.detail:
        flag.detail = detail
        fields.append("detail")
    if len(fields) > 1:
        flag.save(update_fields=fields)
    return flag


@transaction.atomic
def open_or_escalate_flag(
    *,
    plan: CarePlan | None = None,
    patient: Patient | None = None,
    code: str,
    severity: str,
    message: str,
    requirement_key: str = "",
    component_id: int | None = None,
    session_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> tuple[Flag, bool]:
    """The open flag for this gap, created or escalated; ``(flag, created)``. Idempotent.

    With ``plan`` the flag is the plan's; with only ``patient`` it is a patient-level flag (no
    plan yet), attached to the patient's first plan by ``attach_patient_flags``.
    """
    if plan is None and patient is None:
        raise TypeError("open_or_escalate_flag needs a plan or a patient")
    lookup: dict[str, Any] = {
        "code": str(code),
        "requirement_key": requirement_key,
        "status": FlagStatus.OPEN,
    }
    if plan is not None:
        lookup["plan_id"] = plan.pk
        patient_id = plan.patient_id
    else:
        assert patient is not None
        lookup.update(patient_id=patient.pk, plan__isnull=True)
        patient_id = patient.pk
    existing = Flag.objects.select_for_update().filter(**lookup).first()
    if existing is not None:
        return _escalate(existing, severity=severity, message=message, detail=detail), False
    try:
        with transaction.atomic():  # savepoint: a lost race must not poison the outer transaction
            flag = Flag.objects.create(
                plan_id=plan.pk if plan is not None else None,
                patient_id=patient_id,
                code=str(code),
                requirement_key=requirement_key,
                severity=str(severity),
                message=message,
                component_id=component_id,
                session_id=session_id,
                detail=detail or {},
            )
        return flag, True
    except IntegrityError:
        winner = Flag.objects.select_for_update().get(**lookup)
        return _escalate(winner, severity=severity, message=message, detail=detail), False


def attach_patient_flags(*, plan: CarePlan) -> int:
    """Attach the patient's open patient-level flags (raised before any plan existed) to
    ``plan``; returns how many. Called in the transaction that creates the plan."""
    return Flag.objects.filter(
        patient_id=plan.patient_id, plan__isnull=True, status=FlagStatus.OPEN
    ).update(plan=plan, updated_at=timezone.now())


def resolve_flag(*, flag: Flag) -> Flag:
    """The gap closed: mark the flag resolved (system action, not audited as a user write)."""
    if flag.status != FlagStatus.OPEN:
        return flag
    flag.status = FlagStatus.RESOLVED
    flag.resolved_at = timezone.now()
    flag.save(update_fields=["status", "resolved_at", "updated_at"])
    return flag


@transaction.atomic
def dismiss_flag(*, flag: Flag, by: Any, reason: str) -> Flag:
    """A clinician or coordinator dismisses an open flag; the reason is required and kept."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(
            PlanErrorCode.REASON_REQUIRED,
            "A reason is required to dismiss a flag.",
            fields={"reason": ["required"]},
        )
    flag = Flag.objects.select_for_update().get(pk=flag.pk)
    if flag.status != FlagStatus.OPEN:
        raise ConflictError(PlanErrorCode.FLAG_NOT_OPEN, f"The flag is {flag.status}.")
    flag.status = FlagStatus.DISMISSED
    flag.dismissed_at = timezone.now()
    flag.dismissed_by = by
    flag.dismiss_reason = reason
    flag.save(
        update_fields=["status", "dismissed_at", "dismissed_by", "dismiss_reason", "updated_at"]
    )
    audit_write(
        by=by,
        action=AuditAction.UPDATE,
        obj=flag,
        patient_id=flag.patient_id,
        detail={"dismissed": flag.code},
    )
    return flag
