"""Reminder services: rows planned with their sessions, claimed by a beat tick, sent once.

DESIGN.md §4 promises 4–6; docs/adr/0002-reminder-delivery.md. The public entry point for other
apps is ``on_sessions_changed``; everything else is called by ``scheduling.tasks``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from backend.audit.services import record_event
from backend.celery import app
from notifications.channels import get_channel
from notifications.inbound import parse_inbound_keyword
from notifications.models import InboundMessage, SmsOptOut
from notifications.rendering import START_CONFIRMATION, STOP_CONFIRMATION, render_help_text
from plans.models import Patient
from scheduling.models import Session
from scheduling.models.reminders import Reminder
from scheduling.rules.reminders.planning import plan_reminders
from scheduling.rules.reminders.policy import (
    PatientInfo,
    ReminderPolicy,
    SessionInfo,
    SkipReason,
    due_time,
)

SESSION_CHANGES = frozenset({"created", "moved", "cancelled", "status"})
SYNC_TASK = "scheduling.sync_session_reminders"  # registered in scheduling/tasks.py


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
        # By task name: scheduling.tasks imports this module, never the reverse.
        try:
            app.send_task(
                SYNC_TASK, kwargs={"session_ids": ids, "change": change}, queue="reminders"
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


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** max(0, attempts - 1)))


def policy_for_clinic(clinic) -> ReminderPolicy:
    """The clinic's reminder policy (offsets in minutes; optional same-day), FCC/quiet defaults."""
    offsets = tuple(timedelta(minutes=m) for m in (clinic.reminder_offsets_minutes or []) if m)
    same_day = clinic.same_day_reminder_minutes
    return ReminderPolicy(
        offsets=tuple(dict.fromkeys(offsets)) or (timedelta(hours=24),),
        same_day_offset=timedelta(minutes=same_day) if same_day else None,
    )


_DEFAULT_POLICY = ReminderPolicy()


# ---------------------------------------------------------------------------------------------
# Planning rows with their sessions


@dataclass
class SyncResult:
    created: int = 0
    updated: int = 0
    cancelled: int = 0
    change_notices: int = 0


def _patient_info(patient, opted_out: bool) -> PatientInfo:
    return PatientInfo(
        patient_id=patient.pk,
        tz=patient.timezone,
        channel=patient.preferred_channel or "none",
        sms_opted_out=opted_out,
        has_phone=bool(patient.phone) and patient.sms_consent_at is not None,
        has_email=bool(patient.email),
    )


def _session_info(session) -> SessionInfo:
    clinic = session.clinic
    return SessionInfo(
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
        planned = plan_reminders(
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
        due = due_time(
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
                    skip_reason="" if due else str(SkipReason.NO_ALLOWED_TIME),
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
    now = now or timezone.now()
    keyword = parse_inbound_keyword(body) or ""
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
            reply = STOP_CONFIRMATION
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
            reply = START_CONFIRMATION
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
            reply = render_help_text(
                clinic_name=clinic.clinic.name, clinic_phone=clinic.clinic.phone
            )
        else:
            reply = "Appointment reminders. Reply STOP to opt out."
    if reply:
        key = f"inbound:{provider_id}:reply"

        def _reply() -> None:
            try:
                get_channel("sms").send(to=from_number, body=reply, idempotency_key=key)
            except Exception:
                logger.warning("could not send %s reply to inbound %s", keyword, provider_id)

        transaction.on_commit(_reply)
    return keyword or "none"
