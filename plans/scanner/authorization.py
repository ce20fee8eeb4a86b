"""The scanner's prior-authorisation rule set (issue 11), kept apart from the scanner's
time-based rules (``plans/scanner/gaps.py``) so the two evolve separately.

For every open component with an approved authorisation, the current authorisation's usage
(derived from the sessions, ``plans.authorizations.current_usage``: one query per clinic zone
over the windows the chunk read once) goes through ``plans.rules.authorization.alerts_for``:

- PRIOR_AUTH_UNITS_LOW — 80 % of the authorised units used (critical when all are used);
- SESSIONS_BEYOND_AUTHORIZATION — sessions booked beyond the authorised count or after the end
  date;
- PRIOR_AUTH_EXPIRING — 14 days before the end date while the course still needs it.

The flags are keyed by component (``requirement_key = "<component id>"``); when a
re-authorisation is approved it becomes the current one and the old alerts resolve.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from django.conf import settings

from plans.authorizations import AuthorizationWindow, current_usage
from plans.reconcile import WantedFlag
from plans.rules.authorization import EXPIRY_WARNING_DAYS, UNITS_WARNING_PERCENT, alerts_for
from plans.selectors import zone_named

CODES = ("prior_auth_units_low", "sessions_beyond_authorization", "prior_auth_expiring")


def authorization_gaps(
    components: list[dict[str, Any]],
    windows: dict[int, list[AuthorizationWindow]],
    *,
    now: dt.datetime,
) -> list[WantedFlag]:
    """The alerts of every open component's current authorisation, judged on today's date in
    its clinic's zone (promise 9: the end date and the session days are clinic-local, so at
    22:00 in New York it is still the day before the UTC date). ``components``: the chunk's
    ``gaps._components`` rows; ``windows``: their approved authorisations (read once for the
    chunk); one query per zone."""
    by_zone: dict[str, dict[int, int]] = defaultdict(dict)
    for c in components:
        if c["id"] in windows:
            by_zone[c["plan__clinic__timezone"]][c["id"]] = c["plan_id"]
    percent = getattr(settings, "PRIOR_AUTH_UNITS_WARNING_PERCENT", UNITS_WARNING_PERCENT)
    days = getattr(settings, "PRIOR_AUTH_WARNING_DAYS", EXPIRY_WARNING_DAYS)
    gaps = []
    for zone, in_zone in by_zone.items():
        today = now.astimezone(zone_named(zone)).date()
        usages = current_usage(in_zone.keys(), today=today, windows=windows)
        for cid, (_window, usage) in usages.items():
            for alert in alerts_for(
                usage, today=today, units_warning_percent=percent, expiry_warning_days=days
            ):
                gaps.append(
                    WantedFlag(
                        in_zone[cid],
                        alert.code,
                        str(cid),
                        alert.severity,
                        alert.message,
                        component_id=cid,
                        detail={**alert.detail, "source": "issue 11; DOMAIN.md §1.6 [PAYER]"},
                    )
                )
    return gaps
