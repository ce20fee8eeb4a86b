"""Demo data for ``make run``: book the demo plan's courses (synthetic data only).

``seed_sessions(plan=..., by=...)`` schedules every open component of ``plan`` from the next
Monday (clinic time), staggering components through the day so one patient's courses never
overlap; a resource kind the clinic lacks gets one demo resource. A component the calendar
refuses (e.g. SPRAVATO at a clinic without REMS certification) is skipped and reported.
"""

from __future__ import annotations

from datetime import time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone

from backend.errors import DomainError
from plans.models import ComponentStatus
from scheduling.models import Resource, Session
from scheduling.services import schedule_course

_START_TIMES = (time(9, 0), time(13, 0), time(15, 30), time(11, 0))


def _ensure_resources(clinic: Any, kinds: list[str]) -> None:
    have = set(
        Resource.objects.filter(clinic=clinic, kind__in=kinds, is_active=True).values_list(
            "kind", flat=True
        )
    )
    for kind in kinds:
        if kind not in have:
            Resource.objects.get_or_create(
                clinic=clinic,
                name=f"Demo {kind.replace('_', ' ')} 1",
                # a figure-8 device: the demo's MDD course is cleared with it (DOMAIN.md §1.1)
                defaults={"kind": kind, "coil_type": "figure8" if kind == "tms_device" else ""},
            )


def seed_sessions(*, plan: Any, by: Any) -> dict[str, Any]:
    """Schedule the plan's courses; returns ``{"booked": {component_id: n}, "skipped": {...}}``."""
    clinic = plan.clinic
    today = timezone.now().astimezone(ZoneInfo(clinic.timezone)).date()
    monday = today + timedelta(days=7 - today.weekday())
    booked: dict[int, int] = {}
    skipped: dict[int, str] = {}
    components = plan.components.select_related("protocol").exclude(
        status__in=[ComponentStatus.COMPLETED, ComponentStatus.STOPPED]
    )
    for i, component in enumerate(components):
        if Session.objects.filter(component=component).exists():
            skipped[component.pk] = "already scheduled"
            continue
        _ensure_resources(clinic, list(component.protocol.resource_kinds))
        try:
            result = schedule_course(
                component=component,
                starts_on=monday,
                preferred_start=_START_TIMES[i % len(_START_TIMES)],
                by=by,
                commit=True,
            )
        except DomainError as exc:
            skipped[component.pk] = exc.code
            continue
        booked[component.pk] = len(result.session_ids)
    return {"booked": booked, "skipped": skipped}
