"""Reads of prior authorisations and their derived usage (selectors; writes are in
``plans/services/authorizations.py``, rules in ``plans/rules/authorization.py``).

Units are derived from the sessions by query: a fixed number of queries whatever the number of
components or sessions (one for the authorisations, one aggregate over the sessions).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.db.models import DateField, Func, Q, QuerySet

from modalities.vocab import COURSE_KINDS
from plans.models import AuthorizationStatus, PlanComponent, PriorAuthorization
from plans.ports import HOLDING_SESSION_STATUSES as HOLDING_STATUSES
from plans.ports import session_facts
from plans.rules.authorization import AuthorizationWindow, Usage, governing, usage_of


class LocalDate(Func):
    """``timezone(zone, instant)::date`` — the date of an instant on a clinic's wall clock."""

    function = "timezone"
    template = "(%(function)s(%(expressions)s))::date"
    output_field = DateField()


def window_of(authorization: PriorAuthorization) -> AuthorizationWindow:
    return AuthorizationWindow(
        id=authorization.pk,
        number=authorization.number,
        units=authorization.authorized_units,
        starts_on=authorization.starts_on,
        ends_on=authorization.ends_on,
    )


def approved_windows(component_ids: Iterable[int]) -> dict[int, list[AuthorizationWindow]]:
    """Approved authorisations per component (one query, plain rows: the flag scanner reads
    every approved authorisation of a chunk)."""
    out: dict[int, list[AuthorizationWindow]] = defaultdict(list)
    for cid, pk, number, units, starts_on, ends_on in (
        PriorAuthorization.objects.filter(
            component_id__in=list(component_ids), status=AuthorizationStatus.APPROVED
        )
        .order_by("component_id", "starts_on", "id")
        .values_list("component_id", "id", "number", "authorized_units", "starts_on", "ends_on")
    ):
        out[cid].append(
            AuthorizationWindow(
                id=pk, number=number, units=units, starts_on=starts_on, ends_on=ends_on
            )
        )
    return out


def course_session_days(component_ids: Any) -> dict[int, list[tuple[dt.date, str]]]:
    """(clinic-local date, status) of every time-holding course session per component, one
    query. ``component_ids``: ids or a subquery."""
    rows = (
        session_facts()
        .sessions()
        .filter(component_id__in=component_ids, kind__in=COURSE_KINDS, status__in=HOLDING_STATUSES)
        .annotate(day=LocalDate("clinic__timezone", "starts_at"))
        .values_list("component_id", "day", "status")
    )
    out: dict[int, list[tuple[dt.date, str]]] = defaultdict(list)
    for component_id, day, status in rows.iterator(chunk_size=2000):
        out[component_id].append((day, status))
    return out


def held_in_window(*, component_id: int, window: AuthorizationWindow) -> int:
    """Course sessions holding time in ``window`` (one COUNT)."""
    q = Q(component_id=component_id, kind__in=COURSE_KINDS, status__in=HOLDING_STATUSES)
    qs = session_facts().sessions().filter(q)
    qs = qs.annotate(day=LocalDate("clinic__timezone", "starts_at"))
    if window.starts_on is not None:
        qs = qs.filter(day__gte=window.starts_on)
    if window.ends_on is not None:
        qs = qs.filter(day__lte=window.ends_on)
    return qs.count()


def current_usage(
    component_ids: Any,
    *,
    today: dt.date,
    windows: dict[int, list[AuthorizationWindow]] | None = None,
) -> dict[int, tuple[AuthorizationWindow, Usage]]:
    """Per component with an approved authorisation: the current one (governing today, else
    the newest) and its usage. Two queries whatever the number of components (one when the
    caller passes the components' ``approved_windows``)."""
    ids = list(component_ids)
    if windows is None:
        windows = approved_windows(ids)
    else:
        windows = {cid: windows[cid] for cid in ids if cid in windows}
    days = course_session_days([c for c in ids if c in windows])
    out: dict[int, tuple[AuthorizationWindow, Usage]] = {}
    for cid, ws in windows.items():
        current = governing(ws, today) or max(ws, key=lambda w: w.starts_on or dt.date.min)
        out[cid] = (current, usage_of(current, days.get(cid, []), today=today))
    return out


def get_authorization_usage(*, authorization: PriorAuthorization, today: dt.date) -> Usage:
    """Usage of one authorisation (one query)."""
    days = course_session_days([authorization.component_id]).get(authorization.component_id, [])
    return usage_of(window_of(authorization), days, today=today)


def authorizations_for(component: PlanComponent) -> QuerySet[PriorAuthorization]:
    return component.authorizations.prefetch_related("evidence").order_by("-starts_on", "-id")
