"""The plan detail's reads as fixed SQL (issue 17: the detail within 2× of its raw floor).

The plan detail, the readiness endpoint and the check-in gate read the same few things every
time: a plan's components (protocol, indication, prior authorisations, course sessions), the
patient's evaluations and measures, the plan's open flags. Built as querysets, compiling them
cost more than running them (``compiler.as_sql`` was a third of a detail request; the flag
order's ``CASE`` expressions alone several milliseconds), so here they are written once as SQL
over the models' own tables and columns, with every value a parameter. Rows come back as the
same values the ORM gave: model instances through ``backend.db.rows.load`` (``Model.from_db``;
columns not read are deferred, loaded on access, never silently empty) and tuples in the
models' default order.

tests/plans/test_detail_reads.py compares each read with its queryset on real rows: the same
components, authorisations and sessions, the same flags in ``order_flags_by_priority`` order.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from backend.db.base import prepared_cursor
from backend.db.rows import (
    as_dicts,
    attnames,
    fetch_dicts,
    fetch_together,
    load,
    load_all,
    prefixed,
    select_list,
)
from modalities.models import Protocol, ProtocolIndication
from plans.flag_order import open_flags_sql
from plans.models import (
    CarePlan,
    Evaluation,
    Flag,
    Measure,
    Patient,
    PlanComponent,
    PriorAuthorization,
)
from plans.models import RecordStatus as _Record
from plans.ports import session_facts

_AUTH_COLUMNS = (
    "id",
    "component_id",
    "payer_name",
    "number",
    "authorized_units",
    "starts_on",
    "ends_on",
    "status",
    "decision_note",
)


@functools.cache
def _component_sql() -> str:
    """Built on first use: the session table comes from the port (scheduling registers it)."""
    sessions = session_facts().sessions().model._meta.db_table
    auth = ", ".join(f"'{c}', a.\"{c}\"" for c in _AUTH_COLUMNS)
    return f"""
SELECT {select_list("pc", attnames(PlanComponent))},
       {select_list("pr", attnames(Protocol), "pr__")},
       {select_list("i", attnames(ProtocolIndication), "i__")},
       auths.rows AS auths, course.seqs, course.starts, course.statuses
FROM {PlanComponent._meta.db_table} pc
JOIN {Protocol._meta.db_table} pr ON pr.id = pc.protocol_id
JOIN {ProtocolIndication._meta.db_table} i ON i.id = pc.indication_id
LEFT JOIN LATERAL (
    SELECT json_agg(json_build_object({auth}) ORDER BY a.starts_on DESC, a.id DESC) AS rows
    FROM {PriorAuthorization._meta.db_table} a WHERE a.component_id = pc.id
) auths ON true
LEFT JOIN LATERAL (
    SELECT array_agg(s.sequence ORDER BY s.starts_at, s.id) AS seqs,
           array_agg(s.starts_at ORDER BY s.starts_at, s.id) AS starts,
           array_agg(s.status ORDER BY s.starts_at, s.id) AS statuses
    FROM {sessions} s
    WHERE s.component_id = pc.id AND s.kind = ANY(%(kinds)s) AND s.status = ANY(%(statuses)s)
      AND s.sequence IS NOT NULL
) course ON true
WHERE pc.plan_id = %(plan)s
ORDER BY pc.position, pc.id
"""  # noqa: S608  (table and column names from the models; values are parameters)


def _authorization(row: dict[str, Any]) -> PriorAuthorization:
    for day in ("starts_on", "ends_on"):
        if row[day] is not None:
            row[day] = dt.date.fromisoformat(row[day])
    return load(PriorAuthorization, row)


def _component_params(
    plan_id: int, session_kinds: Sequence[str], session_statuses: Sequence[str]
) -> dict[str, Any]:
    return {"plan": plan_id, "kinds": list(session_kinds), "statuses": list(session_statuses)}


def plan_components(
    plan_id: int, *, session_kinds: Sequence[str], session_statuses: Sequence[str]
) -> tuple[list[PlanComponent], dict[int, list[tuple]]]:
    """The plan's components in their order, each with its protocol, indication and prior
    authorisations (as ``prefetch_related`` leaves them), and their course sessions: component
    id → (sequence, starts_at, status) of the sessions of ``session_kinds`` in
    ``session_statuses`` with a sequence, by start (one query)."""
    params = _component_params(plan_id, session_kinds, session_statuses)
    return _components_of(fetch_dicts(_component_sql(), params))


def _components_of(
    rows: Iterable[dict[str, Any]],
) -> tuple[list[PlanComponent], dict[int, list[tuple]]]:
    components: list[PlanComponent] = []
    sessions: dict[int, list[tuple]] = {}
    for row in rows:
        component = load(PlanComponent, row)
        component.protocol = load(Protocol, prefixed(row, "pr__"))
        component.indication = load(ProtocolIndication, prefixed(row, "i__"))
        auths = [_authorization(a) for a in row["auths"] or []]
        for a in auths:
            a.component = component
        # what prefetch_related("authorizations") leaves (PlanComponent reads it from there)
        component._prefetched_objects_cache = {"authorizations": auths}  # type: ignore[attr-defined]
        if row["seqs"]:
            sessions[component.pk] = list(
                zip(row["seqs"], row["starts"], row["statuses"], strict=True)
            )
        components.append(component)
    return components, sessions


@dataclass(frozen=True)
class DetailRows:
    """What ``plan_detail_rows`` reads: components and sessions as ``plan_components`` gives
    them, measures as ``patient_measure_rows`` does, open flags as model instances."""

    components: list[PlanComponent]
    sessions: dict[int, list[tuple]]
    measure_rows: list[tuple]
    open_flags: list[Flag]


def plan_detail_rows(
    plan_id: int,
    patient_id: int,
    *,
    session_kinds: Sequence[str],
    session_statuses: Sequence[str],
    flag_limit: int | None,
) -> DetailRows:
    """``plan_components``, ``patient_measure_rows`` and the plan's open flags in the priority
    order (``plans.flag_order``: the queryset's own SQL, compiled once per process), the first
    ``flag_limit`` (None: all) — three statements sent together in one round trip
    (``backend.db.rows.fetch_together``): none needs another's answer."""
    flag_sql, flag_params = open_flags_sql(plan_id, limit=flag_limit)
    (c_names, c_rows), (_, measure_rows), (f_names, f_rows) = fetch_together(
        [
            (_component_sql(), _component_params(plan_id, session_kinds, session_statuses)),
            (_MEASURES_SQL, [patient_id, _Record.FINAL.value]),
            (flag_sql, flag_params),
        ]
    )
    components, sessions = _components_of(as_dicts(c_names, c_rows))
    flags = load_all(Flag, as_dicts(f_names, f_rows))
    return DetailRows(components, sessions, measure_rows, flags)


# ---------------------------------------------------------------------------------------------
# The plan with its patient, clinic and coordinator
# ---------------------------------------------------------------------------------------------


def _related(name: str) -> Any:
    """The model a plan's foreign key ``name`` points to (the clinic's is scheduling's, which
    plans does not import)."""
    return CarePlan._meta.get_field(name).related_model


@functools.cache
def _plan_sql(by_organization: bool) -> str:
    clinic, user = _related("clinic"), _related("coordinator")
    where = "p.id = %s AND p.organization_id = %s" if by_organization else "p.id = %s"
    return f"""
SELECT {select_list("p", attnames(CarePlan), "p__")},
       {select_list("pt", attnames(Patient), "pt__")},
       {select_list("c", attnames(clinic), "c__")},
       {select_list("u", attnames(user), "u__")}
FROM {CarePlan._meta.db_table} p
JOIN {Patient._meta.db_table} pt ON pt.id = p.patient_id
JOIN {clinic._meta.db_table} c ON c.id = p.clinic_id
LEFT JOIN {user._meta.db_table} u ON u.id = p.coordinator_id
WHERE {where}
"""  # noqa: S608  (table and column names from the models; values are parameters)


def plan_with_parties(plan_id: int, *, organization_id: int | None) -> CarePlan | None:
    """The plan ``plan_id`` — of ``organization_id`` unless None — with its patient, clinic
    and coordinator, as ``select_related("patient", "clinic", "coordinator").get`` leaves it;
    None when there is no such plan."""
    if organization_id is None:
        rows = fetch_dicts(_plan_sql(False), [plan_id])
    else:
        rows = fetch_dicts(_plan_sql(True), [plan_id, organization_id])
    if not rows:
        return None
    row = rows[0]
    plan = load(CarePlan, prefixed(row, "p__"))
    plan.patient = load(Patient, prefixed(row, "pt__"))
    plan.clinic = load(_related("clinic"), prefixed(row, "c__"))
    coordinator = prefixed(row, "u__")
    plan.coordinator = (
        None if coordinator["id"] is None else load(_related("coordinator"), coordinator)
    )
    return plan


# ---------------------------------------------------------------------------------------------
# The patient's records, as tuples
# ---------------------------------------------------------------------------------------------

MEASURE_COLUMNS = (
    "id",
    "instrument",
    "taken_at",
    "is_baseline",
    "total",
    "plan_id",
    "band",
    "risk",
)
_MEASURES_SQL = f"""
SELECT {", ".join(MEASURE_COLUMNS)} FROM {Measure._meta.db_table}
WHERE patient_id = %s AND status = %s ORDER BY taken_at DESC, id DESC
"""  # noqa: S608  (the table name from the model; values are parameters)
_EVALUATIONS_SQL = f"""
SELECT id, kind, component_id, performed_at, valid_until, data FROM {Evaluation._meta.db_table}
WHERE patient_id = %s AND status = %s AND kind = ANY(%s) ORDER BY performed_at DESC, id DESC
"""  # noqa: S608  (the table name from the model; values are parameters)


def patient_measure_rows(patient_id: int) -> list[tuple]:
    """The patient's final measures as ``MEASURE_COLUMNS`` tuples, newest first."""
    with prepared_cursor() as cur:
        cur.execute(_MEASURES_SQL, [patient_id, _Record.FINAL.value])
        return cur.fetchall()


def patient_evaluation_rows(patient_id: int, kinds: Iterable[str]) -> list[tuple]:
    """(id, kind, component_id, performed_at, valid_until, data) of the patient's final
    evaluations of ``kinds``, newest first (``data`` decoded, as ``Evaluation.data``)."""
    with prepared_cursor() as cur:
        cur.execute(_EVALUATIONS_SQL, [patient_id, _Record.FINAL.value, list(kinds)])
        rows = cur.fetchall()
    return [(*row[:5], None if row[5] is None else json.loads(row[5])) for row in rows]
