"""Reminder delivery: claim due rows in batches, send each batch once, mark it in one query.

DESIGN.md §4 promises 4–5; docs/adr/0002-reminder-delivery.md. Planning rows lives in
``scheduling/reminders.py`` (which re-exports the names below for existing callers).

Per batch of ``REMINDER_SEND_BATCH_SIZE`` rows the database sees a constant number of queries,
whatever the batch size (issue 17):

- the tick: one ``UPDATE … FOR UPDATE SKIP LOCKED … RETURNING`` claims a batch; the quiet-hour
  test is ``patient.timezone = ANY(<zones where it is now 08:00–21:00>)``, the list computed once
  per tick in Python with zoneinfo (no ``pg_timezone_names`` read, no per-row zone math in SQL);
- the send: one lease ``UPDATE`` (commit), one locking ``SELECT`` with the patients, one for the
  sessions (+ clinic, the preparation text), one for STOP opt-outs, one for the SMS sent this
  week, the provider calls, one ``UPDATE … FROM unnest(…)`` marking every row (commit).

Back-pressure is the depth of the ``reminders`` queue (messages waiting in the broker), not a
fixed number of rows per minute: a tick publishes batches until the queue holds
``REMINDER_QUEUE_HIGH_WATER`` messages, and a worker that finishes a full batch claims the next
one itself, so throughput grows with the number of workers.
"""

from __future__ import annotations

import json
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from datetime import time as dt_time
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from scheduling.reminders import (
    _DEFAULT_POLICY,
    _LIVE_SESSION_STATUSES,
    MAX_ATTEMPTS,
    backoff,
    claim_timeout,
)
from scheduling.rules import reminders as rules

logger = logging.getLogger(__name__)

QUEUE = "reminders"


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
    from django.core.cache import cache

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
    from django.core.cache import cache

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
def _known_zones() -> tuple[str, ...]:
    """Every IANA zone this process knows (read once; a tzdata upgrade comes with a restart)."""
    return tuple(sorted(available_timezones()))


def zones_in_waking_hours(
    now: datetime, policy: rules.ReminderPolicy = _DEFAULT_POLICY
) -> list[str]:
    """The zones where ``now`` is inside the allowed window (08:00 ≤ local time < 21:00).

    47 CFR 64.1200 (DOMAIN.md §7.3): only 08:00–21:00 recipient local time. Computed in Python
    with zoneinfo — the same zone database the send-time check (``rules.in_quiet_hours``) uses —
    so the claim query only compares a column with an array. A patient whose zone is unknown is
    in no list: their rows wait (and do not stop the tick), as before. Every zone's offset is a
    whole number of minutes, so the answer only changes on the minute: cached per minute.
    """
    minute = now.astimezone(UTC).replace(second=0, microsecond=0)
    return list(_zones_awake_at(minute, policy.quiet_start, policy.quiet_end))


@lru_cache(maxsize=8)
def _zones_awake_at(minute: datetime, start: dt_time, end: dt_time) -> tuple[str, ...]:
    return tuple(
        name for name in _known_zones() if start <= minute.astimezone(ZoneInfo(name)).time() < end
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
    from scheduling.models.reminders import Reminder

    now = now or timezone.now()
    waiting = Q(status="pending") | Q(status="sending", claimed_at__lt=now - claim_timeout())
    return Reminder.objects.filter(waiting, due_at__lte=now, session__starts_at__lte=now).update(
        status="skipped", skip_reason="session_started", updated_at=now
    )


def broker_queue_depth(queue: str = QUEUE) -> int | None:
    """Messages waiting in ``queue`` (Redis: the list length), or None if the broker is down."""
    from backend.celery import app

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
    from scheduling.tasks import send_reminders as task

    try:
        task.apply_async(kwargs={"reminder_ids": ids}, queue=QUEUE)
    except Exception:  # broker down: the claim timeout brings the rows back
        logger.warning("could not publish send for reminders %s", ids, exc_info=True)


# ---------------------------------------------------------------------------------------------
# Send a batch (idempotent per row)


def _render(reminder, session_map) -> tuple[str, str]:
    """(subject, body) for the row, from committed data. SMS bodies are ≤160 chars and free of
    treatment terms (render_* refuse otherwise); the preparation text is dropped, not the
    message, if it would leak a term."""
    patient = reminder.patient
    zone = ZoneInfo(patient.timezone)
    sessions = [session_map[i] for i in reminder.session_ids if i in session_map]
    if not sessions and reminder.session_id in session_map:
        sessions = [session_map[reminder.session_id]]
    if not sessions:
        raise rules.ForbiddenTermError("", "session")  # nothing to announce
    first = sessions[0]
    clinic = first.clinic
    common = {
        "clinic_name": clinic.name,
        "clinic_phone": clinic.phone,
        "room_or_address": clinic.address,
    }
    if reminder.kind == "weekly_digest":
        body = rules.render_digest_sms(
            local_starts=[s.starts_at.astimezone(zone) for s in sessions], **common
        )
        return "", body
    local_start = first.starts_at.astimezone(zone)
    if reminder.kind == "change_notice":
        cancelled = reminder.key.endswith(":cancelled")
        if reminder.channel == "sms":
            return "", rules.render_change_notice_sms(
                local_start=local_start, cancelled=cancelled, **common
            )
        subject, body = rules.render_email(
            kind="change_notice", local_start=local_start, preparation="", **common
        )
        if cancelled:
            body = body.replace(
                "Your appointment has moved. The new time is:",
                "Your appointment has been cancelled:",
            )
        return subject, body
    preparation = getattr(first, "preparation_text", None)  # annotated by _send_locked
    if preparation is None:
        component = getattr(first, "component", None)
        protocol = getattr(component, "protocol", None)
        preparation = getattr(protocol, "preparation", "") or ""
    if preparation and rules.contains_forbidden_term(preparation):
        preparation = ""
    if reminder.channel == "sms":
        return "", rules.render_sms(
            kind=reminder.kind, local_start=local_start, preparation=preparation, **common
        )
    return rules.render_email(
        kind=reminder.kind, local_start=local_start, preparation=preparation, **common
    )


def _sms_budget_reason(reminder, now: datetime, sent_at: Iterable[datetime]) -> str | None:
    """Send-time guard of FCC 15-72 (1/day, 3/week, patient-local) over SMS actually sent
    (``sent_at``: the patient's other SMS sent in the last 8 days, this batch included)."""
    zone = ZoneInfo(reminder.patient.timezone)
    today = now.astimezone(zone).date()
    week_start = today - timedelta(days=today.weekday())
    sent_days = [s.astimezone(zone).date() for s in sent_at]
    return rules.check_sms_budget(
        sent_local_dates=[d for d in sent_days if d >= week_start],
        candidate_local_date=today,
        policy=_DEFAULT_POLICY,
    )


def _next_local_morning(now: datetime, tz: str) -> datetime:
    zone = ZoneInfo(tz)
    day = now.astimezone(zone).date() + timedelta(days=1)
    return datetime.combine(day, _DEFAULT_POLICY.quiet_start, tzinfo=zone).astimezone(UTC)


def _mark(reminder, now: datetime, **fields) -> None:
    for k, v in fields.items():
        setattr(reminder, k, v)
    reminder.updated_at = now
    reminder.save(update_fields=[*fields, "updated_at"])


# Every column a send outcome may change, written for the whole batch in one statement.
_MARK_COLUMNS = ("status", "attempts", "due_at", "claimed_at", "sent_at", "provider_id",
                 "subject", "body", "skip_reason", "last_error", "announced_starts_at",
                 "announced")  # fmt: skip
_MARK_SQL = """
UPDATE scheduling_reminder r
SET status = v.status, attempts = v.attempts, due_at = v.due_at, claimed_at = v.claimed_at,
    sent_at = v.sent_at,
    provider_id = v.provider_id, subject = v.subject, body = v.body,
    skip_reason = v.skip_reason, last_error = v.last_error,
    announced_starts_at = v.announced_starts_at, announced = v.announced::jsonb,
    updated_at = %(now)s
FROM unnest(
    %(id)s::bigint[], %(status)s::text[], %(attempts)s::int[], %(due_at)s::timestamptz[],
    %(claimed_at)s::timestamptz[], %(sent_at)s::timestamptz[], %(provider_id)s::text[],
    %(subject)s::text[], %(body)s::text[], %(skip_reason)s::text[], %(last_error)s::text[],
    %(announced_starts_at)s::timestamptz[], %(announced)s::text[]
) AS v(id, status, attempts, due_at, claimed_at, sent_at, provider_id, subject, body, skip_reason,
       last_error, announced_starts_at, announced)
WHERE r.id = v.id
"""


def _mark_many(rows: Sequence[Any], now: datetime) -> None:
    """Write every outcome of the batch in one ``UPDATE … FROM unnest(…)``."""
    if not rows:
        return
    params: dict[str, Any] = {"now": now, "id": [r.pk for r in rows]}
    for column in _MARK_COLUMNS:
        values = [getattr(r, column) for r in rows]
        if column == "announced":
            values = [json.dumps(v or {}) for v in values]
        params[column] = values
    with connection.cursor() as cur:
        cur.execute(_MARK_SQL, params)


_LEASE_SQL = """
WITH mine AS (
    SELECT id, attempts FROM scheduling_reminder
    WHERE id = ANY(%(ids)s::bigint[]) AND status = 'sending'
    ORDER BY id
    FOR UPDATE SKIP LOCKED
)
UPDATE scheduling_reminder r
SET attempts = CASE WHEN mine.attempts < %(max)s THEN mine.attempts + 1 ELSE mine.attempts END,
    claimed_at = %(now)s, updated_at = %(now)s
FROM mine WHERE r.id = mine.id
RETURNING r.id, mine.attempts
"""


def send_reminder(*, reminder_id: int, now: datetime | None = None) -> str:
    """Send one claimed row (a batch of one); returns its outcome."""
    return send_reminders(reminder_ids=[reminder_id], now=now)[int(reminder_id)]


def send_reminders(*, reminder_ids: Sequence[int], now: datetime | None = None) -> dict[int, str]:
    """Send a batch of claimed rows, each at most once in effect; returns {id: outcome}.

    1. Lease (one query, committed before any provider call): ``attempts += 1`` and
       ``claimed_at = now`` on the rows still 'sending' — so a batch that kills its worker every
       time still ends (each row fails after ``MAX_ATTEMPTS``) and a slow queue does not make a
       row look lost. A row already at ``MAX_ATTEMPTS`` fails (REMINDER_FAILED flag).
    2. Send under the rows' locks (``SKIP LOCKED``: a duplicate task for a row returns
       "not_claimed"): re-check session state, quiet hours, STOP and the daily/weekly SMS budget,
       render, call the channel with idempotency key = reminder key (if this worker dies after
       the provider accepted but before we commit, the re-claimed retry gets the same message
       back instead of sending a second one), then mark every row in one query and commit.
       Transient provider errors put the row back to pending with a capped backoff; the last
       attempt or a permanent error marks it failed and flags the coordinator.
    """
    from scheduling.models.reminders import Reminder

    now = now or timezone.now()
    ids = sorted({int(i) for i in reminder_ids})
    outcomes = dict.fromkeys(ids, "not_claimed")
    if not ids:
        return outcomes
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(_LEASE_SQL, {"ids": ids, "now": now, "max": MAX_ATTEMPTS})
        leased = dict(cur.fetchall())
    exhausted = sorted(i for i, before in leased.items() if before >= MAX_ATTEMPTS)
    live = sorted(i for i, before in leased.items() if before < MAX_ATTEMPTS)
    for rid in exhausted:
        with transaction.atomic():
            row = (
                Reminder.objects.select_for_update(skip_locked=True)
                .filter(pk=rid, status="sending")
                .first()
            )
            if row is not None:
                _fail(row, now, row.last_error or "no outcome after the last attempt")
                outcomes[rid] = "failed"
    if live:
        started = time.monotonic()
        sent = _send_locked(live, now)
        outcomes.update(sent)
        tried = sum(1 for o in sent.values() if o not in ("returned", "not_claimed"))
        _record_send_rate(tried, time.monotonic() - started)
    return outcomes


@transaction.atomic
def _send_locked(ids: list[int], now: datetime) -> dict[int, str]:
    from scheduling.channels import PermanentSendError, TransientSendError, get_channel
    from scheduling.models import Session
    from scheduling.models.reminders import Reminder, SmsOptOut

    rows = list(
        Reminder.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("patient")
        .filter(pk__in=ids, status="sending")
        .order_by("due_at", "pk")
    )
    outcomes: dict[int, str] = {}
    if not rows:
        return outcomes
    wanted = {
        int(i)
        for r in rows
        for i in (list(r.session_ids) or ([r.session_id] if r.session_id else []))
    }
    sessions = {
        s.pk: s
        for s in Session.objects.filter(pk__in=wanted)
        .select_related("clinic")
        .annotate(preparation_text=F("component__protocol__preparation"))
        .order_by("starts_at", "pk")
    }
    sms_rows = [r for r in rows if r.channel == "sms"]
    phones = {r.patient.phone for r in sms_rows if r.patient.phone}
    opted_out = (
        set(SmsOptOut.objects.filter(phone__in=phones).values_list("phone", flat=True))
        if phones
        else set()
    )
    sent_sms: dict[int, list[datetime]] = defaultdict(list)
    if sms_rows:
        for pid, sent_at in Reminder.objects.filter(
            patient_id__in={r.patient_id for r in sms_rows},
            channel="sms",
            status="sent",
            sent_at__gte=now - timedelta(days=8),
        ).values_list("patient_id", "sent_at"):
            if sent_at is not None:
                sent_sms[pid].append(sent_at)
    channels: dict[str, Any] = {}
    failed: list[tuple[Any, Any]] = []
    deadline = time.monotonic() + send_batch_seconds()
    for n, reminder in enumerate(rows):
        if n and time.monotonic() > deadline:  # every batch makes progress: the first row goes
            # Out of time (slow provider): hand the rest back untried for the next claim.
            reminder.status, reminder.claimed_at = "pending", None
            reminder.attempts = max(0, reminder.attempts - 1)
            outcomes[reminder.pk] = "returned"
            continue
        wanted_ids = list(reminder.session_ids) or (
            [reminder.session_id] if reminder.session_id else []
        )
        mine = [sessions[i] for i in wanted_ids if i in sessions]
        mine.sort(key=lambda s: (s.starts_at, s.pk))
        outcome, fields = _decide(
            reminder,
            mine,
            now=now,
            opted_out=opted_out,
            sent_sms=sent_sms,
            channels=channels,
            get_channel=get_channel,
            errors=(TransientSendError, PermanentSendError),
        )
        for k, v in fields.items():
            setattr(reminder, k, v)
        outcomes[reminder.pk] = outcome
        if outcome == "sent" and reminder.channel == "sms":
            sent_sms[reminder.patient_id].append(now)
        if outcome == "failed":
            sid = reminder.session_id or (reminder.session_ids[0] if reminder.session_ids else 0)
            failed.append((reminder, sessions.get(sid)))
    _mark_many(rows, now)
    for reminder, session in failed:
        _open_failure_flag(reminder, session)
    return outcomes


def _decide(
    reminder, live, *, now, opted_out, sent_sms, channels, get_channel, errors
) -> tuple[str, dict[str, Any]]:
    """The outcome of one locked row and the fields it changes (the provider call included)."""
    transient, permanent = errors
    patient = reminder.patient
    if reminder.kind != "change_notice":
        live = [s for s in live if s.status in _LIVE_SESSION_STATUSES]
    if not live:
        return "cancelled", {"status": "cancelled", "skip_reason": "session_cancelled"}
    first_start = min(s.starts_at for s in live)
    if first_start <= now:
        return "skipped", {"status": "skipped", "skip_reason": "session_started"}
    if rules.in_quiet_hours(now, patient.timezone, _DEFAULT_POLICY):
        return "deferred_quiet_hours", {"status": "pending", "claimed_at": None}
    if reminder.channel == "sms":
        to = patient.phone
        if not to or to in opted_out:
            return "skipped", {"status": "skipped", "skip_reason": "sms_opt_out"}
        reason = _sms_budget_reason(reminder, now, sent_sms.get(reminder.patient_id, ()))
        if reason is not None:
            # Today's text is used up (FCC 15-72): try tomorrow morning if that is still
            # before the visit (e.g. a change notice after the day's reminder), else skip.
            nxt = _next_local_morning(now, patient.timezone)
            if reason == str(rules.SkipReason.SMS_DAILY_LIMIT) and nxt < first_start:
                return "deferred_budget", {"status": "pending", "due_at": nxt, "claimed_at": None}
            return "skipped", {"status": "skipped", "skip_reason": reason}
    else:
        to = patient.email
        if not to:
            return "skipped", {"status": "skipped", "skip_reason": "no_email"}
    try:
        subject, body = _render(reminder, {s.pk: s for s in live})
    except (rules.ForbiddenTermError, ValueError) as exc:
        return "failed", {"status": "failed", "last_error": f"render: {exc}"[:2000]}
    if reminder.channel not in channels:
        channels[reminder.channel] = get_channel(reminder.channel)
    try:
        result = channels[reminder.channel].send(
            to=to, body=body, subject=subject, idempotency_key=reminder.key
        )
    except transient as exc:
        if reminder.attempts >= MAX_ATTEMPTS:
            return "failed", {"status": "failed", "last_error": f"transient: {exc}"[:2000]}
        return "retry", {
            "status": "pending",
            "due_at": now + backoff(reminder.attempts),
            "last_error": str(exc)[:2000],
            "claimed_at": None,
        }
    except permanent as exc:
        return "failed", {"status": "failed", "last_error": f"permanent: {exc}"[:2000]}
    return "sent", {
        "status": "sent",
        "sent_at": now,
        "provider_id": result.provider_id,
        "subject": subject,
        "body": body,
        "announced_starts_at": first_start,
        "announced": {str(s.pk): s.starts_at.isoformat() for s in live},
    }


def _fail(reminder, now: datetime, error: str) -> None:
    """Final failure: the row says why, and the plan's coordinator gets a REMINDER_FAILED flag."""
    from scheduling.models import Session

    _mark(reminder, now, status="failed", last_error=error[:2000])
    sid = reminder.session_id or (reminder.session_ids[0] if reminder.session_ids else None)
    session = Session.objects.filter(pk=sid).select_related("component").first() if sid else None
    _open_failure_flag(reminder, session)


def _open_failure_flag(reminder, session) -> None:
    from plans.flag_codes import FlagCode
    from plans.models import Flag

    if session is None:
        return
    try:
        with transaction.atomic():
            Flag.objects.get_or_create(
                plan_id=session.component.plan_id,
                code=FlagCode.REMINDER_FAILED,
                requirement_key=str(session.pk),
                status="open",
                defaults={
                    "component_id": session.component_id,
                    "session_id": session.pk,
                    "severity": "warning",
                    "message": "A patient reminder could not be delivered; contact the patient.",
                    "detail": {"reminder_id": reminder.pk, "channel": reminder.channel},
                    "due_at": session.starts_at,
                },
            )
    except IntegrityError:  # a concurrent writer opened it first: one open flag per gap
        pass
