from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from backend.accounts.models import Organization, User


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "email", "role", "credential", "organization", "is_active")
    list_filter = ("role", "credential", "organization")
    fieldsets = (
        *(BaseUserAdmin.fieldsets or ()),
        ("Role", {"fields": ("role", "credential", "organization")}),
    )
    add_fieldsets = (
        *BaseUserAdmin.add_fieldsets,
        ("Role", {"fields": ("role", "credential", "organization")}),
    )
