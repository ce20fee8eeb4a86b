"""Helpers shared by the scheduling services: calendars, resource pools, inserts, hooks.

Nothing here opens a transaction of its own except the savepoint around inserts, so that an
exclusion violation can be turned into a ``slot_conflict`` 409 (never a 500).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time
from typing import Any

from django.db import IntegrityError, transaction
from psycopg import errors as pg_errors

from backend.errors import ConflictError
from modalities.rules.devices import preferred_coils
from modalities.rules.phases import Phase
from modalities.rules.rems import recorded_until, rems_site_certified
from modalities.vocab import COURSE_KINDS, Modality, ResourceKind, normalise_coil
from plans.authorizations import course_session_days, window_of
from plans.rules.authorization import booking_problem, governing
from plans.tasks import on_plan_changed
from scheduling.errors import SchedulingErrorCode
from scheduling.models import (
    ACTIVE_SESSION_STATUSES,
    Clinic,
    ClinicClosure,
    ClinicHours,
    Resource,
    Session,
    SessionResource,
)
from scheduling.reminders import on_sessions_changed
from scheduling.rules.course import ClinicCalendar, CourseRequest, renumber

ACTIVE = [s.value for s in ACTIVE_SESSION_STATUSES]


def clinic_calendar(clinic: Clinic) -> ClinicCalendar:
    """The clinic's weekly hours and closures as the pure course rules see them (2 queries)."""
    hours: dict[int, list[tuple[time, time]]] = defaultdict(list)
    for row in ClinicHours.objects.filter(clinic_id=clinic.pk).values_list(
        "weekday", "opens", "closes"
    ):
        hours[row[0]].append((row[1], row[2]))
    closures = frozenset(
        ClinicClosure.objects.filter(clinic_id=clinic.pk).values_list("date", flat=True)
    )
    return ClinicCalendar(tz=clinic.timezone, hours=dict(hours), closures=closures)


def effective_cap(component: Any, *, authorization_override: bool = False) -> int | None:
    """min(protocol cap, units of the approved prior authorisations when recorded). With an
    authorisation override (a reason was given) only the protocol cap holds."""
    units = None if authorization_override else component.authorized_units_total
    caps = [c for c in (component.protocol.session_cap, units) if c]
    if units == 0:
        return 0
    return min(caps) if caps else None


def authorization_problems(
    *,
    component: Any,
    days: Sequence[date],
    override_reason: str,
    held: Sequence[tuple[date, str]] | None = None,
) -> list[dict[str, Any]]:
    """Would booking course sessions on ``days`` (clinic-local) go past the component's approved
    prior authorisation — beyond its units or outside its dates (issue 11)? ``held``: the
    (local date, status) of the course sessions already holding time when the caller has them;
    otherwise one query when the component has an approved authorisation. Without an override
    reason any problem is a 409 ``authorization_exceeded``; with one, the problems are returned
    so the caller records them in its audit event."""
    windows = [window_of(a) for a in component._approved_authorizations()]
    if not windows or not days:
        return []
    if held is None:
        held = course_session_days([component.pk]).get(component.pk, [])
    per_window: dict[Any, int] = defaultdict(int)
    for day, _status in held:
        window = governing(windows, day)
        if window is not None:
            per_window[window.id] += 1
    problems = []
    for day in days:
        problem = booking_problem(windows, day=day, held_in_window=per_window)
        if problem is None:
            window = governing(windows, day)
            if window is not None:
                per_window[window.id] += 1
            continue
        problems.append({"reason": problem.reason, "message": problem.message, **problem.detail})
    if problems and not override_reason.strip():
        raise ConflictError(
            SchedulingErrorCode.AUTHORIZATION_EXCEEDED,
            problems[0]["message"]
            + " Book it with an authorisation override and a reason, or record the"
            " re-authorisation first.",
            extra={"problems": problems},
        )
    return problems


def allowed_coils(component: Any) -> frozenset[str] | None:
    """The coils a TMS device must carry to be picked for ``component`` without a coordinator
    choosing it: the protocol's pinned coil, else the indication's cleared coils (DOMAIN.md
    §1.1); ``None`` = any device. Needs ``component.protocol`` and ``component.indication``."""
    return preferred_coils(
        parameters=component.protocol.parameters,
        cleared_coils=component.indication.cleared_coils,
    )


def course_request(
    *,
    component: Any,
    starts_on: date,
    preferred_start: time,
    window_end: time | None = None,
    already_booked: int = 0,
    authorization_override: bool = False,
) -> CourseRequest:
    protocol = component.protocol
    return CourseRequest(
        phases=tuple(Phase.from_dict(p) for p in protocol.phases),
        starts_on=starts_on,
        preferred_start=preferred_start,
        window_end=window_end,
        session_minutes=protocol.session_minutes,
        chair_minutes=protocol.chair_minutes,
        mapping_minutes=protocol.mapping_minutes,
        session_cap=effective_cap(component, authorization_override=authorization_override),
        already_booked=already_booked,
    )


def check_rems_site(*, component: Any, clinic: Clinic, days: Iterable[date]) -> None:
    """SPRAVATO is given only in a REMS-certified outpatient setting (DOMAIN.md §2.4 [REG]).

    Raises 409 ``rems_site_not_certified`` when the clinic has no certification, or it expires
    before any of ``days`` (local session dates).
    """
    if component.protocol.modality != Modality.SPRAVATO:
        return
    days = sorted(days)
    until = recorded_until(clinic.rems_certification_id, clinic.rems_certified_until)
    if until is None:
        raise ConflictError(
            SchedulingErrorCode.REMS_SITE_NOT_CERTIFIED,
            f"{clinic.name} has no SPRAVATO REMS setting certification.",
            extra={"clinic": clinic.pk, "certified_until": None},
        )
    late = [d for d in days if not rems_site_certified(until, d)]
    if late:
        raise ConflictError(
            SchedulingErrorCode.REMS_SITE_NOT_CERTIFIED,
            f"{clinic.name}'s SPRAVATO REMS certification expires on {until.isoformat()}, "
            f"before {len(late)} of the sessions.",
            extra={
                "clinic": clinic.pk,
                "certified_until": until.isoformat(),
                "first_uncertified_date": late[0].isoformat(),
            },
        )


def fits_hours(calendar: ClinicCalendar, start: datetime, end: datetime) -> bool:
    """True when [start, end) lies inside one opening interval of an open local day."""
    zone = calendar.zone
    local_start, local_end = start.astimezone(zone), end.astimezone(zone)
    day = local_start.date()
    if local_end.date() != day:
        return False
    return any(
        opens <= local_start.time() and local_end.time() <= closes
        for opens, closes in calendar.intervals(day)
    )


def _overlaps(a_start: datetime, a_end: datetime, b_start: datetime, b_end: datetime) -> bool:
    return a_start < b_end and b_start < a_end


class ResourcePool:
    """Free/busy of a clinic's resources of some kinds over a window, from ONE query of
    bookings (plus one of resources), then picked slot by slot in memory."""

    def __init__(
        self,
        *,
        clinic_id: int,
        kinds: Sequence[str],
        start: datetime,
        end: datetime,
        resources: Sequence[Resource] | None = None,
        exclude_session_ids: Sequence[int] = (),
        coils: frozenset[str] | None = None,
    ) -> None:
        """``coils``: when given, only TMS devices carrying one of these coils are candidates
        (``allowed_coils``: the protocol's pinned coil or the indication's clearance)."""
        self.kinds = list(dict.fromkeys(kinds))
        if resources is None:
            resources = [
                r
                for r in Resource.objects.filter(
                    clinic_id=clinic_id, kind__in=self.kinds, is_active=True
                ).order_by("kind", "name", "id")
                if coils is None
                or r.kind != ResourceKind.TMS_DEVICE
                or normalise_coil(r.coil_type) in coils
            ]
        self.by_kind: dict[str, list[Resource]] = defaultdict(list)
        for resource in resources:
            self.by_kind[resource.kind].append(resource)
        self.busy: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
        ids = [r.pk for r in resources]
        if ids:
            bookings = SessionResource.objects.filter(
                active=True, resource_id__in=ids, starts_at__lt=end, ends_at__gt=start
            )
            if exclude_session_ids:
                bookings = bookings.exclude(session_id__in=exclude_session_ids)
            for resource_id, b_start, b_end in bookings.values_list(
                "resource_id", "starts_at", "ends_at"
            ):
                self.busy[resource_id].append((b_start, b_end))

    def is_free(self, resource: Resource, start: datetime, end: datetime) -> bool:
        return not any(_overlaps(start, end, s, e) for s, e in self.busy[resource.pk])

    def take(self, start: datetime, end: datetime) -> tuple[list[Resource], list[str]]:
        """One free resource of every kind (reserved in memory), or the kinds with none free."""
        chosen, missing = [], []
        for kind in self.kinds:
            free = next(
                (r for r in self.by_kind.get(kind, []) if self.is_free(r, start, end)), None
            )
            if free is None:
                missing.append(kind)
            else:
                chosen.append(free)
        if missing:
            return [], missing
        for resource in chosen:
            self.busy[resource.pk].append((start, end))
        return chosen, []


def patient_busy(
    *, patient_id: int, start: datetime, end: datetime, exclude_ids: Sequence[int] = ()
) -> list[tuple[datetime, datetime]]:
    qs = Session.objects.filter(
        patient_id=patient_id, status__in=ACTIVE, starts_at__lt=end, ends_at__gt=start
    )
    if exclude_ids:
        qs = qs.exclude(pk__in=exclude_ids)
    return list(qs.values_list("starts_at", "ends_at"))


def conflict_from_integrity(exc: IntegrityError) -> ConflictError | None:
    """An exclusion violation (double booking) as a 409 ``slot_conflict``; else None."""
    cause = exc.__cause__
    if isinstance(cause, pg_errors.ExclusionViolation):
        constraint = getattr(getattr(cause, "diag", None), "constraint_name", "") or ""
        what = "patient" if "patient" in constraint else "resource"
        return ConflictError(
            SchedulingErrorCode.SLOT_CONFLICT,
            f"The {what} is already booked at that time.",
            extra={"constraint": constraint},
        )
    return None


def insert_sessions(sessions: list[Session], resources: list[list[Resource]]) -> list[Session]:
    """bulk_create the sessions and their bookings: two INSERTs whatever the count."""
    try:
        with transaction.atomic():
            created = Session.objects.bulk_create(sessions)
            SessionResource.objects.bulk_create(
                SessionResource(
                    session=session,
                    resource=resource,
                    starts_at=session.starts_at,
                    ends_at=session.ends_at,
                    active=True,
                )
                for session, held in zip(created, resources, strict=True)
                for resource in held
            )
    except IntegrityError as exc:
        conflict = conflict_from_integrity(exc)
        if conflict is not None:
            raise conflict from exc
        raise
    return created


def guarded(fn, *args: Any, **kwargs: Any) -> Any:
    """Run a write in a savepoint; a double booking becomes a 409 ``slot_conflict``."""
    try:
        with transaction.atomic():
            return fn(*args, **kwargs)
    except IntegrityError as exc:
        conflict = conflict_from_integrity(exc)
        if conflict is not None:
            raise conflict from exc
        raise


def renumber_course(*, component_id: int) -> None:
    """Active mapping/treatment sessions numbered 1..N in time order (2 queries at most)."""
    rows = list(
        Session.objects.filter(
            component_id=component_id, kind__in=COURSE_KINDS, status__in=ACTIVE
        ).values_list("id", "starts_at", "sequence")
    )
    numbers = renumber({pk: start for pk, start, _ in rows})
    changed = [Session(pk=pk, sequence=numbers[pk]) for pk, _, seq in rows if seq != numbers[pk]]
    if changed:
        Session.objects.bulk_update(changed, ["sequence"])


def notify_sessions_changed(*, session_ids: Sequence[int], change: str) -> None:
    """Sessions changed: the reminder planner re-plans their rows, and the flags of their plans
    are re-checked through the plans trigger ``plans.tasks.on_plan_changed`` — both after
    commit. The plans are looked up once committed, so the writing transaction does not pay
    for it."""
    ids = sorted({int(i) for i in session_ids})
    if not ids:
        return
    on_sessions_changed(session_ids=ids, change=change)

    def _recheck() -> None:
        on_plan_changed(
            Session.objects.filter(pk__in=ids, component__isnull=False)
            .values_list("component__plan_id", flat=True)
            .distinct()
        )

    transaction.on_commit(_recheck)


def resource_summary(resources: Iterable[Resource]) -> list[dict[str, Any]]:
    return [{"id": r.pk, "name": r.name, "kind": r.kind} for r in resources]
