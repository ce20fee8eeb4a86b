"""Patients, care teams, integrated plans and what is recorded against them.

FHIR names in brackets (DESIGN.md §3). Code values come from ``modalities.vocab``. Writes go
through ``plans/services``; the database keeps the invariants it can (unique MRN per
organisation, one open flag per gap, status codes).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models

from modalities import vocab
from modalities.models import _choices


class Channel(models.TextChoices):
    SMS = "sms", "Text message"
    EMAIL = "email", "Email"
    NONE = "none", "No reminders"


class Patient(models.Model):
    """[Patient] MRN unique per organisation; contact in E.164 / email; an IANA time zone."""

    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.PROTECT, related_name="patients"
    )
    mrn = models.CharField("MRN", max_length=40)
    given_name = models.CharField(max_length=100)
    family_name = models.CharField(max_length=100)
    birth_date = models.DateField()
    phone = models.CharField(max_length=20, blank=True)  # E.164, validated at the API
    email = models.EmailField(blank=True)
    timezone = models.CharField(max_length=64)
    preferred_channel = models.CharField(
        max_length=10, choices=Channel.choices, default=Channel.SMS
    )
    sms_consent_at = models.DateTimeField(null=True, blank=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="patient_record",
    )
    care_team = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="CareTeamMember", related_name="care_team_patients"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["family_name", "given_name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "mrn"], name="patient_mrn_per_org"),
            models.CheckConstraint(name="patient_timezone_set", condition=~models.Q(timezone="")),
        ]

    def __str__(self) -> str:
        return f"{self.family_name}, {self.given_name} ({self.mrn})"


class CareTeamMember(models.Model):
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="team_members")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="care_team_memberships"
    )
    role = models.CharField(max_length=40, blank=True)  # e.g. "treating psychiatrist"
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["patient", "user"], name="care_team_member_once"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} on team of patient {self.patient_id}"


class PlanStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    ON_HOLD = "on-hold", "On hold"
    COMPLETED = "completed", "Completed"
    REVOKED = "revoked", "Revoked"


class CarePlan(models.Model):
    """[CarePlan] draft → active → on-hold → completed | revoked."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="plans")
    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.PROTECT, related_name="plans"
    )
    clinic = models.ForeignKey("scheduling.Clinic", on_delete=models.PROTECT, related_name="plans")
    title = models.CharField(max_length=200)
    status = models.CharField(max_length=12, choices=PlanStatus.choices, default=PlanStatus.DRAFT)
    status_reason = models.TextField(blank=True)
    diagnoses = ArrayField(models.CharField(max_length=10), default=list)  # ICD-10 codes
    goals = models.TextField(blank=True)
    coordinator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="coordinated_plans",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # Plan lists are scoped by organisation and read newest first (keyset pages on
            # (created_at, id), api/pagination_cursor.py; issue 17).
            models.Index(fields=["organization", "-created_at", "-id"], name="plan_org_created"),
        ]
        constraints = [
            models.CheckConstraint(
                name="plan_status_valid",
                condition=models.Q(status__in=[s.value for s in PlanStatus]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} [{self.status}]"


class ComponentStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    ACTIVE = "active", "Active"
    ON_HOLD = "on-hold", "On hold"
    COMPLETED = "completed", "Completed"
    STOPPED = "stopped", "Stopped"


class PlanComponent(models.Model):
    """[CarePlan.activity] One course of one protocol version inside a plan."""

    plan = models.ForeignKey(CarePlan, on_delete=models.CASCADE, related_name="components")
    protocol = models.ForeignKey(
        "modalities.Protocol", on_delete=models.PROTECT, related_name="components"
    )
    indication = models.ForeignKey(
        "modalities.ProtocolIndication", on_delete=models.PROTECT, related_name="components"
    )
    # Snapshot of the indication's label status for this patient's age when the component was
    # added: the consent the patient signed refers to it, so later catalogue edits must not move it.
    label_status = models.CharField(max_length=20, choices=_choices(vocab.LabelStatus))
    target = models.CharField(max_length=30, choices=_choices(vocab.Target))
    laterality = models.CharField(max_length=10, blank=True)  # e.g. painful side for M1 targets
    rationale = models.TextField(blank=True)
    payer_type = models.CharField(max_length=20, choices=_choices(vocab.PayerType))
    payer_name = models.CharField(max_length=120, blank=True)
    prior_auth_number = models.CharField(max_length=60, blank=True)
    prior_auth_sessions = models.PositiveIntegerField(null=True, blank=True)
    prior_auth_expires_on = models.DateField(null=True, blank=True)
    status = models.CharField(
        max_length=12, choices=ComponentStatus.choices, default=ComponentStatus.PLANNED
    )
    position = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["plan", "position", "id"]
        constraints = [
            models.CheckConstraint(
                name="component_self_pay_has_no_prior_auth",
                condition=~models.Q(payer_type=vocab.PayerType.SELF_PAY)
                | models.Q(prior_auth_number=""),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.protocol} for {self.indication.name}"


class RecordStatus(models.TextChoices):
    FINAL = "final", "Final"
    ENTERED_IN_ERROR = "entered-in-error", "Entered in error"


class Evaluation(models.Model):
    """[Procedure/Observation/Consent] A recorded step; never deleted, marked in error."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="evaluations")
    plan = models.ForeignKey(
        CarePlan, on_delete=models.PROTECT, null=True, blank=True, related_name="evaluations"
    )
    # Set when the step belongs to one course (a motor threshold); empty = patient-wide.
    component = models.ForeignKey(
        PlanComponent,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="evaluations",
    )
    kind = models.CharField(max_length=40, choices=_choices(vocab.EvaluationKind))
    status = models.CharField(
        max_length=20, choices=RecordStatus.choices, default=RecordStatus.FINAL
    )
    performed_at = models.DateTimeField()
    performed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    data = models.JSONField(default=dict, blank=True)
    valid_until = models.DateField(null=True, blank=True)
    note = models.TextField(blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)
    error_reason = models.TextField(blank=True)
    errored_at = models.DateTimeField(null=True, blank=True)
    errored_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-performed_at", "-id"]
        indexes = [models.Index(fields=["patient", "kind", "-performed_at"], name="eval_lookup")]
        constraints = [
            models.CheckConstraint(
                name="evaluation_error_has_reason",
                condition=~models.Q(status=RecordStatus.ENTERED_IN_ERROR)
                | ~models.Q(error_reason=""),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} ({self.status}) {self.performed_at:%Y-%m-%d}"


class Measure(models.Model):
    """[QuestionnaireResponse/Observation] Answers in; total, band, risk computed server-side."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="measures")
    plan = models.ForeignKey(
        CarePlan, on_delete=models.PROTECT, null=True, blank=True, related_name="measures"
    )
    component = models.ForeignKey(
        PlanComponent, on_delete=models.PROTECT, null=True, blank=True, related_name="measures"
    )
    instrument = models.CharField(max_length=30, choices=_choices(vocab.Instrument))
    answers = models.JSONField()
    total = models.DecimalField(max_digits=6, decimal_places=2)
    band = models.CharField(max_length=30, blank=True)
    risk = models.CharField(max_length=20, blank=True)
    subscores = models.JSONField(default=dict, blank=True)
    safety_alert = models.BooleanField(default=False)
    is_baseline = models.BooleanField(default=False)
    taken_at = models.DateTimeField()
    status = models.CharField(
        max_length=20, choices=RecordStatus.choices, default=RecordStatus.FINAL
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)
    error_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-taken_at", "-id"]
        indexes = [
            models.Index(fields=["patient", "instrument", "-taken_at"], name="measure_lookup")
        ]

    def __str__(self) -> str:
        return f"{self.instrument} = {self.total} ({self.band})"


class FlagStatus(models.TextChoices):
    OPEN = "open", "Open"
    RESOLVED = "resolved", "Resolved"
    DISMISSED = "dismissed", "Dismissed"


class Flag(models.Model):
    """[Flag] A gap or a safety signal on a plan. At most one open flag per (plan, code, key)."""

    plan = models.ForeignKey(CarePlan, on_delete=models.CASCADE, related_name="flags")
    component = models.ForeignKey(
        PlanComponent, on_delete=models.CASCADE, null=True, blank=True, related_name="flags"
    )
    session = models.ForeignKey(
        "scheduling.Session", on_delete=models.CASCADE, null=True, blank=True, related_name="flags"
    )
    code = models.CharField(max_length=60)
    # Identifies the gap within the code (e.g. "<component id>:rems_enrollment"); '' when the
    # code alone is the gap. Never NULL, so the partial unique constraint below always applies.
    requirement_key = models.CharField(max_length=120, blank=True, default="")
    severity = models.CharField(max_length=10, choices=_choices(vocab.Severity))
    status = models.CharField(max_length=10, choices=FlagStatus.choices, default=FlagStatus.OPEN)
    message = models.TextField()
    detail = models.JSONField(default=dict, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    dismissed_at = models.DateTimeField(null=True, blank=True)
    dismissed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    dismiss_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["plan", "code", "requirement_key"],
                condition=models.Q(status="open"),
                name="one_open_flag_per_gap",
            ),
            models.CheckConstraint(
                name="flag_dismissal_has_reason",
                condition=~models.Q(status="dismissed") | ~models.Q(dismiss_reason=""),
            ),
        ]
        indexes = [models.Index(fields=["status", "severity"], name="flag_open_severity")]

    def __str__(self) -> str:
        return f"[{self.severity}] {self.code} ({self.status})"
