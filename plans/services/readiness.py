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
from plans.models import CarePlan, Evaluation, PlanStatus, RecordStatus
from plans.reconcile import FlagScope, WantedFlag, reconcile_flags
from plans.selectors import get_plan_readiness

_OWNED = (FlagCode.REQUIREMENT_MISSING, FlagCode.REQUIREMENT_EXPIRED, FlagCode.COMBINATION_REVIEW)
_CLOSED = (PlanStatus.COMPLETED, PlanStatus.REVOKED)


@transaction.atomic
def sync_readiness_flags(*, plan: CarePlan, today: dt.date | None = None) -> dict[str, int]:
    """Open (or escalate) one flag per missing/expired requirement and combination warning,
    resolve the ones whose gap closed — through the one reconciler (``plans.reconcile``) the
    scanner also uses. Closed plans keep no open readiness flag.

    Severity is the requirement's (blocking or warning, DOMAIN.md-cited in the catalogue).
    A recorded ``combination_review`` evaluation on the plan settles the combination warning.
    """
    wanted: list[WantedFlag] = []
    if plan.status not in _CLOSED:
        readiness = get_plan_readiness(plan=plan, today=today)
        for comp in readiness.components:
            for item in comp.outstanding:
                code: str = (
                    FlagCode.REQUIREMENT_EXPIRED
                    if item.status == RequirementStatus.EXPIRED
                    else FlagCode.REQUIREMENT_MISSING
                )
                wanted.append(
                    WantedFlag(
                        plan_id=plan.pk,
                        code=code,
                        key=f"{comp.component_id}:{item.key}",
                        severity=str(item.severity),
                        message=f"{item.key.replace('_', ' ')}: {item.detail or item.status}",
                        component_id=comp.component_id,
                        detail={
                            "requirement": item.key,
                            "status": str(item.status),
                            "reason": item.reason,
                            "source": item.source,
                            "applies_because": item.applies_because,
                            "detail": item.detail,
                        },
                    )
                )
        reviewed = Evaluation.objects.filter(
            plan_id=plan.pk, kind=EvaluationKind.COMBINATION_REVIEW, status=RecordStatus.FINAL
        ).exists()
        if not reviewed:
            for warning in readiness.warnings:
                wanted.append(
                    WantedFlag(
                        plan_id=plan.pk,
                        code=FlagCode.COMBINATION_REVIEW,
                        key=",".join(str(c) for c in sorted(warning.component_ids)),
                        severity=str(warning.severity),
                        message=warning.reason,
                        detail={
                            "source": warning.source,
                            "components": sorted(warning.component_ids),
                        },
                    )
                )
    done = reconcile_flags(FlagScope(plan_ids=[plan.pk]), wanted, _OWNED, refresh=True)
    return {"opened": done.opened, "resolved": done.resolved, "open": done.wanted}


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
