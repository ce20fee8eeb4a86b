"""Every write to the calendar (STYLE.md habit 2): keyword-only, transactional entry points.

Modules: ``course`` (schedule_course, book_session), ``lifecycle`` (reschedule, cancel, no-show,
check-in gate, complete, entered-in-error), ``clinics`` (sites, hours, closures, resources),
``feeds`` (iCalendar feeds), ``availability`` (free-slot search, a read used by the API).
"""

from scheduling.services.course import CourseSchedule, book_session, schedule_course
from scheduling.services.lifecycle import (
    cancel_session,
    check_in_session,
    complete_session,
    mark_entered_in_error,
    mark_no_show,
    reschedule_session,
)

__all__ = [
    "CourseSchedule",
    "book_session",
    "cancel_session",
    "check_in_session",
    "complete_session",
    "mark_entered_in_error",
    "mark_no_show",
    "reschedule_session",
    "schedule_course",
]
