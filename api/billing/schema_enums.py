"""Enum code lists of the billing area named in ``SPECTACULAR_SETTINGS['ENUM_NAME_OVERRIDES']``
(a prior authorisation's ``status`` and an evidence row's ``kind`` collide with other sets)."""

from plans.models import AuthorizationStatus, EvidenceKind

AUTHORIZATION_STATUS = [s.value for s in AuthorizationStatus]
EVIDENCE_KIND = [k.value for k in EvidenceKind]
