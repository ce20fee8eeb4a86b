"""The one flag reconciler (issue 16): both flag writers — the readiness sync
(``plans.services.readiness``, one plan, on every change) and the scanner (``plans.scanner``,
a chunk of plans, from beat or a re-check) — apply their wanted gaps through
:func:`reconcile_flags`.

Given a scope (plans), the wanted gaps and the codes the writer owns:

- open what is missing — one ``INSERT … SELECT FROM jsonb_to_recordset(…) ON CONFLICT DO
  NOTHING``: the
  partial unique index ``one_open_flag_per_gap`` keeps a concurrent writer's row and ours from
  both landing (DESIGN.md §4 promise 3);
- escalate an open flag whose wanted severity is higher — never lower (plans/flag_codes.py), the
  guard is in the ``UPDATE`` itself so a concurrent escalation is never undone;
- resolve the open flags of the owned codes whose gap is gone. A writer may open and escalate a
  code it does not own (the scanner raises REQUIREMENT_* near a session) but never resolves one.

The open flags in scope are read without a lock; the ones this reconciliation will escalate,
reword or resolve are then row-locked (in id order, so two writers never deadlock) and kept only
if still open, before anything is written. A pass with nothing to change — a re-scan — locks and
writes nothing (locking every open flag of a 2,000-plan chunk wrote each row's lock into its
tuple: WAL and dirty pages for a read). A fixed number of statements whatever the number of
flags.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from backend.db.base import bound_cursor
from backend.db.expressions import AnyOf
from plans.flag_codes import SEVERITY_ORDER
from plans.models import CarePlan, Flag, FlagStatus


@dataclass(frozen=True, slots=True)
class WantedFlag:
    """One gap a writer wants an open flag for; ``(plan_id, code, key)`` identifies it."""

    plan_id: int
    code: str
    key: str
    severity: str
    message: str
    component_id: int | None = None
    session_id: int | None = None
    due_at: dt.datetime | None = None
    detail: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def ident(self) -> tuple[int, str, str]:
        return (self.plan_id, str(self.code), self.key)


@dataclass(frozen=True, slots=True)
class FlagScope:
    """The plans whose open flags a reconciliation looks at: ``plan_ids``, or the id range
    ``(after_id, upto_id]`` (a scanner chunk; ``None`` = unbounded), or both intersected."""

    plan_ids: Collection[int] | None = None
    after_id: int | None = None
    upto_id: int | None = None

    def q(self, prefix: str = "plan_id") -> Q:
        q = Q()
        if self.plan_ids is not None:
            q &= Q(AnyOf(prefix, self.plan_ids))
        if self.after_id is not None:
            q &= Q(**{f"{prefix}__gt": self.after_id})
        if self.upto_id is not None:
            q &= Q(**{f"{prefix}__lte": self.upto_id})
        if self.plan_ids is None and self.after_id is None and self.upto_id is None:
            q &= Q(**{f"{prefix}__isnull": False})
        return q

    def sql(self, column: str) -> tuple[str, dict[str, Any]]:
        """The same scope as a raw SQL condition on ``column`` with named parameters
        (``ids``, ``after``, ``upto``), for the queries the ORM cannot spell."""
        where: list[str] = ["TRUE"]
        params: dict[str, Any] = {}
        if self.plan_ids is not None:
            where.append(f"{column} = ANY(%(ids)s)")
            params["ids"] = list(self.plan_ids)
        if self.after_id is not None:
            where.append(f"{column} > %(after)s")
            params["after"] = self.after_id
        if self.upto_id is not None:
            where.append(f"{column} <= %(upto)s")
            params["upto"] = self.upto_id
        return " AND ".join(where), params


@dataclass
class Reconciled:
    wanted: int = 0
    opened: int = 0
    escalated: int = 0
    refreshed: int = 0
    resolved: int = 0


_INSERT = """
INSERT INTO {flag} (patient_id, plan_id, component_id, session_id, code, requirement_key,
                    severity, status, message, detail, due_at, opened_at, updated_at,
                    dismiss_reason)
SELECT p.patient_id, w.plan_id, w.component_id, w.session_id, w.code, w.key, w.severity,
       %s, w.message, w.detail, w.due_at, %s, %s, ''
FROM jsonb_to_recordset(%s::jsonb)
     AS w(plan_id bigint, component_id bigint, session_id bigint, code text, key text,
          severity text, message text, detail jsonb, due_at timestamptz)
JOIN {plan} p ON p.id = w.plan_id
ON CONFLICT DO NOTHING
RETURNING 1
"""


def _insert(rows: list[WantedFlag], *, at: dt.datetime) -> int:
    """One statement for any number of rows: the rows travel as one JSON document, one bound
    parameter (not thousands of array elements, and not quoted into the SQL in Python)."""
    if not rows:
        return 0
    sql = _INSERT.format(flag=Flag._meta.db_table, plan=CarePlan._meta.db_table)
    payload = json.dumps(
        [
            {
                "plan_id": w.plan_id,
                "component_id": w.component_id,
                "session_id": w.session_id,
                "code": str(w.code),
                "key": w.key,
                "severity": str(w.severity),
                "message": w.message,
                "detail": w.detail,
                "due_at": w.due_at.isoformat() if w.due_at else None,
            }
            for w in rows
        ],
        cls=DjangoJSONEncoder,
    )
    with bound_cursor() as cursor:  # backend/db/base.py: the document travels bound
        cursor.execute(sql, [FlagStatus.OPEN.value, at, at, payload])
        return len(cursor.fetchall())


@transaction.atomic
def reconcile_flags(
    scope: FlagScope,
    wanted: Iterable[WantedFlag],
    owned_codes: Iterable[str],
    *,
    refresh: bool = False,
    at: dt.datetime | None = None,
) -> Reconciled:
    """Make the open flags in ``scope`` match ``wanted`` for the writer owning ``owned_codes``.

    ``refresh``: also bring the message/detail of an open owned flag up to date (the readiness
    sync words its flags from the current readiness; the scanner leaves them as opened).
    ``at``: the time stamped on escalated/resolved rows (the scan's clock; default now).
    Idempotent; safe under concurrent calls (unique index + guarded updates + row locks).
    """
    at = at or timezone.now()
    owned = {str(c) for c in owned_codes}
    want: dict[tuple[int, str, str], WantedFlag] = {}
    for wf in wanted:
        want.setdefault(wf.ident, wf)
    result = Reconciled(wanted=len(want))
    codes = owned | {w.code for w in want.values()}
    # message and detail only when they are compared (a scan of thousands of open flags
    # otherwise decodes every detail document to compare nothing)
    columns = ("message", "detail") if refresh else ()
    existing = {
        (f["plan_id"], f["code"], f["requirement_key"]): f
        for f in Flag.objects.filter(scope.q(), status=FlagStatus.OPEN, code__in=sorted(codes))
        .order_by()
        .values("id", "plan_id", "code", "requirement_key", "severity", *columns)
    }
    raise_to: dict[str, list[int]] = defaultdict(list)
    stale: list[Flag] = []
    for k, f in existing.items():
        if k not in want:
            continue
        w = want[k]
        if SEVERITY_ORDER[str(w.severity)] > SEVERITY_ORDER[f["severity"]]:
            raise_to[str(w.severity)].append(f["id"])
        if refresh and f["code"] in owned and (f["message"], f["detail"]) != (w.message, w.detail):
            stale.append(Flag(pk=f["id"], message=w.message, detail=w.detail, updated_at=at))
    gone = [f["id"] for k, f in existing.items() if k not in want and f["code"] in owned]

    # Lock the rows this will change — only those, in id order, so two writers never deadlock —
    # and keep the ones still open: a concurrent writer may have resolved or dismissed one
    # since the read. A pass with nothing to change locks (and writes) nothing.
    raised = [i for ids in raise_to.values() for i in ids]
    changing = sorted({*gone, *(f.pk for f in stale), *raised})
    if changing:
        still_open = set(
            Flag.objects.select_for_update()
            .filter(AnyOf("id", changing), status=FlagStatus.OPEN)
            .order_by("id")
            .values_list("id", flat=True)
        )
        raise_to = {s: [i for i in ids if i in still_open] for s, ids in raise_to.items()}
        stale = [f for f in stale if f.pk in still_open]
        gone = [i for i in gone if i in still_open]
        # a wanted flag closed meanwhile is opened again, as if the read had come after
        closed = set(changing) - still_open
        existing = {k: f for k, f in existing.items() if f["id"] not in closed}
    result.opened = _insert([w for k, w in want.items() if k not in existing], at=timezone.now())

    for severity, ids in raise_to.items():
        if not ids:
            continue
        lower = [s for s, rank in SEVERITY_ORDER.items() if rank < SEVERITY_ORDER[severity]]
        result.escalated += Flag.objects.filter(
            AnyOf("id", ids), status=FlagStatus.OPEN, severity__in=lower
        ).update(severity=severity, updated_at=at)
    if stale:
        result.refreshed = Flag.objects.bulk_update(stale, ["message", "detail", "updated_at"])
    if gone:
        result.resolved = Flag.objects.filter(AnyOf("id", gone), status=FlagStatus.OPEN).update(
            status=FlagStatus.RESOLVED, resolved_at=at, updated_at=at
        )
    return result
