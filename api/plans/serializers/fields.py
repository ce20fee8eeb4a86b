"""Field helpers shared by the plans API serializers (and the scheduling and billing APIs):
inline enums, visible-relation fields, the ICD-10 rule."""

from __future__ import annotations

import re

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.boundary import VisibleRelatedField
from backend.accounts.models import User
from modalities.models import Protocol, ProtocolIndication
from plans import access
from plans.models import (
    CarePlan,
    Patient,
    PlanComponent,
)
from scheduling.access import visible_clinics
from scheduling.models import Clinic

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


def all_protocols(user: User) -> QuerySet[Protocol]:
    return Protocol.objects.all()  # the catalogue is not patient data: every caller sees it


def all_indications(user: User) -> QuerySet[ProtocolIndication]:
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
    return VisibleRelatedField(model=Clinic, scope=visible_clinics, label_name="Clinic", **kwargs)


def validate_diagnoses(values: list[str]) -> list[str]:
    bad = [v for v in values if not ICD10.match(v)]
    if bad:
        raise serializers.ValidationError(f"not ICD-10 codes: {', '.join(bad)}")
    return [v.upper() for v in values]
