"""Scoring of outcome instruments: totals, bands, safety alerts and change from baseline.

Pure rules over plain data (STYLE.md habit 9): no Django import, so the same code scores a
measure in a service, a data migration or a test. Every threshold lives in a data table below
with the DOMAIN.md §5.2 row it comes from; rules marked [WEAK] or UNSOURCED there are
configurable defaults — callers pass their own table through the ``bands=`` / ``rules=``
keywords (e.g. from Django settings) instead of editing literals.

Answers are validated strictly, because the API turns :class:`ScoringError` into a 400 whose
field errors are keyed by item name: every bad item is reported at once, booleans are not
integers, integers are not booleans, and ``None`` counts as "not answered".

Modules: ``results`` (errors, ``Score``, ``Change``), ``tables`` (the DOMAIN.md §5.2 data),
``instruments`` (item validation, ``score``), ``change`` (``compare_to_baseline``). The names
below are the package's API.
"""

from __future__ import annotations

from plans.rules.scoring.change import (
    compare_to_baseline,
)
from plans.rules.scoring.instruments import (
    BPI_INTERFERENCE_ITEMS,
    BPI_MIN_INTERFERENCE,
    BPI_SEVERITY_ITEMS,
    CSSRS_ITEMS,
    GAD7_ITEMS,
    PAIN_NRS_ITEMS,
    PHQ9_ITEMS,
    score,
)
from plans.rules.scoring.results import (
    ALERT_CSSRS_HIGH_RISK,
    ALERT_PHQ9_ITEM9,
    NOT_AN_OBJECT,
    NOT_BOOLEAN,
    NOT_INTEGER,
    NOT_NUMBER,
    REQUIRED,
    RISK_HIGH,
    RISK_LOW,
    RISK_MODERATE,
    RISK_NONE,
    SKIPPED_WHEN_Q2_NO,
    SKIPPED_WHEN_Q6_NO,
    TOO_FEW_INTERFERENCE,
    UNKNOWN_INSTRUMENT,
    UNKNOWN_ITEM,
    Change,
    Score,
    ScoringError,
)
from plans.rules.scoring.tables import (
    BAND_TABLES,
    BPI_SEVERITY_BANDS,
    CHANGE_RULES,
    CSSRS_RISK_LEVELS,
    GAD7_BANDS,
    INSTRUMENT_RANGES,
    PAIN_NRS_BANDS,
    PHQ9_BANDS,
    BandTable,
    ChangeRule,
)

__all__ = [
    "ALERT_CSSRS_HIGH_RISK",
    "ALERT_PHQ9_ITEM9",
    "BAND_TABLES",
    "BPI_INTERFERENCE_ITEMS",
    "BPI_MIN_INTERFERENCE",
    "BPI_SEVERITY_BANDS",
    "BPI_SEVERITY_ITEMS",
    "CHANGE_RULES",
    "CSSRS_ITEMS",
    "CSSRS_RISK_LEVELS",
    "GAD7_BANDS",
    "GAD7_ITEMS",
    "INSTRUMENT_RANGES",
    "NOT_AN_OBJECT",
    "NOT_BOOLEAN",
    "NOT_INTEGER",
    "NOT_NUMBER",
    "PAIN_NRS_BANDS",
    "PAIN_NRS_ITEMS",
    "PHQ9_BANDS",
    "PHQ9_ITEMS",
    "REQUIRED",
    "RISK_HIGH",
    "RISK_LOW",
    "RISK_MODERATE",
    "RISK_NONE",
    "SKIPPED_WHEN_Q2_NO",
    "SKIPPED_WHEN_Q6_NO",
    "TOO_FEW_INTERFERENCE",
    "UNKNOWN_INSTRUMENT",
    "UNKNOWN_ITEM",
    "BandTable",
    "Change",
    "ChangeRule",
    "Score",
    "ScoringError",
    "compare_to_baseline",
    "score",
]
