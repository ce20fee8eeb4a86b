"""Reminder services: rows planned with their sessions, claimed by a beat tick, sent once.

DESIGN.md §4 promises 4–6; docs/adr/0002-reminder-delivery.md. The public entry point for other
apps is ``on_sessions_changed``; everything else is called by ``scheduling.tasks``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from scheduling.rules import reminders as rules

SESSION_CHANGES = frozenset({"created", "moved", "cancelled", "status"})


def on_sessions_changed(*, session_ids: list[int], change: str) -> None:
    """Re-plan the reminder rows of ``session_ids`` after the caller's transaction commits.

    Called by the scheduling services inside their transaction. Nothing is published before
    commit (DESIGN.md §4 promise 6): the re-plan task carries only ids and is idempotent (it reads
    the sessions as committed and upserts rows by key), so a duplicate call is harmless.
    """
    if change not in SESSION_CHANGES:
        raise ValueError(f"unknown session change {change!r}")
    ids = sorted({int(i) for i in session_ids})
    if not ids:
        return

    def _enqueue() -> None:
        from scheduling.tasks import sync_session_reminders

        try:
            sync_session_reminders.apply_async(
                kwargs={"session_ids": ids, "change": change}, queue="reminders"
            )
        except Exception:  # broker unreachable: re-plan inline rather than lose the change
            logger.warning("reminder sync not published; running inline", exc_info=True)
            sync_reminders_for_sessions(session_ids=ids)

    transaction.on_commit(_enqueue)


logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
# Retries are rows, not Celery countdowns (DESIGN.md §4 promise 4): a transient failure puts the
# row back to pending with due_at = now + backoff, capped at a few minutes.
BACKOFF_BASE_S = 30
BACKOFF_CAP_S = 300
_REPLAN_STATUSES = ("pending", "skipped", "cancelled")
_FINAL_OR_IN_FLIGHT = ("sending", "sent", "failed")
_LIVE_SESSION_STATUSES = ("booked", "arrived")


def claim_timeout() -> timedelta:
    """How long a claimed ('sending') row may sit before a tick hands it out again.

    A worker killed mid-send leaves its row 'sending'. Handing it out again is safe because the
    provider call carries the reminder key as idempotency key (the ledger keeps one message per
    key) and the send holds the row lock, so the timeout only bounds how late a retry comes.
    """
    return timedelta(seconds=getattr(settings, "REMINDER_CLAIM_TIMEOUT_SECONDS", 600))


def max_in_flight() -> int:
    """Most rows claimed-but-not-started at once (see ``dispatch_due_reminders``)."""
    return getattr(settings, "REMINDER_MAX_IN_FLIGHT", 1000)


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** max(0, attempts - 1)))


def policy_for_clinic(clinic) -> rules.ReminderPolicy:
    """The clinic's reminder policy (offsets in minutes; optional same-day), FCC/quiet defaults."""
    offsets = tuple(timedelta(minutes=m) for m in (clinic.reminder_offsets_minutes or []) if m)
    same_day = clinic.same_day_reminder_minutes
    return rules.ReminderPolicy(
        offsets=tuple(dict.fromkeys(offsets)) or (timedelta(hours=24),),
        same_day_offset=timedelta(minutes=same_day) if same_day else None,
    )


_DEFAULT_POLICY = rules.ReminderPolicy()


# ---------------------------------------------------------------------------------------------
# Planning rows with their sessions


@dataclass
class SyncResult:
    created: int = 0
    updated: int = 0
    cancelled: int = 0
    change_notices: int = 0


def _patient_info(patient, opted_out: bool) -> rules.PatientInfo:
    return rules.PatientInfo(
        patient_id=patient.pk,
        tz=patient.timezone,
        channel=patient.preferred_channel or "none",
        sms_opted_out=opted_out,
        has_phone=bool(patient.phone) and patient.sms_consent_at is not None,
        has_email=bool(patient.email),
    )


def _session_info(session) -> rules.SessionInfo:
    clinic = session.clinic
    return rules.SessionInfo(
        session_id=session.pk,
        start=session.starts_at,
        clinic_name=clinic.name,
        clinic_phone=clinic.phone,
        clinic_address=clinic.address,
        room=None,
        preparation="",
        clinic_tz=clinic.timezone,
    )


@transaction.atomic
def sync_reminders_for_sessions(
    *, session_ids: list[int], now: datetime | None = None
) -> SyncResult:
    """Create, move and cancel reminder rows so they match the sessions as committed.

    Re-plans every affected patient's whole upcoming schedule (the digest and the 1/day, 3/week
    budget are per patient, FCC 15-72) and upserts by ``key``: pending/skipped rows follow their
    session, rows no longer planned are cancelled, rows already sending/sent/failed are never
    touched. A session moved or cancelled after its reminder was sent gets one change notice
    (key carries the new start, so a repeated sync adds nothing). Idempotent.
    """
    from plans.models import Patient
    from scheduling.models import Session
    from scheduling.models.reminders import Reminder, SmsOptOut

    now = now or timezone.now()
    result = SyncResult()
    patient_ids = sorted(
        set(Session.objects.filter(pk__in=session_ids).values_list("patient_id", flat=True))
    )
    if not patient_ids:
        return result
    # One writer per patient at a time; locks in primary-key order (STYLE.md, Saleor habit).
    patients = list(Patient.objects.select_for_update().filter(pk__in=patient_ids).order_by("pk"))
    opted_out = set(
        SmsOptOut.objects.filter(phone__in=[p.phone for p in patients if p.phone]).values_list(
            "phone", flat=True
        )
    )
    horizon = now - timedelta(days=8)  # the current week's earlier sessions count for digests
    sessions = list(
        Session.objects.filter(patient_id__in=patient_ids, starts_at__gte=horizon)
        .select_related("clinic")
        .order_by("starts_at", "pk")
    )
    cancelled_ids = {
        s.pk
        for s in Session.objects.filter(pk__in=session_ids).exclude(
            status__in=_LIVE_SESSION_STATUSES
        )
    }
    rows = list(Reminder.objects.select_for_update().filter(patient_id__in=patient_ids))
    by_key = {r.key: r for r in rows}

    for patient in patients:
        mine = [s for s in sessions if s.patient_id == patient.pk]
        live = [s for s in mine if s.status in _LIVE_SESSION_STATUSES]
        upcoming = [s for s in live if s.starts_at > now]
        policy = policy_for_clinic(upcoming[0].clinic) if upcoming else _DEFAULT_POLICY
        info = _patient_info(patient, patient.phone in opted_out)
        my_rows = [r for r in rows if r.patient_id == patient.pk]
        prior_sms = [
            r.due_at
            for r in my_rows
            if r.channel == "sms" and r.status in ("sending", "sent") and r.due_at
        ]
        planned = rules.plan_reminders(
            sessions=[_session_info(s) for s in live],
            patient=info,
            policy=policy,
            now=now,
            prior_sms_due=prior_sms,
        )
        starts = {s.pk: s.starts_at for s in mine}
        planned_keys = set()
        for p in planned:
            planned_keys.add(p.key)
            existing = by_key.get(p.key)
            if existing is not None and existing.status in _FINAL_OR_IN_FLIGHT:
                continue
            ids = [int(i) for i in p.session_ids]
            fields = {
                "patient_id": patient.pk,
                "session_id": int(p.session_id) if p.session_id is not None else None,
                "session_ids": ids,
                "channel": p.channel,
                "kind": str(p.kind),
                "due_at": p.due_at or now,
                "status": "skipped" if p.skipped else "pending",
                "skip_reason": str(p.skip_reason or ""),
                "announced_starts_at": starts.get(ids[0]) if ids else None,
            }
            if existing is None:
                row = Reminder.objects.create(key=p.key, **fields)
                by_key[p.key] = row
                rows.append(row)
                result.created += 1
            elif any(getattr(existing, k) != v for k, v in fields.items()):
                for k, v in fields.items():
                    setattr(existing, k, v)
                existing.save(update_fields=[*fields, "updated_at"])
                result.updated += 1
        # Rows that are no longer planned (session cancelled or moved into a digest week,
        # channel changed, STOP): cancel the pending ones. Change notices are handled below.
        stale = [
            r.pk
            for r in my_rows
            if r.status == "pending" and r.kind != "change_notice" and r.key not in planned_keys
        ]
        if stale:
            result.cancelled += Reminder.objects.filter(pk__in=stale).update(
                status="cancelled", updated_at=now
            )
        result.change_notices += _plan_change_notices(
            patient=patient,
            info=info,
            policy=policy,
            sessions=mine,
            rows=[r for r in rows if r.patient_id == patient.pk],
            cancelled_ids=cancelled_ids,
            now=now,
        )
    return result


def _plan_change_notices(*, patient, info, policy, sessions, rows, cancelled_ids, now) -> int:
    """One "your appointment changed" notice per move (or cancellation) of a session whose
    reminder already went out (issue 5). Sent on the channel that carried the reminder."""
    from scheduling.models.reminders import Reminder

    by_session = {s.pk: s for s in sessions}
    created = 0
    announced: dict[tuple[int, str], datetime] = {}
    for r in rows:
        if r.status == "sent" and r.kind == "weekly_digest":
            for sid, iso in (r.announced or {}).items():
                announced[(int(sid), r.channel)] = datetime.fromisoformat(iso)
    for r in rows:
        sent = r.status == "sent" and r.kind in ("reminder", "same_day")
        if sent and r.session_id and r.announced_starts_at is not None:
            announced[(r.session_id, r.channel)] = r.announced_starts_at
    live_notice_keys: set[str] = set()
    for (sid, channel), was in announced.items():
        session = by_session.get(sid)
        if session is None or session.starts_at <= now:
            continue
        if channel == "sms" and info.sms_opted_out:
            continue
        if session.status in _LIVE_SESSION_STATUSES and session.starts_at != was:
            key = f"session:{sid}:{channel}:change:{int(session.starts_at.timestamp())}"
        elif sid in cancelled_ids and session.status == "cancelled":
            key = f"session:{sid}:{channel}:change:cancelled"
        else:
            continue
        live_notice_keys.add(key)
        if any(r.key == key for r in rows):
            continue
        due = rules.due_time(
            session_start=session.starts_at,
            offset=max(session.starts_at - now, timedelta(minutes=1)),
            patient_tz=info.tz,
            policy=policy,
            now=now,
        )
        try:
            with transaction.atomic():
                Reminder.objects.create(
                    key=key,
                    patient_id=patient.pk,
                    session_id=sid,
                    session_ids=[sid],
                    channel=channel,
                    kind="change_notice",
                    due_at=due or now,
                    status="pending" if due else "skipped",
                    skip_reason="" if due else str(rules.SkipReason.NO_ALLOWED_TIME),
                    announced_starts_at=session.starts_at,
                )
            created += 1
        except IntegrityError:  # pragma: no cover - the patient lock makes this unreachable
            continue
    # A notice for an intermediate time that has not gone out yet is superseded.
    superseded = [
        r.pk
        for r in rows
        if r.kind == "change_notice" and r.status == "pending" and r.key not in live_notice_keys
    ]
    if superseded:
        Reminder.objects.filter(pk__in=superseded).update(status="cancelled", updated_at=now)
    return created


# ---------------------------------------------------------------------------------------------
# Dispatch: claim due rows (the beat tick)

_CLAIM_SQL = """
WITH zones AS MATERIALIZED (SELECT name FROM pg_timezone_names),
due AS (
    SELECT r.id
    FROM scheduling_reminder r
    JOIN plans_patient p ON p.id = r.patient_id
    LEFT JOIN zones z ON z.name = p.timezone  -- an unknown zone must not stop the tick
    CROSS JOIN LATERAL (
        SELECT CASE WHEN z.name IS NOT NULL
                    THEN (%(now)s AT TIME ZONE p.timezone)::time END AS local_time
    ) l
    WHERE (
        (r.status = 'pending' AND r.due_at <= %(now)s)
        OR (r.status = 'sending' AND r.claimed_at < %(stale_before)s)
    )
    AND l.local_time >= %(quiet_end)s
    AND l.local_time < %(quiet_start)s
    ORDER BY r.due_at, r.id
    LIMIT %(batch)s
    FOR UPDATE OF r SKIP LOCKED
)
UPDATE scheduling_reminder r
SET status = 'sending', claimed_at = %(now)s, updated_at = %(now)s
FROM due WHERE r.id = due.id
RETURNING r.id
"""


def claim_due_reminders(*, now: datetime | None = None, batch_size: int = 200) -> list[int]:
    """Claim up to ``batch_size`` due rows: pending and due, or 'sending' past the claim timeout
    (its task was lost: worker killed, Redis restarted), and only where it is now 08:00–21:00
    for the patient (47 CFR 64.1200).

    ``FOR UPDATE SKIP LOCKED``: concurrent ticks (two beats, a manual dispatch) take disjoint
    rows and never wait on each other, and a row a worker is sending right now (locked) is never
    re-claimed (DESIGN.md §4 promise 4). Commits before returning.
    """
    now = now or timezone.now()
    if batch_size <= 0:
        return []
    params: dict[str, Any] = {
        "now": now,
        "stale_before": now - claim_timeout(),
        "batch": batch_size,
        "quiet_end": _DEFAULT_POLICY.quiet_start,  # allowed window starts where quiet ends
        "quiet_start": _DEFAULT_POLICY.quiet_end,
    }
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(_CLAIM_SQL, params)
        return sorted(row[0] for row in cur.fetchall())


def expire_unsendable_reminders(*, now: datetime | None = None) -> int:
    """Waiting rows whose session has started are skipped (never remind after the visit)."""
    from scheduling.models.reminders import Reminder

    now = now or timezone.now()
    waiting = Q(status="pending") | Q(status="sending", claimed_at__lt=now - claim_timeout())
    return Reminder.objects.filter(waiting, due_at__lte=now, session__starts_at__lte=now).update(
        status="skipped", skip_reason="session_started", updated_at=now
    )


def dispatch_due_reminders(
    *, now: datetime | None = None, batch_size: int = 200, max_batches: int = 25, enqueue=None
) -> list[int]:
    """The beat tick: claim due rows in batches and hand each id to a send task on commit.

    ``enqueue(ids)`` defaults to publishing ``scheduling.send_reminder`` on the "reminders"
    queue. If publishing fails (Redis down) the rows stay 'sending' and a later tick re-claims
    them after ``claim_timeout()`` — the broker is only a doorbell.
    """
    from scheduling.models.reminders import Reminder

    if enqueue is None:
        enqueue = _enqueue_sends
    now = now or timezone.now()
    expire_unsendable_reminders(now=now)
    # Back-pressure: never have more rows waiting in the queue than the workers can start
    # within the claim timeout, or they would be re-claimed (harmless, but wasted work).
    in_flight = Reminder.objects.filter(
        status="sending", claimed_at__gte=now - claim_timeout()
    ).count()
    room = max_in_flight() - in_flight
    claimed: list[int] = []
    for _ in range(max_batches):
        ids = claim_due_reminders(now=now, batch_size=min(batch_size, room - len(claimed)))
        if not ids:
            break
        claimed.extend(ids)
        enqueue(ids)
        if len(ids) < batch_size:
            break
    return claimed


def _enqueue_sends(ids: list[int]) -> None:
    from scheduling.tasks import send_reminder

    for rid in ids:
        try:
            send_reminder.apply_async(kwargs={"reminder_id": rid}, queue="reminders")
        except Exception:  # broker down: the claim timeout brings the row back
            logger.warning("could not publish send for reminder %s", rid, exc_info=True)


# ---------------------------------------------------------------------------------------------
# Send one row (idempotent)


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
    preparation = ""
    component = getattr(first, "component", None)
    protocol = getattr(component, "protocol", None)
    if protocol is not None and protocol.preparation:
        preparation = protocol.preparation
        if rules.contains_forbidden_term(preparation):
            preparation = ""
    if reminder.channel == "sms":
        return "", rules.render_sms(
            kind=reminder.kind, local_start=local_start, preparation=preparation, **common
        )
    return rules.render_email(
        kind=reminder.kind, local_start=local_start, preparation=preparation, **common
    )


def _sms_budget_reason(reminder, now: datetime) -> str | None:
    """Send-time guard of FCC 15-72 (1/day, 3/week, patient-local) over SMS actually sent."""
    from scheduling.models.reminders import Reminder

    zone = ZoneInfo(reminder.patient.timezone)
    today = now.astimezone(zone).date()
    week_start = today - timedelta(days=today.weekday())
    sent = Reminder.objects.filter(
        patient_id=reminder.patient_id,
        channel="sms",
        status="sent",
        sent_at__gte=now - timedelta(days=8),
    ).exclude(pk=reminder.pk)
    sent_days = [
        s.astimezone(zone).date() for s in sent.values_list("sent_at", flat=True) if s is not None
    ]
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


def send_reminder(*, reminder_id: int, now: datetime | None = None) -> str:
    """Send one claimed row at most once in effect; returns the outcome.

    The row is locked (``SKIP LOCKED``: a second copy of the task returns at once) and must be
    'sending'; the provider call carries the row key as idempotency key, so if this worker dies
    after the provider accepted but before we commit 'sent', the re-claimed retry gets the same
    message back from the provider instead of a second one. Transient provider errors put the row
    back to pending with a capped backoff; the last attempt or a permanent error marks it failed
    and flags the coordinator (REMINDER_FAILED).
    """
    from scheduling.channels import PermanentSendError, TransientSendError, get_channel
    from scheduling.models import Session
    from scheduling.models.reminders import Reminder, SmsOptOut

    now = now or timezone.now()
    # 1. Take the lease: count the attempt and refresh claimed_at, committed before the
    #    provider is called, so a message that kills its worker every time still ends (failed
    #    after MAX_ATTEMPTS) and a slow queue does not make the row look lost.
    with transaction.atomic():
        leased = (
            Reminder.objects.select_for_update(skip_locked=True)
            .filter(pk=reminder_id, status="sending")
            .first()
        )
        if leased is None:
            return "not_claimed"
        if leased.attempts >= MAX_ATTEMPTS:
            _fail(leased, now, leased.last_error or "no outcome after the last attempt")
            return "failed"
        _mark(leased, now, attempts=leased.attempts + 1, claimed_at=now)
    # 2. Send under the row lock (a duplicate task skips it) and record the outcome.
    with transaction.atomic():
        reminder = (
            Reminder.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("patient")
            .filter(pk=reminder_id, status="sending")
            .first()
        )
        if reminder is None:
            return "not_claimed"
        patient = reminder.patient
        ids = list(reminder.session_ids) or ([reminder.session_id] if reminder.session_id else [])
        session_map = {
            s.pk: s
            for s in Session.objects.filter(pk__in=ids)
            .select_related("clinic", "component__protocol")
            .order_by("starts_at")
        }
        live = [s for s in session_map.values() if s.status in _LIVE_SESSION_STATUSES]
        if reminder.kind == "change_notice":
            live = list(session_map.values())
        if not live:
            _mark(reminder, now, status="cancelled", skip_reason="session_cancelled")
            return "cancelled"
        if min(s.starts_at for s in live) <= now:
            _mark(reminder, now, status="skipped", skip_reason="session_started")
            return "skipped"
        if rules.in_quiet_hours(now, patient.timezone, _DEFAULT_POLICY):
            _mark(reminder, now, status="pending", claimed_at=None)
            return "deferred_quiet_hours"
        if reminder.channel == "sms":
            to = patient.phone
            if not to or SmsOptOut.objects.filter(phone=to).exists():
                _mark(reminder, now, status="skipped", skip_reason="sms_opt_out")
                return "skipped"
            reason = _sms_budget_reason(reminder, now)
            if reason is not None:
                # Today's text is used up (FCC 15-72): try tomorrow morning if that is still
                # before the visit (e.g. a change notice after the day's reminder), else skip.
                nxt = _next_local_morning(now, patient.timezone)
                first = min(s.starts_at for s in live)
                if reason == str(rules.SkipReason.SMS_DAILY_LIMIT) and nxt < first:
                    _mark(reminder, now, status="pending", due_at=nxt, claimed_at=None)
                    return "deferred_budget"
                _mark(reminder, now, status="skipped", skip_reason=reason)
                return "skipped"
        else:
            to = patient.email
            if not to:
                _mark(reminder, now, status="skipped", skip_reason="no_email")
                return "skipped"
        try:
            subject, body = _render(reminder, {s.pk: s for s in live})
        except (rules.ForbiddenTermError, ValueError) as exc:
            _fail(reminder, now, f"render: {exc}")
            return "failed"
        try:
            result = get_channel(reminder.channel).send(
                to=to, body=body, subject=subject, idempotency_key=reminder.key
            )
        except TransientSendError as exc:
            if reminder.attempts >= MAX_ATTEMPTS:
                _fail(reminder, now, f"transient: {exc}")
                return "failed"
            _mark(
                reminder,
                now,
                status="pending",
                due_at=now + backoff(reminder.attempts),
                last_error=str(exc)[:2000],
                claimed_at=None,
            )
            return "retry"
        except PermanentSendError as exc:
            _fail(reminder, now, f"permanent: {exc}")
            return "failed"
        _mark(
            reminder,
            now,
            status="sent",
            sent_at=now,
            provider_id=result.provider_id,
            subject=subject,
            body=body,
            announced_starts_at=min(s.starts_at for s in live),
            announced={str(s.pk): s.starts_at.isoformat() for s in live},
        )
        return "sent"


def _fail(reminder, now: datetime, error: str) -> None:
    """Final failure: the row says why, and the plan's coordinator gets a REMINDER_FAILED flag."""
    from plans.flag_codes import FlagCode
    from plans.models import Flag
    from scheduling.models import Session

    _mark(reminder, now, status="failed", last_error=error[:2000])
    sid = reminder.session_id or (reminder.session_ids[0] if reminder.session_ids else None)
    session = Session.objects.filter(pk=sid).select_related("component").first() if sid else None
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


# ---------------------------------------------------------------------------------------------
# Inbound SMS: STOP / START / HELP (FCC 24-24; DOMAIN.md §7.3)


@transaction.atomic
def handle_inbound_sms(
    *, provider_id: str, from_number: str, body: str, now: datetime | None = None
) -> str:
    """Record an inbound text and act on STOP/START/HELP; returns the keyword or "none"/"dup".

    STOP: the opt-out is recorded at once (pending SMS reminders to that number are skipped in
    the same transaction) and exactly one confirmation is sent — only when the number was not
    already opted out. START removes the opt-out, confirms once and re-plans the patients'
    reminders. HELP answers with the clinic name and callback number. A webhook redelivered with
    the same ``provider_id`` is ignored (unique row), so it never confirms twice.
    """
    from backend.audit.services import record_event
    from plans.models import Patient
    from scheduling.models import Session
    from scheduling.models.reminders import InboundMessage, Reminder, SmsOptOut

    now = now or timezone.now()
    keyword = rules.parse_inbound_keyword(body) or ""
    _, created = InboundMessage.objects.get_or_create(
        provider_id=provider_id,
        defaults={
            "from_number": from_number,
            "body": body[:2000],
            "keyword": keyword,
            "received_at": now,
        },
    )
    if not created:
        return "dup"
    patient_ids = list(Patient.objects.filter(phone=from_number).values_list("pk", flat=True))
    reply = ""
    if keyword == "stop":
        optout, new = SmsOptOut.objects.get_or_create(
            phone=from_number, defaults={"opted_out_at": now}
        )
        Reminder.objects.filter(patient_id__in=patient_ids, channel="sms", status="pending").update(
            status="skipped", skip_reason="sms_opt_out", updated_at=now
        )
        if new:
            reply = rules.STOP_CONFIRMATION
            optout.confirmation_sent_at = now
            optout.save(update_fields=["confirmation_sent_at"])
        for pid in patient_ids:
            record_event(
                actor=None,
                action="update",
                object_type="scheduling.smsoptout",
                object_id=optout.pk,
                patient_id=pid,
                detail={"keyword": "stop"},
            )
    elif keyword == "start":
        deleted, _ = SmsOptOut.objects.filter(phone=from_number).delete()
        if deleted:
            reply = rules.START_CONFIRMATION
            session_ids = list(
                Session.objects.filter(
                    patient_id__in=patient_ids,
                    starts_at__gt=now,
                    status__in=_LIVE_SESSION_STATUSES,
                ).values_list("pk", flat=True)
            )
            if session_ids:
                on_sessions_changed(session_ids=session_ids, change="status")
    elif keyword == "help":
        clinic = (
            Session.objects.filter(patient_id__in=patient_ids)
            .select_related("clinic")
            .order_by("-starts_at")
            .first()
        )
        if clinic is not None:
            reply = rules.render_help_text(
                clinic_name=clinic.clinic.name, clinic_phone=clinic.clinic.phone
            )
        else:
            reply = "Appointment reminders. Reply STOP to opt out."
    if reply:
        key = f"inbound:{provider_id}:reply"

        def _reply() -> None:
            from scheduling.channels import get_channel

            try:
                get_channel("sms").send(to=from_number, body=reply, idempotency_key=key)
            except Exception:
                logger.warning("could not send %s reply to inbound %s", keyword, provider_id)

        transaction.on_commit(_reply)
    return keyword or "none"
