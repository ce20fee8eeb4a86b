"""Reminder rows follow their sessions; sending is idempotent; retries and failure are rows.

Acceptance 2 (reschedule / cancel / change notice) and 3 (daily TMS course: ≤1 SMS a day, ≤3 a
week) of issue 5, plus the send state machine. The provider is ``LedgerSmsBackend``.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction

from notifications.channels import TransientSendError
from notifications.models import OutboundMessage
from notifications.rendering import SMS_MAX_CHARS
from notifications.terms import contains_forbidden_term
from plans.flag_codes import FlagCode
from plans.models import Flag
from scheduling import reminders as svc
from scheduling.delivery import dispatch, send
from scheduling.models.reminders import Reminder
from scheduling.rules.reminders.policy import ReminderPolicy, in_quiet_hours
from tests.workers.conftest import make_component, make_patient, make_session

NY = ZoneInfo("America/New_York")
# Monday 7 Dec 2026, 10:00 in New York.
NOW = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)

pytestmark = pytest.mark.django_db(transaction=True)


def local(y, m, d, h, mi=0, tz=NY):
    return datetime(y, m, d, h, mi, tzinfo=tz)


def run_until(until: datetime, *, start: datetime, step=timedelta(minutes=30)) -> list[str]:
    """Beat-equivalent loop in compressed time: dispatch, then send each claimed row."""
    outcomes = []
    t = start
    while t <= until:
        claimed: list[int] = []
        dispatch.dispatch_due_reminders(now=t, enqueue=claimed.extend)
        outcomes += [send.send_reminder(reminder_id=i, now=t) for i in claimed]
        t += step
    return outcomes


def ledger_bodies() -> list[str]:
    bodies = list(OutboundMessage.objects.filter(channel="sms").values_list("body", flat=True))
    for body in bodies:
        assert len(body) <= SMS_MAX_CHARS
        assert contains_forbidden_term(body) is None, body
    return bodies


@pytest.fixture
def tms(catalogue, organization, clinic):
    patient = make_patient(organization)
    return make_component(patient=patient, clinic=clinic, code="tms_10hz_ldlpfc_mdd")


def test_reschedule_moves_pending_reminder_and_cancel_cancels_it(tms):
    # given a session on Thursday 10:00 with its 24 h reminder row
    session = make_session(tms, local(2026, 12, 10, 10))
    svc.sync_reminders_for_sessions(session_ids=[session.pk], now=NOW)
    row = Reminder.objects.get(session=session)
    assert (row.status, row.kind, row.channel) == ("pending", "reminder", "sms")
    assert row.due_at == local(2026, 12, 9, 10)

    # when it is moved to Friday 14:00
    session.starts_at = local(2026, 12, 11, 14)
    session.ends_at = session.starts_at + timedelta(minutes=40)
    session.save()
    svc.sync_reminders_for_sessions(session_ids=[session.pk], now=NOW)

    # then the same row moves (no second row)
    row.refresh_from_db()
    assert Reminder.objects.filter(session=session).count() == 1
    assert (row.status, row.due_at) == ("pending", local(2026, 12, 10, 14))

    # when it is cancelled, the reminder is cancelled and nothing is sent
    session.status = "cancelled"
    session.save()
    svc.sync_reminders_for_sessions(session_ids=[session.pk], now=NOW)
    row.refresh_from_db()
    assert row.status == "cancelled"
    run_until(local(2026, 12, 11, 15), start=NOW)
    assert OutboundMessage.objects.count() == 0


def test_move_after_sending_sends_exactly_one_change_notice(tms):
    session = make_session(tms, local(2026, 12, 10, 10))
    svc.sync_reminders_for_sessions(session_ids=[session.pk], now=NOW)
    # the reminder goes out Wednesday 10:00
    assert run_until(local(2026, 12, 9, 10), start=local(2026, 12, 9, 9)) == ["sent"]

    # moved Wednesday 12:00 to Thursday 15:00; sync runs twice (duplicate on-commit task)
    moved_at = local(2026, 12, 9, 12)
    session.starts_at = local(2026, 12, 10, 15)
    session.ends_at = session.starts_at + timedelta(minutes=40)
    session.save()
    svc.sync_reminders_for_sessions(session_ids=[session.pk], now=moved_at)
    svc.sync_reminders_for_sessions(session_ids=[session.pk], now=moved_at)
    run_until(local(2026, 12, 10, 16), start=moved_at, step=timedelta(minutes=15))
    svc.sync_reminders_for_sessions(session_ids=[session.pk], now=local(2026, 12, 10, 9))

    bodies = ledger_bodies()
    assert len(bodies) == 2
    notice = Reminder.objects.get(session=session, kind="change_notice")
    assert notice.status == "sent"
    assert "moved to Thu Dec 10 3:00 PM" in notice.body
    assert OutboundMessage.objects.filter(idempotency_key=notice.key).count() == 1


def test_daily_tms_course_gets_at_most_one_sms_a_day_and_three_a_week(tms):
    # given a 30-session Mon–Fri course at 10:00 (plus a clinic that asks for same-day texts)
    tms.plan.clinic.same_day_reminder_minutes = 120
    tms.plan.clinic.save()
    day, sessions = local(2026, 12, 14, 10), []
    while len(sessions) < 30:
        if day.weekday() < 5:
            sessions.append(make_session(tms, day))
        day += timedelta(days=1)
    svc.sync_reminders_for_sessions(session_ids=[s.pk for s in sessions], now=NOW)

    # when the beat runs every hour for the whole course
    run_until(sessions[-1].starts_at, start=NOW, step=timedelta(hours=1))

    # then the ledger holds weekly digests only: ≤1 a local day, ≤3 an ISO week
    sent = list(OutboundMessage.objects.filter(channel="sms").values_list("created_at", "body"))
    ledger_bodies()
    assert sent, "a course must be announced"
    days = Counter(Reminder.objects.get(body=b).sent_at.astimezone(NY).date() for _, b in sent)
    weeks = Counter(d.isocalendar()[:2] for d in days.elements())
    assert max(days.values()) <= 1
    assert max(weeks.values()) <= 3
    kinds = set(Reminder.objects.filter(status="sent").values_list("kind", flat=True))
    assert kinds == {"weekly_digest"}


def test_send_is_idempotent_when_the_worker_died_after_the_provider_accepted(tms):
    session = make_session(tms, local(2026, 12, 10, 10))
    svc.sync_reminders_for_sessions(session_ids=[session.pk], now=NOW)
    due = local(2026, 12, 9, 10)
    claimed: list[int] = []
    dispatch.dispatch_due_reminders(now=due, enqueue=claimed.extend)
    # the provider accepted, then the worker was killed before recording 'sent' (rolled back)
    row = Reminder.objects.get(pk=claimed[0])
    from notifications.channels.sms import LedgerSmsBackend

    first = LedgerSmsBackend().send(to="+1", body="x", idempotency_key=row.key)
    # a second copy of the task for the same claim does nothing while the row is locked elsewhere
    # and after the claim timeout the row is handed out again and re-sent with the same key
    later = due + svc.claim_timeout() + timedelta(minutes=1)
    assert send.send_reminder(reminder_id=row.pk, now=due) == "sent"
    again: list[int] = []
    dispatch.dispatch_due_reminders(now=later, enqueue=again.extend)
    assert again == []  # sent rows are never claimed again
    assert OutboundMessage.objects.filter(idempotency_key=row.key).count() == 1
    row.refresh_from_db()
    assert row.provider_id == first.provider_id


def test_stale_claim_is_reclaimed_and_sent_once(tms):
    session = make_session(tms, local(2026, 12, 10, 10))
    svc.sync_reminders_for_sessions(session_ids=[session.pk], now=NOW)
    due = local(2026, 12, 9, 10)
    lost: list[int] = []
    dispatch.dispatch_due_reminders(now=due, enqueue=lost.extend)  # the task message is lost
    assert dispatch.dispatch_due_reminders(now=due + timedelta(minutes=1), enqueue=list) == []
    later = due + svc.claim_timeout() + timedelta(minutes=1)
    assert run_until(later, start=later) == ["sent"]
    assert send.send_reminder(reminder_id=lost[0], now=later) == "not_claimed"
    assert OutboundMessage.objects.count() == 1


def test_transient_errors_back_off_then_fail_and_flag_the_coordinator(tms):
    session = make_session(tms, local(2026, 12, 10, 10))
    svc.sync_reminders_for_sessions(session_ids=[session.pk], now=NOW)
    due = local(2026, 12, 9, 10)
    with mock.patch(
        "notifications.channels.sms.LedgerSmsBackend.send", side_effect=TransientSendError("503")
    ):
        outcomes = run_until(due + timedelta(hours=1), start=due, step=timedelta(minutes=1))
    assert outcomes == ["retry"] * (svc.MAX_ATTEMPTS - 1) + ["failed"]
    row = Reminder.objects.get(session=session)
    assert (row.status, row.attempts) == ("failed", svc.MAX_ATTEMPTS)
    assert "503" in row.last_error
    flag = Flag.objects.get(plan=tms.plan, code=FlagCode.REMINDER_FAILED)
    assert (flag.status, flag.requirement_key) == ("open", str(session.pk))
    # backoff is capped at a few minutes: no row is ever pushed further out
    assert svc.backoff(50) <= timedelta(minutes=5)


def test_nothing_is_claimed_in_the_patients_quiet_hours(organization, clinic, catalogue):
    patient = make_patient(organization, tz="Asia/Tokyo")
    comp = make_component(patient=patient, clinic=clinic, code="tms_10hz_ldlpfc_mdd")
    tokyo = ZoneInfo("Asia/Tokyo")
    session = make_session(comp, datetime(2026, 12, 10, 9, 0, tzinfo=tokyo))
    svc.sync_reminders_for_sessions(session_ids=[session.pk], now=NOW)
    row = Reminder.objects.get(session=session)
    assert not in_quiet_hours(row.due_at, "Asia/Tokyo", ReminderPolicy())
    # a row that is overdue (e.g. after an outage) waits for 08:00 Tokyo time
    Reminder.objects.filter(pk=row.pk).update(due_at=datetime(2026, 12, 8, 12, tzinfo=tokyo))
    night = datetime(2026, 12, 9, 23, 30, tzinfo=tokyo)
    assert dispatch.dispatch_due_reminders(now=night, enqueue=list) == []
    morning = datetime(2026, 12, 10, 8, 0, tzinfo=tokyo)
    assert run_until(morning, start=morning) == ["sent"]


def test_email_patient_gets_email_with_neutral_subject(organization, clinic, catalogue, mailoutbox):
    patient = make_patient(organization, channel="email")
    comp = make_component(patient=patient, clinic=clinic, code="spravato_trd")
    session = make_session(comp, local(2026, 12, 10, 10), minutes=150)
    svc.sync_reminders_for_sessions(session_ids=[session.pk], now=NOW)
    assert run_until(local(2026, 12, 9, 10), start=local(2026, 12, 9, 10)) == ["sent"]
    assert len(mailoutbox) == 1
    msg = mailoutbox[0]
    assert msg.subject == "Appointment reminder from Lakeside Wellness"
    assert contains_forbidden_term(msg.subject + msg.body) is None
    assert "Before you come:" in msg.body


def test_on_sessions_changed_publishes_only_after_commit(tms):
    session = make_session(tms, local(2026, 12, 10, 10))
    with mock.patch("scheduling.reminders.app") as app:
        publish = app.send_task
        with transaction.atomic():
            svc.on_sessions_changed(session_ids=[session.pk, session.pk], change="created")
            publish.assert_not_called()
        publish.assert_called_once_with(
            "scheduling.sync_session_reminders",
            kwargs={"session_ids": [session.pk], "change": "created"},
            queue="reminders",
        )
    with pytest.raises(ValueError, match="unknown session change"):
        svc.on_sessions_changed(session_ids=[1], change="teleported")


def test_management_commands_run_one_dispatch_and_one_scan(tms):
    from io import StringIO

    from django.core.management import call_command

    session = make_session(tms, datetime.now(UTC) + timedelta(hours=20))
    svc.sync_reminders_for_sessions(session_ids=[session.pk])
    out = StringIO()
    call_command("dispatch_reminders", "--send-inline", stdout=out)
    row = Reminder.objects.get(session=session)
    if in_quiet_hours(datetime.now(UTC), "America/New_York", ReminderPolicy()):
        assert "claimed 0" in out.getvalue()
    else:
        assert row.status == "sent"
        assert f"reminder {row.pk}: sent" in out.getvalue()
    out = StringIO()
    call_command("scan_flags", "--plan", str(tms.plan_id), stdout=out)
    assert '"plans": 1' in out.getvalue()


def test_a_patient_with_an_unknown_zone_does_not_stop_the_tick(tms, organization):
    session = make_session(tms, local(2026, 12, 10, 10))
    svc.sync_reminders_for_sessions(session_ids=[session.pk], now=NOW)
    broken = make_patient(organization, tz="Mars/Olympus_Mons")
    Reminder.objects.create(
        key="broken", patient=broken, channel="sms", kind="reminder", due_at=NOW
    )
    claimed = dispatch.claim_due_reminders(now=local(2026, 12, 9, 10))
    assert claimed == [Reminder.objects.get(session=session).pk]


def test_moving_a_session_announced_in_a_sent_digest_sends_one_change_notice(tms):
    day, sessions = local(2026, 12, 14, 10), []
    while len(sessions) < 5:
        sessions.append(make_session(tms, day))
        day += timedelta(days=1)
    svc.sync_reminders_for_sessions(session_ids=[s.pk for s in sessions], now=NOW)
    # the weekly digest goes out Sunday 17:00
    sunday = local(2026, 12, 13, 17)
    assert run_until(sunday, start=sunday) == ["sent"]
    # Wednesday's visit moves to Wednesday 15:00 on Monday afternoon
    moved = sessions[2]
    moved.starts_at = local(2026, 12, 16, 15)
    moved.ends_at = moved.starts_at + timedelta(minutes=40)
    moved.save()
    monday = local(2026, 12, 14, 13)
    for _ in range(2):
        svc.sync_reminders_for_sessions(session_ids=[moved.pk], now=monday)
    run_until(local(2026, 12, 16, 9), start=monday, step=timedelta(hours=1))
    notice = Reminder.objects.get(session=moved, kind="change_notice")
    assert notice.status == "sent"
    assert "moved to Wed Dec 16 3:00 PM" in notice.body
    assert len(ledger_bodies()) == 2


@pytest.mark.django_db
def test_scheduling_services_move_and_cancel_reminders_after_commit(
    tms, coordinator, django_capture_on_commit_callbacks
):
    """Acceptance 2 through the scheduling engineer's services: they call
    ``on_sessions_changed`` inside their transaction; the re-plan runs after commit."""
    from scheduling.services.lifecycle import cancel_session, reschedule_session

    def inline(name, *, kwargs, queue):
        assert (name, queue) == ("scheduling.sync_session_reminders", "reminders")
        svc.sync_reminders_for_sessions(session_ids=kwargs["session_ids"])

    session = make_session(tms, local(2026, 12, 10, 10))
    with mock.patch("scheduling.reminders.app") as app:
        app.send_task.side_effect = inline
        with django_capture_on_commit_callbacks(execute=True):
            svc.on_sessions_changed(session_ids=[session.pk], change="created")
        row = Reminder.objects.get(session=session)
        assert row.due_at == local(2026, 12, 9, 10)

        with django_capture_on_commit_callbacks(execute=True):
            reschedule_session(session=session, starts_at=local(2026, 12, 11, 14), by=coordinator)
        row.refresh_from_db()
        assert (row.status, row.due_at) == ("pending", local(2026, 12, 10, 14))

        with django_capture_on_commit_callbacks(execute=True):
            cancel_session(session=session, reason="patient request", by=coordinator)
        row.refresh_from_db()
        assert row.status == "cancelled"
