"""Shapes of the authorisation and report endpoints (rules live in plans/billing services)."""

from __future__ import annotations

from rest_framework import serializers

from api.boundary import InputSerializer, QueryInputSerializer
from api.plans.serializers.fields import enum_field
from plans.models import AuthorizationEvidence, AuthorizationStatus, PriorAuthorization


class EvidenceOut(serializers.ModelSerializer):
    file = serializers.SerializerMethodField()

    class Meta:
        model = AuthorizationEvidence
        fields = ["id", "kind", "title", "url", "file", "evaluation", "added_by", "added_at"]

    def get_file(self, obj: AuthorizationEvidence) -> str:
        return (obj.file.name or "") if obj.file else ""


class AuthorizationOut(serializers.ModelSerializer):
    status = enum_field(AuthorizationStatus, read_only=True)
    evidence = EvidenceOut(many=True, read_only=True)
    used = serializers.SerializerMethodField()
    remaining = serializers.SerializerMethodField()

    class Meta:
        model = PriorAuthorization
        fields = [
            "id",
            "component",
            "payer_name",
            "number",
            "authorized_units",
            "starts_on",
            "ends_on",
            "status",
            "decision_note",
            "used",
            "remaining",
            "evidence",
            "created_by",
            "updated_by",
            "created_at",
            "updated_at",
        ]

    def _usage(self, obj):
        return (self.context.get("usage") or {}).get(obj.pk)

    def get_used(self, obj) -> int | None:
        usage = self._usage(obj)
        return usage.used if usage else None

    def get_remaining(self, obj) -> int | None:
        usage = self._usage(obj)
        return usage.remaining if usage else None


class AuthorizationIn(InputSerializer):
    cross_field_rules = (
        "`status` `approved` (given or stored) needs `number`, `authorized_units`, `starts_on` "
        "and `ends_on` (400 `invalid_authorization`).",
        "`ends_on` on or after `starts_on`; `denied` needs a `decision_note`.",
    )
    payer_name = serializers.CharField(max_length=120, required=False, allow_blank=True)
    number = serializers.CharField(max_length=60, required=False, allow_blank=True)
    authorized_units = serializers.IntegerField(
        min_value=1, max_value=1000, required=False, allow_null=True
    )
    starts_on = serializers.DateField(required=False, allow_null=True)
    ends_on = serializers.DateField(required=False, allow_null=True)
    status = enum_field(AuthorizationStatus, required=False)
    decision_note = serializers.CharField(max_length=2000, required=False, allow_blank=True)


class EvidenceIn(InputSerializer):
    cross_field_rules = (
        "Exactly one of `url`, `file` or `evaluation` (an evaluation of the same patient) "
        "(400 `invalid_authorization`).",
    )
    title = serializers.CharField(max_length=200)
    url = serializers.URLField(max_length=500, required=False, allow_blank=True, default="")
    evaluation = serializers.IntegerField(required=False, allow_null=True, default=None)
    file = serializers.FileField(required=False, allow_null=True, default=None, max_length=200)


class ReportFiltersIn(QueryInputSerializer):
    cross_field_rules = ("`date_to`, when given with `date_from`, not before it.",)
    clinic = serializers.IntegerField(required=False, allow_null=True, default=None)
    protocol = serializers.CharField(max_length=80, required=False, default="")
    date_from = serializers.DateField(required=False, allow_null=True, default=None)
    date_to = serializers.DateField(required=False, allow_null=True, default=None)
    limit = serializers.IntegerField(min_value=1, max_value=1000, required=False, default=200)
    offset = serializers.IntegerField(min_value=0, required=False, default=0)

    def validate(self, attrs: dict) -> dict:
        if attrs["date_from"] and attrs["date_to"] and attrs["date_to"] < attrs["date_from"]:
            raise serializers.ValidationError({"date_to": ["on or after date_from"]})
        return attrs
