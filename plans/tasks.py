"""Flag-scanner tasks (DESIGN.md §4; issue 5). Thin: load ids, call ``plans.scanner``."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import transaction

logger = logging.getLogger(__name__)


def request_recheck(*, plan_id: int) -> None:
    """Re-scan one plan's flags after the caller's transaction commits (DESIGN.md §4 promise 6).

    Called by plans/scheduling services on any plan, evaluation, measure or session change.
    """

    def _enqueue() -> None:
        try:
            scan_plan_flags.apply_async(kwargs={"plan_ids": [int(plan_id)]}, queue="flags")
        except Exception:  # broker unreachable: the 10-minute beat scan catches up
            logger.warning("flag re-check for plan %s not published", plan_id, exc_info=True)

    transaction.on_commit(_enqueue)


def request_safety_notification(*, flag_id: int) -> None:
    """Tell the prescribers about a new safety flag once the caller's transaction commits."""

    def _enqueue() -> None:
        try:
            notify_safety_flag.apply_async(kwargs={"flag_id": int(flag_id)}, queue="flags")
        except Exception:  # broker unreachable: still the same-day critical-flag digest
            logger.warning("safety notification for flag %s not published", flag_id,
                           exc_info=True)  # fmt: skip

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
    from plans.services.notifications import notify_safety_flag as notify

    return notify(flag_id=flag_id)


@shared_task(name="plans.scan_flags", ignore_result=True)
def scan_flags() -> dict:
    """Beat task (every 10 minutes): scan every active plan in one set-based pass."""
    from plans.scanner import scan_all_plans

    return scan_all_plans().as_dict()


@shared_task(name="plans.scan_plan_flags", ignore_result=True)
def scan_plan_flags(*, plan_ids: list[int]) -> dict:
    """On-commit re-check of a few plans (idempotent: one open flag per gap)."""
    from plans.scanner import scan_all_plans

    return scan_all_plans(plan_ids=plan_ids).as_dict()


@shared_task(name="plans.send_coordinator_digests", ignore_result=True)
def send_coordinator_digests() -> int:
    """Daily: one email per coordinator of new critical flags (no patient detail in subject)."""
    from plans.digests import send_critical_flag_digests

    return send_critical_flag_digests()
