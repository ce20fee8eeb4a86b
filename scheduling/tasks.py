"""Reminder tasks (DESIGN.md §4 promises 4–6). Thin and idempotent: ids in, one service call.

Beat only rings the doorbell: ``dispatch_reminders`` (every minute) claims due rows in batches;
each ``send_reminders`` sends one claimed batch and, when the batch was full, claims the next
one itself (back-pressure by queue depth, issue 17). Retries are rows with a capped ``due_at``
backoff, never a long Celery countdown (docs/adr/0002-reminder-delivery.md).
"""

from __future__ import annotations

from collections import Counter

from celery import shared_task

from scheduling import reminders
from scheduling.delivery import dispatch, send


@shared_task(name="scheduling.sync_session_reminders", ignore_result=True)
def sync_session_reminders(*, session_ids: list[int], change: str = "status") -> dict:
    """Re-plan the reminder rows of changed sessions — a reminders concern only: the flags of
    their plans are re-checked through ``plans.tasks.on_plan_changed``, which
    ``notify_sessions_changed`` calls in the same transaction."""
    result = reminders.sync_reminders_for_sessions(session_ids=session_ids)
    return {"change": change, **result.__dict__}


@shared_task(name="scheduling.dispatch_reminders", ignore_result=True)
def dispatch_reminders() -> int:
    return len(dispatch.dispatch_due_reminders())


@shared_task(name="scheduling.send_reminders", ignore_result=True)
def send_reminders(*, reminder_ids: list[int]) -> dict[str, int]:
    outcomes = send.send_reminders(reminder_ids=reminder_ids)
    if len(reminder_ids) >= dispatch.send_batch_size() or "returned" in outcomes.values():
        # A full batch (or one cut by its time budget) suggests more due rows: claim the next
        # batch now instead of waiting for beat (SKIP LOCKED keeps this disjoint from every
        # other tick; the queue-depth check keeps it from flooding the broker).
        dispatch.dispatch_due_reminders()
    return dict(Counter(outcomes.values()))


@shared_task(name="scheduling.send_reminder", ignore_result=True)
def send_reminder(*, reminder_id: int) -> str:
    """One row (messages published before batches existed are still understood)."""
    return send.send_reminder(reminder_id=reminder_id)
