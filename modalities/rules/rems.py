"""Is a clinic a SPRAVATO REMS-certified setting on a given day? One predicate (pure).

SPRAVATO is given only in an outpatient setting certified in the SPRAVATO REMS (DOMAIN.md §2.4
Setting certification [REG]). The clinic records the date its certification runs until; the
booking check (``scheduling.services._common.check_rems_site``: 409 ``rems_site_not_certified``)
and the readiness requirement (``plans.rules.readiness``, evidence ``clinic``) both ask this.
"""

from __future__ import annotations

import datetime as dt


def rems_site_certified(until: dt.date | None, day: dt.date) -> bool:
    """True when a certification recorded as valid ``until`` (inclusive) covers ``day``;
    ``None`` (no certification recorded) never does."""
    return until is not None and day <= until


def recorded_until(certification_id: str, until: dt.date | None) -> dt.date | None:
    """The date a clinic's recorded certification runs until: ``until`` when the REMS
    certification id is recorded too, else ``None`` (a date alone certifies nothing)."""
    return until if certification_id else None
