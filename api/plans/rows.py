"""Plan list rows rendered by PostgreSQL (issue 17).

The plan list is the API's hottest read: 50 plans with their components per page. Loading them
as model instances (three queries, ~60 objects) and serialising them in Python cost about
twenty times the request itself; here one query builds each plan's JSON — components nested,
with protocol, indication and the current approved prior authorisation (issue 11) — over the
keyset page, and the view writes the texts into the response without parsing them again.

The JSON is exactly ``PlanOut`` / ``ComponentOut`` (tests/api/test_plan_list_pagination.py
renders both on real rows and compares them byte for byte): the same keys in the same order,
ids as numbers, dates ``YYYY-MM-DD`` and date-times as DRF writes them in the server zone, UTC
(``settings.TIME_ZONE``): ISO 8601 with microseconds only when non-zero and ``Z``. ``PlanOut``
stays the schema (OpenAPI) and the shape of every write response.

``current authorisation``: the approved one with the latest start, nulls last, then highest id
(``PlanComponent.current_authorization``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.db.models import QuerySet

from backend.db.base import prepared_cursor
from modalities.models import Protocol, ProtocolIndication
from plans.models import AuthorizationStatus, CarePlan, PlanComponent, PriorAuthorization


def _ts(column: str) -> str:
    """SQL text of a ``timestamptz`` column as DRF's ``DateTimeField`` renders it in UTC."""
    # One to_char per value (it is the costly part of the page); '.000000' can only be the
    # fraction (nothing else in the text has a dot), dropped as DRF drops zero microseconds.
    return (
        f"replace(to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US'), "
        "'.000000', '') || 'Z'"
    )  # NULL stays NULL (to_char and || of NULL): JSON null


def _day(column: str) -> str:
    return f"to_char({column}, 'YYYY-MM-DD')"


def _object(pairs: Sequence[tuple[str, str]]) -> str:
    return "json_build_object(" + ", ".join(f"'{key}', {expr}" for key, expr in pairs) + ")"


_PROTOCOL = _object(
    [(k, f"pr.{k}") for k in ("id", "code", "version", "modality", "title", "target")]
)
_INDICATION = _object([(k, f"i.{k}") for k in ("id", "code", "name", "category", "label_status")])
_COMPONENT = _object(
    [
        ("id", "pc.id"),
        ("plan", "pc.plan_id"),
        ("protocol", _PROTOCOL),
        ("indication", _INDICATION),
        ("label_status", "pc.label_status"),
        ("target", "pc.target"),
        ("laterality", "pc.laterality"),
        ("rationale", "pc.rationale"),
        ("payer_type", "pc.payer_type"),
        ("payer_name", "pc.payer_name"),
        ("prior_auth_number", "coalesce(auth.number, '')"),
        ("prior_auth_sessions", "auth.authorized_units"),
        ("prior_auth_expires_on", _day("auth.ends_on")),
        ("status", "pc.status"),
        ("position", "pc.position"),
        ("created_at", _ts("pc.created_at")),
        ("updated_at", _ts("pc.updated_at")),
    ]
)
_PLAN = _object(
    [
        ("id", "p.id"),
        ("patient", "p.patient_id"),
        ("organization", "p.organization_id"),
        ("clinic", "p.clinic_id"),
        ("title", "p.title"),
        ("status", "p.status"),
        ("status_reason", "p.status_reason"),
        ("diagnoses", "to_json(p.diagnoses)"),
        ("goals", "p.goals"),
        ("coordinator", "p.coordinator_id"),
        ("created_at", _ts("p.created_at")),
        ("updated_at", _ts("p.updated_at")),
        ("activated_at", _ts("p.activated_at")),
        ("ended_at", _ts("p.ended_at")),
        ("components", "coalesce(c.components, '[]'::json)"),
    ]
)

# Fixed table names and expressions only; every value is a query parameter.
_ROWS_SQL = f"""
WITH page AS ({{page}})
SELECT p.created_at, p.id, {_PLAN}::text
FROM page JOIN {CarePlan._meta.db_table} p ON p.id = page.id
LEFT JOIN LATERAL (
    SELECT json_agg({_COMPONENT} ORDER BY pc.position, pc.id) AS components
    FROM {PlanComponent._meta.db_table} pc
    JOIN {Protocol._meta.db_table} pr ON pr.id = pc.protocol_id
    JOIN {ProtocolIndication._meta.db_table} i ON i.id = pc.indication_id
    LEFT JOIN LATERAL (
        SELECT a.number, a.authorized_units, a.ends_on
        FROM {PriorAuthorization._meta.db_table} a
        WHERE a.component_id = pc.id AND a.status = %s
        ORDER BY a.starts_on DESC NULLS LAST, a.id DESC LIMIT 1
    ) auth ON true
    WHERE pc.plan_id = p.id
) c ON true
ORDER BY {{order}}
"""  # noqa: S608


def _run(page_sql: str, params: Sequence[Any], order: str) -> list[tuple[dt.datetime, int, str]]:
    sql = _ROWS_SQL.replace("{page}", page_sql).replace("{order}", order)
    with prepared_cursor() as cur:
        cur.execute(sql, [*params, AuthorizationStatus.APPROVED.value])
        return cur.fetchall()


def plan_rows_sql(window: QuerySet[CarePlan]) -> list[tuple[dt.datetime, int, str]]:
    """(created_at, id, PlanOut JSON text) of the plans of ``window`` — the keyset page: a
    queryset sliced and ordered newest first (``-created_at, -id``) — in one query."""
    page_sql, params = window.values("id").query.sql_with_params()
    return _run(page_sql, params, "p.created_at DESC, p.id DESC")


def plan_rows_for(ids: Sequence[int]) -> list[str]:
    """PlanOut JSON texts of the plans ``ids``, in that order (one query)."""
    if not ids:
        return []
    page = "SELECT id, ord FROM unnest(%s::bigint[]) WITH ORDINALITY AS t(id, ord)"
    return [text for _, _, text in _run(page, [list(ids)], "page.ord")]
