"""Clinics, resources and sessions on the calendar, and calendar feeds.

The database is the last word on double-booking (DESIGN.md promise 3): PostgreSQL exclusion
constraints over ``tstzrange(starts_at, ends_at)`` forbid two active sessions of one patient, or
two active bookings of one resource, from overlapping — whatever the application does.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import (
    ArrayField,
    DateTimeRangeField,
    RangeBoundary,
    RangeOperators,
)
from django.db import models
from django.db.models import Func, Q

from modalities import vocab
from modalities.models import _choices


class TsTzRange(Func):
    function = "TSTZRANGE"
    output_field = DateTimeRangeField()


class Clinic(models.Model):
    """[Location] A site of the organisation, with its own IANA time zone."""

    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.PROTECT, related_name="clinics"
    )
    name = models.CharField(max_length=200)
    timezone = models.CharField(max_length=64)
    phone = models.CharField(max_length=20)  # E.164; the callback number in reminders
    address = models.CharField(max_length=300, blank=True)
    country = models.CharField(max_length=2, default="US")
    subdivision = models.CharField(max_length=10, blank=True)  # e.g. "NY", for holidays
    # SPRAVATO REMS outpatient healthcare-setting certification (DOMAIN.md §2.4).
    rems_certification_id = models.CharField(max_length=60, blank=True)
    rems_certified_until = models.DateField(null=True, blank=True)
    # Reminder policy (DOMAIN.md §7.1): minutes before the session; same-day is UNSOURCED → opt-in.
    reminder_offsets_minutes = ArrayField(models.PositiveIntegerField(), default=list, blank=True)
    same_day_reminder_minutes = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="clinic_name_per_org"),
            models.CheckConstraint(name="clinic_timezone_set", condition=~Q(timezone="")),
        ]

    def __str__(self) -> str:
        return self.name


class ClinicHours(models.Model):
    """Opening interval of a weekday (0 = Monday), local wall-clock time."""

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="hours")
    weekday = models.PositiveSmallIntegerField()
    opens = models.TimeField()
    closes = models.TimeField()

    class Meta:
        ordering = ["clinic", "weekday", "opens"]
        constraints = [
            models.CheckConstraint(name="hours_weekday_range", condition=Q(weekday__lte=6)),
            models.CheckConstraint(
                name="hours_open_before_close", condition=Q(opens__lt=models.F("closes"))
            ),
        ]

    def __str__(self) -> str:
        return f"{self.clinic_id} day {self.weekday} {self.opens}-{self.closes}"


class ClinicClosure(models.Model):
    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="closures")
    date = models.DateField()
    reason = models.CharField(max_length=120, blank=True)

    class Meta:
        ordering = ["clinic", "date"]
        constraints = [
            models.UniqueConstraint(fields=["clinic", "date"], name="closure_once_per_day"),
        ]

    def __str__(self) -> str:
        return f"{self.clinic_id} closed {self.date}"


class Resource(models.Model):
    """A bookable thing: TMS device (with coil), room, monitoring or infusion chair, EEG station."""

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="resources")
    kind = models.CharField(max_length=30, choices=_choices(vocab.ResourceKind))
    name = models.CharField(max_length=100)
    coil_type = models.CharField(max_length=40, blank=True)  # TMS devices: figure-8, H1, H7 …
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["clinic", "kind", "name"]
        constraints = [
            models.UniqueConstraint(fields=["clinic", "name"], name="resource_name_per_clinic"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"


class ClinicianHours(models.Model):
    clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="working_hours"
    )
    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="clinician_hours")
    weekday = models.PositiveSmallIntegerField()
    starts = models.TimeField()
    ends = models.TimeField()

    class Meta:
        constraints = [
            models.CheckConstraint(name="clinician_hours_weekday", condition=Q(weekday__lte=6)),
            models.CheckConstraint(
                name="clinician_hours_order", condition=Q(starts__lt=models.F("ends"))
            ),
        ]

    def __str__(self) -> str:
        return f"{self.clinician_id} day {self.weekday} {self.starts}-{self.ends}"


class SessionStatus(models.TextChoices):
    BOOKED = "booked", "Booked"
    ARRIVED = "arrived", "Arrived"
    FULFILLED = "fulfilled", "Fulfilled"
    CANCELLED = "cancelled", "Cancelled"
    NOSHOW = "noshow", "No-show"
    ENTERED_IN_ERROR = "entered-in-error", "Entered in error"


# Sessions in these states hold the patient's and the resources' time.
ACTIVE_SESSION_STATUSES = (SessionStatus.BOOKED, SessionStatus.ARRIVED, SessionStatus.FULFILLED)


class Session(models.Model):
    """[Appointment] One visit of a course, its time range covering any monitoring."""

    component = models.ForeignKey(
        "plans.PlanComponent", on_delete=models.PROTECT, related_name="sessions"
    )
    patient = models.ForeignKey("plans.Patient", on_delete=models.PROTECT, related_name="sessions")
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="sessions")
    kind = models.CharField(max_length=20, choices=_choices(vocab.SessionKind))
    sequence = models.PositiveIntegerField(null=True, blank=True)  # n-th treatment of the course
    phase = models.CharField(max_length=40, blank=True)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    status = models.CharField(
        max_length=20, choices=SessionStatus.choices, default=SessionStatus.BOOKED
    )
    clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="sessions",
    )
    resources = models.ManyToManyField(Resource, through="SessionResource", related_name="+")
    completion = models.JSONField(default=dict, blank=True)  # kind-specific completion data
    checked_in_at = models.DateTimeField(null=True, blank=True)
    checked_in_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    override_reason = models.TextField(blank=True)
    cancel_reason = models.TextField(blank=True)
    replaces = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="make_ups"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["starts_at", "id"]
        indexes = [
            models.Index(fields=["clinic", "starts_at"], name="session_clinic_start"),
            models.Index(fields=["clinician", "starts_at"], name="session_clinician_start"),
            models.Index(fields=["component", "sequence"], name="session_component_seq"),
        ]
        constraints = [
            models.CheckConstraint(
                name="session_ends_after_start", condition=Q(ends_at__gt=models.F("starts_at"))
            ),
            ExclusionConstraint(
                name="session_no_patient_overlap",
                expressions=[
                    (TsTzRange("starts_at", "ends_at", RangeBoundary()), RangeOperators.OVERLAPS),
                    ("patient", RangeOperators.EQUAL),
                ],
                condition=Q(status__in=[s.value for s in ACTIVE_SESSION_STATUSES]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.sequence or '-'} {self.starts_at:%Y-%m-%d %H:%M}Z"


class SessionResource(models.Model):
    """A resource held by a session. Time range and ``active`` are copied from the session so that
    the exclusion constraint can see them; the scheduling services keep them in step."""

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="bookings")
    resource = models.ForeignKey(Resource, on_delete=models.PROTECT, related_name="bookings")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    active = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["session", "resource"], name="booking_once"),
            ExclusionConstraint(
                name="resource_no_overlap",
                expressions=[
                    (TsTzRange("starts_at", "ends_at", RangeBoundary()), RangeOperators.OVERLAPS),
                    ("resource", RangeOperators.EQUAL),
                ],
                condition=Q(active=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.resource_id} for session {self.session_id}"


class CalendarFeed(models.Model):
    """A revocable secret iCalendar feed URL for a patient or a clinician. Only a hash is stored."""

    token_hash = models.CharField(max_length=64, unique=True)
    patient = models.ForeignKey(
        "plans.Patient", on_delete=models.CASCADE, null=True, blank=True, related_name="feeds"
    )
    clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="feeds",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="feed_has_exactly_one_owner",
                condition=(Q(patient__isnull=False) & Q(clinician__isnull=True))
                | (Q(patient__isnull=True) & Q(clinician__isnull=False)),
            ),
        ]

    def __str__(self) -> str:
        return f"feed {self.pk} (revoked)" if self.revoked_at else f"feed {self.pk}"
