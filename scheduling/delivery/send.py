"""Reminder send: one claimed batch sent under its row locks, marked in one query (see the
package docstring)."""

from __future__ import annotations

import json
import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from notifications.channels import PermanentSendError, TransientSendError, get_channel
from notifications.models import SmsOptOut
from notifications.terms import ForbiddenTermError, contains_forbidden_term
from plans.flag_codes import FlagCode
from plans.models import Flag
from scheduling.delivery.dispatch import _record_send_rate, send_batch_seconds
from scheduling.models import Session
from scheduling.models.reminders import Reminder
from scheduling.reminders import (
    _DEFAULT_POLICY,
    _LIVE_SESSION_STATUSES,
    MAX_ATTEMPTS,
    backoff,
)
from scheduling.rules.reminders.planning import check_sms_budget
from scheduling.rules.reminders.policy import SkipReason, in_quiet_hours
from scheduling.rules.reminders.texts import (
    render_change_notice_sms,
    render_digest_sms,
    render_email,
    render_sms,
)

logger = logging.getLogger(__name__)


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
        raise ForbiddenTermError("", "session")  # nothing to announce
    first = sessions[0]
    clinic = first.clinic
    common = {
        "clinic_name": clinic.name,
        "clinic_phone": clinic.phone,
        "room_or_address": clinic.address,
    }
    if reminder.kind == "weekly_digest":
        body = render_digest_sms(
            local_starts=[s.starts_at.astimezone(zone) for s in sessions], **common
        )
        return "", body
    local_start = first.starts_at.astimezone(zone)
    if reminder.kind == "change_notice":
        cancelled = reminder.key.endswith(":cancelled")
        if reminder.channel == "sms":
            return "", render_change_notice_sms(
                local_start=local_start, cancelled=cancelled, **common
            )
        subject, body = render_email(
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
    if preparation and contains_forbidden_term(preparation):
        preparation = ""
    if reminder.channel == "sms":
        return "", render_sms(
            kind=reminder.kind, local_start=local_start, preparation=preparation, **common
        )
    return render_email(
        kind=reminder.kind, local_start=local_start, preparation=preparation, **common
    )


def _sms_budget_reason(reminder, now: datetime, sent_at: Iterable[datetime]) -> str | None:
    """Send-time guard of FCC 15-72 (1/day, 3/week, patient-local) over SMS actually sent
    (``sent_at``: the patient's other SMS sent in the last 8 days, this batch included)."""
    zone = ZoneInfo(reminder.patient.timezone)
    today = now.astimezone(zone).date()
    week_start = today - timedelta(days=today.weekday())
    sent_days = [s.astimezone(zone).date() for s in sent_at]
    return check_sms_budget(
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
_MARK_COLUMNS = (
    "status",
    "attempts",
    "due_at",
    "claimed_at",
    "sent_at",
    "provider_id",
    "subject",
    "body",
    "skip_reason",
    "last_error",
    "announced_starts_at",
    "announced",
)
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
    if in_quiet_hours(now, patient.timezone, _DEFAULT_POLICY):
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
            if reason == str(SkipReason.SMS_DAILY_LIMIT) and nxt < first_start:
                return "deferred_budget", {"status": "pending", "due_at": nxt, "claimed_at": None}
            return "skipped", {"status": "skipped", "skip_reason": reason}
    else:
        to = patient.email
        if not to:
            return "skipped", {"status": "skipped", "skip_reason": "no_email"}
    try:
        subject, body = _render(reminder, {s.pk: s for s in live})
    except (ForbiddenTermError, ValueError) as exc:
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
    _mark(reminder, now, status="failed", last_error=error[:2000])
    sid = reminder.session_id or (reminder.session_ids[0] if reminder.session_ids else None)
    session = Session.objects.filter(pk=sid).select_related("component").first() if sid else None
    _open_failure_flag(reminder, session)


def _open_failure_flag(reminder, session) -> None:
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
