"""Catalogue admin: editable until a plan component uses the version, read-only afterwards."""

from __future__ import annotations

from django.contrib import admin

from modalities.models import Protocol, ProtocolIndication, RequirementSpec
from modalities.services import protocol_is_used


def _used(obj) -> bool:
    return obj is not None and obj.pk is not None and protocol_is_used(obj)


class _ChildInline(admin.TabularInline):
    extra = 0

    def has_add_permission(self, request, obj=None):
        return not _used(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return not _used(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not _used(obj) and super().has_delete_permission(request, obj)


class IndicationInline(_ChildInline):
    model = ProtocolIndication


class RequirementInline(_ChildInline):
    model = RequirementSpec


@admin.register(Protocol)
class ProtocolAdmin(admin.ModelAdmin):
    list_display = ("code", "version", "modality", "title", "target", "session_cap", "is_active")
    list_filter = ("modality", "is_active")
    search_fields = ("code", "title")
    inlines = [IndicationInline, RequirementInline]

    def has_change_permission(self, request, obj=None):
        # Immutable once used (DESIGN.md §3 'Protocol'): publish a new version instead.
        return not _used(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not _used(obj) and super().has_delete_permission(request, obj)
