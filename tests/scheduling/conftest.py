"""Fixtures for the scheduling tests: the real catalogue, a patient with a plan, resources."""

from __future__ import annotations

from datetime import date, time

import pytest

from plans.models import CareTeamMember, Patient, PlanComponent
from scheduling.models import ClinicClosure, Resource
from tests import factories

protocol = factories.latest_protocol


def make_patient(organization, *, mrn: str = "MRN-1", clinician=None, user=None) -> Patient:
    patient = Patient.objects.create(
        organization=organization,
        mrn=mrn,
        given_name="Alex",
        family_name="Sample",
        birth_date=date(1980, 5, 17),
        phone="+15555550123",
        email=f"{mrn.lower()}@example.com",
        timezone="America/New_York",
        user=user,
    )
    if clinician is not None:
        CareTeamMember.objects.create(patient=patient, user=clinician)
    return patient


def make_component(
    *, patient: Patient, clinic, code: str, prior_auth_sessions: int | None = None
) -> PlanComponent:
    return factories.make_active_component(
        patient=patient,
        clinic=clinic,
        code=code,
        prior_auth_number="PA-1" if prior_auth_sessions else "",
        prior_auth_sessions=prior_auth_sessions,
    )


def add_resources(clinic, kind: str, count: int, coil: str = "") -> list[Resource]:
    return [
        Resource.objects.create(clinic=clinic, kind=kind, name=f"{kind} {i + 1}", coil_type=coil)
        for i in range(count)
    ]


@pytest.fixture
def us_clinic(organization):
    """A New York clinic, Mon–Fri 08–18, closed on Thanksgiving 2026 (26 Nov)."""
    clinic = factories.ClinicFactory(organization=organization, timezone="America/New_York")
    ClinicClosure.objects.create(clinic=clinic, date=date(2026, 11, 26), reason="Thanksgiving")
    add_resources(clinic, "tms_device", 2, coil="figure-8")
    add_resources(clinic, "monitoring_chair", 3)
    add_resources(clinic, "consult_room", 1)
    return clinic


@pytest.fixture
def patient(organization, clinician):
    return make_patient(organization, clinician=clinician)


@pytest.fixture
def tms_component(catalogue, patient, us_clinic):
    return make_component(patient=patient, clinic=us_clinic, code="tms_10hz_ldlpfc_mdd")


@pytest.fixture
def spravato_component(catalogue, patient, us_clinic):
    factories.rems_certified(us_clinic)
    return make_component(patient=patient, clinic=us_clinic, code="spravato_trd")


TEN_AM = time(10, 0)
