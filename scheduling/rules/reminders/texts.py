"""What a reminder says about a session: per-session SMS, change notices, weekly digests, e-mail.

The scheduling decisions (lead words, which session facts a text carries, how a digest phrases a
week) live here; the patient-text mechanics (160 characters, STOP footer, shortening, the
forbidden-term check) come from ``notifications.rendering`` and ``notifications.terms``.
Pure rules (STYLE.md habit 9): stdlib only. See the package docstring for sources and decisions.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from notifications.rendering import (
    DAYS,
    MONTHS,
    SMS_MAX_CHARS,
    STOP_LINE,
    clean,
    clock,
    fit_sms,
    format_local_start,
    sentence,
    validate_common,
)
from notifications.terms import ensure_safe
from scheduling.rules.reminders.policy import ReminderKind


def render_sms(
    *,
    kind: ReminderKind | str,
    clinic_name: str,
    local_start: datetime,
    clinic_phone: str,
    room_or_address: str,
    preparation: str,
) -> str:
    """Per-session SMS: clinic, local date/time, place, preparation, callback, STOP.

    FCC 15-72 (DOMAIN.md §7.3): provider name + contact number, ≤160 chars, opt-out told every
    time. HIPAA (DOMAIN.md §7.2) / DESIGN.md §4 promise 5: no drug, diagnosis or treatment name —
    inputs and output are checked and ``ForbiddenTermError`` is raised rather than sent.
    """
    kind = ReminderKind(kind)
    clinic, place, prep, phone = map(
        clean, (clinic_name, room_or_address, preparation, clinic_phone)
    )
    validate_common(clinic, phone, place, prep)
    when = format_local_start(local_start)
    lead = {
        ReminderKind.REMINDER: "appointment",
        ReminderKind.SAME_DAY: "appointment today,",
        ReminderKind.CHANGE_NOTICE: "appointment moved to",
    }.get(kind)
    if lead is None:
        raise ValueError("use render_digest_sms for weekly digests")

    def build(c: str, p: str, pr: str) -> str:
        at = f" at {p}" if p else ""
        extra = f" {sentence(pr)}" if pr else ""
        return f"{c}: {lead} {when}{at}.{extra} Call {phone}. {STOP_LINE}"

    return fit_sms(build, clinic, place, prep)


def render_change_notice_sms(
    *,
    clinic_name: str,
    local_start: datetime,
    clinic_phone: str,
    room_or_address: str,
    cancelled: bool = False,
) -> str:
    """A moved or cancelled appointment. Counts against the FCC 15-72 budget like any SMS."""
    if not cancelled:
        return render_sms(
            kind=ReminderKind.CHANGE_NOTICE,
            clinic_name=clinic_name,
            local_start=local_start,
            clinic_phone=clinic_phone,
            room_or_address=room_or_address,
            preparation="",
        )
    clinic, place, phone = map(clean, (clinic_name, room_or_address, clinic_phone))
    validate_common(clinic, phone, place, "")
    when = format_local_start(local_start)

    def build(c: str, p: str, _pr: str) -> str:
        at = f" at {p}" if p else ""
        return f"{c}: your appointment {when}{at} is cancelled. Call {phone}. {STOP_LINE}"

    return fit_sms(build, clinic, place, "")


def _digest_schedules(local_starts: Sequence[datetime]) -> list[str]:
    """Schedule phrasings from most to least detailed."""
    starts = sorted(local_starts)
    first = starts[0]
    by_day: dict[date, list[str]] = {}
    for s in starts:
        by_day.setdefault(s.date(), []).append(clock(s, compact=True))
    days = list(by_day)
    head = f"{DAYS[first.weekday()]} {MONTHS[first.month - 1]} {first.day}"
    detailed = ", ".join(
        f"{head if i == 0 else DAYS[d.weekday()]} {'+'.join(times)}"
        for i, (d, times) in enumerate(by_day.items())
    )
    options = [detailed]
    if len({tuple(t) for t in by_day.values()}) == 1 and len(days) > 1:
        span = f"{head}-{DAYS[days[-1].weekday()]}"
        options.append(f"{span} {'+'.join(by_day[days[0]])}")
    options.append(f"{len(starts)} visits from {head} {clock(first, compact=True)}")
    return options


def render_digest_sms(
    *,
    clinic_name: str,
    local_starts: Sequence[datetime],
    clinic_phone: str,
    room_or_address: str,
) -> str:
    """The weekly schedule for a course too dense for per-session texts (DESIGN.md §4 promise 5;
    FCC 15-72 1/day 3/week). Schedule detail degrades before the clinic or callback is cut."""
    if not local_starts:
        raise ValueError("a digest needs at least one session")
    clinic, place, phone = map(clean, (clinic_name, room_or_address, clinic_phone))
    validate_common(clinic, phone, place, "")
    options = _digest_schedules(local_starts)
    for i, schedule in enumerate(options):

        def build(c: str, p: str, _pr: str, schedule: str = schedule) -> str:
            at = f" at {p}" if p else ""
            return f"{c}: your appointments this week: {schedule}{at}. Call {phone}. {STOP_LINE}"

        if i == len(options) - 1 or len(build(clinic, "", "")) <= SMS_MAX_CHARS:
            return fit_sms(build, clinic, place, "")
    raise AssertionError("unreachable")  # pragma: no cover


def render_email(
    *,
    kind: ReminderKind | str,
    clinic_name: str,
    local_start: datetime,
    clinic_phone: str,
    room_or_address: str,
    preparation: str,
) -> tuple[str, str]:
    """(subject, body). Subject is only "Appointment reminder from <clinic>" ("update" for a change
    notice): OCR FAQ 570 / HHS FAQ 198 (DOMAIN.md §7.2) — limit PHI in unencrypted messages."""
    kind = ReminderKind(kind)
    clinic, place, prep, phone = map(
        clean, (clinic_name, room_or_address, preparation, clinic_phone)
    )
    validate_common(clinic, phone, place, prep)
    word = "update" if kind is ReminderKind.CHANGE_NOTICE else "reminder"
    subject = f"Appointment {word} from {clinic}"
    intro = {
        ReminderKind.CHANGE_NOTICE: "Your appointment has moved. The new time is:",
        ReminderKind.SAME_DAY: "This is a reminder of your appointment today:",
    }.get(kind, "This is a reminder of your upcoming appointment:")
    lines = [
        "Hello,",
        "",
        f"{intro}",
        "",
        f"When: {format_local_start(local_start)}",
        *([f"Where: {place}"] if place else []),
        *([f"Before you come: {sentence(prep)}"] if prep else []),
        "",
        f"Questions, or need to reschedule? Call {clinic} at {phone}.",
        f"To change how we contact you, call {phone}.",
        "",
        clinic,
    ]
    body = "\n".join(lines)
    ensure_safe("email subject", subject)
    ensure_safe("email body", body)
    return subject, body
