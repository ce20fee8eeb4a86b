"""Text assembly shared by every patient SMS/e-mail: the 160-character limit, the STOP footer,
GSM-friendly cleaning, word-boundary shortening, and the fixed STOP/START/HELP replies.

FCC 15-72 (DOMAIN.md §7.3): provider name and contact number, text ≤160 characters, "Reply STOP"
told every time, free to the end user (no "msg & data rates" wording). What a reminder says
about a session is scheduling's decision (``scheduling/rules/reminders/texts.py``); this module
only knows how a patient text is built. Pure: stdlib only.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

from notifications.terms import contains_forbidden_term, ensure_safe

SMS_MAX_CHARS = 160  # FCC 15-72 (DOMAIN.md §7.3)
STOP_LINE = "Reply STOP to opt out"  # FCC 15-72: recipients must be told how to opt out

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# Keep texts in the GSM-7 alphabet where easy (one 160-char segment; UCS-2 would be 70).
_GSM_FRIENDLY = str.maketrans(
    {
        "½": " 1/2",
        "¼": " 1/4",
        "’": "'",
        "‘": "'",
        "“": '"',
        "”": '"',
        "–": "-",
        "—": "-",
        "…": "...",
    }
)
_PHONE = re.compile(r"^[0-9+()\-. ]{3,20}$")


def clean(text: str | None) -> str:
    cleaned = (text or "").translate(_GSM_FRIENDLY)
    return re.sub(r"\s+", " ", cleaned).strip()


def clock(dt: datetime, *, compact: bool = False) -> str:
    hour = dt.hour % 12 or 12
    suffix = "AM" if dt.hour < 12 else "PM"
    if compact:
        return f"{hour}{suffix}" if dt.minute == 0 else f"{hour}:{dt.minute:02d}{suffix}"
    return f"{hour}:{dt.minute:02d} {suffix}"


def format_local_start(local_start: datetime) -> str:
    """'Tue Nov 24 10:00 AM' — locale-independent, wall time of the datetime as given."""
    d = local_start
    return f"{DAYS[d.weekday()]} {MONTHS[d.month - 1]} {d.day} {clock(d)}"


def shorten(text: str, max_len: int) -> str:
    """Cut at a word boundary and add '...'; '' if too little room or the cut reads as unsafe."""
    if len(text) <= max_len:
        return text
    if max_len < 8:
        return ""
    cut = text[: max_len - 3]
    if " " in cut.strip():
        cut = cut.rsplit(" ", 1)[0]
    cut = cut.rstrip(" ,.;:-/")
    shortened = f"{cut}..."
    return shortened if cut and contains_forbidden_term(shortened) is None else ""


def validate_common(clinic_name: str, clinic_phone: str, place: str, preparation: str) -> None:
    ensure_safe("clinic_name", clinic_name)
    ensure_safe("room_or_address", place)
    ensure_safe("preparation", preparation)
    if not clinic_name:
        raise ValueError("clinic_name is required (FCC 15-72: state the provider's name)")
    if not _PHONE.match(clinic_phone):
        raise ValueError("clinic_phone must be a callback number (FCC 15-72: contact info)")


def fit_sms(build: Callable[[str, str, str], str], clinic: str, place: str, prep: str) -> str:
    """Shorten preparation, then place, then clinic name until the text is ≤160 characters."""
    text = build(clinic, place, prep)
    if len(text) > SMS_MAX_CHARS:
        prep = shorten(prep, len(prep) - (len(text) - SMS_MAX_CHARS))
        text = build(clinic, place, prep)
    if len(text) > SMS_MAX_CHARS:
        prep = ""
        text = build(clinic, place, prep)
    if len(text) > SMS_MAX_CHARS:
        place = shorten(place, len(place) - (len(text) - SMS_MAX_CHARS))
        text = build(clinic, place, prep)
    if len(text) > SMS_MAX_CHARS:
        place = ""
        text = build(clinic, place, prep)
    if len(text) > SMS_MAX_CHARS:
        clinic = shorten(clinic, len(clinic) - (len(text) - SMS_MAX_CHARS))
        if not clinic:
            raise ValueError("SMS cannot fit 160 characters with the clinic name and callback")
        text = build(clinic, place, prep)
    ensure_safe("sms", text)
    assert len(text) <= SMS_MAX_CHARS
    return text


def sentence(text: str) -> str:
    return text if not text or text[-1] in ".!?" else f"{text}."


STOP_CONFIRMATION = (
    "You are unsubscribed and will get no more reminder texts. "
    "To book or change a visit, call your clinic. Reply START to resubscribe."
)
START_CONFIRMATION = (
    "You are subscribed to appointment reminder texts again. "
    "Reply HELP for help or STOP to opt out."
)
HELP_TEXT_TEMPLATE = (
    "{clinic_name} appointment reminders. For help call {clinic_phone}. Reply STOP to opt out."
)


def render_help_text(*, clinic_name: str, clinic_phone: str) -> str:
    """HELP reply: provider name and contact (FCC 15-72); clinic name shortened if needed."""
    clinic, phone = clean(clinic_name), clean(clinic_phone)
    validate_common(clinic, phone, "", "")

    def build(c: str, _p: str, _pr: str) -> str:
        return HELP_TEXT_TEMPLATE.format(clinic_name=c, clinic_phone=phone)

    return fit_sms(build, clinic, "", "")


__all__ = [
    "DAYS",
    "HELP_TEXT_TEMPLATE",
    "MONTHS",
    "SMS_MAX_CHARS",
    "START_CONFIRMATION",
    "STOP_CONFIRMATION",
    "STOP_LINE",
    "clean",
    "clock",
    "fit_sms",
    "format_local_start",
    "render_help_text",
    "sentence",
    "shorten",
    "validate_common",
]
