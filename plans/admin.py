"""Read-only admin of patients, plans and flags (issue 14): list, search, filter; no writes.

Changes go through the services (plans/services/), which enforce what a model form would skip.
"""

from __future__ import annotations

from django.contrib import admin

from backend.audit.admin import PatientDataAdmin
from plans.models import CarePlan, Flag, Patient


@admin.register(Patient)
class PatientAdmin(PatientDataAdmin):
    patient_id_path = "pk"
    list_display = (
        "mrn",
        "family_name",
        "given_name",
        "organization",
        "preferred_channel",
        "timezone",
        "created_at",
    )
    list_filter = ("organization", "preferred_channel")
    list_select_related = ("organization",)
    search_fields = ("mrn", "family_name", "given_name", "email", "phone")
    exclude = ("care_team",)  # shown through the plans; the through model has its own roles


@admin.register(CarePlan)
class CarePlanAdmin(PatientDataAdmin):
    list_display = (
        "title",
        "patient",
        "status",
        "clinic",
        "organization",
        "coordinator",
        "activated_at",
    )
    list_filter = ("status", "organization", "clinic")
    list_select_related = ("patient", "clinic", "organization", "coordinator")
    search_fields = ("title", "patient__mrn", "patient__family_name", "patient__given_name")
    date_hierarchy = "created_at"


@admin.register(Flag)
class FlagAdmin(PatientDataAdmin):
    patient_id_path = "plan.patient_id"
    list_display = ("code", "severity", "status", "plan", "requirement_key", "due_at", "opened_at")
    list_filter = ("status", "severity", "code")
    list_select_related = ("plan",)
    search_fields = (
        "code",
        "requirement_key",
        "plan__title",
        "plan__patient__mrn",
        "plan__patient__family_name",
    )
    date_hierarchy = "opened_at"
