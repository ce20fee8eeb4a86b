"""Organisations and users. Custom user model from the first migration (DESIGN.md §3 'User')."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models


class Organization(models.Model):
    """One clinic organisation (several sites). Coordinators see only their organisation."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    COORDINATOR = "coordinator", "Care coordinator"
    CLINICIAN = "clinician", "Clinician"
    PATIENT = "patient", "Patient"
    ADMIN = "admin", "Administrator"


class Credential(models.TextChoices):
    """Clinician credentials; the check-in override and prescribing depend on them."""

    PSYCHIATRIST = "psychiatrist", "Psychiatrist (prescriber)"
    PRESCRIBER = "prescriber", "Prescriber (NP/PA)"
    NURSE = "nurse", "Nurse"
    TECHNICIAN = "technician", "TMS technician"


class User(AbstractUser):
    role = models.CharField(max_length=20, choices=Role.choices)
    credential = models.CharField(max_length=20, choices=Credential.choices, blank=True)
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, null=True, blank=True, related_name="users"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="user_role_valid",
                condition=models.Q(role__in=[r.value for r in Role]),
            ),
            # Credentials belong to clinicians only.
            models.CheckConstraint(
                name="user_credential_only_for_clinicians",
                condition=models.Q(credential="") | models.Q(role=Role.CLINICIAN),
            ),
            # Everyone but a platform admin belongs to exactly one organisation.
            models.CheckConstraint(
                name="user_organization_required",
                condition=models.Q(role=Role.ADMIN) | models.Q(organization__isnull=False),
            ),
        ]

    @property
    def is_coordinator(self) -> bool:
        return self.role == Role.COORDINATOR

    @property
    def is_clinician(self) -> bool:
        return self.role == Role.CLINICIAN

    @property
    def is_patient_user(self) -> bool:
        return self.role == Role.PATIENT

    @property
    def is_platform_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def can_override_gate(self) -> bool:
        """Only a prescriber may override a blocking readiness gate (promise 2)."""
        return self.is_clinician and self.credential in {
            Credential.PSYCHIATRIST,
            Credential.PRESCRIBER,
        }
