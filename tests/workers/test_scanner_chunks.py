"""The scanner at scale (issue 17): chunks committed on their own, resumable, same outcome as one
pass; and plans imports nothing from scheduling (issue 16 — a grep-level check until the
import-linter contract lands).

No module-level django_db mark: the chunk test needs real commits (``transactional_db`` after
``restore_catalogue``, see tests/plans/test_flag_concurrency.py).
"""

from __future__ import annotations

import ast
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from unittest import mock

import pytest

from bench.bench_scanner import build_world
from modalities.services import sync_catalogue
from plans import scanner
from plans.models import CarePlan, Flag
from plans.scanner import chunk_bounds, scan_all_plans
from tests import factories

NOW = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]


def open_flags() -> Counter:
    return Counter(
        Flag.objects.filter(status="open").values_list("plan_id", "code", "requirement_key")
    )


def test_chunk_bounds_cover_every_plan_once(db):
    org = factories.OrganizationFactory()
    clinic = factories.ClinicFactory(organization=org)
    sync_catalogue()
    ids = build_world(n_plans=25, now=NOW, clinic=clinic)
    CarePlan.objects.filter(pk=ids[3]).update(status="completed")  # not scanned, still in a chunk
    bounds = chunk_bounds(size=10)
    assert bounds[0][0] is None
    assert bounds[-1][1] is None
    assert len(bounds) == 3  # 24 scanned plans: (…, 10th], (10th, 20th], (20th, …)
    for pk in ids:
        assert sum((lo is None or pk > lo) and (hi is None or pk <= hi) for lo, hi in bounds) == 1


def test_interrupted_scan_keeps_finished_chunks_and_resumes(restore_catalogue, transactional_db):
    org = factories.OrganizationFactory()
    clinic = factories.ClinicFactory(organization=org)
    sync_catalogue()
    ids = build_world(n_plans=30, now=NOW, clinic=clinic)
    bounds = chunk_bounds(size=10)
    assert len(bounds) == 4  # three full chunks and the open-ended tail
    applied: list[int | None] = []
    real = scanner.detect_gaps
    calls = {"n": 0}

    def dies_in_third_chunk(**kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise SystemExit("worker killed")  # what a SIGKILL looks like to the caller
        return real(**kwargs)

    # when a scan is killed in chunk 3
    with mock.patch.object(scanner, "detect_gaps", dies_in_third_chunk), pytest.raises(SystemExit):
        scan_all_plans(now=NOW, chunk_plans=10, on_chunk=lambda r: applied.append(r.last_upto_id))

    # then chunks 1 and 2 are committed, chunk 3's plans have no flag yet
    assert applied == [bounds[0][1], bounds[1][1]]
    flagged = {plan_id for plan_id, _, _ in open_flags()}
    assert flagged
    assert flagged <= set(ids[:20])
    assert not flagged & set(ids[20:])

    # and resuming after the last applied chunk finishes the scan
    resumed = scan_all_plans(now=NOW, chunk_plans=10, after_id=applied[-1])
    assert resumed.chunks == 2
    assert resumed.plans == 10
    assert {plan_id for plan_id, _, _ in open_flags()} - flagged <= set(ids[20:])

    # and the outcome is what one unchunked pass judging every plan decides: nothing left to
    # open or resolve
    before = open_flags()
    whole = scan_all_plans(now=NOW, chunk_plans=10_000, force=True)
    assert (whole.chunks, whole.plans, whole.opened, whole.resolved) == (1, 30, 0, 0)
    assert open_flags() == before
    assert max(before.values()) == 1


def test_a_plan_leaving_the_scanned_states_has_its_flags_resolved_by_its_chunk(db):
    org = factories.OrganizationFactory()
    clinic = factories.ClinicFactory(organization=org)
    sync_catalogue()
    ids = build_world(n_plans=12, now=NOW, clinic=clinic)
    scan_all_plans(now=NOW, chunk_plans=5)
    assert Flag.objects.filter(plan_id=ids[0], status="open", code="no_show_streak").exists()
    CarePlan.objects.filter(pk=ids[0]).update(status="completed")
    result = scan_all_plans(now=NOW, chunk_plans=5)
    assert result.resolved >= 1
    assert not Flag.objects.filter(
        plan_id=ids[0], status="open", code__in=[str(c) for c in scanner.SCANNER_CODES]
    ).exists()


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):  # every import, module-level or function-local
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_plans_imports_nothing_from_scheduling():
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            n
            for n in _imports(path)
            if n.split(".")[0] in {"scheduling", "billing", "api", "dashboard"}
        )
        for path in (ROOT / "plans").rglob("*.py")
        if "migrations" not in path.parts
    }
    assert {p: names for p, names in offenders.items() if names} == {}


def test_the_port_spells_the_session_statuses_as_scheduling_does():
    # plans counts course sessions by statuses it cannot import from scheduling
    from plans.ports import HOLDING_SESSION_STATUSES, TAKEN_SESSION_STATUSES
    from scheduling.models import ACTIVE_SESSION_STATUSES, SessionStatus

    assert tuple(s.value for s in ACTIVE_SESSION_STATUSES) == HOLDING_SESSION_STATUSES
    assert (SessionStatus.ARRIVED.value, SessionStatus.FULFILLED.value) == TAKEN_SESSION_STATUSES
