"""Builders for the worker tests: patients, plans and sessions through the ORM (leaves only)."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

import pytest

from modalities.models import Protocol
from modalities.services import sync_catalogue
from plans.models import Patient, PlanComponent
from scheduling.models import Session
from tests import factories

_seq = itertools.count(1)


@pytest.fixture
def catalogue(db):
    sync_catalogue()
    return Protocol.objects


protocol = factories.latest_protocol


def make_patient(
    organization,
    *,
    tz: str = "America/New_York",
    channel: str = "sms",
    phone: str | None = None,
    email: str | None = None,
) -> Patient:
    n = next(_seq)
    return Patient.objects.create(
        organization=organization,
        mrn=f"W-{n}",
        given_name="Alex",
        family_name="Sample",
        birth_date=date(1980, 5, 17),
        # 555-0100…0199 is reserved for fiction in every area code: unique, never a real person
        phone=phone if phone is not None else f"+1{201 + (n // 100) % 700}55501{n % 100:02d}",
        email=email if email is not None else f"w{n}@example.com",
        timezone=tz,
        preferred_channel=channel,
        sms_consent_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def make_component(
    *, patient: Patient, clinic, code: str, coordinator=None, **extra
) -> PlanComponent:
    return factories.make_active_component(
        patient=patient, clinic=clinic, code=code, coordinator=coordinator, **extra
    )


def make_session(
    component: PlanComponent,
    starts_at: datetime,
    *,
    status: str = "booked",
    kind: str = "treatment",
    minutes: int = 40,
) -> Session:
    return Session.objects.create(
        component=component,
        patient_id=component.plan.patient_id,
        clinic_id=component.plan.clinic_id,
        kind=kind,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=minutes),
        status=status,
    )


@pytest.fixture
def clinic(organization):
    return factories.ClinicFactory(
        organization=organization,
        name="Lakeside Wellness",
        timezone="America/New_York",
        phone="+15555550142",
        address="12 Harbor Rd, Suite 3",
    )
