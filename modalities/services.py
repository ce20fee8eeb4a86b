"""Writes to the protocol catalogue: sync the versioned YAML specs into ``Protocol`` rows.

A protocol version is immutable once a plan component uses it (DESIGN.md §3 'Protocol': plans
pin the version they used; editing a protocol never rewrites history). ``sync_catalogue`` is
idempotent: it creates missing versions, updates an unused version in place, and refuses to
change a used one — the fix is to bump ``version`` in the YAML.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from django.db import transaction

from backend.errors import ConflictError
from modalities.catalogue import load_catalogue
from modalities.models import Protocol, ProtocolIndication
from modalities.models import RequirementSpec as RequirementRow
from modalities.rules.phases import Phase
from modalities.specs import IndicationSpec, MeasureScheduleItem, ProtocolSpec, RequirementSpec
from modalities.vocab import (
    ClinicAttribute,
    Coil,
    EvaluationKind,
    Evidence,
    Instrument,
    LabelStatus,
    Modality,
    ResourceKind,
    Severity,
    Target,
    Timing,
)


class CatalogueErrorCode(StrEnum):
    PROTOCOL_VERSION_IN_USE = "protocol_version_in_use"


@dataclass
class SyncResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Spec ⇄ row payloads (plain JSON-able dicts, compared to detect a change)
# ---------------------------------------------------------------------------------------------


def _phase_dict(phase: Phase) -> dict[str, Any]:
    return {k: (str(v) if k == "pattern" else v) for k, v in asdict(phase).items() if v is not None}


def _protocol_fields(spec: ProtocolSpec) -> dict[str, Any]:
    return {
        "modality": str(spec.modality),
        "title": spec.title,
        "description": spec.description,
        "target": str(spec.target),
        "parameters": dict(spec.parameters),
        "phases": [_phase_dict(p) for p in spec.phases],
        "session_minutes": spec.session_minutes,
        "chair_minutes": spec.chair_minutes,
        "mapping_minutes": spec.mapping_minutes,
        "session_cap": spec.session_cap,
        "resource_kinds": [str(r) for r in spec.resource_kinds],
        "measure_schedule": [
            {"instrument": str(m.instrument), "when": m.when, "n": m.n}
            for m in spec.measure_schedule
        ],
        "preparation": spec.preparation,
        "sources": list(spec.sources),
    }


def _indication_fields(ind: IndicationSpec) -> dict[str, Any]:
    return {
        "code": ind.code,
        "name": ind.name,
        "icd10": list(ind.icd10),
        "category": ind.category,
        "label_status": str(ind.label_status),
        "device": ind.device or "",
        "coil": ind.coil or "",
        "cleared_coils": [str(c) for c in ind.cleared_coils],
        "min_age": ind.min_age,
        "max_age": ind.max_age,
        "adjunct": ind.adjunct,
        "source": ind.source,
    }


def _requirement_fields(req: RequirementSpec) -> dict[str, Any]:
    return {
        "key": req.key,
        "evidence": str(req.evidence),
        "code": str(req.code),
        "timing": str(req.timing),
        "timing_value": req.timing_value,
        "validity_days": req.validity_days,
        "condition": {k: [str(v) for v in vs] for k, vs in req.condition.items()},
        "checks": dict(req.check),
        "severity": str(req.severity),
        "reason": req.reason,
        "source": req.source,
    }


def _normal(value: Any) -> Any:
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def _spec_payload(spec: ProtocolSpec) -> Any:
    return _normal(
        {
            "protocol": _protocol_fields(spec),
            "indications": sorted(
                (_indication_fields(i) for i in spec.indications), key=lambda d: str(d["code"])
            ),
            "requirements": [_requirement_fields(r) for r in spec.requirements],
        }
    )


def _row_payload(protocol: Protocol) -> Any:
    proto = {
        name: getattr(protocol, name)
        for name in (
            "modality",
            "title",
            "description",
            "target",
            "parameters",
            "phases",
            "session_minutes",
            "chair_minutes",
            "mapping_minutes",
            "session_cap",
            "resource_kinds",
            "measure_schedule",
            "preparation",
            "sources",
        )
    }
    inds = sorted(
        (
            {
                "code": i.code,
                "name": i.name,
                "icd10": list(i.icd10),
                "category": i.category,
                "label_status": i.label_status,
                "device": i.device,
                "coil": i.coil,
                "cleared_coils": list(i.cleared_coils),
                "min_age": i.min_age,
                "max_age": i.max_age,
                "adjunct": i.adjunct,
                "source": i.source,
            }
            for i in protocol.indications.all()
        ),
        key=lambda d: str(d["code"]),
    )
    reqs = [
        {
            "key": r.key,
            "evidence": r.evidence,
            "code": r.code,
            "timing": r.timing,
            "timing_value": r.timing_value,
            "validity_days": r.validity_days,
            "condition": r.condition,
            "checks": r.checks,
            "severity": r.severity,
            "reason": r.reason,
            "source": r.source,
        }
        for r in sorted(protocol.requirements.all(), key=lambda r: r.pk)
    ]
    return _normal({"protocol": proto, "indications": inds, "requirements": reqs})


def _write_children(protocol: Protocol, spec: ProtocolSpec) -> None:
    ProtocolIndication.objects.bulk_create(
        ProtocolIndication(protocol=protocol, **_indication_fields(i)) for i in spec.indications
    )
    RequirementRow.objects.bulk_create(
        RequirementRow(protocol=protocol, **_requirement_fields(r)) for r in spec.requirements
    )


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------


def protocol_is_used(protocol: Protocol) -> bool:
    # Through the reverse relation of plans' PlanComponent.protocol: modalities sits below plans
    # and never imports it.
    return protocol.components.exists()


@transaction.atomic
def sync_catalogue(*, specs: list[ProtocolSpec] | None = None) -> SyncResult:
    """Load the catalogue specs (default: ``modalities/catalogue/*.yaml``) into the database.

    Idempotent. A (code, version) already stored and unchanged is left alone; an unused one that
    differs is updated in place (its indications and requirements are rewritten); a *used* one
    that differs raises ``ConflictError(protocol_version_in_use)``: bump the version instead.
    """
    specs = load_catalogue() if specs is None else specs
    result = SyncResult()
    existing = {
        (p.code, p.version): p
        for p in Protocol.objects.prefetch_related("indications", "requirements").filter(
            code__in=[s.code for s in specs]
        )
    }
    for spec in specs:
        ident = f"{spec.code}@v{spec.version}"
        row = existing.get((spec.code, spec.version))
        if row is None:
            row = Protocol.objects.create(
                code=spec.code, version=spec.version, **_protocol_fields(spec)
            )
            _write_children(row, spec)
            result.created.append(ident)
            continue
        if _row_payload(row) == _spec_payload(spec):
            result.unchanged.append(ident)
            continue
        if protocol_is_used(row):
            raise ConflictError(
                CatalogueErrorCode.PROTOCOL_VERSION_IN_USE,
                f"protocol {ident} is used by a plan and cannot change; bump its version "
                "in the catalogue to publish the change",
                fields={"version": [f"{ident} is in use"]},
            )
        row.indications.all().delete()
        row.requirements.all().delete()
        _write_children(row, spec)
        for name, value in _protocol_fields(spec).items():
            setattr(row, name, value)
        # Saved after its children (bulk_create sends no signal): the new ``revision`` it gets
        # (modalities.spec_cache) keys the rewritten spec, in every process.
        row.save()
        result.updated.append(ident)
    return result


def protocol_spec_from_model(protocol: Protocol) -> ProtocolSpec:
    """The pure ``ProtocolSpec`` of a stored protocol, for the rules in ``plans/rules``.

    Reads ``protocol.indications.all()`` and ``protocol.requirements.all()``: prefetch them to
    keep the query count constant.
    """
    return ProtocolSpec(
        code=protocol.code,
        version=protocol.version,
        modality=Modality(protocol.modality),
        title=protocol.title,
        description=protocol.description,
        target=Target(protocol.target),
        parameters=protocol.parameters,
        phases=tuple(Phase.from_dict(p) for p in protocol.phases),
        session_minutes=protocol.session_minutes,
        chair_minutes=protocol.chair_minutes,
        mapping_minutes=protocol.mapping_minutes,
        session_cap=protocol.session_cap or 0,
        resource_kinds=tuple(ResourceKind(r) for r in protocol.resource_kinds),
        measure_schedule=tuple(
            MeasureScheduleItem(
                instrument=Instrument(m["instrument"]), when=m["when"], n=m.get("n")
            )
            for m in protocol.measure_schedule
        ),
        preparation=protocol.preparation,
        indications=tuple(indication_spec_from_model(i) for i in protocol.indications.all()),
        requirements=tuple(
            _requirement_spec(r) for r in sorted(protocol.requirements.all(), key=lambda r: r.pk)
        ),
        sources=tuple(protocol.sources),
    )


def indication_spec_from_model(ind: ProtocolIndication) -> IndicationSpec:
    return IndicationSpec(
        code=ind.code,
        name=ind.name,
        icd10=tuple(ind.icd10),
        category=ind.category,
        label_status=LabelStatus(ind.label_status),
        source=ind.source,
        device=ind.device or None,
        coil=ind.coil or None,
        min_age=ind.min_age,
        max_age=ind.max_age,
        adjunct=ind.adjunct,
        cleared_coils=tuple(Coil(c) for c in ind.cleared_coils),
    )


_CODE_ENUMS = {
    Evidence.EVALUATION: EvaluationKind,
    Evidence.MEASURE: Instrument,
    Evidence.CLINIC: ClinicAttribute,
}


def _requirement_spec(row: RequirementRow) -> RequirementSpec:
    evidence = Evidence(row.evidence)
    return RequirementSpec(
        key=row.key,
        evidence=evidence,
        code=_CODE_ENUMS[evidence](row.code),  # type: ignore[arg-type]  # one of the three
        timing=Timing(row.timing),
        severity=Severity(row.severity),
        reason=row.reason,
        source=row.source,
        timing_value=row.timing_value,
        validity_days=row.validity_days,
        condition={k: tuple(v) for k, v in (row.condition or {}).items()},
        check=dict(row.checks or {}),
    )
