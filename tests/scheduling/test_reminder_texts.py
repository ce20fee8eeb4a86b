"""What a reminder says: per-session SMS, e-mail, digests and change notices (DESIGN.md §4
promise 5; DOMAIN.md §7.2 HIPAA, §7.3 FCC 15-72). Pure rules, no database."""

from __future__ import annotations

import string
from datetime import datetime, timedelta

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from notifications.rendering import (
    SMS_MAX_CHARS,
)
from notifications.terms import ForbiddenTermError, contains_forbidden_term
from scheduling.rules.reminders.policy import (
    ReminderKind,
)
from scheduling.rules.reminders.texts import (
    render_change_notice_sms,
    render_digest_sms,
    render_email,
    render_sms,
)
from tests.scheduling.reminder_helpers import (
    CLINIC_PHONE,
    NY,
)

# ---------------------------------------------------------------- content

SAFE_TEXT = st.text(alphabet=string.ascii_letters + string.digits + " ,.'#-/", max_size=200)
WHEN = datetime(2026, 11, 24, 10, 0, tzinfo=NY)


@settings(max_examples=300, deadline=None)
@given(
    clinic=SAFE_TEXT.filter(lambda s: s.strip()),
    place=SAFE_TEXT,
    prep=SAFE_TEXT,
    kind=st.sampled_from(
        [ReminderKind.REMINDER, ReminderKind.SAME_DAY, ReminderKind.CHANGE_NOTICE]
    ),
    start=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31)),
)
def test_every_sms_fits_160_and_keeps_essentials(
    clinic: str, place: str, prep: str, kind: ReminderKind, start: datetime
) -> None:
    # Given arbitrary safe clinic names, places and preparation text
    for text in (clinic, place, prep):
        assume(contains_forbidden_term(text) is None)
    assume(len(clinic.strip()) <= 60)
    # When
    sms = render_sms(
        kind=kind,
        clinic_name=clinic,
        local_start=start,
        clinic_phone="(555) 555-0142",
        room_or_address=place,
        preparation=prep,
    )
    digest = render_digest_sms(
        clinic_name=clinic,
        local_starts=[start + timedelta(days=d) for d in range(5)],
        clinic_phone="(555) 555-0142",
        room_or_address=place,
    )
    # Then
    for text in (sms, digest):
        assert len(text) <= SMS_MAX_CHARS
        assert contains_forbidden_term(text) is None
        assert text.endswith("Call (555) 555-0142. Reply STOP to opt out")
    assert f"{start:%b} {start.day} " in sms


def test_long_inputs_are_truncated_in_order_preparation_then_place() -> None:
    # Given long place and preparation text
    place = "Building 4, Second Floor, 1200 Riverside Professional Park Boulevard, Springfield"
    prep = "Plan to stay about 2½ hours; arrange a ride home and bring a list of your medications."
    # When
    sms = render_sms(
        kind="reminder",
        clinic_name="Riverside Wellness",
        local_start=WHEN,
        clinic_phone=CLINIC_PHONE,
        room_or_address=place,
        preparation=prep,
    )
    # Then it fits, and time, clinic, callback and STOP survive
    assert len(sms) <= SMS_MAX_CHARS
    assert sms.startswith("Riverside Wellness: appointment Tue Nov 24 10:00 AM")
    assert f"Call {CLINIC_PHONE}. Reply STOP to opt out" in sms
    assert "½" not in sms  # GSM-7 friendly


def test_short_sms_keeps_everything() -> None:
    sms = render_sms(
        kind="reminder",
        clinic_name="Riverside Wellness",
        local_start=WHEN,
        clinic_phone=CLINIC_PHONE,
        room_or_address="Room 3",
        preparation="Arrange a ride home",
    )
    assert sms == (
        "Riverside Wellness: appointment Tue Nov 24 10:00 AM at Room 3. Arrange a ride home. "
        f"Call {CLINIC_PHONE}. Reply STOP to opt out"
    )


@pytest.mark.parametrize(
    "clinic", ["Spravato Center", "Riverside TMS", "SuccessTMS", "Valley Psychiatry", "Pain Clinic"]
)
def test_forbidden_term_in_clinic_name_raises(clinic: str) -> None:
    # Given a clinic name that reveals treatment / diagnosis
    # When / Then every renderer refuses
    with pytest.raises(ForbiddenTermError):
        render_sms(
            kind="reminder",
            clinic_name=clinic,
            local_start=WHEN,
            clinic_phone=CLINIC_PHONE,
            room_or_address="",
            preparation="",
        )
    with pytest.raises(ForbiddenTermError):
        render_email(
            kind="reminder",
            clinic_name=clinic,
            local_start=WHEN,
            clinic_phone=CLINIC_PHONE,
            room_or_address="",
            preparation="",
        )
    with pytest.raises(ForbiddenTermError):
        render_digest_sms(
            clinic_name=clinic, local_starts=[WHEN], clinic_phone=CLINIC_PHONE, room_or_address=""
        )


def test_forbidden_term_in_preparation_raises() -> None:
    with pytest.raises(ForbiddenTermError):
        render_sms(
            kind="reminder",
            clinic_name="Riverside Wellness",
            local_start=WHEN,
            clinic_phone=CLINIC_PHONE,
            room_or_address="Room 3",
            preparation="No food 2h before your ketamine infusion",
        )


def test_email_subject_has_no_detail_beyond_clinic() -> None:
    subject, body = render_email(
        kind="reminder",
        clinic_name="Riverside Wellness",
        local_start=WHEN,
        clinic_phone=CLINIC_PHONE,
        room_or_address="12 Main St",
        preparation="Arrange a ride home.",
    )
    assert subject == "Appointment reminder from Riverside Wellness"
    assert "Tue Nov 24 10:00 AM" in body
    assert CLINIC_PHONE in body


def test_change_notice_and_digest_texts() -> None:
    moved = render_change_notice_sms(
        clinic_name="Riverside Wellness",
        local_start=WHEN,
        clinic_phone="555-1234",
        room_or_address="",
    )
    cancelled = render_change_notice_sms(
        clinic_name="Riverside Wellness",
        local_start=WHEN,
        clinic_phone="555-1234",
        room_or_address="",
        cancelled=True,
    )
    assert "moved to Tue Nov 24 10:00 AM" in moved
    assert "is cancelled" in cancelled
    digest = render_digest_sms(
        clinic_name="Riverside Wellness",
        local_starts=[WHEN + timedelta(days=d) for d in range(5)],
        clinic_phone="555-1234",
        room_or_address="Room 3",
    )
    assert "Tue Nov 24 10AM, Wed 10AM, Thu 10AM, Fri 10AM, Sat 10AM at Room 3" in digest
