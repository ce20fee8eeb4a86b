"""The versioned protocol catalogue: loader and validator for ``modalities/catalogue/*.yaml``.

Protocols are rules as data (DESIGN.md §3 'Protocol'; DOMAIN.md conventions: "keep regulatory and
label details in versioned data, never scattered as literals in code"). This module is pure: no
Django import. The Django layer syncs these specs into ``Protocol`` rows; the readiness evaluator
(``plans/rules/readiness.py``) reads the requirement specs.

YAML layout (one file per modality)::

    shared: {...}        # optional; YAML anchors only (``&name``/``*name``), ignored
    protocols:           # required; list of protocol mappings (fields: see ``ProtocolSpec``)
      - code: ...

Requirement ``condition`` vocabulary (all-of semantics; every value is a list, a component matches
a key when its fact is / is not in the list): see ``CONDITION_KEYS``.

Requirement ``check`` vocabulary (data checks on the evidence, per evaluation kind): see
``CHECK_KEYS``.

Note: the data directory ``modalities/catalogue/`` has no ``__init__.py`` on purpose; this module
(``modalities/catalogue.py``) wins the import of ``modalities.catalogue``.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from modalities.rules.parameters import parameter_problems
from modalities.rules.phases import Phase
from modalities.specs import (
    CHECK_KEYS,
    CONDITION_KEYS,
    INDICATION_CATEGORIES,
    MEASURE_WHEN,
    CatalogueError,
    IndicationSpec,
    MeasureScheduleItem,
    ProtocolSpec,
    RequirementSpec,
)
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
from notifications.terms import contains_forbidden_term

CATALOGUE_DIR = Path(__file__).resolve().parent / "catalogue"

_TIMINGS_NEEDING_VALUE = {Timing.WITHIN_DAYS_AFTER_EACH_SESSION, Timing.EVERY_N_SESSIONS}
_EVIDENCE_CODE_ENUM: dict[Evidence, type[StrEnum]] = {
    Evidence.EVALUATION: EvaluationKind,
    Evidence.MEASURE: Instrument,
    Evidence.CLINIC: ClinicAttribute,
}
_REQUIREMENT_SEVERITIES = {Severity.BLOCKING, Severity.WARNING}

# ---------------------------------------------------------------------------------------------
# Loading and validation
# ---------------------------------------------------------------------------------------------

_PROTOCOL_REQUIRED = {
    "code",
    "version",
    "modality",
    "title",
    "description",
    "target",
    "parameters",
    "phases",
    "session_minutes",
    "chair_minutes",
    "session_cap",
    "resource_kinds",
    "measure_schedule",
    "preparation",
    "indications",
    "requirements",
    "sources",
}
_PROTOCOL_OPTIONAL = {"mapping_minutes"}
_INDICATION_REQUIRED = {"code", "name", "icd10", "category", "label_status", "source"}
_INDICATION_OPTIONAL = {"device", "coil", "min_age", "max_age", "adjunct", "cleared_coils"}
_REQUIREMENT_REQUIRED = {"key", "evidence", "code", "timing", "severity", "reason", "source"}
_REQUIREMENT_OPTIONAL = {"timing_value", "validity_days", "condition", "check"}
_MEASURE_REQUIRED = {"instrument", "when"}
_MEASURE_OPTIONAL = {"n"}
_PHASE_KEYS = {
    "name",
    "sessions",
    "pattern",
    "sessions_per_week",
    "min_gap_hours",
    "interval_days",
    "sessions_per_day",
    "interval_minutes",
}
_TOP_LEVEL_KEYS = {"protocols", "shared"}


class _Ctx:
    """Error context: file and protocol code, to build precise CatalogueError messages."""

    def __init__(self, file: str, protocol: str | None = None) -> None:
        self.file = file
        self.protocol = protocol

    def fail(self, field_path: str, message: str) -> CatalogueError:
        return CatalogueError(self.file, self.protocol, field_path, message)

    def keys(self, data: Any, path: str, required: set[str], optional: set[str]) -> None:
        if not isinstance(data, dict):
            raise self.fail(path or "<root>", f"expected a mapping, got {type(data).__name__}")
        unknown = sorted(set(data) - required - optional)
        if unknown:
            prefix = f"{path}." if path else ""
            raise self.fail(f"{prefix}{unknown[0]}", "unknown key")
        missing = sorted(required - set(data))
        if missing:
            prefix = f"{path}." if path else ""
            raise self.fail(f"{prefix}{missing[0]}", "required key missing")

    def enum(self, enum_cls: type[StrEnum], value: Any, path: str) -> Any:
        try:
            return enum_cls(value)
        except ValueError:
            allowed = ", ".join(m.value for m in enum_cls)
            raise self.fail(
                path, f"unknown {enum_cls.__name__} value {value!r} (allowed: {allowed})"
            ) from None

    def int_(self, value: Any, path: str, *, minimum: int = 0, nullable: bool = False) -> Any:
        if value is None and nullable:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(path, f"expected an integer ≥ {minimum}, got {value!r}")
        return value

    def str_(self, value: Any, path: str, *, nullable: bool = False) -> Any:
        if value is None and nullable:
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.fail(path, f"expected a non-empty string, got {value!r}")
        return value

    def list_(self, value: Any, path: str, *, allow_empty: bool = True) -> list:
        if not isinstance(value, list) or (not allow_empty and not value):
            raise self.fail(path, "expected a " + ("" if allow_empty else "non-empty ") + "list")
        return value

    def source(self, value: Any, path: str) -> str:
        text = self.str_(value, path)
        if "DOMAIN.md" not in text:
            raise self.fail(path, "must cite a DOMAIN.md row, e.g. 'DOMAIN.md §2.4 …'")
        return text


def _parse_indication(ctx: _Ctx, data: Any, path: str) -> IndicationSpec:
    ctx.keys(data, path, _INDICATION_REQUIRED, _INDICATION_OPTIONAL)
    category = data["category"]
    if category not in INDICATION_CATEGORIES:
        raise ctx.fail(f"{path}.category", f"unknown category {category!r}")
    icd10 = ctx.list_(data["icd10"], f"{path}.icd10")
    for i, code in enumerate(icd10):
        ctx.str_(code, f"{path}.icd10[{i}]")
    adjunct = data.get("adjunct", False)
    if not isinstance(adjunct, bool):
        raise ctx.fail(f"{path}.adjunct", "expected a boolean")
    return IndicationSpec(
        code=ctx.str_(data["code"], f"{path}.code"),
        name=ctx.str_(data["name"], f"{path}.name"),
        icd10=tuple(icd10),
        category=category,
        label_status=ctx.enum(LabelStatus, data["label_status"], f"{path}.label_status"),
        source=ctx.source(data["source"], f"{path}.source"),
        device=ctx.str_(data.get("device"), f"{path}.device", nullable=True),
        coil=ctx.str_(data.get("coil"), f"{path}.coil", nullable=True),
        min_age=ctx.int_(data.get("min_age"), f"{path}.min_age", nullable=True),
        max_age=ctx.int_(data.get("max_age"), f"{path}.max_age", nullable=True),
        adjunct=adjunct,
        cleared_coils=tuple(
            ctx.enum(Coil, c, f"{path}.cleared_coils[{i}]")
            for i, c in enumerate(ctx.list_(data.get("cleared_coils", []), f"{path}.cleared_coils"))
        ),
    )


def _parse_condition(ctx: _Ctx, data: Any, path: str) -> dict[str, tuple[str, ...]]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ctx.fail(path, "expected a mapping")
    out: dict[str, tuple[str, ...]] = {}
    for key, values in data.items():
        if key not in CONDITION_KEYS:
            raise ctx.fail(
                f"{path}.{key}",
                f"unknown condition key (allowed: {', '.join(sorted(CONDITION_KEYS))})",
            )
        ctx.list_(values, f"{path}.{key}", allow_empty=False)
        allowed = CONDITION_KEYS[key]
        parsed = []
        for i, value in enumerate(values):
            if isinstance(allowed, frozenset):
                if value not in allowed:
                    raise ctx.fail(f"{path}.{key}[{i}]", f"unknown value {value!r}")
                parsed.append(value)
            else:
                parsed.append(ctx.enum(allowed, value, f"{path}.{key}[{i}]"))
        out[key] = tuple(parsed)
    return out


def _parse_check(ctx: _Ctx, data: Any, path: str, code: Any) -> dict[str, Any]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ctx.fail(path, "expected a mapping")
    for key, value in data.items():
        if key not in CHECK_KEYS:
            raise ctx.fail(
                f"{path}.{key}", f"unknown check key (allowed: {', '.join(sorted(CHECK_KEYS))})"
            )
        kind, typ = CHECK_KEYS[key]
        if code != kind:
            raise ctx.fail(f"{path}.{key}", f"check applies only to code {kind.value!r}")
        if typ is int:
            ctx.int_(value, f"{path}.{key}", minimum=1)
        else:
            ctx.list_(value, f"{path}.{key}", allow_empty=False)
    return dict(data)


def _parse_requirement(ctx: _Ctx, data: Any, path: str) -> RequirementSpec:
    ctx.keys(data, path, _REQUIREMENT_REQUIRED, _REQUIREMENT_OPTIONAL)
    evidence = ctx.enum(Evidence, data["evidence"], f"{path}.evidence")
    code = ctx.enum(_EVIDENCE_CODE_ENUM[evidence], data["code"], f"{path}.code")
    timing = ctx.enum(Timing, data["timing"], f"{path}.timing")
    timing_value = ctx.int_(
        data.get("timing_value"), f"{path}.timing_value", minimum=1, nullable=True
    )
    if timing in _TIMINGS_NEEDING_VALUE and timing_value is None:
        raise ctx.fail(f"{path}.timing_value", f"required for timing {timing.value!r}")
    severity = ctx.enum(Severity, data["severity"], f"{path}.severity")
    if severity not in _REQUIREMENT_SEVERITIES:
        raise ctx.fail(f"{path}.severity", "requirement severity must be blocking or warning")
    return RequirementSpec(
        key=ctx.str_(data["key"], f"{path}.key"),
        evidence=evidence,
        code=code,
        timing=timing,
        severity=severity,
        reason=ctx.str_(data["reason"], f"{path}.reason"),
        source=ctx.source(data["source"], f"{path}.source"),
        timing_value=timing_value,
        validity_days=ctx.int_(
            data.get("validity_days"), f"{path}.validity_days", minimum=1, nullable=True
        ),
        condition=_parse_condition(ctx, data.get("condition"), f"{path}.condition"),
        check=_parse_check(ctx, data.get("check"), f"{path}.check", code),
    )


def _parse_phase(ctx: _Ctx, data: Any, path: str) -> Phase:
    if not isinstance(data, dict):
        raise ctx.fail(path, "expected a mapping")
    unknown = sorted(set(data) - _PHASE_KEYS)
    if unknown:
        raise ctx.fail(f"{path}.{unknown[0]}", "unknown key")
    try:
        return Phase.from_dict(data)
    except (KeyError, ValueError, TypeError) as exc:
        raise ctx.fail(path, f"invalid phase: {exc}") from None


def _parse_measure(ctx: _Ctx, data: Any, path: str) -> MeasureScheduleItem:
    ctx.keys(data, path, _MEASURE_REQUIRED, _MEASURE_OPTIONAL)
    when = data["when"]
    if when not in MEASURE_WHEN:
        raise ctx.fail(f"{path}.when", f"unknown value {when!r} (allowed: {sorted(MEASURE_WHEN)})")
    n = ctx.int_(data.get("n"), f"{path}.n", minimum=1, nullable=True)
    if when == "every_n_sessions" and n is None:
        raise ctx.fail(f"{path}.n", "required for every_n_sessions")
    return MeasureScheduleItem(
        instrument=ctx.enum(Instrument, data["instrument"], f"{path}.instrument"), when=when, n=n
    )


def _parse_protocol(file: str, data: Any, index: int) -> ProtocolSpec:
    code = data.get("code") if isinstance(data, dict) else None
    ctx = _Ctx(file, code if isinstance(code, str) else f"protocols[{index}]")
    ctx.keys(data, "", _PROTOCOL_REQUIRED, _PROTOCOL_OPTIONAL)
    ctx.str_(data["code"], "code")

    preparation = ctx.str_(data["preparation"], "preparation")
    term = contains_forbidden_term(preparation)
    if term:
        raise ctx.fail("preparation", f"patient-facing text contains forbidden term {term!r}")

    if not isinstance(data["parameters"], dict):
        raise ctx.fail("parameters", "expected a mapping")
    for name, message in parameter_problems(data.get("modality"), data["parameters"])[:1]:
        raise ctx.fail(f"parameters.{name}", message)
    phases = tuple(
        _parse_phase(ctx, p, f"phases[{i}]")
        for i, p in enumerate(ctx.list_(data["phases"], "phases", allow_empty=False))
    )
    cap = ctx.int_(data["session_cap"], "session_cap", minimum=1)
    total = sum(p.sessions for p in phases)
    if total > cap:
        raise ctx.fail("phases", f"phases total {total} sessions, above session_cap {cap}")

    indications = tuple(
        _parse_indication(ctx, ind, f"indications[{i}]")
        for i, ind in enumerate(ctx.list_(data["indications"], "indications", allow_empty=False))
    )
    seen_ind: set[str] = set()
    for i, ind in enumerate(indications):
        if ind.code in seen_ind:
            raise ctx.fail(f"indications[{i}].code", f"duplicate indication code {ind.code!r}")
        seen_ind.add(ind.code)

    requirements = tuple(
        _parse_requirement(ctx, r, f"requirements[{i}]")
        for i, r in enumerate(ctx.list_(data["requirements"], "requirements"))
    )
    seen_req: set[str] = set()
    for i, req in enumerate(requirements):
        if req.key in seen_req:
            raise ctx.fail(f"requirements[{i}].key", f"duplicate requirement key {req.key!r}")
        seen_req.add(req.key)

    sources = ctx.list_(data["sources"], "sources", allow_empty=False)
    for i, src in enumerate(sources):
        ctx.source(src, f"sources[{i}]")

    return ProtocolSpec(
        code=data["code"],
        version=ctx.int_(data["version"], "version", minimum=1),
        modality=ctx.enum(Modality, data["modality"], "modality"),
        title=ctx.str_(data["title"], "title"),
        description=ctx.str_(data["description"], "description"),
        target=ctx.enum(Target, data["target"], "target"),
        parameters=dict(data["parameters"]),
        phases=phases,
        session_minutes=ctx.int_(data["session_minutes"], "session_minutes", minimum=1),
        chair_minutes=ctx.int_(data["chair_minutes"], "chair_minutes", minimum=1),
        mapping_minutes=ctx.int_(
            data.get("mapping_minutes"), "mapping_minutes", minimum=1, nullable=True
        ),
        session_cap=cap,
        resource_kinds=tuple(
            ctx.enum(ResourceKind, r, f"resource_kinds[{i}]")
            for i, r in enumerate(ctx.list_(data["resource_kinds"], "resource_kinds"))
        ),
        measure_schedule=tuple(
            _parse_measure(ctx, m, f"measure_schedule[{i}]")
            for i, m in enumerate(ctx.list_(data["measure_schedule"], "measure_schedule"))
        ),
        preparation=preparation,
        indications=indications,
        requirements=requirements,
        sources=tuple(sources),
        source_file=file,
    )


def parse_catalogue_text(text: str, file: str = "<string>") -> list[ProtocolSpec]:
    """Parse and validate one catalogue YAML document. Raises CatalogueError."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CatalogueError(file, None, "<yaml>", f"invalid YAML: {exc}") from None
    return parse_catalogue_document(doc, file)


def parse_catalogue_document(doc: Any, file: str = "<document>") -> list[ProtocolSpec]:
    """Validate one already-loaded catalogue document (YAML anchors resolved). Raises
    CatalogueError. Used by ``parse_catalogue_text`` and by the catalogue mutation check."""
    ctx = _Ctx(file)
    ctx.keys(doc, "", {"protocols"}, _TOP_LEVEL_KEYS - {"protocols"})
    return [
        _parse_protocol(file, p, i)
        for i, p in enumerate(ctx.list_(doc["protocols"], "protocols", allow_empty=False))
    ]


def load_catalogue(path: Path | None = None) -> list[ProtocolSpec]:
    """Load every ``*.yaml`` in ``path`` (default: ``modalities/catalogue/``), validated.

    Returns the protocols sorted by (modality, code, version). Raises ``CatalogueError`` naming
    the file, protocol code and field on any unknown key or enum value, duplicate (code, version),
    duplicate requirement key, unknown condition/check key, or forbidden preparation term.
    """
    directory = path or CATALOGUE_DIR
    files = [directory] if directory.is_file() else sorted(directory.glob("*.yaml"))
    protocols: list[ProtocolSpec] = []
    seen: dict[tuple[str, int], str] = {}
    for file in files:
        for spec in parse_catalogue_text(file.read_text(encoding="utf-8"), file.name):
            ident = (spec.code, spec.version)
            if ident in seen:
                raise CatalogueError(
                    file.name,
                    spec.code,
                    "version",
                    f"duplicate (code, version) {ident!r}, first defined in {seen[ident]}",
                )
            seen[ident] = file.name
            protocols.append(spec)
    return sorted(protocols, key=lambda p: (p.modality.value, p.code, p.version))
