"""Reads of the calendar, scoped through ``scheduling.access`` (deny by default, promise 7).

Every selector returns sessions with the relations their callers render (patient, clinic,
clinician, component + protocol, resources) prefetched, so a list costs a constant number of
queries whatever its length (STYLE.md habit 12).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Prefetch, Q, QuerySet

from modalities.vocab import ResourceKind
from scheduling.access import visible_sessions
from scheduling.models import (
    ACTIVE_SESSION_STATUSES,
    CalendarFeed,
    Clinic,
    Session,
    SessionResource,
)
from scheduling.services._common import ResourcePool, clinic_calendar


def _with_relations(qs: QuerySet[Session]) -> QuerySet[Session]:
    return qs.select_related(
        "patient", "clinic", "clinician", "component", "component__protocol"
    ).prefetch_related(
        Prefetch("bookings", queryset=SessionResource.objects.select_related("resource"))
    )


def list_sessions(
    *,
    user: Any,
    start: datetime | None = None,
    end: datetime | None = None,
    clinic_id: int | None = None,
    clinician_id: int | None = None,
    patient_id: int | None = None,
    status: str | None = None,
) -> QuerySet[Session]:
    """Visible sessions overlapping [start, end), filtered, with relations prefetched."""
    qs = visible_sessions(user)
    if start is not None:
        qs = qs.filter(ends_at__gt=start)
    if end is not None:
        qs = qs.filter(starts_at__lt=end)
    if clinic_id is not None:
        qs = qs.filter(clinic_id=clinic_id)
    if clinician_id is not None:
        qs = qs.filter(clinician_id=clinician_id)
    if patient_id is not None:
        qs = qs.filter(patient_id=patient_id)
    if status is not None:
        qs = qs.filter(status=status)
    return _with_relations(qs).order_by("starts_at", "id")


def list_sessions_for_clinician(
    *, user: Any, start: datetime, end: datetime, include_inactive: bool = False
) -> QuerySet[Session]:
    """The clinician's worklist: sessions in [start, end) assigned to ``user`` or, for a
    clinician, of their care-team patients with no clinician assigned. Coordinators/admins get
    every visible session in the window. Inactive (cancelled/no-show/in-error) ones only on ask.
    """
    qs = list_sessions(user=user, start=start, end=end)
    if getattr(user, "role", None) == "clinician":
        qs = qs.filter(Q(clinician_id=user.pk) | Q(clinician__isnull=True))
    if not include_inactive:
        qs = qs.filter(status__in=[s.value for s in ACTIVE_SESSION_STATUSES])
    return qs


def list_sessions_for_plan(*, plan: Any, include_inactive: bool = True) -> QuerySet[Session]:
    """Every session of every component of ``plan`` (a timeline), oldest first.

    The caller has already authorised ``plan`` (``plans.access.access_plan``).
    """
    qs = Session.objects.filter(component__plan_id=plan.pk)
    if not include_inactive:
        qs = qs.filter(status__in=[s.value for s in ACTIVE_SESSION_STATUSES])
    return _with_relations(qs).order_by("starts_at", "id")


def list_sessions_for_component(*, component: Any) -> QuerySet[Session]:
    return _with_relations(Session.objects.filter(component_id=component.pk)).order_by(
        "starts_at", "id"
    )


def count_active_treatments(*, component: Any) -> int:
    """Sessions of the course that count towards its total and cap (mapping included)."""
    return Session.objects.filter(
        component_id=component.pk,
        kind__in=["mapping", "treatment"],
        status__in=[s.value for s in ACTIVE_SESSION_STATUSES],
    ).count()


def next_session_for_component(*, component: Any, after: datetime) -> Session | None:
    return (
        Session.objects.filter(
            component_id=component.pk,
            starts_at__gte=after,
            status__in=[s.value for s in ACTIVE_SESSION_STATUSES],
        )
        .order_by("starts_at")
        .first()
    )


def get_feed_by_token_hash(*, token_hash: str) -> CalendarFeed | None:
    return (
        CalendarFeed.objects.select_related("patient", "clinician")
        .filter(token_hash=token_hash, revoked_at__isnull=True)
        .first()
    )


def sessions_on(*, user: Any, day: date) -> QuerySet[Session]:
    """Visible active sessions whose start falls on ``day`` (UTC date; for quick counts)."""
    return list_sessions(user=user).filter(
        starts_at__date=day, status__in=[s.value for s in ACTIVE_SESSION_STATUSES]
    )


def find_free_slots(
    *,
    clinic: Clinic,
    kind: str,
    minutes: int,
    start_date: date,
    end_date: date,
    step_minutes: int = 15,
    limit: int = 200,
) -> list[dict[str, Any]]:
    """Free starts for ``minutes`` on one resource of ``kind`` at ``clinic``, local days
    ``start_date``..``end_date`` inclusive, on a ``step_minutes`` grid inside opening hours.

    Three queries whatever the range (hours + closures, resources, bookings in the window).
    Each slot lists the free resources.
    """
    calendar = clinic_calendar(clinic)
    zone = calendar.zone
    window_start = datetime.combine(start_date, datetime.min.time(), tzinfo=zone)
    window_end = datetime.combine(end_date + timedelta(days=1), datetime.min.time(), tzinfo=zone)
    pool = ResourcePool(clinic_id=clinic.pk, kinds=[kind], start=window_start, end=window_end)
    resources = pool.by_kind.get(kind, [])
    duration, step = timedelta(minutes=minutes), timedelta(minutes=step_minutes)
    slots: list[dict[str, Any]] = []
    day = start_date
    while day <= end_date and len(slots) < limit:
        for opens, closes in calendar.intervals(day):
            at = datetime.combine(day, opens, tzinfo=zone)
            last = datetime.combine(day, closes, tzinfo=zone) - duration
            while at <= last and len(slots) < limit:
                begin, end = at.astimezone(zone), (at + duration).astimezone(zone)
                free = [r for r in resources if pool.is_free(r, begin, end)]
                if free:
                    slots.append(
                        {
                            "starts_at": begin,
                            "ends_at": end,
                            "resources": [{"id": r.pk, "name": r.name} for r in free],
                        }
                    )
                at += step
        day += timedelta(days=1)
    return slots


class SessionFactsProvider:
    """scheduling's implementation of ``plans.ports.SessionFacts`` (registered in
    ``SchedulingConfig.ready``): plans reads session facts through it, never importing us."""

    def sessions(self) -> QuerySet[Session]:
        return Session.objects.all()

    def tms_coils_in_use(self, *, component_id: int) -> list[str]:
        return list(
            SessionResource.objects.filter(
                session__component_id=component_id,
                active=True,
                resource__kind=ResourceKind.TMS_DEVICE,
            )
            .values_list("resource__coil_type", flat=True)
            .distinct()
        )


SESSION_FACTS = SessionFactsProvider()
