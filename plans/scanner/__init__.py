"""The flag scanner: raise, escalate and auto-resolve time-based flags, chunk by chunk.

Issue 5 / DESIGN.md §4 promise 3 (one open flag per gap); issue 17 (at scale) —
docs/adr/0011-scanner-at-scale.md. Runs from beat every 10 minutes (``plans.tasks.scan_flags``
fans out one ``scan_flag_chunk`` task per chunk, so several workers share a scan) and on commit
of a plan, evaluation, measure or session change (``plans.tasks.on_plan_changed``).

A *chunk* is a range of plan ids ``(after_id, upto_id]`` holding about ``chunk_size()`` scanned
plans (``chunk_bounds``; the first and last are open-ended, so every plan — and every open flag
of a plan that has left the scanned states — falls in exactly one). Each chunk is detected with
a constant number of aggregate queries (``plans/scanner/gaps.py``) and reconciled through the
one flag reconciler (``plans.reconcile.reconcile_flags``) in its own transaction: memory is
bounded by the chunk, a killed scan leaves the chunks it finished applied, and re-running one
(or all) is safe — the partial unique index ``one_open_flag_per_gap`` + ``ON CONFLICT DO
NOTHING`` keep duplicates out, escalation never lowers, and resolution only touches the gaps
that are gone. Within a chunk only the plans whose answer may have changed since their last
scan are judged — a fact, the rules or the clock moved (``plans/scanner/stability.py``); a
beat tick's chunks are drawn over those plans only.

Codes owned here (plans/flag_codes.py): REMS_MONITORING_FORM_OVERDUE, INDUCTION_REVIEW_DUE,
WEEKLY_PHQ9_OVERDUE, PRIOR_AUTH_EXPIRING, SESSIONS_BEYOND_AUTHORIZATION, PRIOR_AUTH_UNITS_LOW,
FOLLOW_UP_OVERDUE, NO_SHOW_STREAK, REQUIREMENT_EXPIRING (a satisfied step whose validity ends
before a booked session it must cover: warned ahead, resolved when renewed).
REQUIREMENT_MISSING/EXPIRED belong to the readiness sync: the scanner only opens one the sync
has not (a booked session is near) and escalates to critical within 72 h; it never lowers a
severity and never resolves a readiness flag.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from backend.db.expressions import AnyOf
from plans.models import CarePlan, PlanComponent
from plans.reconcile import FlagScope, reconcile_flags
from plans.scanner import stability
from plans.scanner.gaps import SCANNED_PLAN_STATUSES, SCANNER_CODES, detect_gaps

Bounds = tuple[int | None, int | None]


@dataclass
class ScanResult:
    plans: int = 0  # judged
    skipped: int = 0  # active/on hold, but their answer still held (plans.scanner.stability)
    wanted: int = 0
    opened: int = 0
    escalated: int = 0
    resolved: int = 0
    chunks: int = 0
    last_upto_id: int | None = None  # the last chunk applied (resume after it)
    by_code: dict[str, int] = field(default_factory=dict)

    def add(self, other: ScanResult) -> None:
        for name in ("plans", "skipped", "wanted", "opened", "escalated", "resolved", "chunks"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.last_upto_id = other.last_upto_id
        for code, n in other.by_code.items():
            self.by_code[code] = self.by_code.get(code, 0) + n

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def chunk_size() -> int:
    """Scanned plans per chunk (setting ``FLAG_SCAN_CHUNK_PLANS``, default 2,000): large
    enough that the per-chunk queries amortise, small enough to bound a worker's memory."""
    return max(1, int(getattr(settings, "FLAG_SCAN_CHUNK_PLANS", 2000)))


_BOUNDS_SQL = """
SELECT id FROM (
    SELECT id, row_number() OVER (ORDER BY id) AS rn FROM {plan} WHERE status = ANY(%s)
) numbered
WHERE rn %% %s = 0 AND id > %s
ORDER BY id
"""


def chunk_bounds(
    *, size: int | None = None, after_id: int | None = None, now: dt.datetime | None = None
) -> list[Bounds]:
    """The chunks of a scan, in id order (one query): ``(after_id, upto_id]`` ranges of
    ``size`` scanned plans each — of ``size`` plans *due* at ``now`` when it is given
    (``plans.scanner.stability``); the first is open below (or starts after ``after_id``, to
    resume), the last open above."""
    size = size or chunk_size()
    if now is not None:
        uppers = stability.due_bounds(
            size=size, after_id=after_id, now=now, fingerprint=stability.fingerprint()
        )
    else:
        with connection.cursor() as cursor:
            cursor.execute(
                _BOUNDS_SQL.format(plan=CarePlan._meta.db_table),
                [[str(s) for s in SCANNED_PLAN_STATUSES], size, after_id or 0],
            )
            uppers = [row[0] for row in cursor.fetchall()]
    edges: list[int | None] = [after_id, *uppers, None]
    return list(itertools.pairwise(edges))


def _ids_q(field: str, ids: list[int]) -> Q:
    """``field`` in ``ids``, with the (redundant) bounds of ``ids`` too: told only the list,
    PostgreSQL guesses a large share of a big table and scans all of it; with the bounds it
    uses the index (sessions of one 100 k-plan chunk: 111 ms → 13 ms). The list travels as one
    array parameter (``AnyOf``), not one placeholder per id."""
    if not ids:
        return Q(pk__in=[])
    return Q(AnyOf(field, ids), **{f"{field}__gte": min(ids), f"{field}__lte": max(ids)})


def scan_chunk(
    *,
    after_id: int | None = None,
    upto_id: int | None = None,
    plan_ids: list[int] | None = None,
    now: dt.datetime | None = None,
    force: bool = False,
) -> ScanResult:
    """Detect and reconcile one chunk (a plan-id range, and/or explicit ``plan_ids`` for a
    re-check), committed on its own. Idempotent.

    Only the plans whose answer may have changed since their last scan are judged
    (``plans.scanner.stability``); ``force`` (and a re-check of explicit ``plan_ids``) judges
    every plan in scope."""
    now = now or timezone.now()
    fp = stability.fingerprint()
    scope = FlagScope(plan_ids=plan_ids, after_id=after_id, upto_id=upto_id)
    force = force or plan_ids is not None
    # which plans may have a new answer (read unlocked: a quiet tick locks and writes nothing)
    candidates = stability.due_plans(scope, now=now, fingerprint=fp, force=force)
    result = ScanResult(
        chunks=1, skipped=stability.settled_count(scope, candidates), last_upto_id=upto_id
    )
    if not candidates:
        return result
    with transaction.atomic():
        # their scan state, locked (a concurrent scan of the same plans goes first or after),
        # then again which are due, with the changes seen so far — before any fact is read
        stability.lock([d.id for d in candidates])
        due = stability.due_plans(
            FlagScope(plan_ids=[d.id for d in candidates]), now=now, fingerprint=fp, force=force
        )
        scanned, gaps = _detect([d for d in due if d.scanned_status], now=now)
        until = stability.stable_until(
            [(d.id, d.patient_id, d.zone) for d in due if d.scanned_status], now=now
        )
        with stability.scanner_writes():
            done = reconcile_flags(
                FlagScope(plan_ids=[d.id for d in due], after_id=after_id, upto_id=upto_id),
                gaps,
                [str(c) for c in SCANNER_CODES],
                at=now,
            )
        stability.record(due, until, now=now, fingerprint=fp)
    result.plans = len(scanned)
    result.wanted, result.opened = done.wanted, done.opened
    result.escalated, result.resolved = done.escalated, done.resolved
    for g in {g.ident: g for g in gaps}.values():
        result.by_code[str(g.code)] = result.by_code.get(str(g.code), 0) + 1
    return result


def _detect(due: list[stability.DuePlan], *, now: dt.datetime) -> tuple[set[int], list]:
    """The gaps of the ``due`` plans at ``now`` (``detect_gaps``). The chunk as id lists (small
    queries), not subqueries: with a subquery PostgreSQL hashes it and scans the whole
    evaluation, measure and session tables for every chunk (a scan quadratic in the
    organisation: 100 k plans took 14× the time of 10 k); with the ids it walks the (patient,
    kind, date) and component indexes."""
    if not due:
        return set(), []
    plan_ids = [d.id for d in due]
    component_ids = list(
        PlanComponent.objects.filter(_ids_q("plan_id", plan_ids))
        .order_by()
        .values_list("id", flat=True)
    )
    return detect_gaps(
        plan_q=_ids_q("plan_id", plan_ids),
        session_q=_ids_q("component_id", component_ids),
        patient_ids=sorted({d.patient_id for d in due}),
        now=now,
    )


def iter_scan(
    *,
    now: dt.datetime,
    after_id: int | None = None,
    size: int | None = None,
    force: bool = False,
) -> Iterator[ScanResult]:
    """Scan chunk after chunk, yielding each chunk's result once it is committed."""
    for lo, hi in chunk_bounds(size=size, after_id=after_id, now=None if force else now):
        yield scan_chunk(after_id=lo, upto_id=hi, now=now, force=force)


def scan_all_plans(
    *,
    plan_ids: list[int] | None = None,
    now: dt.datetime | None = None,
    after_id: int | None = None,
    chunk_plans: int | None = None,
    on_chunk: Callable[[ScanResult], None] | None = None,
    force: bool = False,
) -> ScanResult:
    """Scan every active/on-hold plan (or only ``plan_ids``) in one process, chunk by chunk —
    for the management command, a re-check and tests (beat fans the chunks out instead).
    ``after_id`` resumes a full scan after the last chunk a previous run applied
    (``ScanResult.last_upto_id``); ``on_chunk`` sees each committed chunk; ``force`` judges
    the plans whose last answer still holds too (``plans.scanner.stability``)."""
    now = now or timezone.now()
    if plan_ids is not None:
        return scan_chunk(plan_ids=plan_ids, now=now)
    total = ScanResult()
    for part in iter_scan(now=now, after_id=after_id, size=chunk_plans, force=force):
        total.add(part)
        if on_chunk is not None:
            on_chunk(part)
    return total
