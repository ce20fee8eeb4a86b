"""Reminder rows (DESIGN.md promises 4 and 5); opt-outs and the provider ledger live in
``notifications.models``."""

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
