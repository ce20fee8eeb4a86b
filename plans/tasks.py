"""Flag-scanner tasks (DESIGN.md §4; issues 5, 17). Thin: ids in, one ``plans.scanner`` call."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from plans import safety_alerts
from plans.digests import send_critical_flag_digests
from plans.scanner import chunk_bounds, scan_all_plans, scan_chunk

logger = logging.getLogger(__name__)


def on_plan_changed(plan_ids: Iterable[int]) -> None:
    """The one flag trigger: re-check these plans' flags after the caller's transaction
    commits (DESIGN.md §4 promise 6). Called by the plans services on any plan, evaluation,
    measure or component change and by scheduling wherever sessions change."""
    ids = sorted({int(p) for p in plan_ids if p is not None})
    if not ids:
        return

    def _enqueue() -> None:
        try:
            scan_plan_flags.apply_async(kwargs={"plan_ids": ids}, queue="flags")
        except Exception:  # broker unreachable: the 10-minute beat scan catches up
            logger.warning("flag re-check for plans %s not published", ids, exc_info=True)

    transaction.on_commit(_enqueue)


def request_safety_notification(*, flag_id: int) -> None:
    """Tell the prescribers about a new safety flag once the caller's transaction commits."""

    def _enqueue() -> None:
        try:
            notify_safety_flag.apply_async(kwargs={"flag_id": int(flag_id)}, queue="flags")
        except Exception:  # broker unreachable: still the same-day critical-flag digest
            logger.warning("safety notification for flag %s not published", flag_id, exc_info=True)

    transaction.on_commit(_enqueue)


@shared_task(
    name="plans.notify_safety_flag",
    ignore_result=True,
    autoretry_for=(ConnectionError, TimeoutError, OSError),
    retry_backoff=30,
    retry_backoff_max=600,
    max_retries=5,
)
def notify_safety_flag(*, flag_id: int) -> int:
    """Email the prescribers of a safety flag (idempotent per recipient: provider ledger)."""
    return safety_alerts.notify_safety_flag(flag_id=flag_id)


@shared_task(name="plans.scan_flags", ignore_result=True)
def scan_flags() -> dict:
    """Beat task (every 10 minutes): fan the scan out, one ``scan_flag_chunk`` task per chunk
    (plans/scanner: a plan-id range of plans due now, committed on its own), all judged at the
    same instant."""
    now = timezone.now()
    bounds = chunk_bounds(now=now)
    for after_id, upto_id in bounds:
        scan_flag_chunk.apply_async(
            kwargs={"after_id": after_id, "upto_id": upto_id, "now": now.isoformat()},
            queue="flags",
            expires=540,  # the next beat scan supersedes it
        )
    return {"chunks": len(bounds), "now": now.isoformat()}


@shared_task(name="plans.scan_flag_chunk", ignore_result=True)
def scan_flag_chunk(*, after_id: int | None, upto_id: int | None, now: str) -> dict:
    """One chunk of a fanned-out scan (idempotent: a redelivered chunk re-applies nothing)."""
    return scan_chunk(
        after_id=after_id, upto_id=upto_id, now=dt.datetime.fromisoformat(now)
    ).as_dict()


@shared_task(name="plans.scan_plan_flags", ignore_result=True)
def scan_plan_flags(*, plan_ids: list[int]) -> dict:
    """On-commit re-check of a few plans (idempotent: one open flag per gap)."""
    return scan_all_plans(plan_ids=plan_ids).as_dict()


@shared_task(name="plans.send_coordinator_digests", ignore_result=True)
def send_coordinator_digests() -> int:
    """Daily: one email per coordinator of new critical flags (no patient detail in subject)."""
    return send_critical_flag_digests()
