"""Acceptance 4: STOP → no SMS to that number, exactly one confirmation; START re-enables;
HELP answers; a bad webhook signature is 403 (issue 5; FCC 24-24, DOMAIN.md §7.3)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from notifications.inbound import sign_webhook
from notifications.models import OutboundMessage, SmsOptOut
from notifications.rendering import START_CONFIRMATION, STOP_CONFIRMATION
from scheduling import reminders as svc
from scheduling.delivery import send
from scheduling.models.reminders import Reminder
from tests.workers.conftest import make_component, make_patient, make_session

pytestmark = pytest.mark.django_db(transaction=True)
URL = "/api/v1/notifications/sms/inbound/"
NY = ZoneInfo("America/New_York")
SECRET = b"test-webhook-secret"


def post(client, payload: dict, *, secret: bytes = SECRET, ts: str | None = None):
    body = json.dumps(payload).encode()
    ts = ts or str(int(time.time()))
    return client.post(
        URL,
        data=body,
        content_type="application/json",
        HTTP_X_SIGNATURE_TIMESTAMP=ts,
        HTTP_X_SIGNATURE=f"sha256={sign_webhook(secret, body, ts)}",
    )


def replies_to(phone: str) -> list[str]:
    return list(
        OutboundMessage.objects.filter(to=phone, idempotency_key__startswith="inbound:")
        .order_by("id")
        .values_list("body", flat=True)
    )


@pytest.fixture
def booked(catalogue, organization, clinic):
    patient = make_patient(organization, phone="+15555550199")
    comp = make_component(patient=patient, clinic=clinic, code="tms_10hz_ldlpfc_mdd")
    session = make_session(comp, datetime.now(UTC) + timedelta(days=3))
    svc.sync_reminders_for_sessions(session_ids=[session.pk])
    return patient, session


def test_stop_opts_out_at_once_with_exactly_one_confirmation(api_client, booked):
    patient, session = booked
    assert Reminder.objects.get(session=session).status == "pending"

    # STOP, the same webhook redelivered, and a second STOP
    assert (
        post(api_client, {"id": "in-1", "from": patient.phone, "body": " Stop "}).status_code == 200
    )
    assert post(api_client, {"id": "in-1", "from": patient.phone, "body": " Stop "}).json() == {
        "result": "dup"
    }
    post(api_client, {"id": "in-2", "from": patient.phone, "body": "unsubscribe"})

    assert SmsOptOut.objects.filter(phone=patient.phone).exists()
    assert replies_to(patient.phone) == [STOP_CONFIRMATION]
    row = Reminder.objects.get(session=session)
    assert (row.status, row.skip_reason) == ("skipped", "sms_opt_out")
    # no SMS goes to the number, even a row that was already claimed
    Reminder.objects.filter(pk=row.pk).update(status="sending", due_at=datetime.now(UTC))
    assert send.send_reminder(reminder_id=row.pk) in ("skipped", "deferred_quiet_hours")
    assert not OutboundMessage.objects.filter(idempotency_key=row.key).exists()

    # START re-enables and confirms once; the reminder is planned again
    post(api_client, {"id": "in-3", "from": patient.phone, "body": "START"})
    assert replies_to(patient.phone) == [STOP_CONFIRMATION, START_CONFIRMATION]
    assert not SmsOptOut.objects.filter(phone=patient.phone).exists()
    svc.sync_reminders_for_sessions(session_ids=[session.pk])  # what the on-commit task does
    assert Reminder.objects.get(pk=row.pk).status == "pending"


def test_help_names_the_clinic_and_callback(api_client, booked):
    patient, _ = booked
    post(api_client, {"id": "in-9", "from": patient.phone, "body": "help"})
    (reply,) = replies_to(patient.phone)
    assert "Lakeside Wellness" in reply
    assert "+15555550142" in reply
    assert len(reply) <= 160


@pytest.mark.parametrize(
    "kwargs",
    [
        {"secret": b"wrong-secret"},
        {"ts": str(int(time.time()) - 3600)},  # replayed an hour later
    ],
)
def test_bad_signature_is_403_and_changes_nothing(api_client, booked, kwargs):
    patient, _ = booked
    response = post(api_client, {"id": "in-x", "from": patient.phone, "body": "STOP"}, **kwargs)
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert not SmsOptOut.objects.exists()


def test_missing_signature_is_403(api_client, db):
    response = api_client.post(URL, data={"id": "1", "from": "+15555550198", "body": "STOP"})
    assert response.status_code == 403
