"""Acceptance 5 and 6 of issue 5, as properties.

5. Every SMS body the service renders — for sessions of every protocol in the catalogue, every
   kind, any clinic address and local time — is ≤160 characters and contains no drug, modality or
   diagnosis term (``FORBIDDEN_TERMS``); unsafe input is refused, never sent.
6. Due times and the dispatcher's quiet-hour filter (SQL, in the patient's zone) hold across DST
   changes in seven zones: nothing is claimed 21:00–08:00 local, a reminder is never after its
   session, and "24 h before" stays at the same local wall time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
import time_machine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modalities.catalogue import load_catalogue
from notifications.rendering import SMS_MAX_CHARS
from notifications.terms import ForbiddenTermError, contains_forbidden_term
from scheduling.delivery import dispatch, send
from scheduling.models.reminders import Reminder
from scheduling.rules.reminders.policy import (
    ReminderPolicy,
    due_time,
    in_quiet_hours,
    nominal_due_time,
)
from tests.workers.conftest import make_patient

ZONES = (
    "America/New_York",
    "America/Los_Angeles",
    "Europe/London",
    "Europe/Berlin",
    "Australia/Sydney",
    "America/Santiago",
    "Pacific/Auckland",
)
POLICY = ReminderPolicy()


@cache
def protocols():
    return load_catalogue()


@cache
def transitions(zone: str) -> tuple[datetime, ...]:
    """UTC instants where ``zone`` changes offset in 2026–2027 (found hourly)."""
    tz = ZoneInfo(zone)
    out, t = [], datetime(2026, 1, 1, tzinfo=UTC)
    prev = t.astimezone(tz).utcoffset()
    while t < datetime(2028, 1, 1, tzinfo=UTC):
        t += timedelta(hours=1)
        off = t.astimezone(tz).utcoffset()
        if off != prev:
            out.append(t)
            prev = off
    return tuple(out)


@st.composite
def near_dst(draw):
    zone = draw(st.sampled_from(ZONES))
    pivot = draw(st.sampled_from(transitions(zone)))
    minutes = draw(st.integers(min_value=-3 * 24 * 60, max_value=3 * 24 * 60))
    return zone, pivot + timedelta(minutes=minutes)


CLINIC_NAMES = st.sampled_from(
    ["Lakeside Wellness", "Dr. Rivera & Associates", "Northside Health Partners", "Oak Clinic"]
)
ADDRESSES = st.text(
    alphabet=st.characters(
        whitelist_categories=("Lu", "Ll", "Nd", "Zs"), whitelist_characters=",.#-"
    ),
    max_size=140,
)


@settings(max_examples=300, deadline=None)
@given(
    spec_index=st.integers(min_value=0, max_value=10_000),
    kind=st.sampled_from(["reminder", "same_day", "change_notice", "cancel", "weekly_digest"]),
    clinic_name=CLINIC_NAMES,
    address=ADDRESSES,
    when=near_dst(),
    n_sessions=st.integers(min_value=1, max_value=7),
    channel=st.sampled_from(["sms", "email"]),
)
def test_every_rendered_message_is_short_and_discloses_no_treatment(
    spec_index, kind, clinic_name, address, when, n_sessions, channel
):
    spec = protocols()[spec_index % len(protocols())]
    zone, start = when
    clinic = SimpleNamespace(name=clinic_name, phone="+15555550142", address=address)
    component = SimpleNamespace(protocol=SimpleNamespace(preparation=spec.preparation))
    sessions = {
        i: SimpleNamespace(
            pk=i, starts_at=start + timedelta(days=i - 1), clinic=clinic, component=component
        )
        for i in range(1, n_sessions + 1)
    }
    if kind == "weekly_digest" and channel == "email":
        channel = "sms"  # digests are SMS only
    reminder = SimpleNamespace(
        kind="change_notice" if kind == "cancel" else kind,
        key="session:1:x:change:cancelled" if kind == "cancel" else "session:1:x",
        channel=channel,
        patient=SimpleNamespace(timezone=zone),
        session_id=1,
        session_ids=list(sessions) if kind == "weekly_digest" else [1],
    )
    try:
        subject, body = send._render(reminder, sessions)
    except ForbiddenTermError:
        # refused rather than sent: only when the clinic's own address reads as a term
        assert contains_forbidden_term(address) is not None
        return
    assert contains_forbidden_term(subject + "\n" + body) is None
    if channel == "sms":
        assert len(body) <= SMS_MAX_CHARS
        assert body.endswith("Reply STOP to opt out")
        assert "+15555550142" in body
    else:
        assert subject.startswith("Appointment ")
        assert clinic_name not in subject or subject.endswith(clinic_name)


@pytest.mark.parametrize("spec", load_catalogue(), ids=lambda s: f"{s.code}-v{s.version}")
def test_catalogue_preparation_is_patient_safe(spec):
    assert contains_forbidden_term(spec.preparation) is None


@settings(max_examples=400, deadline=None)
@given(when=near_dst(), offset_h=st.sampled_from([2, 24, 48, 72]))
def test_due_time_never_in_quiet_hours_and_never_after_the_session(when, offset_h):
    zone, start = when
    due = due_time(
        session_start=start, offset=timedelta(hours=offset_h), patient_tz=zone, policy=POLICY
    )
    if due is None:
        return
    assert due < start
    assert not in_quiet_hours(due, zone, POLICY)
    nominal = nominal_due_time(
        session_start=start, offset=timedelta(hours=offset_h), patient_tz=zone
    )
    assert due <= nominal
    if offset_h % 24 == 0 and not in_quiet_hours(nominal, zone, POLICY):
        # whole days are local calendar days: same wall clock as the session (promise 9)
        wall = lambda t: t.astimezone(ZoneInfo(zone)).replace(tzinfo=None)  # noqa: E731
        assert wall(start) - wall(due) == timedelta(hours=offset_h) or (
            # a wall time in a DST gap resolves to the instant before it
            due != nominal
        )


@pytest.mark.django_db
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(when=near_dst())
def test_dispatcher_claims_only_in_the_patients_waking_hours_across_dst(organization, when):
    zone, instant = when
    patient = make_patient(organization, tz=zone)
    row = Reminder.objects.create(
        key=f"prop:{patient.pk}",
        patient=patient,
        channel="sms",
        kind="reminder",
        due_at=instant - timedelta(minutes=1),
    )
    with time_machine.travel(instant, tick=False):
        claimed = dispatch.claim_due_reminders()
    assert (row.pk in claimed) == (not in_quiet_hours(instant, zone, POLICY))
    Reminder.objects.filter(pk=row.pk).delete()
