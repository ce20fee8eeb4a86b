"""Keep the readiness flags of a plan in step with its readiness (issue 3 'Readiness').

Owned codes (plans/flag_codes.py): REQUIREMENT_MISSING, REQUIREMENT_EXPIRED (key
``"<component id>:<requirement key>"``) and COMBINATION_REVIEW (key = the component ids). Called
by every service that changes a readiness input, inside its transaction.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from modalities.vocab import EvaluationKind, RequirementStatus
from plans.flag_codes import FlagCode
from plans.models import CarePlan, Evaluation, Flag, FlagStatus, PlanStatus, RecordStatus
from plans.selectors import get_plan_readiness
from plans.services.flags import open_or_escalate_flag, resolve_flag

_OWNED = (FlagCode.REQUIREMENT_MISSING, FlagCode.REQUIREMENT_EXPIRED, FlagCode.COMBINATION_REVIEW)
_CLOSED = (PlanStatus.COMPLETED, PlanStatus.REVOKED)


@transaction.atomic
def sync_readiness_flags(*, plan: CarePlan, today: dt.date | None = None) -> dict[str, int]:
    """Open (or escalate) one flag per missing/expired requirement and combination warning,
    resolve the ones whose gap closed. Closed plans keep no open readiness flag.

    Severity is the requirement's (blocking or warning, DOMAIN.md-cited in the catalogue).
    A recorded ``combination_review`` evaluation on the plan settles the combination warning.
    """
    wanted: dict[tuple[str, str], dict] = {}
    if plan.status not in _CLOSED:
        readiness = get_plan_readiness(plan=plan, today=today)
        for comp in readiness.components:
            for item in comp.outstanding:
                code: str = (
                    FlagCode.REQUIREMENT_EXPIRED
                    if item.status == RequirementStatus.EXPIRED
                    else FlagCode.REQUIREMENT_MISSING
                )
                wanted[(code, f"{comp.component_id}:{item.key}")] = {
                    "severity": str(item.severity),
                    "message": f"{item.key.replace('_', ' ')}: {item.detail or item.status}",
                    "component_id": comp.component_id,
                    "detail": {
                        "requirement": item.key,
                        "status": str(item.status),
                        "reason": item.reason,
                        "source": item.source,
                        "applies_because": item.applies_because,
                        "detail": item.detail,
                    },
                }
        reviewed = Evaluation.objects.filter(
            plan_id=plan.pk, kind=EvaluationKind.COMBINATION_REVIEW, status=RecordStatus.FINAL
        ).exists()
        if not reviewed:
            for warning in readiness.warnings:
                key = ",".join(str(c) for c in sorted(warning.component_ids))
                wanted[(FlagCode.COMBINATION_REVIEW, key)] = {
                    "severity": str(warning.severity),
                    "message": warning.reason,
                    "component_id": None,
                    "detail": {
                        "source": warning.source,
                        "components": sorted(warning.component_ids),
                    },
                }
    opened = resolved = 0
    for flag in Flag.objects.select_for_update().filter(
        plan_id=plan.pk, status=FlagStatus.OPEN, code__in=[str(c) for c in _OWNED]
    ):
        if (flag.code, flag.requirement_key) not in wanted:
            resolve_flag(flag=flag)
            resolved += 1
    for (code, key), spec in wanted.items():
        _, created = open_or_escalate_flag(plan=plan, code=code, requirement_key=key, **spec)
        opened += int(created)
    return {"opened": opened, "resolved": resolved, "open": len(wanted)}


def sync_patient_plans(*, patient_id: int, today: dt.date | None = None) -> list[int]:
    """Re-sync every open plan of a patient (a patient-wide evaluation or measure changed)."""
    plans = list(
        CarePlan.objects.select_related("clinic")
        .filter(patient_id=patient_id)
        .exclude(status__in=_CLOSED)
    )
    for plan in plans:
        sync_readiness_flags(plan=plan, today=today)
    return [p.pk for p in plans]


def sync_clinic_plans(*, clinic_id: int, today: dt.date | None = None) -> list[int]:
    """Re-sync every open plan at a clinic (its SPRAVATO REMS certification changed, a clinic
    readiness input — DOMAIN.md §2.4 Setting certification). For the clinic service to call."""
    plans = list(
        CarePlan.objects.select_related("clinic")
        .filter(clinic_id=clinic_id)
        .exclude(status__in=_CLOSED)
    )
    for plan in plans:
        sync_readiness_flags(plan=plan, today=today)
    return [p.pk for p in plans]
