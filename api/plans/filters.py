"""Query filters of the plans API (django-filter; documented in the OpenAPI schema)."""

from __future__ import annotations

import django_filters as filters

from api.filters import BooleanFilter, IdFilter, StrictFilterSet
from modalities import vocab
from modalities.models import Protocol
from plans.models import CarePlan, Evaluation, Flag, FlagStatus, Measure, PlanStatus, RecordStatus


def _choices(enum) -> list[tuple[str, str]]:
    return [(m.value, m.value) for m in enum]


class ProtocolFilter(StrictFilterSet):
    modality = filters.ChoiceFilter(choices=_choices(vocab.Modality))
    code = filters.CharFilter()
    indication = filters.CharFilter(
        field_name="indications__code", distinct=True, help_text="indication code, e.g. trd"
    )
    category = filters.CharFilter(
        field_name="indications__category",
        distinct=True,
        help_text="indication category: depression, pain, …",
    )
    label_status = filters.ChoiceFilter(
        field_name="indications__label_status", distinct=True, choices=_choices(vocab.LabelStatus)
    )
    icd10 = filters.CharFilter(
        field_name="indications__icd10", lookup_expr="icontains", distinct=True
    )
    is_active = BooleanFilter()

    class Meta:
        model = Protocol
        fields = ["modality", "code", "indication", "category", "label_status", "is_active"]


class PlanFilter(StrictFilterSet):
    patient = IdFilter(field_name="patient_id")
    status = filters.ChoiceFilter(choices=_choices(PlanStatus))

    class Meta:
        model = CarePlan
        fields = ["patient", "status"]


class EvaluationFilter(StrictFilterSet):
    patient = IdFilter(field_name="patient_id")
    plan = IdFilter(field_name="plan_id")
    component = IdFilter(field_name="component_id")
    kind = filters.ChoiceFilter(choices=_choices(vocab.EvaluationKind))
    status = filters.ChoiceFilter(choices=_choices(RecordStatus))

    class Meta:
        model = Evaluation
        fields = ["patient", "plan", "component", "kind", "status"]


class MeasureFilter(StrictFilterSet):
    patient = IdFilter(field_name="patient_id")
    plan = IdFilter(field_name="plan_id")
    instrument = filters.ChoiceFilter(choices=_choices(vocab.Instrument))

    class Meta:
        model = Measure
        fields = ["patient", "plan", "instrument"]


class FlagFilter(StrictFilterSet):
    patient = IdFilter(field_name="patient_id")
    plan = IdFilter(field_name="plan_id")
    status = filters.ChoiceFilter(choices=_choices(FlagStatus))
    severity = filters.ChoiceFilter(choices=_choices(vocab.Severity))
    code = filters.CharFilter()

    class Meta:
        model = Flag
        fields = ["patient", "plan", "status", "severity", "code"]
