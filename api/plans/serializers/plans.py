"""Plans, components and readiness: input (shape only) and output serializers. Rules live in
plans.services."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.boundary import (
    BoundedDateField,
    InputSerializer,
    VisibleRelatedField,
    Window,
)
from api.plans.serializers.catalogue import IndicationRef, ProtocolRef
from api.plans.serializers.fields import (
    ICD10_PATTERN,
    all_indications,
    all_protocols,
    clinic_field,
    enum_field,
    patient_field,
    user_field,
    validate_diagnoses,
)
from api.plans.serializers.records import FlagOut, MeasureSummaryOut
from modalities import vocab
from modalities.models import Protocol, ProtocolIndication
from plans.models import (
    CarePlan,
    ComponentStatus,
    PlanComponent,
    PlanStatus,
)

# ---------------------------------------------------------------------------------------------
# Plans and components
# ---------------------------------------------------------------------------------------------


class ComponentIn(InputSerializer):
    protocol = VisibleRelatedField(model=Protocol, scope=all_protocols, label_name="Protocol")
    indication = VisibleRelatedField(
        model=ProtocolIndication, scope=all_indications, label_name="Indication"
    )
    target = enum_field(vocab.Target, required=False)
    laterality = serializers.CharField(max_length=10, required=False, allow_blank=True)
    rationale = serializers.CharField(required=False, allow_blank=True)
    payer_type = enum_field(vocab.PayerType)
    payer_name = serializers.CharField(max_length=120, required=False, allow_blank=True)
    prior_auth_number = serializers.CharField(max_length=60, required=False, allow_blank=True)
    prior_auth_sessions = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    prior_auth_expires_on = BoundedDateField(
        required=False, allow_null=True, window=Window(past=3 * 366)
    )


class ComponentPatchIn(ComponentIn):
    protocol = VisibleRelatedField(
        model=Protocol, scope=all_protocols, label_name="Protocol", required=False
    )
    indication = VisibleRelatedField(
        model=ProtocolIndication,
        scope=all_indications,
        label_name="Indication",
        required=False,
    )
    payer_type = enum_field(vocab.PayerType, required=False)


class ComponentOut(serializers.ModelSerializer):
    protocol = ProtocolRef(read_only=True)
    indication = IndicationRef(read_only=True)
    label_status = enum_field(vocab.LabelStatus, read_only=True)
    target = enum_field(vocab.Target, read_only=True)
    payer_type = enum_field(vocab.PayerType, read_only=True)
    status = enum_field(ComponentStatus, read_only=True)

    class Meta:
        model = PlanComponent
        fields = [
            "id",
            "plan",
            "protocol",
            "indication",
            "label_status",
            "target",
            "laterality",
            "rationale",
            "payer_type",
            "payer_name",
            "prior_auth_number",
            "prior_auth_sessions",
            "prior_auth_expires_on",
            "status",
            "position",
            "created_at",
            "updated_at",
        ]


class PlanIn(InputSerializer):
    patient = patient_field()
    clinic = clinic_field()
    title = serializers.CharField(max_length=200)
    diagnoses = serializers.ListField(
        child=serializers.RegexField(ICD10_PATTERN, max_length=10), required=False
    )
    goals = serializers.CharField(required=False, allow_blank=True)
    coordinator = user_field(required=False, allow_null=True)
    components = ComponentIn(many=True, required=False)

    def validate_diagnoses(self, value):
        return validate_diagnoses(value)


class PlanPatchIn(InputSerializer):
    clinic = clinic_field(required=False)
    title = serializers.CharField(max_length=200, required=False)
    diagnoses = serializers.ListField(
        child=serializers.RegexField(ICD10_PATTERN, max_length=10), required=False
    )
    goals = serializers.CharField(required=False, allow_blank=True)
    coordinator = user_field(required=False, allow_null=True)

    def validate_diagnoses(self, value):
        return validate_diagnoses(value)


class ReasonIn(InputSerializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="")


# Schema of the actions whose service requires a reason (400 ``reason_required``): the views
# parse ``ReasonIn`` so that the service's stable code answers; the schema states the rule.
class ReasonRequiredIn(InputSerializer):
    """A reason is required (not only whitespace)."""

    reason = serializers.RegexField(r"\S", help_text="required; not only whitespace")


class RequirementResultOut(serializers.Serializer):
    key = serializers.CharField()
    evidence = serializers.CharField()
    code = serializers.CharField()
    status = enum_field(vocab.RequirementStatus)
    severity = serializers.CharField()
    timing = serializers.CharField()
    reason = serializers.CharField()
    source = serializers.CharField()  # type: ignore[assignment]  # shadows Field.source
    applies_because = serializers.CharField()
    detail = serializers.CharField()
    satisfied_by = serializers.CharField(allow_null=True)
    expires_on = serializers.DateField(allow_null=True)
    blocks_start = serializers.BooleanField()


class ComponentReadinessOut(serializers.Serializer):
    component_id = serializers.IntegerField()
    ready_to_start = serializers.BooleanField()
    items = RequirementResultOut(many=True)


class CombinationWarningOut(serializers.Serializer):
    code = serializers.CharField()
    component_ids = serializers.ListField(child=serializers.IntegerField())
    severity = serializers.CharField()
    reason = serializers.CharField()
    source = serializers.CharField()  # type: ignore[assignment]  # shadows Field.source


class PlanReadinessOut(serializers.Serializer):
    ready_to_start = serializers.BooleanField()
    components = ComponentReadinessOut(many=True)
    warnings = CombinationWarningOut(many=True)


class PlanOut(serializers.ModelSerializer):
    components = ComponentOut(many=True, read_only=True, source="components.all")
    status = enum_field(PlanStatus, read_only=True)

    class Meta:
        model = CarePlan
        fields = [
            "id",
            "patient",
            "organization",
            "clinic",
            "title",
            "status",
            "status_reason",
            "diagnoses",
            "goals",
            "coordinator",
            "created_at",
            "updated_at",
            "activated_at",
            "ended_at",
            "components",
        ]


class PlanDetailOut(PlanOut):
    """Plan + components + readiness (per requirement) + open flags + latest measures."""

    components = ComponentOut(many=True, read_only=True, source="detail.components")
    readiness = PlanReadinessOut(read_only=True, source="detail.readiness")
    ready_to_start = serializers.BooleanField(
        read_only=True, source="detail.readiness.ready_to_start"
    )
    open_flags = FlagOut(many=True, read_only=True, source="detail.open_flags")
    open_flags_more = serializers.SerializerMethodField(
        help_text="when open_flags holds only the newest ones: the flags list of all of them"
    )
    latest_measures = MeasureSummaryOut(many=True, read_only=True, source="detail.latest_measures")

    class Meta(PlanOut.Meta):
        fields = [
            *PlanOut.Meta.fields,
            "ready_to_start",
            "readiness",
            "open_flags",
            "open_flags_more",
            "latest_measures",
        ]

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_open_flags_more(self, plan) -> str | None:
        if not plan.detail.more_open_flags:
            return None
        return f"{reverse('api:flag-list')}?plan={plan.pk}&status=open"
