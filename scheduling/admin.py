"""Read-only admin of clinics, sessions and reminders (issue 14): list, search, filter; no writes.

Bookings, moves and reminder sends go through the services (scheduling/services/), which keep
the no-double-booking and exactly-once guarantees a model form would bypass.
"""

from __future__ import annotations

from django.contrib import admin

from backend.audit.admin import PatientDataAdmin, ReadOnlyAdmin
from scheduling.models import Clinic, Reminder, Session


@admin.register(Clinic)
class ClinicAdmin(ReadOnlyAdmin):
    list_display = (
        "name",
        "organization",
        "timezone",
        "phone",
        "country",
        "subdivision",
        "rems_certified_until",
    )
    list_filter = ("organization", "country", "subdivision")
    list_select_related = ("organization",)
    search_fields = ("name", "phone", "address", "rems_certification_id")


@admin.register(Session)
class SessionAdmin(PatientDataAdmin):
    list_display = ("starts_at", "patient", "kind", "sequence", "status", "clinic", "clinician")
    list_filter = ("status", "kind", "clinic")
    list_select_related = ("patient", "clinic", "clinician")
    search_fields = ("patient__mrn", "patient__family_name", "patient__given_name", "phase")
    date_hierarchy = "starts_at"


@admin.register(Reminder)
class ReminderAdmin(PatientDataAdmin):
    list_display = ("due_at", "patient", "channel", "kind", "status", "attempts", "sent_at")
    list_filter = ("status", "channel", "kind")
    list_select_related = ("patient",)
    search_fields = ("key", "provider_id", "patient__mrn", "patient__family_name")
    date_hierarchy = "due_at"
