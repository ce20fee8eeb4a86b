"""Evaluation steps: recorded with validated kind-specific data; marked entered-in-error,
never deleted."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone

from backend.audit.models import AuditAction
from backend.errors import ConflictError, ErrorCode, InvalidInput
from modalities.vocab import EvaluationKind
from plans.errors import PlanErrorCode
from plans.models import CarePlan, Evaluation, Patient, PlanComponent, RecordStatus
from plans.rules.readiness import evaluation_data_errors
from plans.selectors import zone_named
from plans.services._common import audit_write
from plans.services.readiness import sync_patient_plans
from plans.tasks import on_plan_changed


def _check_scope(
    patient: Patient, plan: CarePlan | None, component: PlanComponent | None
) -> CarePlan | None:
    if component is not None:
        if plan is not None and component.plan_id != plan.pk:
            raise InvalidInput(
                PlanErrorCode.COMPONENT_NOT_IN_PLAN,
                "The component is not part of this plan.",
                fields={"component": ["not a component of the plan"]},
            )
        plan = plan or component.plan
    if plan is not None and plan.patient_id != patient.pk:
        field = "component" if component is not None else "plan"
        raise InvalidInput(
            PlanErrorCode.PLAN_NOT_OF_PATIENT,
            "The plan belongs to another patient.",
            fields={field: ["not a plan of this patient"]},
        )
    return plan


def local_day(when: dt.datetime, patient: Patient) -> dt.date:
    """``when``'s date on the patient's calendar (promise 9): an evaluation at 21:30 in New
    York is dated that day, not the next one UTC is already on."""
    return when.astimezone(zone_named(patient.timezone)).date()


def check_clinical_time(*, patient: Patient, when: dt.datetime, field: str) -> None:
    """Something recorded about a patient cannot predate the patient's birth (the API already
    bounds it to ``CLINICAL_EARLIEST_DATE`` … now + clock skew). 400 ``validation_error``."""
    if local_day(when, patient) < patient.birth_date:
        raise InvalidInput(
            ErrorCode.VALIDATION_ERROR,
            "The date is before the patient's birth date.",
            fields={field: ["before the patient's birth date"]},
        )


def _after_change(patient_id: int) -> None:
    on_plan_changed(sync_patient_plans(patient_id=patient_id))


@transaction.atomic
def record_evaluation(
    *,
    patient: Patient,
    by: Any,
    kind: str,
    performed_at: dt.datetime,
    data: dict[str, Any] | None = None,
    plan: CarePlan | None = None,
    component: PlanComponent | None = None,
    performed_by: Any = None,
    valid_until: dt.date | None = None,
    note: str = "",
) -> Evaluation:
    """Record a step. The data is validated per kind (``evaluation_data_errors``: e.g. motor
    threshold %, IFCN answers with the physician's decision, antidepressant trials); a
    component-level step must belong to a plan of this patient. Readiness flags follow."""
    data = {} if data is None else data
    errors = evaluation_data_errors(kind, data)
    if errors:
        fields: dict[str, Any] = {}
        if "kind" in errors:
            fields["kind"] = [errors.pop("kind")]
        if errors:
            fields["data"] = {k: [v] for k, v in errors.items()}
        raise InvalidInput(
            PlanErrorCode.INVALID_EVALUATION_DATA, "The evaluation data is invalid.", fields=fields
        )
    plan = _check_scope(patient, plan, component)
    check_clinical_time(patient=patient, when=performed_at, field="performed_at")
    if valid_until is not None and valid_until < local_day(performed_at, patient):
        raise InvalidInput(
            ErrorCode.VALIDATION_ERROR,
            "The evidence cannot expire before it was recorded.",
            fields={"valid_until": ["before performed_at"]},
        )
    evaluation = Evaluation.objects.create(
        patient=patient,
        plan=plan,
        component=component,
        kind=EvaluationKind(kind),
        performed_at=performed_at,
        performed_by=performed_by or by,
        data=data,
        valid_until=valid_until,
        note=note,
        recorded_by=by,
    )
    audit_write(
        by=by,
        action=AuditAction.CREATE,
        obj=evaluation,
        patient_id=patient.pk,
        detail={"kind": str(kind)},
    )
    _after_change(patient.pk)
    return evaluation


@transaction.atomic
def mark_evaluation_entered_in_error(*, evaluation: Evaluation, by: Any, reason: str) -> Evaluation:
    """Correct a mistaken record without deleting it (FHIR entered-in-error); reason required."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(
            PlanErrorCode.REASON_REQUIRED, "A reason is required.", fields={"reason": ["required"]}
        )
    evaluation = Evaluation.objects.select_for_update().get(pk=evaluation.pk)
    if evaluation.status == RecordStatus.ENTERED_IN_ERROR:
        raise ConflictError(
            PlanErrorCode.ALREADY_ENTERED_IN_ERROR,
            "The evaluation is already marked entered-in-error.",
        )
    evaluation.status = RecordStatus.ENTERED_IN_ERROR
    evaluation.error_reason = reason
    evaluation.errored_at = timezone.now()
    evaluation.errored_by = by
    evaluation.save(update_fields=["status", "error_reason", "errored_at", "errored_by"])
    audit_write(
        by=by,
        action=AuditAction.UPDATE,
        obj=evaluation,
        patient_id=evaluation.patient_id,
        detail={"entered_in_error": reason},
    )
    _after_change(evaluation.patient_id)
    return evaluation
