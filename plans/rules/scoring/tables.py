"""The data tables of the scoring rules (DOMAIN.md §5.2): bands, ranges, change rules."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction

from modalities.vocab import Instrument
from plans.rules.scoring.results import RISK_HIGH, RISK_LOW, RISK_MODERATE, RISK_NONE

# ---------------------------------------------------------------------------------------------
# Data tables (DOMAIN.md §5.2)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BandTable:
    """Bands as printed in the source: ``(low, high, name)``, both ends inclusive, integers.

    A fractional total (the BPI severity mean) is rounded half up to an integer first: the
    source's bands leave gaps such as 4 < x < 5, and rounding splits each gap in the middle.
    """

    bands: tuple[tuple[int, int, str], ...]
    source: str

    def __post_init__(self) -> None:
        expected_low = self.bands[0][0]
        for low, high, name in self.bands:
            if low != expected_low or high < low:
                raise ValueError(f"band {name!r} is not contiguous with the one before it")
            expected_low = high + 1

    @property
    def range(self) -> tuple[int, int]:
        return self.bands[0][0], self.bands[-1][1]

    def band_for(self, total: float | int) -> str:
        rounded = math.floor(Fraction(total) + Fraction(1, 2))
        for low, high, name in self.bands:
            if low <= rounded <= high:
                return name
        raise ValueError(f"total {total} is outside {self.range}")


PHQ9_BANDS = BandTable(
    bands=(
        (0, 4, "minimal"),
        (5, 9, "mild"),
        (10, 14, "moderate"),
        (15, 19, "moderately_severe"),
        (20, 27, "severe"),
    ),
    source="DOMAIN.md §5.2 PHQ-9 row: Kroenke 2001 [GUIDE]",
)
GAD7_BANDS = BandTable(
    bands=((0, 4, "minimal"), (5, 9, "mild"), (10, 14, "moderate"), (15, 21, "severe")),
    source="DOMAIN.md §5.2 GAD-7 row: Spitzer 2006 [GUIDE]",
)
# [WEAK] in DOMAIN.md — a configurable default. The alternative empirical scheme (Front Psychol
# 2016, 10.3389/fpsyg.2016.01466: ≤5 mild, 6–7 moderate, ≥8 severe) can be passed as ``bands=``.
PAIN_NRS_BANDS = BandTable(
    bands=((0, 0, "none"), (1, 3, "mild"), (4, 6, "moderate"), (7, 10, "severe")),
    source="DOMAIN.md §5.2 Pain NRS row: pharmacologicalsciences.us [WEAK]; 0 = none",
)
BPI_SEVERITY_BANDS = BandTable(
    bands=((0, 4, "mild"), (5, 6, "moderate"), (7, 10, "severe")),
    source="DOMAIN.md §5.2 Brief Pain Inventory row: ePPOC/AHSRI wiki [GUIDE]; on the mean",
)

BAND_TABLES: Mapping[Instrument, BandTable] = {
    Instrument.PHQ9: PHQ9_BANDS,
    Instrument.GAD7: GAD7_BANDS,
    Instrument.PAIN_NRS: PAIN_NRS_BANDS,
    Instrument.BPI_SF: BPI_SEVERITY_BANDS,
}

# C-SSRS has no total in the source; for charts its total is the risk level as an ordinal.
CSSRS_RISK_LEVELS: Mapping[str, int] = {RISK_NONE: 0, RISK_LOW: 1, RISK_MODERATE: 2, RISK_HIGH: 3}

INSTRUMENT_RANGES: Mapping[Instrument, tuple[int, int]] = {
    **{instrument: table.range for instrument, table in BAND_TABLES.items()},
    Instrument.CSSRS_SCREENER: (0, 3),
}


@dataclass(frozen=True, slots=True)
class ChangeRule:
    """How change from baseline is judged. Reductions are fractions of the baseline."""

    source: str
    response_reduction: Fraction | None = None
    remission_below: int | None = None
    # Descending (reduction, label); a reduction below the last one is 'none'.
    meaningful: tuple[tuple[Fraction, str], ...] | None = None


# IMMPACT 0–10 pain-scale change categories.
_IMMPACT = (
    (Fraction(50, 100), "substantial"),
    (Fraction(30, 100), "moderate"),
    (Fraction(10, 100), "minimal"),
)

CHANGE_RULES: Mapping[Instrument, ChangeRule] = {
    Instrument.PHQ9: ChangeRule(
        response_reduction=Fraction(50, 100),
        remission_below=5,
        source="DOMAIN.md §5.2 PHQ-9 response/remission row: Psychiatric Services 2019; NCQA",
    ),
    Instrument.GAD7: ChangeRule(
        # Configurable defaults: DOMAIN.md §5.2 gives GAD-7 bands only; both cut-offs are
        # UNSOURCED (common clinical practice), mirroring the PHQ-9 response/remission row.
        response_reduction=Fraction(50, 100),
        remission_below=5,
        source="UNSOURCED (common clinical practice), by analogy with the PHQ-9 row",
    ),
    Instrument.PAIN_NRS: ChangeRule(
        response_reduction=Fraction(30, 100),
        meaningful=_IMMPACT,
        source="DOMAIN.md §5.2 Brief Pain Inventory row (IMMPACT, 0–10 pain scales); Klein 2015",
    ),
    Instrument.BPI_SF: ChangeRule(
        response_reduction=Fraction(30, 100),
        meaningful=_IMMPACT,
        source="DOMAIN.md §5.2 Brief Pain Inventory row (IMMPACT, 0–10 pain scales); Klein 2015",
    ),
}
