"""A session's life after booking: move, cancel, no-show, check-in gate, complete, in error.

Status machine (FHIR Appointment subset): booked → arrived → fulfilled; booked → cancelled |
noshow; arrived → cancelled; any non-terminal or fulfilled → entered-in-error. Anything else is
409 ``illegal_transition``. A cancelled or missed course session is re-flowed: exactly one
make-up is appended by ``scheduling.rules.course.make_up_slot`` (cadence and cap respected,
``replaces`` set) and the active course sessions are renumbered 1..N.

Modules: ``transitions`` (the status machine, lock, audit), ``missed`` (cancel, no-show,
entered-in-error, the make-up), ``moves`` (reschedule), ``check_in`` (the readiness gate),
``complete`` (completion data, checked by ``scheduling.rules.completion``). The names below
are the package's API.
"""

from __future__ import annotations

from scheduling.services.lifecycle.check_in import blocking_gaps, check_in_session
from scheduling.services.lifecycle.complete import complete_session
from scheduling.services.lifecycle.missed import (
    MakeUpResult,
    cancel_session,
    mark_entered_in_error,
    mark_no_show,
)
from scheduling.services.lifecycle.moves import reschedule_session

__all__ = [
    "MakeUpResult",
    "blocking_gaps",
    "cancel_session",
    "check_in_session",
    "complete_session",
    "mark_entered_in_error",
    "mark_no_show",
    "reschedule_session",
]
