"""What the flag scanner reads beyond readiness: expiry forecasts, combination warnings."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from modalities.vocab import EvaluationKind, Modality, RequirementStatus, Severity, Timing
from plans.rules.readiness.checks import RECHECKED_TIMINGS
from plans.rules.readiness.facts import (
    CombinationWarning,
    ComponentFacts,
    ComponentReadiness,
)

# ---------------------------------------------------------------------------------------------
# Expiry forecast (the scanner warns before an expiry blocks a booked session)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExpiryForecast:
    """A satisfied blocking step whose validity ends before a booked session it must cover."""

    key: str
    code: str
    expires_on: dt.date
    blocks_sequence: int
    blocks_on: dt.date
    reason: str
    source: str


def forecast_expiries(
    readiness: ComponentReadiness,
    *,
    booked: Sequence[tuple[int, dt.date]],
    started: bool,
) -> list[ExpiryForecast]:
    """Which satisfied blocking steps would be expired at a booked future session.

    ``booked``: (sequence, local date) of the booked course sessions still to come. A
    ``valid_during_course`` / ``before_every_session`` step must cover every one of them; a
    ``before_first_session`` step only the first session, and nothing once the course started
    (it is never re-checked). The earliest session it would block is reported.
    """
    out: list[ExpiryForecast] = []
    ordered = sorted(booked)
    for item in readiness.items:
        if (
            item.status != RequirementStatus.SATISFIED
            or item.expires_on is None
            or item.severity != Severity.BLOCKING
        ):
            continue
        if item.timing in RECHECKED_TIMINGS:
            sessions = ordered
        elif item.timing == Timing.BEFORE_FIRST_SESSION and not started:
            sessions = ordered[:1]
        else:
            continue
        expires = item.expires_on
        blocked = next(((seq, on) for seq, on in sessions if on > expires), None)
        if blocked is None:
            continue
        out.append(
            ExpiryForecast(
                key=item.key,
                code=item.code,
                expires_on=expires,
                blocks_sequence=blocked[0],
                blocks_on=blocked[1],
                reason=item.reason,
                source=item.source,
            )
        )
    return out


# ---------------------------------------------------------------------------------------------
# Combination warnings
# ---------------------------------------------------------------------------------------------


def combination_warnings(components: Sequence[ComponentFacts]) -> list[CombinationWarning]:
    """SPRAVATO with ketamine or TMS in one plan → a ``combination_review`` warning.

    DOMAIN.md §2.5 [PAYER]: some plans bar concomitant ECT/TMS/VNS/DBS and concomitant ketamine
    with SPRAVATO. DOMAIN.md §1.6 [PAYER]: concurrent ketamine/esketamine with TMS was historically
    a contraindication; some plans now require documentation.
    """
    by_modality: dict[Modality, list[Any]] = {}
    for c in components:
        by_modality.setdefault(c.protocol.modality, []).append(c.component_id)
    spravato = by_modality.get(Modality.SPRAVATO, [])
    if not spravato:
        return []
    warnings: list[CombinationWarning] = []
    ketamine = by_modality.get(Modality.KETAMINE, [])
    if ketamine:
        warnings.append(
            CombinationWarning(
                code=EvaluationKind.COMBINATION_REVIEW,
                component_ids=(*spravato, *ketamine),
                severity=Severity.WARNING,
                reason=(
                    "SPRAVATO and IV ketamine in one plan: some payer policies bar concomitant "
                    "ketamine with SPRAVATO; a prescriber should review and document the "
                    "combination."
                ),
                source="DOMAIN.md §2.5 Typical payer criteria (SPRAVATO) [PAYER]",
            )
        )
    tms = by_modality.get(Modality.TMS, [])
    if tms:
        warnings.append(
            CombinationWarning(
                code=EvaluationKind.COMBINATION_REVIEW,
                component_ids=(*spravato, *tms),
                severity=Severity.WARNING,
                reason=(
                    "SPRAVATO and TMS in one plan: some payer policies bar concomitant TMS with "
                    "SPRAVATO (and concurrent esketamine with TMS); check payer policy and "
                    "document the combination."
                ),
                source=(
                    "DOMAIN.md §2.5 Typical payer criteria (SPRAVATO) [PAYER]; "
                    "§1.6 Concurrent ketamine/esketamine [PAYER]"
                ),
            )
        )
    return warnings
