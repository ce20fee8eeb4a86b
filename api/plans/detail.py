"""The plan detail payload without DRF's per-field machinery (issue 17).

``PlanDetailOut`` walks ~1,000 fields for a plan of four components (readiness items, open
flags, latest measures), a few microseconds each: several times the queries the detail needs.
``plan_detail_payload`` builds the very same structure from ``plans.selectors.PlanDetail`` with
plain dicts, rendering each leaf value through the same DRF field class ``PlanDetailOut`` uses
(dates, date-times in the server zone, the measure total as a 2-place decimal string), so the
output cannot drift in format. tests/api/plans/test_detail.py renders both on real plans and
compares them byte for byte; ``PlanDetailOut`` stays the schema (OpenAPI).
"""

from __future__ import annotations

import contextvars
import datetime as dt
from typing import Any

from django.urls import reverse
from django.utils import timezone
from rest_framework import ISO_8601, serializers
from rest_framework.settings import api_settings

from plans.models import CarePlan, Flag, Measure, PlanComponent
from plans.rules.readiness import CombinationWarning, PlanReadiness, RequirementResult
from plans.rules.scoring import Change
from plans.selectors import MeasureSummary, PlanDetail

_DATETIME = serializers.DateTimeField()
_DATE = serializers.DateField()
_TOTAL = serializers.DecimalField(max_digits=6, decimal_places=2)  # Measure.total


# The zone the payload being built renders date-times in, when DRF would render them as ISO 8601
# (set by ``plan_detail_payload``; None: every value through DRF's field).
_ZONE: contextvars.ContextVar[dt.tzinfo | None] = contextvars.ContextVar("_ZONE", default=None)


def _when(value: Any) -> str | None:
    """``_DATETIME.to_representation(value)``. For an aware datetime it is done here, as DRF
    does it — ``astimezone`` the current zone, ``isoformat``, ``+00:00`` → ``Z`` — with the zone
    and the format looked up once per payload instead of once per value (a detail renders about
    a hundred: issue 17, 6 % of the request)."""
    if value is None:
        return None
    zone = _ZONE.get()
    if zone is None or type(value) is not dt.datetime or value.tzinfo is None:
        return _DATETIME.to_representation(value)
    text = value.astimezone(zone).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _day(value: Any) -> str | None:
    return None if value is None else _DATE.to_representation(value)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def component_row(c: PlanComponent) -> dict[str, Any]:
    p, i = c.protocol, c.indication
    return {
        "id": c.pk,
        "plan": c.plan_id,
        "protocol": {
            "id": p.pk,
            "code": p.code,
            "version": p.version,
            "modality": p.modality,
            "title": p.title,
            "target": p.target,
        },
        "indication": {
            "id": i.pk,
            "code": i.code,
            "name": i.name,
            "category": i.category,
            "label_status": i.label_status,
        },
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
    }


def _item(it: RequirementResult) -> dict[str, Any]:
    return {
        "key": str(it.key),
        "evidence": str(it.evidence),
        "code": str(it.code),
        "status": str(it.status),
        "severity": str(it.severity),
        "timing": str(it.timing),
        "reason": str(it.reason),
        "source": str(it.source),
        "applies_because": str(it.applies_because),
        "detail": str(it.detail),
        "satisfied_by": _text(it.satisfied_by),
        "expires_on": _day(it.expires_on),
        "blocks_start": bool(it.blocks_start),
    }


def _warning(w: CombinationWarning) -> dict[str, Any]:
    return {
        "code": str(w.code),
        "component_ids": [int(x) for x in w.component_ids],
        "severity": str(w.severity),
        "reason": str(w.reason),
        "source": str(w.source),
    }


def _readiness(r: PlanReadiness) -> dict[str, Any]:
    return {
        "ready_to_start": bool(r.ready_to_start),
        "components": [
            {
                "component_id": int(c.component_id),
                "ready_to_start": bool(c.ready_to_start),
                "items": [_item(it) for it in c.items],
            }
            for c in r.components
        ],
        "warnings": [_warning(w) for w in r.warnings],
    }


def _flag(f: Flag) -> dict[str, Any]:
    return {
        "id": f.pk,
        "plan": f.plan_id,
        "patient": f.patient_id,
        "component": f.component_id,
        "session": f.session_id,
        "code": f.code,
        "requirement_key": f.requirement_key,
        "severity": f.severity,
        "status": f.status,
        "message": f.message,
        "detail": f.detail,
        "due_at": _when(f.due_at),
        "opened_at": _when(f.opened_at),
        "updated_at": _when(f.updated_at),
        "resolved_at": _when(f.resolved_at),
        "dismissed_at": _when(f.dismissed_at),
        "dismissed_by": f.dismissed_by_id,
        "dismiss_reason": f.dismiss_reason,
    }


def _measure(m: Measure | None) -> dict[str, Any] | None:
    if m is None:
        return None
    return {
        "id": m.pk,
        "instrument": m.instrument,
        "total": _TOTAL.to_representation(m.total),
        "band": m.band,
        "risk": m.risk,
        "taken_at": _when(m.taken_at),
        "is_baseline": bool(m.is_baseline),
    }


def _change(c: Change | None) -> dict[str, Any] | None:
    if c is None:
        return None
    return {
        "change": None if c.change is None else float(c.change),
        "percent_change": None if c.percent_change is None else float(c.percent_change),
        "response": None if c.response is None else bool(c.response),
        "remission": None if c.remission is None else bool(c.remission),
        "meaningful": _text(c.meaningful),
    }


def _summary(s: MeasureSummary) -> dict[str, Any]:
    return {
        "instrument": str(s.instrument),
        "latest": _measure(s.latest),
        "baseline": _measure(s.baseline),
        "change": _change(s.change),
    }


def plan_detail_payload(plan: CarePlan, detail: PlanDetail) -> dict[str, Any]:
    """``PlanDetailOut`` of ``plan`` with ``detail`` (``plans.selectors.get_plan_detail``)."""
    iso = str(getattr(_DATETIME, "format", api_settings.DATETIME_FORMAT)).lower() == ISO_8601
    reset = _ZONE.set(timezone.get_current_timezone() if iso else None)
    try:
        return _payload(plan, detail)
    finally:
        _ZONE.reset(reset)


def _payload(plan: CarePlan, detail: PlanDetail) -> dict[str, Any]:
    more = (
        f"{reverse('api:flag-list')}?plan={plan.pk}&status=open" if detail.more_open_flags else None
    )
    return {
        "id": plan.pk,
        "patient": plan.patient_id,
        "organization": plan.organization_id,
        "clinic": plan.clinic_id,
        "title": plan.title,
        "status": plan.status,
        "status_reason": plan.status_reason,
        "diagnoses": [str(d) for d in plan.diagnoses],
        "goals": plan.goals,
        "coordinator": plan.coordinator_id,
        "created_at": _when(plan.created_at),
        "updated_at": _when(plan.updated_at),
        "activated_at": _when(plan.activated_at),
        "ended_at": _when(plan.ended_at),
        "components": [component_row(c) for c in detail.components],
        "ready_to_start": bool(detail.readiness.ready_to_start),
        "readiness": _readiness(detail.readiness),
        "open_flags": [_flag(f) for f in detail.open_flags],
        "open_flags_more": more,
        "latest_measures": [_summary(s) for s in detail.latest_measures],
    }
