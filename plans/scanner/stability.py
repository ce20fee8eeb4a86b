"""Which plans a scan may skip: the answer of the last scan still holds (issue 17).

The scanner's answer for a plan — the gaps ``plans.scanner.gaps.detect_gaps`` finds — is a
function of the plan's facts (its components, sessions, authorisations, its patient's
evaluations and measures, its clinic, its open flags), of the rules (code, settings,
catalogue) and of the clock. A scan records, per plan (``plans.models.PlanScanState``):

- the changes it saw: triggers record a ``PlanChange`` on every write to a table the scanner
  reads (plans/migrations/0007_plan_scan_state.py); a scan reads a plan's changes before its
  facts and deletes those it saw, so a change committed meanwhile leaves the plan due;
- a ``fingerprint`` of the rules (``fingerprint``): a deploy, a settings or catalogue change
  makes every plan due;
- ``stable_until``: the first instant after the scan at which the clock alone could change the
  answer (``stable_until``). The rules read the clock in two ways only: an input time plus a
  constant compared with now (``time_offsets`` lists every constant), and the clinic-local date
  "today" (the readiness and authorisation rules), which changes at local midnight. So the
  answer cannot change before the earliest ``input time + offset`` still ahead or the next local
  midnight, whichever comes first (a daily re-judgement of every plan, at the latest).

A plan is due when it was never judged, has changes, the fingerprint moved, the scan's clock
is before the recorded one (a scan judged at an earlier instant) or at/after ``stable_until``.
tests/workers/test_scanner_stability.py judges varied plans at instants up to each one's
``stable_until`` and checks the answer never differs from the recorded one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

from django.conf import settings
from django.db import connection

from backend.db.rows import fetch_dicts
from modalities.models import Protocol, ProtocolIndication, RequirementSpec
from plans.reconcile import FlagScope
from plans.scanner import gaps
from plans.scanner.requirements import CRITICAL_WITHIN, SETTLED_BEFORE, expiry_warning_days
from plans.selectors import zone_named

# Rules whose clock reads are listed here: the packages whose source is fingerprinted.
_RULE_PACKAGES = ("plans", "modalities")


def time_offsets() -> tuple[dt.timedelta, ...]:
    """Every constant a scanner rule adds to an input time (a session's start, an evaluation's
    or a measure's time) before comparing it with the clock — ``now ≥ t + d`` or ``t > now - d``
    change exactly at ``t + d``. A rule that reads the clock another way must be listed here
    (or read only "today"). Applied to every session, evaluation and measure: conservative."""
    out = {
        dt.timedelta(0),  # a session starting (booked → past, next booked, no-show streak)
        -CRITICAL_WITHIN,  # a session within 72 h: REQUIREMENT_* escalate
        -dt.timedelta(days=expiry_warning_days()),  # REQUIREMENT_EXPIRING's lookahead
        dt.timedelta(days=gaps.PMF_DAYS),
        dt.timedelta(days=gaps.PMF_LOOKBACK_DAYS),
        dt.timedelta(days=gaps.INDUCTION_DAYS),
        dt.timedelta(days=gaps.INDUCTION_DAYS - gaps.INDUCTION_REVIEW_WINDOW_DAYS),
        dt.timedelta(days=gaps.PHQ9_INTERVAL_DAYS),
        dt.timedelta(days=gaps.ACTIVE_TREATMENT_DAYS),
        gaps.follow_up_cadence(),
        SETTLED_BEFORE,  # which history rows the scan reads (result-invariant; listed anyway)
        *gaps.pmf_windows().values(),  # each SPRAVATO protocol's PMF window (catalogue)
    }
    return tuple(sorted(out))


@functools.cache
def _source_digest() -> str:
    """The rules' code: every module of the plans and modalities apps but their migrations (a
    deploy that changes any of them re-judges every plan once)."""
    h = hashlib.sha256()
    root = Path(__file__).resolve().parents[2]
    for package in _RULE_PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            if "migrations" not in path.parts:
                h.update(path.relative_to(root).as_posix().encode())
                h.update(path.read_bytes())
    return h.hexdigest()


# the catalogue the rules read (protocols, their indications and requirements), as one digest
# per table of its rows' text
_CATALOGUE_DIGEST = "(SELECT md5(string_agg(t::text, '|' ORDER BY t.id)) FROM {table} t)"
_CATALOGUE_SQL = "SELECT " + ", ".join(
    _CATALOGUE_DIGEST.format(table=model._meta.db_table)
    for model in (Protocol, ProtocolIndication, RequirementSpec)
)


# The settings the rules read (tests/workers/test_scanner_stability.py checks every setting the
# scanner's and the rules' modules read is here, but the chunk size, which changes no answer).
RULE_SETTINGS = (
    "FOLLOW_UP_CADENCE_DAYS",
    "REQUIREMENT_EXPIRY_WARNING_DAYS",
    "PRIOR_AUTH_UNITS_WARNING_PERCENT",
    "PRIOR_AUTH_WARNING_DAYS",
)


def fingerprint() -> str:
    """The rules a scan judges with: their code, the settings they read and the catalogue's
    content (one query)."""
    with connection.cursor() as cursor:
        cursor.execute(_CATALOGUE_SQL)
        catalogue = cursor.fetchone()
    h = hashlib.sha256(_source_digest().encode())
    for name in RULE_SETTINGS:
        h.update(f"{name}={getattr(settings, name, None)!r};".encode())
    h.update(repr(catalogue).encode())
    return h.hexdigest()


class DuePlan(NamedTuple):
    id: int
    patient_id: int
    scanned_status: bool  # active/on hold: detected; otherwise only its flags resolved
    zone: str  # the clinic's time zone (its midnight caps ``stable_until``)
    changes: list[int]  # the plan's PlanChange rows seen before its facts are read


# plan ``p`` (its state ``s``, outer-joined) is due
_IS_DUE = """(%(force)s OR s.scanned_at IS NULL
       OR EXISTS (SELECT 1 FROM plans_planchange c WHERE c.plan_id = p.id)
       OR s.fingerprint <> %(fingerprint)s OR %(now)s < s.scanned_at
       OR %(now)s >= s.stable_until)"""

_DUE_SQL = """
SELECT p.id, p.patient_id, p.status = ANY(%(statuses)s) AS scanned_status, k.timezone AS zone,
       ARRAY(SELECT c.id FROM plans_planchange c WHERE c.plan_id = p.id) AS changes
FROM plans_careplan p JOIN scheduling_clinic k ON k.id = p.clinic_id
LEFT JOIN plans_planscanstate s ON s.plan_id = p.id AND {state_scope}
WHERE {scope} AND {is_due}
ORDER BY p.id
"""

# every ``size``-th due active/on-hold plan after ``after``: the upper ends of a scan's chunks
_DUE_BOUNDS_SQL = """
SELECT id FROM (
    SELECT p.id, row_number() OVER (ORDER BY p.id) AS rn
    FROM plans_careplan p LEFT JOIN plans_planscanstate s ON s.plan_id = p.id
    WHERE p.status = ANY(%(statuses)s) AND p.id > %(after)s AND {is_due}
) numbered
WHERE rn %% %(size)s = 0
ORDER BY id
"""


def due_bounds(*, size: int, after_id: int | None, now: dt.datetime, fingerprint: str) -> list[int]:
    """The upper ends of chunks of ``size`` *due* active/on-hold plans each (one query): a tick
    where few plans are due is a few chunks, not one per ``size`` plans of the organisation."""
    with connection.cursor() as cursor:
        cursor.execute(
            _DUE_BOUNDS_SQL.format(is_due=_IS_DUE),
            {
                "statuses": [str(s) for s in gaps.SCANNED_PLAN_STATUSES],
                "after": after_id or 0,
                "size": size,
                "force": False,
                "fingerprint": fingerprint,
                "now": now,
            },
        )
        return [row[0] for row in cursor.fetchall()]


_COUNT_SQL = "SELECT count(*) FROM plans_careplan p WHERE {scope} AND p.status = ANY(%(statuses)s)"


def due_plans(
    scope: FlagScope, *, now: dt.datetime, fingerprint: str, force: bool = False
) -> list[DuePlan]:
    """The plans in ``scope`` (any status: one that left the scanned states still has its flags
    resolved) a scan must judge at ``now``, each with the changes recorded so far."""
    where, params = scope.sql("p.id")
    # the scope spelled on the state table too: PostgreSQL does not carry it across the outer
    # join, and scanned all of it for every chunk (11 ms of a 100 k-plan chunk's 11.5 ms)
    state_where, _ = scope.sql("s.plan_id")
    rows = fetch_dicts(
        _DUE_SQL.format(scope=where, state_scope=state_where, is_due=_IS_DUE),
        {
            **params,
            "statuses": [str(s) for s in gaps.SCANNED_PLAN_STATUSES],
            "force": force,
            "fingerprint": fingerprint,
            "now": now,
        },
    )
    return [DuePlan(**r) for r in rows]


def settled_count(scope: FlagScope, due: Sequence[DuePlan]) -> int:
    """How many active/on-hold plans in ``scope`` a scan skips (its report; one count)."""
    where, params = scope.sql("p.id")
    with connection.cursor() as cursor:
        cursor.execute(
            _COUNT_SQL.format(scope=where),
            {**params, "statuses": [str(s) for s in gaps.SCANNED_PLAN_STATUSES]},
        )
        (in_scope,) = cursor.fetchone()
    return max(0, in_scope - sum(d.scanned_status for d in due))


_LOCK_SQL = (
    # the missing rows (inserting one waits for a concurrent insert of it to commit) …
    """INSERT INTO plans_planscanstate (plan_id, fingerprint)
    SELECT id, '' FROM unnest(%(plans)s::bigint[]) AS id ORDER BY id
    ON CONFLICT (plan_id) DO NOTHING""",
    # … then every row, locked
    """SELECT plan_id FROM plans_planscanstate WHERE plan_id = ANY(%(plans)s)
    ORDER BY plan_id FOR UPDATE""",
)


def lock(plan_ids: Sequence[int]) -> None:
    """Take the scan-state rows of ``plan_ids`` (creating the missing ones) for the rest of the
    transaction, in id order: two scans of one plan — a chunk and a re-check, or two beat
    ticks — take turns, so the later one reads the facts and the changes after the earlier one
    committed. Only scans take them; writers of facts never wait on them."""
    if not plan_ids:
        return
    with connection.cursor() as cursor:
        for sql in _LOCK_SQL:
            cursor.execute(sql, {"plans": sorted(plan_ids)})


# The earliest input time + offset still ahead, per plan: every session of its components and
# every evaluation and measure of its patient, of any status (conservative), in the window
# where t + d can fall before the cap.
_NEXT_CHANGE_SQL = """
WITH p AS (SELECT * FROM unnest(%(plans)s::bigint[], %(patients)s::bigint[]) AS p(plan_id, patient_id)),
t AS (
    SELECT c.plan_id, s.starts_at AS at
    FROM scheduling_session s JOIN plans_plancomponent c ON c.id = s.component_id
    WHERE c.plan_id = ANY(%(plans)s) AND s.starts_at > %(lo)s AND s.starts_at <= %(hi)s
    UNION ALL
    SELECT p.plan_id, e.performed_at FROM plans_evaluation e JOIN p ON p.patient_id = e.patient_id
    WHERE e.performed_at > %(lo)s AND e.performed_at <= %(hi)s
    UNION ALL
    SELECT p.plan_id, m.taken_at FROM plans_measure m JOIN p ON p.patient_id = m.patient_id
    WHERE m.taken_at > %(lo)s AND m.taken_at <= %(hi)s
)
SELECT t.plan_id, min(t.at + d.d) AS at
FROM t CROSS JOIN unnest(%(offsets)s::interval[]) AS d(d)
WHERE t.at + d.d > %(now)s
GROUP BY t.plan_id
"""  # noqa: E501


def next_midnight(now: dt.datetime, zone: dt.tzinfo) -> dt.datetime:
    """The first instant after ``now`` at which the date in ``zone`` changes (a midnight that
    a DST change skips or repeats is its first instant: fold 0)."""
    day = now.astimezone(zone).date() + dt.timedelta(days=1)
    return dt.datetime.combine(day, dt.time.min, tzinfo=zone).astimezone(dt.UTC)


def stable_until(
    plans: Sequence[tuple[int, int, str]], *, now: dt.datetime
) -> dict[int, dt.datetime]:
    """``(plan id, patient id, clinic time zone)`` → until when the answer judged at ``now``
    holds without new facts: the next ``input time + offset`` ahead or the clinic's next
    midnight, whichever is first (one query)."""
    if not plans:
        return {}
    offsets = time_offsets()
    caps: dict[str, dt.datetime] = {}
    out: dict[int, dt.datetime] = {}
    for plan_id, _patient, zone in plans:
        if zone not in caps:
            caps[zone] = next_midnight(now, zone_named(zone))
        out[plan_id] = caps[zone]
    horizon = max(caps.values())
    for row in fetch_dicts(
        _NEXT_CHANGE_SQL,
        {
            "plans": [p for p, _, _ in plans],
            "patients": [pt for _, pt, _ in plans],
            "lo": now - max(offsets),
            "hi": horizon - min(offsets),
            "offsets": list(offsets),
            "now": now,
        },
    ):
        if row["at"] < out[row["plan_id"]]:
            out[row["plan_id"]] = row["at"]
    return out


_RECORD_SQL = """
WITH seen AS (DELETE FROM plans_planchange WHERE id = ANY(%(changes)s))
INSERT INTO plans_planscanstate AS s (plan_id, scanned_at, stable_until, fingerprint)
SELECT r.plan_id, %(now)s, r.until, %(fingerprint)s
FROM unnest(%(plans)s::bigint[], %(until)s::timestamptz[]) AS r(plan_id, until)
ORDER BY r.plan_id
ON CONFLICT (plan_id) DO UPDATE SET scanned_at = excluded.scanned_at,
    stable_until = excluded.stable_until, fingerprint = excluded.fingerprint
"""


def record(
    due: Iterable[DuePlan],
    until: dict[int, dt.datetime],
    *,
    now: dt.datetime,
    fingerprint: str,
) -> None:
    """Record the judgement of ``due`` (in the transaction that applied its flags, holding
    ``lock``): the clock, ``until`` (none: a plan no longer scanned stays settled until it
    changes) and the rules' fingerprint; and forget the changes seen before its facts were
    read — one committed since stays, and leaves the plan due. One statement."""
    rows = sorted(due)
    if not rows:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            _RECORD_SQL,
            {
                "changes": [c for d in rows for c in d.changes],
                "plans": [d.id for d in rows],
                "until": [until.get(d.id) for d in rows],
                "now": now,
                "fingerprint": fingerprint,
            },
        )


@contextlib.contextmanager
def scanner_writes() -> Iterator[None]:
    """Within: this transaction's flag writes are the scanner's own (they follow from the facts
    it read, so they do not make the plan due again; the flag trigger reads the setting). Reset
    on the way out, so the rest of an enclosing transaction writes as anyone else."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('plans.scan_writer', 'on', true)")
        try:
            yield
        finally:
            cursor.execute("SELECT set_config('plans.scan_writer', '', true)")
