"""Patients and care teams: input (shape only) and output serializers."""

from __future__ import annotations

from django.utils import timezone
from rest_framework import serializers

from api.boundary import (
    RECORDED_WINDOW,
    BoundedDateField,
    BoundedDateTimeField,
    InputSerializer,
    PhoneField,
    TimeZoneField,
    VisibleRelatedField,
    Window,
)
from api.plans.serializers.fields import clinician_field, enum_field, user_field
from backend.accounts.models import Organization
from plans import access
from plans.models import (
    CareTeamMember,
    Channel,
    Patient,
)

# ---------------------------------------------------------------------------------------------
# Patients
# ---------------------------------------------------------------------------------------------


class CareTeamMemberOut(serializers.ModelSerializer):
    user = serializers.IntegerField(source="user_id")
    name = serializers.SerializerMethodField()
    credential = serializers.CharField(source="user.credential")

    class Meta:
        model = CareTeamMember
        fields = ["user", "name", "credential", "role", "added_at"]

    def get_name(self, obj: CareTeamMember) -> str:
        return obj.user.get_full_name() or obj.user.username


class PatientOut(serializers.ModelSerializer):
    care_team = CareTeamMemberOut(many=True, source="team_members", read_only=True)
    preferred_channel = enum_field(Channel, read_only=True)

    class Meta:
        model = Patient
        fields = [
            "id",
            "organization",
            "mrn",
            "given_name",
            "family_name",
            "birth_date",
            "phone",
            "email",
            "timezone",
            "preferred_channel",
            "sms_consent_at",
            "user",
            "care_team",
            "created_at",
            "updated_at",
        ]


class PatientIn(InputSerializer):
    organization = VisibleRelatedField(
        model=Organization,
        scope=access.visible_organizations,
        label_name="Organisation",
        required=False,
        help_text="Any organisation for an admin; others only their own (or omit it).",
    )
    mrn = serializers.CharField(max_length=40)
    given_name = serializers.CharField(max_length=100)
    family_name = serializers.CharField(max_length=100)
    birth_date = BoundedDateField(window=Window(future=0))
    phone = PhoneField(max_length=32, required=False, allow_blank=True)
    email = serializers.EmailField(required=False, allow_blank=True)
    timezone = TimeZoneField()
    preferred_channel = enum_field(Channel, required=False)
    sms_consent_at = BoundedDateTimeField(required=False, allow_null=True, window=RECORDED_WINDOW)
    user = user_field(required=False, allow_null=True)
    care_team = clinician_field(many=True, required=False)  # another role's id: 404, as unknown

    def validate_birth_date(self, value):
        if value > timezone.now().date():
            raise serializers.ValidationError("must not be in the future")
        return value


class PatientPatchIn(PatientIn):
    organization = None  # type: ignore[assignment]  # DRF drops an inherited field set to None
    care_team = None  # type: ignore[assignment]  # DRF drops an inherited field set to None


class CareTeamIn(InputSerializer):
    user = clinician_field()  # a member is a clinician: another role's id is 404, as unknown
    role = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
