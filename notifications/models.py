"""The provider ledger, inbound messages and SMS opt-outs (DESIGN.md §4 promise 5).

Moved from ``scheduling`` without touching the data (docs/adr/0012-notifications-app.md): each
model keeps its table (``db_table``), so the move is a state-only migration.
"""

from __future__ import annotations

from django.db import models


class SmsOptOut(models.Model):
    """A number that replied STOP (FCC 24-24: honour at once; DOMAIN.md §7.3). Deleted on START."""

    phone = models.CharField(max_length=20, unique=True)
    opted_out_at = models.DateTimeField()
    confirmation_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "scheduling_smsoptout"

    def __str__(self) -> str:
        return f"{self.phone} opted out"


class OutboundMessage(models.Model):
    """[Communication] The provider ledger: what a channel actually handed to the recipient.

    Written by ``LedgerSmsBackend`` (tests/dev) on its own autocommit connection, the way an
    external provider records a message whether or not our transaction later commits. Unique
    ``idempotency_key`` (= the reminder key) is the provider-side idempotency that makes a retry
    after a crash return the first message instead of sending a second (docs/adr/0002).
    """

    idempotency_key = models.CharField(max_length=200, unique=True)
    channel = models.CharField(max_length=10)
    to = models.CharField(max_length=254)
    subject = models.CharField(max_length=200, blank=True)
    body = models.TextField()
    provider_id = models.CharField(max_length=120)
    created_at = models.DateTimeField()

    class Meta:
        db_table = "scheduling_outboundmessage"
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.channel} {self.idempotency_key}"


class InboundMessage(models.Model):
    """An inbound SMS from the provider webhook; ``provider_id`` unique so a redelivered webhook
    is handled once (one STOP confirmation, FCC 24-24)."""

    provider_id = models.CharField(max_length=120, unique=True)
    from_number = models.CharField(max_length=20)
    body = models.TextField()
    keyword = models.CharField(max_length=10, blank=True)
    received_at = models.DateTimeField()

    class Meta:
        db_table = "scheduling_inboundmessage"

    def __str__(self) -> str:
        return f"inbound {self.provider_id}"
