"""``email_staff_once``: the one ledger-then-send path of staff e-mails (safety flag, digest)."""

from __future__ import annotations

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend

from plans.services.notifications import email_staff_once
from scheduling.models.reminders import OutboundMessage

pytestmark = pytest.mark.django_db


class FailingBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise ConnectionError("smtp down")


def _send():
    return email_staff_once(
        key="digest:test:1",
        to="coordinator@example.com",
        subject="2 new critical flag(s) need review",
        body="Plan 1",
    )


def test_a_key_is_sent_once_and_a_failed_send_leaves_nothing_to_block_the_retry(settings):
    # given the mail server is down: the send fails and no ledger row stays behind
    settings.EMAIL_BACKEND = "tests.plans.test_staff_email.FailingBackend"
    with pytest.raises(Exception, match="smtp down"):
        _send()
    assert not OutboundMessage.objects.filter(idempotency_key="digest:test:1").exists()
    # when it is back, the retry sends it, and a second call with the key sends nothing
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert _send() is True
    assert _send() is False
    assert [m.to for m in mail.outbox] == [["coordinator@example.com"]]
    assert OutboundMessage.objects.filter(idempotency_key="digest:test:1").count() == 1
