"""Outcome measures: answers in, total/band/risk computed server-side, safety acts at once."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction

from backend.audit.models import AuditAction
from backend.errors import InvalidInput
from modalities.vocab import Severity
from plans.errors import PlanErrorCode
from plans.flag_codes import FlagCode
from plans.models import CarePlan, Measure, Patient, PlanComponent, PlanStatus, RecordStatus
from plans.rules.scoring import ALERT_CSSRS_HIGH_RISK, ScoringError, score
from plans.services._common import audit_write
from plans.services.evaluations import _check_scope, check_clinical_time
from plans.services.flags import open_or_escalate_flag
from plans.services.readiness import sync_patient_plans
from plans.tasks import on_plan_changed, request_safety_notification

_SAFETY_CODES = {
    "phq9_item9": (
        FlagCode.SAFETY_PHQ9_ITEM9,
        "PHQ-9 item 9 (thoughts of self-harm) answered above 0: same-visit clinical follow-up "
        "and a suicide-risk screen are needed.",
        "DOMAIN.md §5.2 PHQ-9 item 9 row [WEAK]; §5.1 Zero Suicide model [GUIDE]",
    ),
    ALERT_CSSRS_HIGH_RISK: (
        FlagCode.SAFETY_CSSRS_HIGH_RISK,
        "C-SSRS screener high risk (intent/plan in the past month or recent behaviour): "
        "immediate referral and safety precautions.",
        "DOMAIN.md §5.2 C-SSRS Screener row (triage guidelines) [GUIDE]",
    ),
}


def _scoring_error(exc: ScoringError) -> InvalidInput:
    fields: dict[str, Any] = {}
    answers = {k: [v] for k, v in exc.fields.items() if k not in {"instrument", "answers"}}
    if answers:
        fields["answers"] = answers
    for top in ("instrument", "answers"):
        if top in exc.fields:
            fields[top] = [exc.fields[top]]
    return InvalidInput(
        PlanErrorCode.INVALID_ANSWERS, "The answers cannot be scored.", fields=fields
    )


@transaction.atomic
def record_measure(
    *,
    patient: Patient,
    by: Any,
    instrument: str,
    answers: dict[str, Any],
    taken_at: dt.datetime,
    plan: CarePlan | None = None,
    component: PlanComponent | None = None,
    is_baseline: bool | None = None,
) -> Measure:
    """Score and store a measure (``plans.rules.scoring``; 400 naming every bad item).

    Baseline: ``is_baseline`` when given, else the first of that instrument in the plan.
    PHQ-9 item 9 > 0 or C-SSRS high risk opens a *critical* safety flag on the plan(s) in the
    same transaction — one open flag per plan and code, however often it is repeated; with no
    open plan, a patient-level flag, attached to the first plan created (DOMAIN.md §5.2 PHQ-9
    item 9 / C-SSRS rows: intake is exactly when this matters).
    """
    try:
        result = score(instrument, answers)
    except ScoringError as exc:
        raise _scoring_error(exc) from None
    plan = _check_scope(patient, plan, component)
    check_clinical_time(patient=patient, when=taken_at, field="taken_at")
    if is_baseline is None:
        earlier = Measure.objects.filter(
            patient=patient, instrument=result.instrument, status=RecordStatus.FINAL
        )
        earlier = earlier.filter(plan=plan) if plan is not None else earlier.filter(plan=None)
        is_baseline = not earlier.exists()
    measure = Measure.objects.create(
        patient=patient,
        plan=plan,
        component=component,
        instrument=result.instrument,
        answers=answers,
        total=result.total,
        band=result.band,
        risk=result.risk or "",
        subscores=result.subscores,
        safety_alert=result.safety_alert,
        is_baseline=is_baseline,
        taken_at=taken_at,
        recorded_by=by,
    )
    if result.safety_alert and result.alert_reason in _SAFETY_CODES:
        code, message, source = _SAFETY_CODES[result.alert_reason]
        targets = (
            [plan]
            if plan is not None
            else list(
                CarePlan.objects.filter(patient=patient).exclude(
                    status__in=[PlanStatus.COMPLETED, PlanStatus.REVOKED]
                )
            )
        )
        detail = {"measure_id": measure.pk, "source": source}
        for target in targets:
            flag, created = open_or_escalate_flag(
                plan=target, code=code, severity=Severity.CRITICAL, message=message, detail=detail
            )
            if created:  # the prescribers hear of it at once (after commit), issue 15
                request_safety_notification(flag_id=flag.pk)
        if not targets:  # intake screening, no plan yet: the flag sits on the patient (issue 13)
            flag, created = open_or_escalate_flag(
                patient=patient,
                code=code,
                severity=Severity.CRITICAL,
                message=message,
                detail=detail,
            )
            if created:
                request_safety_notification(flag_id=flag.pk)
    audit_write(
        by=by,
        action=AuditAction.CREATE,
        obj=measure,
        patient_id=patient.pk,
        detail={"instrument": str(result.instrument)},
    )
    on_plan_changed(sync_patient_plans(patient_id=patient.pk))
    return measure
