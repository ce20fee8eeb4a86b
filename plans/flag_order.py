"""The one priority order of open flags (issue 15: safety first everywhere).

Safety-critical codes first (``plans.flag_codes.SAFETY_CODES``: suicide risk outranks any
paperwork gap, even a blocking one), then most severe, soonest due (none last), oldest — the
order of the API flag list, the worklist, the plan page and the plan detail. Declared once as a
queryset ordering; ``flag_priority_key`` is the same order for flags already loaded, and the plan
detail runs the compiled SQL of the same queryset (``open_flags_sql``: compiled once per limit,
not per request).
"""

from __future__ import annotations

from functools import lru_cache

from django.db.models import Case, F, IntegerField, QuerySet, Value, When

from plans.flag_codes import SAFETY_CODES, SEVERITY_ORDER
from plans.models import Flag, FlagStatus


def order_flags_by_priority(qs: QuerySet[Flag]) -> QuerySet[Flag]:
    """``qs`` in the priority order (see the module docstring)."""
    return qs.annotate(
        safety_rank=Case(
            When(code__in=[str(c) for c in SAFETY_CODES], then=Value(0)),
            default=Value(1),
            output_field=IntegerField(),
        ),
        severity_rank=Case(
            *(When(severity=name, then=Value(rank)) for name, rank in SEVERITY_ORDER.items()),
            default=Value(-1),
            output_field=IntegerField(),
        ),
    ).order_by(
        "safety_rank",
        F("severity_rank").desc(),
        F("due_at").asc(nulls_last=True),
        "opened_at",
        "id",
    )


def flag_priority_key(flag: Flag) -> tuple:
    """``order_flags_by_priority`` for flags already loaded."""
    due = flag.due_at.timestamp() if flag.due_at else float("inf")
    return (
        0 if flag.code in SAFETY_CODES else 1,
        -SEVERITY_ORDER.get(flag.severity, -1),
        due,
        flag.opened_at,
        flag.pk,
    )


_PLAN_SENTINEL = -424242  # stands for the plan id while compiling; replaced per call


@lru_cache(maxsize=8)
def _compiled(limit: int | None) -> tuple[str, tuple, int]:
    qs = order_flags_by_priority(
        Flag.objects.filter(plan_id=_PLAN_SENTINEL, status=FlagStatus.OPEN)
    )
    if limit is not None:
        qs = qs[:limit]
    sql, params = qs.query.sql_with_params()
    return sql, tuple(params), params.index(_PLAN_SENTINEL)


def open_flags_sql(plan_id: int, *, limit: int | None) -> tuple[str, list]:
    """SQL and parameters of ``order_flags_by_priority`` over the plan's open flags (the first
    ``limit``; None: all), compiled from the queryset once per process and limit."""
    sql, params, at = _compiled(limit)
    bound = list(params)
    bound[at] = plan_id
    return sql, bound
