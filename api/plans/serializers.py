"""Input (shape only) and output serializers of the plans API. Rules live in plans.services."""

from __future__ import annotations

import re

from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
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
from backend.accounts.models import Organization, User
from modalities import vocab
from modalities.models import Protocol, ProtocolIndication, RequirementSpec
from plans import access
from plans.models import (
    CarePlan,
    CareTeamMember,
    Channel,
    ComponentStatus,
    Evaluation,
    Flag,
    FlagStatus,
    Measure,
    Patient,
    PlanComponent,
    PlanStatus,
    RecordStatus,
)

ICD10 = re.compile(r"^[A-TV-Z][0-9][0-9AB](\.[0-9A-TV-Z]{1,4})?$", re.IGNORECASE)
# The same rule spelled out for the OpenAPI schema (which has no case-insensitive flag).
ICD10_PATTERN = r"^[A-TV-Za-tv-z][0-9][0-9ABab](\.[0-9A-TV-Za-tv-z]{1,4})?$"


def _choices(enum) -> list[str]:
    return [m.value for m in enum]


def enum_field(enum, **kwargs) -> serializers.ChoiceField:
    """A choice field documented as an *inline* enum: several models have a ``status`` (or
    ``target``, ``instrument`` …) with different code sets, and named enum components would
    collide in the OpenAPI schema (drf-spectacular warns, and the schema test fails on warnings).
    """
    values = [m.value if hasattr(m, "value") else m[0] for m in enum]
    field_cls = extend_schema_field({"type": "string", "enum": values})(
        type("InlineEnumField", (serializers.ChoiceField,), {})
    )
    return field_cls(choices=values, **kwargs)


# ---------------------------------------------------------------------------------------------
# Catalogue
# ---------------------------------------------------------------------------------------------


class IndicationOut(serializers.ModelSerializer):
    label_status = enum_field(vocab.LabelStatus, read_only=True)

    class Meta:
        model = ProtocolIndication
        fields = ["id", "code", "name", "icd10", "category", "label_status", "device", "coil",
                  "min_age", "max_age", "adjunct", "source"]  # fmt: skip


class RequirementSpecOut(serializers.ModelSerializer):
    check = serializers.JSONField(source="checks")
    evidence = enum_field(vocab.Evidence, read_only=True)
    timing = enum_field(vocab.Timing, read_only=True)
    severity = enum_field(vocab.Severity, read_only=True)

    class Meta:
        model = RequirementSpec
        fields = ["key", "evidence", "code", "timing", "timing_value", "validity_days",
                  "condition", "check", "severity", "reason", "source"]  # fmt: skip


class ProtocolOut(serializers.ModelSerializer):
    modality = enum_field(vocab.Modality, read_only=True)
    target = enum_field(vocab.Target, read_only=True)
    indications = IndicationOut(many=True, read_only=True)
    requirements = RequirementSpecOut(many=True, read_only=True)
    total_sessions = serializers.SerializerMethodField()
    in_use = serializers.SerializerMethodField()

    class Meta:
        model = Protocol
        fields = ["id", "code", "version", "modality", "title", "description", "target",
                  "parameters", "phases", "total_sessions", "session_minutes", "chair_minutes",
                  "mapping_minutes", "session_cap", "resource_kinds", "measure_schedule",
                  "preparation", "sources", "is_active", "in_use", "indications",
                  "requirements"]  # fmt: skip

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
        fields = ["id", "organization", "mrn", "given_name", "family_name", "birth_date",
                  "phone", "email", "timezone", "preferred_channel", "sms_consent_at", "user",
                  "care_team", "created_at", "updated_at"]  # fmt: skip


def _all_protocols(user):
    return Protocol.objects.all()  # the catalogue is not patient data: every caller sees it


def _all_indications(user):
    return ProtocolIndication.objects.all()


def patient_field(**kwargs) -> VisibleRelatedField:
    return VisibleRelatedField(
        model=Patient, scope=access.visible_patients, label_name="Patient", **kwargs
    )


def plan_field(**kwargs) -> VisibleRelatedField:
    return VisibleRelatedField(
        model=CarePlan, scope=access.visible_plans, label_name="Plan", **kwargs
    )


def component_field(**kwargs) -> VisibleRelatedField:
    return VisibleRelatedField(
        model=PlanComponent, scope=access.visible_components, label_name="Component", **kwargs
    )


def user_field(**kwargs) -> VisibleRelatedField:
    return VisibleRelatedField(model=User, scope=access.visible_users, label_name="User", **kwargs)


def clinician_field(**kwargs) -> VisibleRelatedField:
    return VisibleRelatedField(
        model=User, scope=access.visible_clinicians, label_name="Clinician", **kwargs
    )


def clinic_field(**kwargs) -> VisibleRelatedField:
    from scheduling.models import Clinic
    from scheduling.selectors import visible_clinics

    return VisibleRelatedField(model=Clinic, scope=visible_clinics, label_name="Clinic", **kwargs)


class PatientIn(InputSerializer):
    organization = VisibleRelatedField(
        model=Organization,
        scope=access.visible_organizations,
        label_name="Organisation",
        required=False,
        help_text="Admins only: the organisation (others use their own).",
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
    organization = None
    care_team = None


class CareTeamIn(InputSerializer):
    user = clinician_field()  # a member is a clinician: another role's id is 404, as unknown
    role = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")


# ---------------------------------------------------------------------------------------------
# Plans and components
# ---------------------------------------------------------------------------------------------


class ComponentIn(InputSerializer):
    protocol = VisibleRelatedField(model=Protocol, scope=_all_protocols, label_name="Protocol")
    indication = VisibleRelatedField(
        model=ProtocolIndication, scope=_all_indications, label_name="Indication"
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
        model=Protocol, scope=_all_protocols, label_name="Protocol", required=False
    )
    indication = VisibleRelatedField(
        model=ProtocolIndication, scope=_all_indications, label_name="Indication",
        required=False,
    )  # fmt: skip
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
        fields = ["id", "plan", "protocol", "indication", "label_status", "target", "laterality",
                  "rationale", "payer_type", "payer_name", "prior_auth_number",
                  "prior_auth_sessions", "prior_auth_expires_on", "status", "position",
                  "created_at", "updated_at"]  # fmt: skip


def _validate_diagnoses(values: list[str]) -> list[str]:
    bad = [v for v in values if not ICD10.match(v)]
    if bad:
        raise serializers.ValidationError(f"not ICD-10 codes: {', '.join(bad)}")
    return [v.upper() for v in values]


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
        return _validate_diagnoses(value)


class PlanPatchIn(InputSerializer):
    clinic = clinic_field(required=False)
    title = serializers.CharField(max_length=200, required=False)
    diagnoses = serializers.ListField(
        child=serializers.RegexField(ICD10_PATTERN, max_length=10), required=False
    )
    goals = serializers.CharField(required=False, allow_blank=True)
    coordinator = user_field(required=False, allow_null=True)

    def validate_diagnoses(self, value):
        return _validate_diagnoses(value)


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
    source = serializers.CharField()
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
    source = serializers.CharField()


class PlanReadinessOut(serializers.Serializer):
    ready_to_start = serializers.BooleanField()
    components = ComponentReadinessOut(many=True)
    warnings = CombinationWarningOut(many=True)


class FlagOut(serializers.ModelSerializer):
    patient = serializers.IntegerField(source="patient_id", read_only=True)
    plan = serializers.IntegerField(
        source="plan_id", read_only=True, allow_null=True,
        help_text="Empty for a patient-level flag raised before the patient had a plan.",
    )  # fmt: skip
    status = enum_field(FlagStatus, read_only=True)
    severity = enum_field(vocab.Severity, read_only=True)

    class Meta:
        model = Flag
        fields = ["id", "plan", "patient", "component", "session", "code", "requirement_key",
                  "severity", "status", "message", "detail", "due_at", "opened_at",
                  "updated_at", "resolved_at", "dismissed_at", "dismissed_by",
                  "dismiss_reason"]  # fmt: skip


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


class PlanOut(serializers.ModelSerializer):
    components = ComponentOut(many=True, read_only=True, source="components.all")
    status = enum_field(PlanStatus, read_only=True)

    class Meta:
        model = CarePlan
        fields = ["id", "patient", "organization", "clinic", "title", "status", "status_reason",
                  "diagnoses", "goals", "coordinator", "created_at", "updated_at",
                  "activated_at", "ended_at", "components"]  # fmt: skip


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
        fields = [*PlanOut.Meta.fields, "ready_to_start", "readiness", "open_flags",
                  "open_flags_more", "latest_measures"]  # fmt: skip

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_open_flags_more(self, plan) -> str | None:
        if not plan.detail.more_open_flags:
            return None
        return f"{reverse('api:flag-list')}?plan={plan.pk}&status=open"


# ---------------------------------------------------------------------------------------------
# Evaluations, measures, flags
# ---------------------------------------------------------------------------------------------


class EvaluationIn(InputSerializer):
    patient = patient_field()
    plan = plan_field(required=False, allow_null=True)
    component = component_field(required=False, allow_null=True)
    kind = enum_field(vocab.EvaluationKind)
    performed_at = BoundedDateTimeField(required=False, window=RECORDED_WINDOW)
    data = serializers.DictField(required=False)  # kind-specific, validated by the service
    valid_until = serializers.DateField(required=False, allow_null=True)
    note = serializers.CharField(required=False, allow_blank=True, default="")


class EvaluationOut(serializers.ModelSerializer):
    kind = enum_field(vocab.EvaluationKind, read_only=True)
    status = enum_field(RecordStatus, read_only=True)

    class Meta:
        model = Evaluation
        fields = ["id", "patient", "plan", "component", "kind", "status", "performed_at",
                  "performed_by", "data", "valid_until", "note", "recorded_by", "recorded_at",
                  "error_reason", "errored_at", "errored_by"]  # fmt: skip


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
        fields = ["id", "patient", "plan", "component", "instrument", "answers", "total", "band",
                  "risk", "subscores", "safety_alert", "is_baseline", "taken_at", "status",
                  "recorded_by", "recorded_at", "baseline", "change", "response",
                  "remission"]  # fmt: skip

    def _pair(self, obj: Measure):
        from plans.selectors import measure_change

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
