"""Patients, care teams, integrated plans and what is recorded against them.

FHIR names in brackets (DESIGN.md §3). Code values come from ``modalities.vocab``. Writes go
through ``plans/services``; the database keeps the invariants it can (unique MRN per
organisation, one open flag per gap, status codes).
"""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models

from modalities import vocab
from modalities.models import _choices

_MIN_DAY = date.min


def newest_window_key(starts_on: date | None, pk: int) -> tuple[date, int]:
    """Sort key of approved authorisations, newest window first when reversed: the latest start
    (an open start counts as the earliest), then the latest recorded. The current one is the
    largest (``PlanComponent.current_authorization``; the flag scanner reads rows with it)."""
    return (starts_on or _MIN_DAY, pk)


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
    # Prior authorisations are records of their own (PriorAuthorization below, issue 11); the
    # three ``prior_auth_*`` properties keep the old component fields readable.
    status = models.CharField(
        max_length=12, choices=ComponentStatus.choices, default=ComponentStatus.PLANNED
    )
    position = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["plan", "position", "id"]

    def __str__(self) -> str:
        return f"{self.protocol} for {self.indication.name}"

    # --- coverage, read from the authorisation records (plans.rules.authorization) ----------

    def _approved_authorizations(self) -> list[PriorAuthorization]:
        """Approved authorisations, newest window first; uses a prefetch of ``authorizations``
        when there is one (``plans.selectors.components_with_protocols`` adds it)."""
        cache = getattr(self, "_prefetched_objects_cache", {})
        rows = cache.get("authorizations")
        if rows is None:
            rows = list(self.authorizations.all()) if self.pk else []
        approved = [a for a in rows if a.status == AuthorizationStatus.APPROVED]
        return sorted(approved, key=lambda a: newest_window_key(a.starts_on, a.pk), reverse=True)

    @property
    def current_authorization(self) -> PriorAuthorization | None:
        """The approved authorisation with the latest start (a re-authorisation supersedes)."""
        approved = self._approved_authorizations()
        return approved[0] if approved else None

    @property
    def prior_auth_number(self) -> str:
        current = self.current_authorization
        return current.number if current else ""

    @property
    def prior_auth_sessions(self) -> int | None:
        current = self.current_authorization
        return current.authorized_units if current else None

    @property
    def prior_auth_expires_on(self) -> date | None:
        current = self.current_authorization
        return current.ends_on if current else None

    @property
    def authorized_units_total(self) -> int | None:
        """Units of every approved authorisation together (None: one has no recorded limit)."""
        approved = self._approved_authorizations()
        if not approved or any(a.authorized_units is None for a in approved):
            return None
        return sum(a.authorized_units or 0 for a in approved)


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
    """[Flag] A gap or a safety signal on a plan — or on a patient who has no plan yet (a
    suicide-risk answer at intake screening): ``plan`` is then empty and the flag is attached to
    the first plan created for the patient. At most one open flag per (plan, code, key), and per
    (patient, code, key) among the patient-level ones."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="flags")
    plan = models.ForeignKey(
        CarePlan, on_delete=models.CASCADE, null=True, blank=True, related_name="flags"
    )
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
            models.UniqueConstraint(
                fields=["patient", "code", "requirement_key"],
                condition=models.Q(status="open", plan__isnull=True),
                name="one_open_patient_flag_per_gap",
            ),
            models.CheckConstraint(
                name="flag_dismissal_has_reason",
                condition=~models.Q(status="dismissed") | ~models.Q(dismiss_reason=""),
            ),
        ]
        indexes = [models.Index(fields=["status", "severity"], name="flag_open_severity")]

    def __str__(self) -> str:
        return f"[{self.severity}] {self.code} ({self.status})"

    def save(self, *args, **kwargs) -> None:
        # A plan flag's patient is its plan's (services set it; this covers direct creates).
        if self.patient_id is None and self.plan_id is not None:
            self.patient_id = CarePlan.objects.values_list("patient_id", flat=True).get(
                pk=self.plan_id
            )
        super().save(*args, **kwargs)


class AuthorizationStatus(models.TextChoices):
    REQUESTED = "requested", "Requested"
    APPROVED = "approved", "Approved"
    DENIED = "denied", "Denied"
    EXPIRED = "expired", "Expired"


class PriorAuthorization(models.Model):
    """[Coverage/ClaimResponse preAuthRef] A payer's prior authorisation of a component's course.

    Units are sessions: each fulfilled mapping/treatment session of the component whose clinic
    date falls in [starts_on, ends_on] uses one (derived by query, never a stored counter —
    ``plans.selectors.authorization_usage``). Payers authorise a session count and a date window
    (DOMAIN.md §1.6 "Session cap" [PAYER]; §2.5 approval 6 months / 2 months [PAYER]).
    """

    component = models.ForeignKey(
        PlanComponent, on_delete=models.CASCADE, related_name="authorizations"
    )
    payer_name = models.CharField(max_length=120, blank=True)
    number = models.CharField(max_length=60, blank=True)  # empty while requested
    authorized_units = models.PositiveIntegerField(null=True, blank=True)
    starts_on = models.DateField(null=True, blank=True)
    ends_on = models.DateField(null=True, blank=True)
    status = models.CharField(
        max_length=12, choices=AuthorizationStatus.choices, default=AuthorizationStatus.REQUESTED
    )
    decision_note = models.TextField(blank=True)  # e.g. the payer's denial reason
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["component", "-starts_on", "-id"]
        indexes = [models.Index(fields=["status", "ends_on"], name="auth_status_ends")]
        constraints = [
            models.CheckConstraint(
                name="authorization_status_valid",
                condition=models.Q(status__in=[s.value for s in AuthorizationStatus]),
            ),
            models.CheckConstraint(
                name="authorization_approved_has_number",
                condition=~models.Q(status=AuthorizationStatus.APPROVED) | ~models.Q(number=""),
            ),
            models.CheckConstraint(
                name="authorization_window_ordered",
                condition=models.Q(starts_on__isnull=True)
                | models.Q(ends_on__isnull=True)
                | models.Q(ends_on__gte=models.F("starts_on")),
            ),
        ]

    def __str__(self) -> str:
        return f"PA {self.number or '(pending)'} [{self.status}]"


class EvidenceKind(models.TextChoices):
    FILE = "file", "File"
    LINK = "link", "Link"
    EVALUATION = "evaluation", "Recorded evaluation"


class AuthorizationEvidence(models.Model):
    """What was sent to the payer: a file, a link to a document, or a recorded evaluation."""

    authorization = models.ForeignKey(
        PriorAuthorization, on_delete=models.CASCADE, related_name="evidence"
    )
    kind = models.CharField(max_length=12, choices=EvidenceKind.choices)
    title = models.CharField(max_length=200)
    url = models.URLField(max_length=500, blank=True)
    file = models.FileField(upload_to="authorizations/%Y/%m/", blank=True)
    evaluation = models.ForeignKey(
        Evaluation, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["authorization", "added_at", "id"]
        constraints = [
            models.CheckConstraint(
                name="evidence_has_its_target",
                condition=(models.Q(kind=EvidenceKind.LINK) & ~models.Q(url=""))
                | (models.Q(kind=EvidenceKind.FILE) & ~models.Q(file=""))
                | (models.Q(kind=EvidenceKind.EVALUATION) & models.Q(evaluation__isnull=False)),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind}: {self.title}"


class PlanScanState(models.Model):
    """What the flag scanner last concluded about one plan, so a scan can skip the plans whose
    answer cannot have changed (issue 17; ``plans.scanner.stability``): the instant it judged
    at (``scanned_at``), until when that answer holds with no new facts (``stable_until``;
    NULL = until something changes) and the ``fingerprint`` of the rules, settings and
    catalogue it judged with. Written by the scanner only, which holds the row's lock while it
    judges the plan (two scans of one plan take turns). No foreign key, like ``PlanChange``."""

    plan_id = models.BigIntegerField(primary_key=True)
    scanned_at = models.DateTimeField(null=True, blank=True)
    stable_until = models.DateTimeField(null=True, blank=True)
    fingerprint = models.CharField(max_length=64, blank=True)

    def __str__(self) -> str:
        return f"plan {self.plan_id} scanned at {self.scanned_at}"


class PlanChange(models.Model):
    """A change to what the flag scanner reads for a plan, not yet judged (issue 17).

    Database triggers insert one row per plan a statement touches
    (plans/migrations/0007_plan_scan_state.py, scheduling/migrations/0005_scan_triggers.py: the
    plan, its components, authorisations, sessions and flags, its patient's evaluations and
    measures, its clinic), so no write path — service, admin, bulk update or raw SQL — can
    forget to; they only insert, so they never wait on a lock. A scan deletes the rows it saw
    before reading the plan's facts: a change committed after that read stays, and leaves the
    plan due. No foreign key: the triggers may touch a plan being deleted (its sessions go
    first); the plan's own delete trigger removes its rows."""

    plan_id = models.BigIntegerField(db_index=True)

    def __str__(self) -> str:
        return f"plan {self.plan_id} changed (#{self.pk})"
