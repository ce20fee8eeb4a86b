"""The billing-code table (``billing/codes.yaml``), loaded once and checked on load.

Every code carries a system, a descriptor and a source; every rule names only codes of the
table. A broken file fails loudly at import of the first report, never with a wrong claim.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

PATH = Path(__file__).with_name("codes.yaml")
RULES = frozenset(
    {
        "fixed",
        "tms_treatment",
        "spravato_dose",
        "infusion_time",
        "psychiatric_evaluation",
        "em_level",
    }
)
_RULE_CODE_KEYS = {
    "fixed": ("code",),
    "tms_treatment": ("subsequent", "mt_redetermination"),
    "spravato_dose": ("up_to_threshold", "above_threshold"),
    "infusion_time": ("first_hour", "additional_hour"),
    "psychiatric_evaluation": ("without_medical", "with_medical"),
    "em_level": (),
}


@dataclass(frozen=True, slots=True)
class Code:
    code: str
    system: str
    descriptor: str
    unit: str
    source: str
    in_domain_md: bool
    facts: str


@dataclass(frozen=True)
class BillingCatalogue:
    codes: dict[str, Code]
    by_protocol: dict[str, dict[str, dict[str, Any]]]
    by_modality: dict[str, dict[str, dict[str, Any]]]
    no_claim: dict[str, Any]

    def rule_for(self, *, protocol_code: str, modality: str, kind: str) -> dict[str, Any] | None:
        for table, key in (
            (self.by_protocol, protocol_code),
            (self.by_modality, modality),
            (self.by_modality, "*"),
        ):
            kinds = table.get(key) or {}
            rule = kinds.get(kind) or kinds.get("*")
            if rule is not None:
                return rule
        return None


class CatalogueError(ValueError):
    pass


def parse(data: dict[str, Any]) -> BillingCatalogue:
    codes: dict[str, Code] = {}
    for code, row in (data.get("codes") or {}).items():
        missing = [k for k in ("system", "descriptor", "source") if not row.get(k)]
        if missing:
            raise CatalogueError(f"code {code}: missing {missing}")
        codes[str(code)] = Code(
            code=str(code),
            system=row["system"],
            descriptor=" ".join(row["descriptor"].split()),
            unit=row.get("unit", "per session"),
            source=row["source"],
            in_domain_md=bool(row.get("in_domain_md", False)),
            facts=row.get("facts", ""),
        )
    for table in ("by_protocol", "by_modality"):
        for owner, kinds in (data.get(table) or {}).items():
            for kind, rule in kinds.items():
                name = rule.get("rule")
                if name not in RULES:
                    raise CatalogueError(f"{table}.{owner}.{kind}: unknown rule {name!r}")
                named = [rule[k] for k in _RULE_CODE_KEYS[name]] + list(rule.get("levels", []))
                unknown = [c for c in named if str(c) not in codes]
                if unknown:
                    raise CatalogueError(f"{table}.{owner}.{kind}: codes not in table {unknown}")
    no_claim = data.get("no_claim") or {}
    if not no_claim.get("source"):
        raise CatalogueError("no_claim: missing source")
    return BillingCatalogue(
        codes=codes,
        by_protocol=data.get("by_protocol") or {},
        by_modality=data.get("by_modality") or {},
        no_claim=no_claim,
    )


@lru_cache(maxsize=1)
def load() -> BillingCatalogue:
    with PATH.open(encoding="utf-8") as fh:
        return parse(yaml.safe_load(fh))
