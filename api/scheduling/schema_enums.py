"""Enum code lists named in ``SPECTACULAR_SETTINGS['ENUM_NAME_OVERRIDES']``: several fields are
called ``kind`` (evaluation, session, resource) with different code sets; naming each set keeps
the OpenAPI schema free of enum-collision warnings. (value, label) pairs exactly as the models
declare them, so that model fields and input fields resolve to the same component."""

from modalities import vocab
from modalities.models import _choices

SESSION_KIND = _choices(vocab.SessionKind)
RESOURCE_KIND = _choices(vocab.ResourceKind)
# The plans API emits evaluation kinds as a plain value list
# (api.plans.serializers.fields.enum_field); naming it here resolves the ``kind`` collision the
# scheduling fields would otherwise cause.
EVALUATION_KIND = [k.value for k in vocab.EvaluationKind]
