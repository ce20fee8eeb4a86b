"""Reminder dispatch: the beat tick claims due rows in batches and publishes one send task per
batch (see the package docstring)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from datetime import time as dt_time
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from backend.celery import app
from scheduling.models.reminders import Reminder
from scheduling.reminders import (
    _DEFAULT_POLICY,
    claim_timeout,
)
from scheduling.rules.reminders.policy import ReminderPolicy

logger = logging.getLogger(__name__)

QUEUE = "reminders"
SEND_TASK = "scheduling.send_reminders"  # registered in scheduling/tasks.py


def send_batch_size() -> int:
    """Rows per send task (and per claim query)."""
    return max(1, int(getattr(settings, "REMINDER_SEND_BATCH_SIZE", 100)))


def send_batch_seconds() -> float:
    """Time budget of one send batch: after it, the rows not yet handed to the provider go back
    to 'pending' (attempt not counted) for the next claim. Bounds how long a batch holds its
    row locks and how much work a killed worker takes with it when the provider is slow."""
    return float(getattr(settings, "REMINDER_SEND_BATCH_SECONDS", 1.0))


_RATE_KEY = "reminders:send-rate"
_FIRST_BATCH = 10  # rows per batch until a batch has measured the provider's rate


def _record_send_rate(tried: int, seconds: float) -> None:
    """Rows per second the last batch reached the provider at (shared through the cache)."""
    if tried <= 0 or seconds <= 0:
        return
    try:
        cache.set(_RATE_KEY, tried / seconds, timeout=600)
    except Exception:  # the cache is an optimisation: without it batches keep their default size
        logger.debug("send rate not recorded", exc_info=True)


def adaptive_batch_size() -> int:
    """Rows per claim: what the provider takes in one batch's time budget, at most
    ``send_batch_size()``. A fast provider (or the null channel) gets full batches; a slow one
    small batches, so a batch holds its locks briefly and a killed worker takes little with it."""
    size = send_batch_size()
    try:
        rate = cache.get(_RATE_KEY)
    except Exception:
        rate = None
    if not rate:  # nothing measured yet (cold start, cache flushed): a small first batch
        return min(size, _FIRST_BATCH)
    return max(1, min(size, int(float(rate) * send_batch_seconds())))


def queue_high_water() -> int:
    """Most send messages waiting in the broker before a tick stops claiming.

    Bounds how long a claimed row waits for a worker: it must start well within
    ``claim_timeout()`` or a tick would hand it out again (harmless, but wasted work). A message
    is about one batch budget of work, so even one worker drains the queue in half the claim
    timeout: at most ``claim_timeout / (2 × budget)`` messages (300 with the production defaults,
    so the setting decides), and never more than ``REMINDER_QUEUE_HIGH_WATER``."""
    configured = max(1, int(getattr(settings, "REMINDER_QUEUE_HIGH_WATER", 20)))
    drainable = int(claim_timeout().total_seconds() / (2 * max(send_batch_seconds(), 0.001)))
    return max(1, min(configured, drainable))


# ---------------------------------------------------------------------------------------------
# Quiet hours, once per tick


@lru_cache(maxsize=1)
def _known_zones() -> tuple[tuple[str, ZoneInfo], ...]:
    """Every IANA zone this process knows, loaded once and held (read once; a tzdata upgrade
    comes with a restart). Holding the objects matters: ``ZoneInfo(name)`` keeps only a few
    strongly, so building ~600 of them per tick re-read every zone file (~0.1 s a tick)."""
    return tuple((name, ZoneInfo(name)) for name in sorted(available_timezones()))


def zones_in_waking_hours(now: datetime, policy: ReminderPolicy = _DEFAULT_POLICY) -> list[str]:
    """The zones where ``now`` is inside the allowed window (08:00 ≤ local time < 21:00).

    47 CFR 64.1200 (DOMAIN.md §7.3): only 08:00–21:00 recipient local time. Computed in Python
    with zoneinfo — the same zone database the send-time check (``in_quiet_hours``) uses —
    so the claim query only compares a column with an array. A patient whose zone is unknown is
    in no list: their rows wait (and do not stop the tick), as before. Every zone's offset is a
    whole number of minutes, so the answer only changes on the minute: cached per minute.
    """
    minute = now.astimezone(UTC).replace(second=0, microsecond=0)
    return list(_zones_awake_at(minute, policy.quiet_start, policy.quiet_end))


@lru_cache(maxsize=8)
def _zones_awake_at(minute: datetime, start: dt_time, end: dt_time) -> tuple[str, ...]:
    return tuple(
        name for name, zone in _known_zones() if start <= minute.astimezone(zone).time() < end
    )


# ---------------------------------------------------------------------------------------------
# Claim (the beat tick)

_CLAIM_SQL = """
WITH due AS (
    SELECT r.id, r.status AS was
    FROM scheduling_reminder r
    JOIN plans_patient p ON p.id = r.patient_id
    WHERE (
        (r.status = 'pending' AND r.due_at <= %(now)s)
        OR (r.status = 'sending' AND r.claimed_at < %(stale_before)s)
    )
    AND p.timezone = ANY(%(zones)s::text[])
    ORDER BY r.due_at, r.id
    LIMIT %(batch)s
    FOR UPDATE OF r SKIP LOCKED
)
UPDATE scheduling_reminder r
SET status = 'sending', claimed_at = %(now)s, updated_at = %(now)s
FROM due WHERE r.id = due.id
RETURNING r.id, due.was = 'sending'
"""


def _claim(*, now: datetime, batch_size: int, zones: Sequence[str]) -> list[tuple[int, bool]]:
    """One query: up to ``batch_size`` (id, was a stale claim) pairs, committed."""
    if batch_size <= 0 or not zones:
        return []
    params: dict[str, Any] = {
        "now": now,
        "stale_before": now - claim_timeout(),
        "batch": batch_size,
        "zones": list(zones),
    }
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(_CLAIM_SQL, params)
        return sorted((int(i), bool(stale)) for i, stale in cur.fetchall())


def claim_due_reminders(
    *, now: datetime | None = None, batch_size: int = 200, zones: Sequence[str] | None = None
) -> list[int]:
    """Claim up to ``batch_size`` due rows: pending and due, or 'sending' past the claim timeout
    (its task was lost: worker killed, Redis restarted), and only where it is now 08:00–21:00
    for the patient (47 CFR 64.1200).

    ``FOR UPDATE SKIP LOCKED``: concurrent ticks (two beats, a manual dispatch, a worker
    refilling) take disjoint rows and never wait on each other, and a row a worker is sending
    right now (locked) is never re-claimed (DESIGN.md §4 promise 4). Commits before returning.
    """
    now = now or timezone.now()
    zones = zones_in_waking_hours(now) if zones is None else zones
    return [i for i, _ in _claim(now=now, batch_size=batch_size, zones=zones)]


def expire_unsendable_reminders(*, now: datetime | None = None) -> int:
    """Waiting rows whose session has started are skipped (never remind after the visit)."""
    now = now or timezone.now()
    waiting = Q(status="pending") | Q(status="sending", claimed_at__lt=now - claim_timeout())
    return Reminder.objects.filter(waiting, due_at__lte=now, session__starts_at__lte=now).update(
        status="skipped", skip_reason="session_started", updated_at=now
    )


def broker_queue_depth(queue: str = QUEUE) -> int | None:
    """Messages waiting in ``queue`` (Redis: the list length), or None if the broker is down."""
    try:
        with app.pool.acquire(block=True, timeout=2) as conn:
            return int(conn.default_channel.queue_declare(queue=queue).message_count)
    except Exception:  # broker unreachable: publish nothing, the rows wait where they are
        logger.warning("reminder queue depth unavailable", exc_info=True)
        return None


def dispatch_due_reminders(
    *,
    now: datetime | None = None,
    batch_size: int | None = None,
    max_batches: int | None = None,
    enqueue: Callable[[list[int]], Any] | None = None,
    queue_depth: Callable[[], int | None] | None = None,
) -> list[int]:
    """The beat tick: claim due rows one batch per query and hand each batch to a send task.

    ``enqueue(ids)`` defaults to publishing one ``scheduling.send_reminders`` message per batch
    on the "reminders" queue; ``queue_depth()`` to the broker's count of waiting messages (with a
    custom ``enqueue`` nothing waits in a broker: 0). The tick stops when the queue reaches
    ``queue_high_water()`` messages, when a claim comes back short, or after ``max_batches``.

    A row claimed again after the claim timeout (its earlier attempt was lost, maybe because its
    batch killed the worker) is sent in a batch of its own, so one poisonous row cannot use up
    the attempts of the rows it was batched with. If publishing fails (Redis down) the rows stay
    'sending' and come back after ``claim_timeout()`` — the broker is only a doorbell.
    """
    if enqueue is None:
        enqueue = _enqueue_sends
        depth_of = queue_depth or broker_queue_depth
    else:
        depth_of = queue_depth or (lambda: 0)
    now = now or timezone.now()
    size = batch_size or adaptive_batch_size()
    expire_unsendable_reminders(now=now)
    depth = depth_of()
    if depth is None:
        return []
    room = queue_high_water() - depth
    if max_batches is not None:
        room = min(room, max_batches)
    zones = zones_in_waking_hours(now)
    claimed: list[int] = []
    while room > 0:
        batch = _claim(now=now, batch_size=size, zones=zones)
        if not batch:
            break
        fresh = [i for i, stale in batch if not stale]
        chunks = ([fresh] if fresh else []) + [[i] for i, stale in batch if stale]
        for chunk in chunks:
            enqueue(chunk)
        claimed.extend(i for i, _ in batch)
        room -= len(chunks)
        if len(batch) < size:
            break
    return claimed


def _enqueue_sends(ids: list[int]) -> None:
    """Publish one send by task name: the tasks module imports this one, never the reverse."""
    try:
        app.send_task(SEND_TASK, kwargs={"reminder_ids": ids}, queue=QUEUE)
    except Exception:  # broker down: the claim timeout brings the rows back
        logger.warning("could not publish send for reminders %s", ids, exc_info=True)
