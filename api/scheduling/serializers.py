"""Input/output serializers of the scheduling API (shape only; rules live in the services)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from rest_framework import serializers

from api.boundary import (
    BOOKING_WINDOW,
    BoundedDateField,
    InputModelSerializer,
    InputSerializer,
    PhoneField,
    TimeZoneField,
    VisibleRelatedField,
    Window,
    WindowMixin,
    time_zones,
)
from api.plans.serializers.fields import (
    clinic_field,
    clinician_field,
    component_field,
    patient_field,
)
from api.plans.serializers.fields import user_field as _user_field
from modalities import vocab
from modalities.models import _choices
from modalities.rules.rems import recorded_until, rems_site_certified
from plans.selectors import clinic_today
from scheduling.access import visible_resources
from scheduling.models import (
    CalendarFeed,
    Clinic,
    ClinicClosure,
    ClinicHours,
    ClinicianHours,
    Resource,
    Session,
    SessionResource,
)
from scheduling.services.clinics import holiday_countries, holiday_subdivisions


class LocalDateTimeField(WindowMixin, serializers.DateTimeField):
    """Keeps a naive input naive (the view reads it in the clinic zone) and an offset as given."""

    def enforce_timezone(self, value):
        return value


def resource_field(**kwargs):
    return VisibleRelatedField(
        model=Resource, scope=visible_resources, label_name="Resource", **kwargs
    )


# ---------------------------------------------------------------------------------- clinics


class ClinicHoursSerializer(InputModelSerializer):
    class Meta:
        model = ClinicHours
        fields = ["weekday", "opens", "closes"]
        extra_kwargs = {"weekday": {"min_value": 0, "max_value": 6}}


class ClinicClosureSerializer(serializers.ModelSerializer):
    class Meta:
        model = ClinicClosure
        fields = ["date", "reason"]


class ClinicSerializer(InputModelSerializer):
    cross_field_rules = (
        "`subdivision` is blank or one of the `country`'s holiday-calendar subdivisions "
        "(so that closures can be generated for the clinic).",
        "`hours`: `opens` before `closes`; the intervals of one weekday do not overlap.",
    )

    timezone = TimeZoneField()
    phone = PhoneField(max_length=20)
    country = serializers.ChoiceField(choices=holiday_countries(), default="US")
    hours = ClinicHoursSerializer(many=True, required=False)
    closures = ClinicClosureSerializer(many=True, read_only=True)
    rems_certified = serializers.SerializerMethodField()

    class Meta:
        model = Clinic
        fields = [
            "id",
            "organization",
            "name",
            "timezone",
            "phone",
            "address",
            "country",
            "subdivision",
            "rems_certification_id",
            "rems_certified_until",
            "rems_certified",
            "reminder_offsets_minutes",
            "same_day_reminder_minutes",
            "hours",
            "closures",
        ]
        read_only_fields = ["id", "organization"]
        validators: list = []  # (organization, name) uniqueness: checked in the view

    def get_rems_certified(self, obj: Clinic) -> bool:
        """Certified on the clinic's own date (``clinic_today``, as the booking check reads)."""
        until = recorded_until(obj.rems_certification_id, obj.rems_certified_until)
        return rems_site_certified(until, clinic_today(obj))

    def validate_timezone(self, value: str) -> str:
        if value not in time_zones():
            raise serializers.ValidationError("an IANA time zone, e.g. America/New_York")
        return value

    def validate(self, attrs: dict) -> dict:
        instance = self.instance
        country = attrs.get("country", instance.country if instance else "US")
        subdivision = attrs.get("subdivision", instance.subdivision if instance else "")
        if subdivision and subdivision not in holiday_subdivisions(country):
            raise serializers.ValidationError(
                {"subdivision": [f"not a subdivision of {country} with a holiday calendar"]}
            )
        return attrs

    def validate_phone(self, value: str) -> str:
        import phonenumbers

        try:
            number = phonenumbers.parse(value, "US")
        except phonenumbers.NumberParseException:
            raise serializers.ValidationError("a phone number in E.164 form") from None
        if not phonenumbers.is_possible_number(number):
            raise serializers.ValidationError("a phone number in E.164 form")
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


CLOSURE_WINDOW = Window(past=366)


class ClosureInputSerializer(InputSerializer):
    date = BoundedDateField(window=CLOSURE_WINDOW)
    reason = serializers.CharField(max_length=120, required=False, allow_blank=True, default="")


class GenerateClosuresInputSerializer(InputSerializer):
    year = serializers.IntegerField(min_value=2000, max_value=2100)


class GenerateClosuresOutputSerializer(serializers.Serializer):
    created = ClinicClosureSerializer(many=True)


class ResourceSerializer(InputModelSerializer):
    clinic = clinic_field()
    coil_type = serializers.CharField(
        max_length=40,
        required=False,
        allow_blank=True,
        help_text="TMS devices: the coil / system family — one of "
        + ", ".join(c.value for c in vocab.Coil)
        + " (spellings such as 'Figure-8' or 'H7' are normalised). Label status follows it.",
    )

    class Meta:
        model = Resource
        fields = ["id", "clinic", "kind", "name", "coil_type", "is_active"]
        read_only_fields = ["id"]
        validators: list = []

    def validate_coil_type(self, value: str) -> str:
        coil = vocab.normalise_coil(value)
        if coil and coil not in {c.value for c in vocab.Coil}:
            raise serializers.ValidationError(
                "one of " + ", ".join(c.value for c in vocab.Coil) + " (or empty)"
            )
        return coil


class ClinicianHoursSerializer(InputModelSerializer):
    cross_field_rules = ("`ends` after `starts`.",)
    clinician = clinician_field()
    clinic = clinic_field()

    class Meta:
        model = ClinicianHours
        fields = ["id", "clinician", "clinic", "weekday", "starts", "ends"]
        read_only_fields = ["id"]
        extra_kwargs = {"weekday": {"min_value": 0, "max_value": 6}}

    def validate(self, attrs: dict) -> dict:
        if attrs.get("starts") and attrs.get("ends") and attrs["starts"] >= attrs["ends"]:
            raise serializers.ValidationError({"ends": ["must be after starts"]})
        return attrs


# ---------------------------------------------------------------------------------- sessions


class BookingSerializer(serializers.ModelSerializer):
    id = serializers.IntegerField(source="resource.id")
    name = serializers.CharField(source="resource.name")
    kind = serializers.CharField(source="resource.kind")

    class Meta:
        model = SessionResource
        fields = ["id", "name", "kind", "active"]


class SessionSerializer(serializers.ModelSerializer):
    resources = BookingSerializer(source="bookings", many=True, read_only=True)
    local_start = serializers.SerializerMethodField()
    plan = serializers.IntegerField(source="component.plan_id", read_only=True)
    modality = serializers.CharField(source="component.protocol.modality", read_only=True)
    component_label_status = serializers.CharField(
        source="component.label_status",
        read_only=True,
        help_text="The course's label status after this booking: a device outside the "
        "indication's clearance makes it off_label (issue 13).",
    )

    class Meta:
        model = Session
        fields = [
            "id",
            "plan",
            "component",
            "modality",
            "component_label_status",
            "patient",
            "clinic",
            "kind",
            "sequence",
            "phase",
            "starts_at",
            "ends_at",
            "local_start",
            "status",
            "clinician",
            "resources",
            "completion",
            "checked_in_at",
            "override_reason",
            "cancel_reason",
            "replaces",
        ]
        read_only_fields = fields

    def get_local_start(self, obj: Session) -> str:
        return obj.starts_at.astimezone(ZoneInfo(obj.clinic.timezone)).isoformat()


class BookSessionInputSerializer(InputSerializer):
    component = component_field()
    kind = serializers.ChoiceField(choices=_choices(vocab.SessionKind))
    starts_at = LocalDateTimeField(
        help_text="ISO 8601; without an offset it is read as the clinic's local time.",
        window=BOOKING_WINDOW,
    )
    minutes = serializers.IntegerField(min_value=5, max_value=12 * 60, required=False)
    resource_ids = resource_field(many=True, required=False, allow_empty=False)
    clinician = clinician_field(required=False, allow_null=True)
    authorization_override_reason = serializers.CharField(
        max_length=500,
        required=False,
        allow_blank=True,
        default="",
        help_text="Book past the prior authorisation (units or dates) anyway; audited.",
    )


class RescheduleInputSerializer(InputSerializer):
    starts_at = LocalDateTimeField(
        help_text="ISO 8601; without an offset it is read as the clinic's local time.",
        window=BOOKING_WINDOW,
    )
    authorization_override_reason = serializers.CharField(
        max_length=500,
        required=False,
        allow_blank=True,
        default="",
        help_text="Move past the prior authorisation's dates anyway; audited.",
    )


class CancelInputSerializer(InputSerializer):
    reason = serializers.CharField(max_length=500)


class NoShowInputSerializer(InputSerializer):
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class CheckInInputSerializer(InputSerializer):
    override_reason = serializers.CharField(
        max_length=1000, required=False, allow_blank=True, default=""
    )


class CompleteInputSerializer(InputSerializer):
    completion = serializers.DictField()


class MakeUpSerializer(serializers.Serializer):
    session = SessionSerializer(allow_null=True)
    problem = serializers.DictField(allow_null=True)


class MissedSessionOutputSerializer(serializers.Serializer):
    session = SessionSerializer()
    make_up = MakeUpSerializer()


# ---------------------------------------------------------------------------------- course


class ScheduleInputSerializer(InputSerializer):
    cross_field_rules = ("`window_end`, when given, not before `preferred_start`.",)
    starts_on = BoundedDateField(
        window=Window(past="SESSION_BACK_ENTRY_DAYS", future="SCHEDULING_HORIZON_DAYS")
    )
    preferred_start = serializers.TimeField(help_text="Local wall-clock time in the clinic zone.")
    window_end = serializers.TimeField(required=False, allow_null=True, default=None)
    clinician = clinician_field(required=False, allow_null=True, default=None)
    commit = serializers.BooleanField(default=False)
    authorization_override_reason = serializers.CharField(
        max_length=500,
        required=False,
        allow_blank=True,
        default="",
        help_text="Book past the prior authorisation (units or dates) anyway; audited.",
    )

    def validate(self, attrs: dict) -> dict:
        if attrs.get("window_end") and attrs["window_end"] < attrs["preferred_start"]:
            raise serializers.ValidationError(
                {"window_end": ["must not be before preferred_start"]}
            )
        return attrs


class ProposedSessionSerializer(serializers.Serializer):
    sequence = serializers.IntegerField()
    phase = serializers.CharField()
    kind = serializers.CharField()
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    local_start = serializers.DateTimeField()
    resources = serializers.ListField(child=serializers.DictField())
    conflicts = serializers.ListField(child=serializers.CharField())


class CourseScheduleSerializer(serializers.Serializer):
    component_id = serializers.IntegerField()
    committed = serializers.BooleanField()
    already_booked = serializers.IntegerField()
    sessions = ProposedSessionSerializer(many=True)
    problems = serializers.ListField(child=serializers.DictField())
    conflicts = serializers.ListField(child=serializers.DictField())
    session_ids = serializers.ListField(child=serializers.IntegerField())


# ---------------------------------------------------------------------------------- availability


class AvailabilityQuerySerializer(serializers.Serializer):
    cross_field_rules = ("`end` not before `start`, and at most 31 days after it.",)
    clinic = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=_choices(vocab.ResourceKind))
    minutes = serializers.IntegerField(min_value=5, max_value=12 * 60)
    start = serializers.DateField()
    end = serializers.DateField()

    def validate(self, attrs: dict) -> dict:
        if attrs["end"] < attrs["start"]:
            raise serializers.ValidationError({"end": ["must not be before start"]})
        if (attrs["end"] - attrs["start"]).days > 31:
            raise serializers.ValidationError({"end": ["at most 31 days after start"]})
        return attrs


class FreeSlotSerializer(serializers.Serializer):
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    resources = serializers.ListField(child=serializers.DictField())


# ---------------------------------------------------------------------------------- feeds


class FeedInputSerializer(InputSerializer):
    cross_field_rules = ("Exactly one of `patient` and `clinician` (a feed is one person's).",)
    patient = patient_field(required=False, allow_null=True, default=None)
    clinician = _user_field(required=False, allow_null=True, default=None)

    def validate(self, attrs: dict) -> dict:
        if (attrs.get("patient") is None) == (attrs.get("clinician") is None):
            raise serializers.ValidationError(
                {"non_field_errors": ["give patient or clinician, not both"]}
            )
        return attrs


class FeedSerializer(serializers.ModelSerializer):
    class Meta:
        model = CalendarFeed
        fields = ["id", "patient", "clinician", "created_at", "revoked_at"]
        read_only_fields = fields


class FeedCreatedSerializer(FeedSerializer):
    url = serializers.CharField(help_text="The secret feed URL; shown once, never again.")

    class Meta(FeedSerializer.Meta):
        fields = [*FeedSerializer.Meta.fields, "url"]
        read_only_fields = fields
