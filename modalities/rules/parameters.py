"""The protocol parameters a rule reads, how to read them, and what the catalogue must state.

The clinical values a session-completion check enforces live in the protocol's catalogue
``parameters`` (``modalities/catalogue/*.yaml``, each protocol citing DOMAIN.md), never as
literals in code: the SPRAVATO monitoring minimum ``monitoring_minutes_min`` (≥2 hours after
each dose, DOMAIN.md §2.4 Monitoring [REG]), the SPRAVATO doses ``dose_mg_options`` or
``dose_mg`` / ``reduced_dose_mg`` / ``day1_dose_mg`` (DOMAIN.md §2.3 [LABEL]) and the ketamine
``dose_range_mg_per_kg`` (DOMAIN.md §3 Standard depression dose [GUIDE]). A protocol that omits
a value its modality needs is a catalogue validation error (``parameter_problems``, called by
the loader), not a silent default.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modalities.clinical_bounds import is_int
from modalities.vocab import Modality

MONITORING_MINUTES_MIN = "monitoring_minutes_min"
DOSE_MG_OPTIONS = "dose_mg_options"
DOSE_MG_KEYS = ("dose_mg", "reduced_dose_mg", "day1_dose_mg")
DOSE_RANGE_MG_PER_KG = "dose_range_mg_per_kg"


def monitoring_minutes_min(parameters: Mapping[str, Any]) -> int | None:
    """The protocol's minimum monitoring after a dose, in minutes; ``None`` when it sets none."""
    value = parameters.get(MONITORING_MINUTES_MIN)
    return value if is_int(value) and value >= 1 else None


def spravato_doses(parameters: Mapping[str, Any]) -> tuple[int, ...]:
    """The doses (mg) a SPRAVATO protocol allows, from its parameters: ``dose_mg_options`` when
    listed, else the distinct ``dose_mg`` / ``reduced_dose_mg`` / ``day1_dose_mg`` (DOMAIN.md
    §2.3: 56 or 84 mg for TRD; 84 mg, reducible to 56 mg, for MDD with suicidal ideation).
    Empty when the protocol names none."""
    options = parameters.get(DOSE_MG_OPTIONS)
    if isinstance(options, list) and options and all(is_int(d) for d in options):
        return tuple(options)
    return tuple(sorted({d for k in DOSE_MG_KEYS if is_int(d := parameters.get(k))}))


def dose_range_mg_per_kg(parameters: Mapping[str, Any]) -> tuple[float, float] | None:
    """The protocol's (low, high) mg/kg dose range, or ``None`` when it states none."""
    value = parameters.get(DOSE_RANGE_MG_PER_KG)
    if (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        and value[0] <= value[1]
    ):
        return value[0], value[1]
    return None


def parameter_problems(modality: str, parameters: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(parameter, message) for each value the modality's rules need that is missing or
    malformed in ``parameters``; ``[]`` when the protocol states them all."""
    problems: list[tuple[str, str]] = []
    if modality == Modality.SPRAVATO:
        if monitoring_minutes_min(parameters) is None:
            problems.append(
                (MONITORING_MINUTES_MIN, "a SPRAVATO protocol needs a positive integer minimum")
            )
        if not spravato_doses(parameters):
            problems.append((DOSE_MG_OPTIONS, "a SPRAVATO protocol needs its doses in mg"))
    if DOSE_RANGE_MG_PER_KG in parameters and dose_range_mg_per_kg(parameters) is None:
        problems.append((DOSE_RANGE_MG_PER_KG, "expected [low, high] mg/kg, low ≤ high"))
    return problems
