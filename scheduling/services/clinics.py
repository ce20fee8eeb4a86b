"""Sites, their weekly hours and closures, resources and clinician hours."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, time
from functools import cache
from typing import Any

from django.db import transaction

from backend.errors import InvalidInput
from scheduling.errors import SchedulingErrorCode
from scheduling.models import Clinic, ClinicClosure, ClinicHours


@transaction.atomic
def set_clinic_hours(*, clinic: Clinic, hours: Sequence[dict[str, Any]]) -> list[ClinicHours]:
    """Replace the clinic's weekly hours (rows of weekday 0=Monday, opens, closes, local)."""
    by_day: dict[int, list[tuple[time, time]]] = {}
    for i, row in enumerate(hours):
        opens, closes = row["opens"], row["closes"]
        if not opens < closes:
            raise InvalidInput(
                "validation_error",
                "Opening must be before closing.",
                fields={"hours": {str(i): ["opens must be before closes"]}},
            )
        for o, c in by_day.get(row["weekday"], []):
            if opens < c and o < closes:
                raise InvalidInput(
                    "validation_error",
                    "Opening intervals of one day overlap.",
                    fields={"hours": {str(i): ["overlaps another interval of that day"]}},
                )
        by_day.setdefault(row["weekday"], []).append((opens, closes))
    ClinicHours.objects.filter(clinic=clinic).delete()
    return ClinicHours.objects.bulk_create(
        ClinicHours(clinic=clinic, weekday=row["weekday"], opens=row["opens"], closes=row["closes"])
        for row in hours
    )


@transaction.atomic
def add_closure(*, clinic: Clinic, day: date, reason: str = "") -> ClinicClosure:
    closure, _ = ClinicClosure.objects.update_or_create(
        clinic=clinic, date=day, defaults={"reason": reason[:120]}
    )
    return closure


@transaction.atomic
def remove_closure(*, clinic: Clinic, day: date) -> int:
    deleted, _ = ClinicClosure.objects.filter(clinic=clinic, date=day).delete()
    return deleted


@cache
def _calendars() -> dict[str, tuple[str, ...]]:
    import holidays

    supported = holidays.list_supported_countries()
    return {code: tuple(subs) for code, subs in sorted(supported.items()) if len(code) == 2}


def holiday_countries() -> list[str]:
    """The ISO 3166 alpha-2 countries the ``holidays`` package has a calendar for (a clinic's
    ``country`` is one of them, so that its closures can be generated)."""
    return list(_calendars())


def holiday_subdivisions(country: str) -> list[str]:
    """The subdivisions of ``country`` with a calendar of their own (empty for most)."""
    return list(_calendars().get(country, ()))


def holiday_calendar_problem(country: str, subdivision: str = "") -> str | None:
    """Why no holiday calendar exists for ``country``/``subdivision``, or None."""
    if country not in holiday_countries():
        return f"no holiday calendar for country {country!r}"
    if subdivision and subdivision not in holiday_subdivisions(country):
        return f"no holiday calendar for subdivision {subdivision!r} of {country}"
    return None


@transaction.atomic
def generate_closures(*, clinic: Clinic, year: int) -> list[ClinicClosure]:
    """Closures from the ``holidays`` package for the clinic's country/subdivision and ``year``.

    Existing closures are kept (their reason is not overwritten); returns the rows created.
    """
    import holidays

    problem = holiday_calendar_problem(clinic.country, clinic.subdivision)
    if problem is not None:  # a clinic stored before its country was checked on write
        raise InvalidInput(
            SchedulingErrorCode.HOLIDAYS_UNAVAILABLE,
            f"No holiday calendar for {clinic.country}/{clinic.subdivision or '-'}.",
            fields={"country": [problem]},
        )
    calendar = holidays.country_holidays(
        clinic.country, subdiv=clinic.subdivision or None, years=year
    )
    existing = set(
        ClinicClosure.objects.filter(clinic=clinic, date__year=year).values_list("date", flat=True)
    )
    rows = [
        ClinicClosure(clinic=clinic, date=day, reason=str(name)[:120])
        for day, name in sorted(calendar.items())
        if day not in existing
    ]
    return ClinicClosure.objects.bulk_create(rows)
