"""Evaluations, measures and flags: input (shape only) and output serializers."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.boundary import (
    RECORDED_WINDOW,
    BoundedDateTimeField,
    InputSerializer,
)
from api.plans.serializers.fields import component_field, enum_field, patient_field, plan_field
from modalities import vocab
from plans.models import (
    Evaluation,
    Flag,
    FlagStatus,
    Measure,
    RecordStatus,
)
from plans.selectors import measure_change


class FlagOut(serializers.ModelSerializer):
    patient = serializers.IntegerField(source="patient_id", read_only=True)
    plan = serializers.IntegerField(
        source="plan_id",
        read_only=True,
        allow_null=True,
        help_text="Empty for a patient-level flag raised before the patient had a plan.",
    )
    status = enum_field(FlagStatus, read_only=True)
    severity = enum_field(vocab.Severity, read_only=True)

    class Meta:
        model = Flag
        fields = [
            "id",
            "plan",
            "patient",
            "component",
            "session",
            "code",
            "requirement_key",
            "severity",
            "status",
            "message",
            "detail",
            "due_at",
            "opened_at",
            "updated_at",
            "resolved_at",
            "dismissed_at",
            "dismissed_by",
            "dismiss_reason",
        ]


class ChangeOut(serializers.Serializer):
    change = serializers.FloatField(allow_null=True)
    percent_change = serializers.FloatField(allow_null=True)
    response = serializers.BooleanField(allow_null=True)
    remission = serializers.BooleanField(allow_null=True)
    meaningful = serializers.CharField(allow_null=True)


class MeasureRef(serializers.ModelSerializer):
    instrument = enum_field(vocab.Instrument, read_only=True)

    class Meta:
        model = Measure
        fields = ["id", "instrument", "total", "band", "risk", "taken_at", "is_baseline"]


class MeasureSummaryOut(serializers.Serializer):
    instrument = serializers.CharField()
    latest = MeasureRef()
    baseline = MeasureRef(allow_null=True)
    change = ChangeOut(allow_null=True)


# ---------------------------------------------------------------------------------------------
# Evaluations, measures, flags
# ---------------------------------------------------------------------------------------------


class EvaluationIn(InputSerializer):
    patient = patient_field()
    plan = plan_field(required=False, allow_null=True)
    component = component_field(required=False, allow_null=True)
    kind = enum_field(vocab.EvaluationKind)
    performed_at = BoundedDateTimeField(required=False, window=RECORDED_WINDOW)
    # kind-specific, validated by the service; a field named "data" shadows Serializer.data
    data = serializers.DictField(required=False)  # type: ignore[assignment]
    valid_until = serializers.DateField(required=False, allow_null=True)
    note = serializers.CharField(required=False, allow_blank=True, default="")


class EvaluationOut(serializers.ModelSerializer):
    kind = enum_field(vocab.EvaluationKind, read_only=True)
    status = enum_field(RecordStatus, read_only=True)

    class Meta:
        model = Evaluation
        fields = [
            "id",
            "patient",
            "plan",
            "component",
            "kind",
            "status",
            "performed_at",
            "performed_by",
            "data",
            "valid_until",
            "note",
            "recorded_by",
            "recorded_at",
            "error_reason",
            "errored_at",
            "errored_by",
        ]


class MeasureIn(InputSerializer):
    patient = patient_field()
    plan = plan_field(required=False, allow_null=True)
    component = component_field(required=False, allow_null=True)
    instrument = enum_field(vocab.Instrument)
    answers = serializers.DictField()  # item → answer, validated by the instrument's scoring
    taken_at = BoundedDateTimeField(required=False, window=RECORDED_WINDOW)
    is_baseline = serializers.BooleanField(required=False, allow_null=True, default=None)


class MeasureOut(serializers.ModelSerializer):
    instrument = enum_field(vocab.Instrument, read_only=True)
    status = enum_field(RecordStatus, read_only=True)
    baseline = serializers.SerializerMethodField()
    change = serializers.SerializerMethodField()
    response = serializers.SerializerMethodField()
    remission = serializers.SerializerMethodField()

    class Meta:
        model = Measure
        fields = [
            "id",
            "patient",
            "plan",
            "component",
            "instrument",
            "answers",
            "total",
            "band",
            "risk",
            "subscores",
            "safety_alert",
            "is_baseline",
            "taken_at",
            "status",
            "recorded_by",
            "recorded_at",
            "baseline",
            "change",
            "response",
            "remission",
        ]

    def _pair(self, obj: Measure):
        baselines = self.context.get("baselines", {})
        baseline = baselines.get(obj.pk)
        return baseline, measure_change(measure=obj, baseline=baseline)

    @extend_schema_field(MeasureRef(allow_null=True))
    def get_baseline(self, obj: Measure):
        baseline, _ = self._pair(obj)
        return MeasureRef(baseline).data if baseline is not None else None

    @extend_schema_field(ChangeOut(allow_null=True))
    def get_change(self, obj: Measure):
        _, change = self._pair(obj)
        return ChangeOut(change).data if change is not None else None

    def get_response(self, obj: Measure) -> bool | None:
        _, change = self._pair(obj)
        return change.response if change is not None else None

    def get_remission(self, obj: Measure) -> bool | None:
        _, change = self._pair(obj)
        return change.remission if change is not None else None
