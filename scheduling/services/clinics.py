"""Sites, their weekly hours and closures, resources and clinician hours."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, time
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


@transaction.atomic
def generate_closures(*, clinic: Clinic, year: int) -> list[ClinicClosure]:
    """Closures from the ``holidays`` package for the clinic's country/subdivision and ``year``.

    Existing closures are kept (their reason is not overwritten); returns the rows created.
    """
    import holidays

    try:
        calendar = holidays.country_holidays(
            clinic.country, subdiv=clinic.subdivision or None, years=year
        )
    except NotImplementedError as exc:
        raise InvalidInput(
            SchedulingErrorCode.HOLIDAYS_UNAVAILABLE,
            f"No holiday calendar for {clinic.country}/{clinic.subdivision or '-'}.",
            fields={"country": [str(exc)]},
        ) from None
    existing = set(
        ClinicClosure.objects.filter(clinic=clinic, date__year=year).values_list("date", flat=True)
    )
    rows = [
        ClinicClosure(clinic=clinic, date=day, reason=str(name)[:120])
        for day, name in sorted(calendar.items())
        if day not in existing
    ]
    return ClinicClosure.objects.bulk_create(rows)
