"""Ports: what plans needs to know about sessions without importing scheduling.

Layering (DESIGN.md §2): scheduling sits above plans, so plans never imports it. Where plans
rules need session facts (course progress, authorised units used, the devices a course holds,
the scanner's session statistics) they ask the registered :class:`SessionFacts` provider;
scheduling registers its implementation in ``SchedulingConfig.ready()``
(``scheduling.selectors.SessionFactsProvider``).
"""

from __future__ import annotations

from typing import Any, Protocol

from django.db.models import QuerySet

HOLDING_SESSION_STATUSES: tuple[str, ...] = ("booked", "arrived", "fulfilled")
"""Session statuses that hold the patient's and the resources' time, and so count in a course
and against an authorisation: scheduling's ``ACTIVE_SESSION_STATUSES``, spelled here because
plans cannot import scheduling (tests/workers/test_scanner_chunks.py checks they agree)."""

TAKEN_SESSION_STATUSES: tuple[str, ...] = ("arrived", "fulfilled")
"""Of those, the sessions the patient came to (a course has started once one is taken)."""


class SessionFacts(Protocol):
    """Read-only session facts for plans (implemented by scheduling)."""

    def sessions(self) -> QuerySet[Any]:
        """Every session, unscoped. Rows have ``component`` (a plans ``PlanComponent``),
        ``patient``, ``clinic`` (with ``timezone``), ``kind``, ``status``, ``starts_at`` and
        ``sequence`` — the fields plans filters and aggregates on."""
        ...

    def tms_coils_in_use(self, *, component_id: int) -> list[str]:
        """Coil types of the TMS devices held by the component's active bookings."""
        ...


_provider: SessionFacts | None = None


def register_session_facts(provider: SessionFacts) -> None:
    """Install the session-fact provider (scheduling's AppConfig.ready; idempotent)."""
    global _provider
    _provider = provider


def session_facts() -> SessionFacts:
    """The registered provider; a clear error when scheduling is not installed."""
    if _provider is None:
        raise LookupError(
            "no session-fact provider registered: install the scheduling app "
            "(SchedulingConfig.ready registers it)"
        )
    return _provider
