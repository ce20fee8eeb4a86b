"""Flag codes: a stable vocabulary shared by the readiness sync and the periodic scanner.

Ownership keeps the two writers from fighting over one row:

- ``plans.services`` (readiness sync, on every change) opens and resolves REQUIREMENT_*,
  COMBINATION_REVIEW and SAFETY_* flags;
- ``plans.scanner`` (beat every 10 minutes, and on commit of a change) owns the time-based codes
  below and may *escalate* an open REQUIREMENT_* flag (e.g. to critical when a session is near).

Neither writer ever lowers the severity of an open flag. ``requirement_key`` identifies the gap
within a code: ``"<component id>:<requirement key>"`` for requirements, ``"<session id>"`` for
per-session gaps, ``""`` when the code alone is the gap.
"""

from __future__ import annotations

from enum import StrEnum


class FlagCode(StrEnum):
    # readiness sync (plans.services)
    REQUIREMENT_MISSING = "requirement_missing"
    REQUIREMENT_EXPIRED = "requirement_expired"
    COMBINATION_REVIEW = "combination_review"
    SAFETY_PHQ9_ITEM9 = "safety_phq9_item9"
    SAFETY_CSSRS_HIGH_RISK = "safety_cssrs_high_risk"
    # scanner (plans.scanner)
    REMS_MONITORING_FORM_OVERDUE = "rems_monitoring_form_overdue"
    INDUCTION_REVIEW_DUE = "induction_review_due"
    WEEKLY_PHQ9_OVERDUE = "weekly_phq9_overdue"
    PRIOR_AUTH_EXPIRING = "prior_auth_expiring"
    SESSIONS_BEYOND_AUTHORIZATION = "sessions_beyond_authorization"
    PRIOR_AUTH_UNITS_LOW = "prior_auth_units_low"  # 80 % of units used (scanner.authorization)
    FOLLOW_UP_OVERDUE = "follow_up_overdue"
    NO_SHOW_STREAK = "no_show_streak"
    REQUIREMENT_EXPIRING = "requirement_expiring"
    REMINDER_FAILED = "reminder_failed"
    # check-in gate (scheduling.services)
    GATE_OVERRIDDEN = "gate_overridden"


SEVERITY_ORDER = {"info": 0, "warning": 1, "critical": 2, "blocking": 3}


SAFETY_CODES = frozenset({FlagCode.SAFETY_PHQ9_ITEM9, FlagCode.SAFETY_CSSRS_HIGH_RISK})
"""Safety-critical flags (suicide risk: DOMAIN.md §5.2 PHQ-9 item 9 / C-SSRS rows, §5.1 Zero
Suicide). They come first everywhere — worklist, plan page banner, API flag lists — ahead of
any paperwork gap, even a *blocking* one, and notify the prescribers at once."""
