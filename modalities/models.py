"""The protocol catalogue [FHIR PlanDefinition]: rules as data, no patient data.

Rows are loaded from ``modalities/catalogue/*.yaml`` (the versioned source of truth, with a source
for every rule) and may be edited in the admin until a plan uses a version; from then on the
version is immutable and a change means a new version (DESIGN.md §3 'Protocol').
"""

from __future__ import annotations

import uuid
from enum import StrEnum

from django.contrib.postgres.fields import ArrayField
from django.db import models

from modalities import vocab


def _choices(enum: type[StrEnum]) -> list[tuple[str, str]]:
    return [(m.value, m.value.replace("_", " ")) for m in enum]


class Protocol(models.Model):
    code = models.SlugField(max_length=80)
    version = models.PositiveIntegerField()
    modality = models.CharField(max_length=20, choices=_choices(vocab.Modality))
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    target = models.CharField(max_length=30, choices=_choices(vocab.Target))
    parameters = models.JSONField(default=dict, blank=True)
    phases = models.JSONField(default=list)  # list of modalities.rules.phases.Phase as dicts
    session_minutes = models.PositiveIntegerField()
    chair_minutes = models.PositiveIntegerField()  # whole visit incl. monitoring
    mapping_minutes = models.PositiveIntegerField(null=True, blank=True)
    session_cap = models.PositiveIntegerField(null=True, blank=True)
    resource_kinds = ArrayField(
        models.CharField(max_length=30, choices=_choices(vocab.ResourceKind)), default=list
    )
    measure_schedule = models.JSONField(default=list, blank=True)
    preparation = models.TextField(blank=True)  # patient-safe: used in reminders
    sources = models.JSONField(default=list)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # A fresh value on every write to the protocol, its indications or its requirement specs
    # (modalities.spec_cache): the key of the per-process ProtocolSpec cache, read for free with
    # the protocol row, so every process sees an edit of an unused version at its next read.
    revision = models.UUIDField(default=uuid.uuid4, editable=False)

    class Meta:
        ordering = ["modality", "code", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["code", "version"], name="protocol_code_version"),
            models.CheckConstraint(
                name="protocol_chair_covers_session",
                condition=models.Q(chair_minutes__gte=models.F("session_minutes")),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} (v{self.version})"


class ProtocolIndication(models.Model):
    """What a protocol treats, with its label status for this device/coil/age (DOMAIN.md §1.1)."""

    protocol = models.ForeignKey(Protocol, on_delete=models.CASCADE, related_name="indications")
    code = models.SlugField(max_length=80)
    name = models.CharField(max_length=200)
    icd10 = ArrayField(models.CharField(max_length=10), default=list, blank=True)
    category = models.CharField(max_length=20)
    label_status = models.CharField(max_length=20, choices=_choices(vocab.LabelStatus))
    device = models.CharField(max_length=120, blank=True)
    coil = models.CharField(max_length=60, blank=True)
    # vocab.Coil values the clearance covers; empty = no device restriction (DOMAIN.md §1.1)
    cleared_coils = ArrayField(models.CharField(max_length=20), default=list, blank=True)
    min_age = models.PositiveSmallIntegerField(null=True, blank=True)
    max_age = models.PositiveSmallIntegerField(null=True, blank=True)
    adjunct = models.BooleanField(default=False)
    source = models.TextField(blank=True)

    class Meta:
        ordering = ["protocol", "code"]
        constraints = [
            models.UniqueConstraint(fields=["protocol", "code"], name="indication_per_protocol"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.label_status})"


class RequirementSpec(models.Model):
    """An evaluation step a protocol requires: what, when, for how long, under which condition."""

    protocol = models.ForeignKey(Protocol, on_delete=models.CASCADE, related_name="requirements")
    key = models.SlugField(max_length=80)
    evidence = models.CharField(max_length=20, choices=_choices(vocab.Evidence))
    code = models.CharField(max_length=60)
    timing = models.CharField(max_length=40, choices=_choices(vocab.Timing))
    timing_value = models.PositiveIntegerField(null=True, blank=True)
    validity_days = models.PositiveIntegerField(null=True, blank=True)
    condition = models.JSONField(default=dict, blank=True)
    checks = models.JSONField(default=dict, blank=True)  # catalogue key "check"
    severity = models.CharField(max_length=20, choices=_choices(vocab.Severity))
    reason = models.TextField()
    source = models.TextField()

    class Meta:
        ordering = ["protocol", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["protocol", "key"], name="requirement_key_per_protocol"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.protocol.code}:{self.key}"
