"""Shared builders for the reminder rule tests (planning and texts): zones, a policy, and the
plain facts the pure rules take. Synthetic only: the clinic phone is in the reserved 555-01xx
range."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from scheduling.rules.reminders.policy import PatientInfo, ReminderPolicy, SessionInfo

CLINIC_PHONE = "555-555-0142"
ZONES = [
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "America/Phoenix",
    "Europe/London",
    "Australia/Sydney",
    "Pacific/Honolulu",
]
POLICY = ReminderPolicy()
NY = ZoneInfo("America/New_York")
DAY = timedelta(hours=24)


def local(tz: str, *args: int) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(tz))


def session(sid: int, start: datetime, **kw: object) -> SessionInfo:
    fields: dict[str, object] = {
        "session_id": sid,
        "start": start,
        "clinic_name": "Riverside Wellness",
        "clinic_phone": CLINIC_PHONE,
        "clinic_address": "12 Main St",
        "room": "Room 3",
        "preparation": "Arrange a ride home.",
        "clinic_tz": "America/New_York",
    }
    fields.update(kw)
    return SessionInfo(**fields)  # type: ignore[arg-type]


def patient(**kw: object) -> PatientInfo:
    fields: dict[str, object] = {
        "patient_id": 7,
        "tz": "America/New_York",
        "channel": "sms",
        "sms_opted_out": False,
        "has_phone": True,
        "has_email": True,
    }
    fields.update(kw)
    return PatientInfo(**fields)  # type: ignore[arg-type]
