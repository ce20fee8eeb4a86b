"""``send_once``: the one ledger-then-send path of staff e-mails, after commit."""

from __future__ import annotations

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.db import connection, transaction

from notifications.models import OutboundMessage
from notifications.outbox import send_once

SEEN: list[tuple[bool, bool]] = []


class FailingBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise ConnectionError("smtp down")


class AtomicSpyBackend(BaseEmailBackend):
    """Records, at the moment of the provider call, whether a transaction is open and whether the
    ledger row is already visible to another connection (i.e. committed)."""

    def send_messages(self, email_messages):
        from notifications.channels.sms import _ledger_connection

        with _ledger_connection() as other, other.cursor() as cur:
            cur.execute(
                "SELECT count(*) FROM scheduling_outboundmessage WHERE idempotency_key = %s",
                [SPY_KEY],
            )
            committed = cur.fetchone()[0] == 1
        SEEN.append((connection.in_atomic_block, committed))
        return len(email_messages)


SPY_KEY = "digest:test:spy"


def _send(key="digest:test:1"):
    return send_once(
        key=key,
        to="coordinator@example.com",
        subject="2 new critical flag(s) need review",
        body="Plan 1",
    )


@pytest.mark.django_db
def test_a_key_is_sent_once_and_a_failed_send_leaves_nothing_to_block_the_retry(settings):
    # given the mail server is down: the send fails and no ledger row stays behind
    settings.EMAIL_BACKEND = "tests.notifications.test_outbox.FailingBackend"
    with pytest.raises(Exception, match="smtp down"):
        _send()
    assert not OutboundMessage.objects.filter(idempotency_key="digest:test:1").exists()
    # when it is back, the retry sends it, and a second call with the key sends nothing
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert _send() is True
    assert _send() is False
    assert [m.to for m in mail.outbox] == [["coordinator@example.com"]]
    assert OutboundMessage.objects.filter(idempotency_key="digest:test:1").count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_provider_is_called_outside_any_transaction_after_the_ledger_row_commits(settings):
    # given a provider that looks at the database while it is being called
    settings.EMAIL_BACKEND = "tests.notifications.test_outbox.AtomicSpyBackend"
    SEEN.clear()
    # when a staff e-mail is sent
    assert _send(SPY_KEY) is True
    # then no transaction was open during the call and the ledger row was already committed
    assert SEEN == [(False, True)]


@pytest.mark.django_db(transaction=True)
def test_a_send_inside_a_callers_transaction_is_refused_and_nothing_is_sent(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with pytest.raises(RuntimeError, match="after commit"), transaction.atomic():
        _send("digest:test:inside")
    assert mail.outbox == []
    assert not OutboundMessage.objects.filter(idempotency_key="digest:test:inside").exists()
    # the documented way: on_commit runs it once the caller's transaction is committed
    with transaction.atomic():
        transaction.on_commit(lambda: _send("digest:test:inside"))
    assert [m.subject for m in mail.outbox] == ["2 new critical flag(s) need review"]
