"""Reminder rows and SMS opt-outs (DESIGN.md promises 4 and 5)."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q


class ReminderStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    SKIPPED = "skipped", "Skipped"


class ReminderKind(models.TextChoices):
    REMINDER = "reminder", "Reminder"
    SAME_DAY = "same_day", "Same-day reminder"
    WEEKLY_DIGEST = "weekly_digest", "Weekly schedule digest"
    CHANGE_NOTICE = "change_notice", "Appointment changed"


class Reminder(models.Model):
    """[CommunicationRequest] A reminder is a row, not a broker timer (DESIGN.md promise 4).

    ``key`` is unique: one row per (session or digest, channel, kind), so a duplicate beat or a
    re-planned course can never create a second reminder for the same thing.
    """

    key = models.CharField(max_length=200, unique=True)
    patient = models.ForeignKey("plans.Patient", on_delete=models.CASCADE, related_name="reminders")
    session = models.ForeignKey(
        "scheduling.Session",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="reminders",
    )
    session_ids = ArrayField(models.BigIntegerField(), default=list, blank=True)  # digests
    channel = models.CharField(max_length=10)
    kind = models.CharField(max_length=20, choices=ReminderKind.choices)
    due_at = models.DateTimeField()
    status = models.CharField(
        max_length=10, choices=ReminderStatus.choices, default=ReminderStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    provider_id = models.CharField(max_length=120, blank=True)
    subject = models.CharField(max_length=200, blank=True)
    body = models.TextField(blank=True)
    skip_reason = models.CharField(max_length=120, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # The session start this row announces (first session for a digest). A session moved after
    # its reminder went out is detected by comparing it with the session's current start.
    announced_starts_at = models.DateTimeField(null=True, blank=True)
    # Set when sent: {session id: ISO start} of every session the message announced (digests).
    announced = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["due_at", "id"]
        indexes = [
            models.Index(
                fields=["due_at"], name="reminder_due_pending", condition=Q(status="pending")
            ),
            models.Index(
                fields=["claimed_at"], name="reminder_sending", condition=Q(status="sending")
            ),
            models.Index(fields=["patient", "channel", "status"], name="reminder_patient_sent"),
        ]

    def __str__(self) -> str:
        return f"{self.key} [{self.status}]"


class SmsOptOut(models.Model):
    """A number that replied STOP (FCC 24-24: honour at once; DOMAIN.md §7.3). Deleted on START."""

    phone = models.CharField(max_length=20, unique=True)
    opted_out_at = models.DateTimeField()
    confirmation_sent_at = models.DateTimeField(null=True, blank=True)

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

    def __str__(self) -> str:
        return f"inbound {self.provider_id}"
