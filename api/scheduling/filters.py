"""django-filter sets for the scheduling lists."""

from __future__ import annotations

import django_filters

from api.filters import BooleanFilter, IdFilter, IsoDateTimeFilter, StrictFilterSet
from scheduling.models import Resource, Session, SessionStatus


class SessionFilter(StrictFilterSet):
    start = IsoDateTimeFilter(
        field_name="ends_at", lookup_expr="gt", label="Sessions ending after (ISO 8601)"
    )
    end = IsoDateTimeFilter(
        field_name="starts_at", lookup_expr="lt", label="Sessions starting before (ISO 8601)"
    )
    clinic = IdFilter(field_name="clinic_id")
    clinician = IdFilter(field_name="clinician_id")
    patient = IdFilter(field_name="patient_id")
    component = IdFilter(field_name="component_id")
    plan = IdFilter(field_name="component__plan_id")
    status = django_filters.MultipleChoiceFilter(choices=SessionStatus.choices)

    class Meta:
        model = Session
        fields = ["start", "end", "clinic", "clinician", "patient", "component", "plan", "status"]


class ResourceFilter(StrictFilterSet):
    clinic = IdFilter(field_name="clinic_id")
    kind = django_filters.CharFilter(field_name="kind")
    is_active = BooleanFilter(field_name="is_active")

    class Meta:
        model = Resource
        fields = ["clinic", "kind", "is_active"]
