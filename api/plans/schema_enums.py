"""Enum code lists named in ``SPECTACULAR_SETTINGS['ENUM_NAME_OVERRIDES']``.

Plans, components, records and flags each have a ``status`` with a different code set; naming
each set keeps the OpenAPI schema free of enum-collision warnings. The serializers emit these
as plain value lists (``api.plans.serializers.fields.enum_field``), so the overrides are value
lists.
"""

from modalities.vocab import RequirementStatus
from plans.models import ComponentStatus, FlagStatus, PlanStatus, RecordStatus

PLAN_STATUS = [s.value for s in PlanStatus]
COMPONENT_STATUS = [s.value for s in ComponentStatus]
RECORD_STATUS = [s.value for s in RecordStatus]
FLAG_STATUS = [s.value for s in FlagStatus]
REQUIREMENT_STATUS = [s.value for s in RequirementStatus]
