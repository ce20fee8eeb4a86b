"""Output serializers of the versioned protocol catalogue."""

from __future__ import annotations

from rest_framework import serializers

from api.plans.serializers.fields import enum_field
from modalities import vocab
from modalities.models import Protocol, ProtocolIndication, RequirementSpec

# ---------------------------------------------------------------------------------------------
# Catalogue
# ---------------------------------------------------------------------------------------------


class IndicationOut(serializers.ModelSerializer):
    label_status = enum_field(vocab.LabelStatus, read_only=True)

    class Meta:
        model = ProtocolIndication
        fields = [
            "id",
            "code",
            "name",
            "icd10",
            "category",
            "label_status",
            "device",
            "coil",
            "min_age",
            "max_age",
            "adjunct",
            "source",
        ]


class RequirementSpecOut(serializers.ModelSerializer):
    check = serializers.JSONField(source="checks")
    evidence = enum_field(vocab.Evidence, read_only=True)
    timing = enum_field(vocab.Timing, read_only=True)
    severity = enum_field(vocab.Severity, read_only=True)

    class Meta:
        model = RequirementSpec
        fields = [
            "key",
            "evidence",
            "code",
            "timing",
            "timing_value",
            "validity_days",
            "condition",
            "check",
            "severity",
            "reason",
            "source",
        ]


class ProtocolOut(serializers.ModelSerializer):
    modality = enum_field(vocab.Modality, read_only=True)
    target = enum_field(vocab.Target, read_only=True)
    indications = IndicationOut(many=True, read_only=True)
    requirements = RequirementSpecOut(many=True, read_only=True)
    total_sessions = serializers.SerializerMethodField()
    in_use = serializers.SerializerMethodField()

    class Meta:
        model = Protocol
        fields = [
            "id",
            "code",
            "version",
            "modality",
            "title",
            "description",
            "target",
            "parameters",
            "phases",
            "total_sessions",
            "session_minutes",
            "chair_minutes",
            "mapping_minutes",
            "session_cap",
            "resource_kinds",
            "measure_schedule",
            "preparation",
            "sources",
            "is_active",
            "in_use",
            "indications",
            "requirements",
        ]

    def get_total_sessions(self, obj: Protocol) -> int:
        return sum(int(p.get("sessions", 0)) for p in obj.phases)

    def get_in_use(self, obj: Protocol) -> bool:
        return bool(getattr(obj, "component_count", 0))


class ProtocolRef(serializers.ModelSerializer):
    modality = enum_field(vocab.Modality, read_only=True)
    target = enum_field(vocab.Target, read_only=True)

    class Meta:
        model = Protocol
        fields = ["id", "code", "version", "modality", "title", "target"]


class IndicationRef(serializers.ModelSerializer):
    label_status = enum_field(vocab.LabelStatus, read_only=True)

    class Meta:
        model = ProtocolIndication
        fields = ["id", "code", "name", "category", "label_status"]
