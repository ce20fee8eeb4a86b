"""Calendar access in one place (``scheduling.access``): who lists and revokes which feed, who
manages which clinician's working hours — deny by default, a foreign object is a 404."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from backend.errors import NotFoundError
from scheduling import access
from scheduling.models import CalendarFeed
from tests.factories import (
    AdminFactory,
    ClinicFactory,
    ClinicianFactory,
    CoordinatorFactory,
    OrganizationFactory,
    PatientFactory,
    PatientUserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    org, other = OrganizationFactory(), OrganizationFactory()
    coordinator = CoordinatorFactory(organization=org)
    clinician = ClinicianFactory(organization=org)
    login = PatientUserFactory(organization=org)
    patient = PatientFactory(organization=org, user=login)
    foreign_patient = PatientFactory(organization=other)
    feeds = {
        "patient": CalendarFeed.objects.create(
            token_hash="a" * 64, patient=patient, created_by=coordinator
        ),
        "foreign": CalendarFeed.objects.create(
            token_hash="b" * 64, patient=foreign_patient, created_by=coordinator
        ),
        "clinician": CalendarFeed.objects.create(
            token_hash="c" * 64, clinician=clinician, created_by=clinician
        ),
    }
    return {
        "org": org,
        "coordinator": coordinator,
        "clinician": clinician,
        "login": login,
        "feeds": feeds,
    }


def _names(world, user) -> set[str]:
    ids = set(access.visible_feeds(user).values_list("pk", flat=True))
    return {name for name, feed in world["feeds"].items() if feed.pk in ids}


def test_each_role_lists_the_feeds_it_manages(world):
    assert _names(world, AdminFactory()) == {"patient", "foreign", "clinician"}
    assert _names(world, world["coordinator"]) == {"patient"}
    assert _names(world, world["clinician"]) == {"clinician"}
    assert _names(world, world["login"]) == {"patient"}
    assert _names(world, CoordinatorFactory(organization=OrganizationFactory())) == set()


def test_a_feed_outside_the_callers_scope_is_not_found(world):
    foreign = world["feeds"]["foreign"]
    with pytest.raises(NotFoundError):
        access.access_feed(user=world["coordinator"], feed_id=foreign.pk)
    with pytest.raises(NotFoundError):
        access.access_feed(user=world["coordinator"], feed_id="not-a-number")
    mine = world["feeds"]["clinician"]
    assert access.access_feed(user=world["clinician"], feed_id=mine.pk) == mine


def test_working_hours_are_managed_by_coordinators_or_the_clinician_themself(world):
    clinic = ClinicFactory(organization=world["org"])
    clinician = world["clinician"]
    # the clinician and a coordinator may; another clinician sees the clinic but may not (403)
    access.require_manage_clinician_hours(user=clinician, clinician=clinician, clinic=clinic)
    access.require_manage_clinician_hours(
        user=world["coordinator"], clinician=clinician, clinic=clinic
    )
    colleague = ClinicianFactory(organization=world["org"])
    with pytest.raises(PermissionDenied):
        access.require_manage_clinician_hours(user=colleague, clinician=clinician, clinic=clinic)
    # a clinician of another organisation, or another organisation's clinic: 404
    stranger = ClinicianFactory(organization=OrganizationFactory())
    with pytest.raises(NotFoundError):
        access.require_manage_clinician_hours(
            user=world["coordinator"], clinician=stranger, clinic=clinic
        )
    with pytest.raises(NotFoundError):
        access.require_manage_clinician_hours(
            user=world["coordinator"],
            clinician=clinician,
            clinic=ClinicFactory(organization=OrganizationFactory()),
        )
