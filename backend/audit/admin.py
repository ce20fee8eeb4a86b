"""The audit trail's admin, and the read-only base every patient-data admin uses.

The admin is a platform administrator's window onto the data (role ``admin``, see
backend/accounts/models.py): it lists and searches, it never writes. Writes go through the
services, which enforce the cross-entity rules the admin's forms would skip (STYLE.md habit 4),
and every read of patient data in it is audited like any other (DESIGN.md promise 7).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse

from backend.accounts.models import Role
from backend.audit.models import AuditAction, AuditEvent
from backend.audit.services import record_event


def _is_platform_admin(request: HttpRequest) -> bool:
    user = request.user
    return bool(user.is_active and user.is_staff and getattr(user, "role", "") == Role.ADMIN)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Lists and shows, never adds, changes or deletes; visible to platform admins only."""

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _is_platform_admin(request) and super().has_view_permission(request, obj)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return _is_platform_admin(request) and super().has_module_permission(request)


class PatientDataAdmin(ReadOnlyAdmin):
    """Read-only admin of rows holding patient data: each changelist page and each detail view
    is one audit event naming the patients shown."""

    # Attribute path from a row to its patient's id ("pk" for Patient itself).
    patient_id_path: str = "patient_id"

    def _patient_id(self, obj: Any) -> int | None:
        value: Any = obj
        for part in self.patient_id_path.split("."):
            value = getattr(value, part, None)
        return value

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        response = super().changelist_view(request, extra_context)
        changelist = getattr(response, "context_data", {}).get("cl") if response else None
        if changelist is not None:
            shown = (self._patient_id(o) for o in changelist.result_list)
            patient_ids = sorted({pid for pid in shown if pid is not None})
            record_event(
                actor=request.user,
                action=AuditAction.READ,
                object_type=self.model._meta.label_lower,
                detail={
                    "admin": True,
                    "list": True,
                    "query": dict(request.GET.items()),
                    "patient_ids": patient_ids,
                },
            )
        return response

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        response = super().change_view(request, object_id, form_url, extra_context)
        original = getattr(response, "context_data", {}).get("original") if response else None
        if original is not None:
            record_event(
                actor=request.user,
                action=AuditAction.READ,
                object_type=self.model._meta.label_lower,
                object_id=original.pk,
                patient_id=self._patient_id(original),
                detail={"admin": True},
            )
        return response


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """Read-only: the audit trail is append-only."""

    list_display = ("at", "actor", "action", "object_type", "object_id", "patient_id", "ip")
    list_filter = ("action", "object_type")
    list_select_related = ("actor",)
    search_fields = ("object_id", "request_id")
