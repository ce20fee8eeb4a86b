"""Staff messages sent exactly once per key, never inside an open transaction (issue 16).

Ledger first, then the send, then nothing: ``send_once`` records the key in the provider ledger
(``OutboundMessage``, unique ``idempotency_key``) in its own short transaction, commits it, and
only then calls the channel — so no provider call ever runs inside ``transaction.atomic`` and
holds a database transaction open while an SMTP server or an HTTP provider answers. A second call
with the key finds the row and sends nothing. A failed send deletes the row again (a compensating
write, also committed), so a retry sends the message; the channel's Message-ID/Idempotency-Key
(derived from the key) lets the provider drop a duplicate if a retry follows a send whose answer
was lost (docs/adr/0012-notifications-app.md).

Called only outside a transaction (Celery tasks, management commands): inside one, the ledger row
would not be committed before the send, so ``send_once`` refuses (``RuntimeError``) rather than
sending inside ``atomic``. A caller in a transaction uses ``transaction.on_commit``.
"""

from __future__ import annotations

import datetime as dt

from django.db import connection, transaction
from django.utils import timezone

from notifications.channels import get_channel
from notifications.models import OutboundMessage


def _in_open_transaction() -> bool:
    """True inside a caller's ``atomic`` block. The test runner's own per-test transaction (a
    non-transactional ``django_db`` test) does not count: it stands in for autocommit."""
    return any(not getattr(b, "_from_testcase", False) for b in connection.atomic_blocks)


def send_once(
    *,
    key: str,
    to: str,
    subject: str,
    body: str,
    channel: str = "email",
    now: dt.datetime | None = None,
) -> bool:
    """Send one message exactly once per ``key``; True when it was sent by this call."""
    if _in_open_transaction():
        raise RuntimeError("send_once must run after commit (use transaction.on_commit)")
    with transaction.atomic():
        _, created = OutboundMessage.objects.get_or_create(
            idempotency_key=key,
            defaults={
                "channel": channel,
                "to": to,
                "subject": subject,
                "body": body,
                "provider_id": key,
                "created_at": now or timezone.now(),
            },
        )
    if not created:
        return False
    try:
        get_channel(channel).send(to=to, body=body, idempotency_key=key, subject=subject)
    except BaseException:
        OutboundMessage.objects.filter(idempotency_key=key).delete()  # let a retry send it
        raise
    return True
