"""Scheduling models, split by concern: the calendar and the reminders that follow it."""

from scheduling.models.calendar import (
    ACTIVE_SESSION_STATUSES,
    CalendarFeed,
    Clinic,
    ClinicClosure,
    ClinicHours,
    ClinicianHours,
    Resource,
    Session,
    SessionResource,
    SessionStatus,
    TsTzRange,
)
from scheduling.models.reminders import Reminder, ReminderKind, ReminderStatus

__all__ = [
    "ACTIVE_SESSION_STATUSES",
    "CalendarFeed",
    "Clinic",
    "ClinicClosure",
    "ClinicHours",
    "ClinicianHours",
    "Reminder",
    "ReminderKind",
    "ReminderStatus",
    "Resource",
    "Session",
    "SessionResource",
    "SessionStatus",
    "TsTzRange",
]
