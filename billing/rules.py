"""Codes of one fulfilled session — pure functions over the code table and plain facts.

``session_billing`` is what the claims export calls for each row; it never touches the database
and never invents a code: every line's code comes from ``billing/codes.yaml`` with its source.

Rules:
- TMS: the mapping session is 90867; a treatment session is 90868, or 90869 when the completion
  data says the motor threshold was re-determined (``mt_redetermined: true``, DOMAIN.md §1.3).
- SPRAVATO: G2082 for a dose up to 56 mg, G2083 above (completion ``dose_mg``, DOMAIN.md §2.3).
- IV ketamine: 96365 for the first hour; 96366 for each further hour, counted when the infusion
  runs more than 30 minutes into that hour (CPT time rule; ``infusion_minutes``, default 40).
- Neurofeedback: 90901 per session.
- Psychiatric evaluation: 90792 when medical services were part of it (``medical_services:
  true``), else 90791. Follow-ups: the E/M level recorded at completion (``em_code`` 99212–99215);
  none recorded → no code and the problem ``em_level_missing`` (the export shows it).
- Self-pay or off-label: the codes are still listed (a good faith estimate names the expected
  services) but ``claim`` is False and the line is the GFE line (DOMAIN.md §6 GFE row). Medicare
  off-label adds the ABN reminder (DOMAIN.md §6 ABN row).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from billing.catalogue import BillingCatalogue, load


@dataclass(frozen=True, slots=True)
class Line:
    code: str
    system: str
    units: int
    descriptor: str
    source: str


@dataclass(frozen=True, slots=True)
class SessionBilling:
    lines: tuple[Line, ...]
    claim: bool
    note: str = ""
    problems: tuple[str, ...] = field(default_factory=tuple)

    @property
    def codes(self) -> str:
        return " ".join(f"{ln.code}x{ln.units}" if ln.units != 1 else ln.code for ln in self.lines)

    @property
    def units(self) -> int:
        return sum(ln.units for ln in self.lines)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def additional_infusion_hours(minutes: int) -> int:
    """96366 units: each hour after the first, when more than 30 minutes of it are used."""
    extra = max(minutes - 60, 0)
    return extra // 60 + (1 if extra % 60 > 30 else 0)


def _pick(
    rule: Mapping[str, Any], completion: Mapping[str, Any]
) -> tuple[list[tuple[str, int]], list[str]]:
    name = rule["rule"]
    if name == "fixed":
        return [(rule["code"], 1)], []
    if name == "tms_treatment":
        key = "mt_redetermination" if completion.get("mt_redetermined") is True else "subsequent"
        return [(rule[key], 1)], []
    if name == "spravato_dose":
        dose = _int(completion.get("dose_mg"))
        if dose is None:
            return [], ["dose_missing"]
        key = "up_to_threshold" if dose <= int(rule["threshold_mg"]) else "above_threshold"
        return [(rule[key], 1)], []
    if name == "infusion_time":
        minutes = _int(completion.get("infusion_minutes")) or int(rule["default_minutes"])
        out = [(rule["first_hour"], 1)]
        extra = additional_infusion_hours(minutes)
        if extra:
            out.append((rule["additional_hour"], extra))
        return out, []
    if name == "psychiatric_evaluation":
        key = "with_medical" if completion.get("medical_services") is True else "without_medical"
        return [(rule[key], 1)], []
    if name == "em_level":
        level = str(completion.get("em_code") or "")
        if level not in rule["levels"]:
            return [], ["em_level_missing"]
        return [(level, 1)], []
    raise ValueError(f"unknown billing rule {name!r}")


def session_billing(
    *,
    protocol_code: str,
    modality: str,
    kind: str,
    completion: Mapping[str, Any] | None,
    payer_type: str,
    label_status: str,
    catalogue: BillingCatalogue | None = None,
) -> SessionBilling:
    cat = catalogue or load()
    completion = completion or {}
    rule = cat.rule_for(protocol_code=protocol_code, modality=modality, kind=kind)
    picked: list[tuple[str, int]]
    problems: list[str]
    if rule is None:
        picked, problems = [], ["no_billing_rule"]
    else:
        picked, problems = _pick(rule, completion)
    lines = tuple(
        Line(
            code=c,
            system=cat.codes[c].system,
            units=u,
            descriptor=cat.codes[c].descriptor,
            source=cat.codes[c].source,
        )
        for c, u in picked
    )
    nc = cat.no_claim
    if payer_type in nc.get("payer_types", []) or label_status in nc.get("label_statuses", []):
        note = nc["line"]
        if payer_type == "medicare" and label_status == "off_label":
            note += "; Medicare: an ABN (CMS-R-131) is needed before the service (DOMAIN.md §6)"
        return SessionBilling(lines, claim=False, note=note, problems=tuple(problems))
    return SessionBilling(lines, claim=bool(lines), problems=tuple(problems))
