"""Shared fixtures. Tests run against the real PostgreSQL and Redis that ``make test`` provides."""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests import factories


@pytest.fixture
def organization(db):
    return factories.OrganizationFactory()


@pytest.fixture
def other_organization(db):
    return factories.OrganizationFactory()


@pytest.fixture
def clinic(organization):
    return factories.ClinicFactory(organization=organization)


@pytest.fixture
def coordinator(organization):
    return factories.CoordinatorFactory(organization=organization)


@pytest.fixture
def clinician(organization):
    return factories.ClinicianFactory(organization=organization)


@pytest.fixture
def admin_user(db):
    return factories.AdminFactory()


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def client_for():
    """``client_for(user)`` → an APIClient authenticated with a real token through the header."""

    def make(user) -> APIClient:
        client = APIClient()
        if user is not None:
            token, _ = Token.objects.get_or_create(user=user)
            client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return make


# --- plans / catalogue (issue 3) -------------------------------------------------------------


@pytest.fixture(autouse=True)
def _cold_protocol_specs():
    """Each test starts with an empty per-process protocol spec cache (modalities.spec_cache):
    the catalogue rows outlive the test's transaction, so a warm cache would make query counts
    depend on which tests ran before in this worker."""
    from modalities import spec_cache

    spec_cache.clear()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Load the protocol catalogue once, right after the test database is created; every test
    sees the real catalogue (transactions roll back to this state)."""
    from modalities.services import sync_catalogue

    with django_db_blocker.unblock():
        sync_catalogue()


@pytest.fixture
def restore_catalogue(django_db_setup, django_db_blocker):
    """For ``transactional_db`` tests: request it *before* ``transactional_db`` (and use no
    ``django_db`` mark) so its teardown re-loads the catalogue after the flush."""
    yield
    from modalities.services import sync_catalogue

    with django_db_blocker.unblock():
        sync_catalogue()


@pytest.fixture
def catalogue(db):
    """The catalogue in the database. ``django_db_setup`` loads it once; a ``transactional_db``
    test flushes every table at teardown, so re-sync (cheap, idempotent) when it is gone."""
    from modalities.models import Protocol
    from modalities.services import sync_catalogue

    if not Protocol.objects.exists():
        sync_catalogue()


@pytest.fixture
def protocol(catalogue):
    """``protocol(code)`` → the stored catalogue protocol (latest version)."""
    from modalities.models import Protocol

    def get(code: str):
        return Protocol.objects.filter(code=code).order_by("-version").first()

    return get


@pytest.fixture
def demo_world(catalogue):
    """The demo scenario built through the services (plans.demo.seed_scenario): an
    organisation, a clinic (not REMS-certified), the demo logins and the seed patient's plan
    (TMS left M1 for fibromyalgia, off-label, self-pay + SPRAVATO TRD, commercial + follow-up).
    Returns a dict: organization, clinic, users {coordinator, psychiatrist, technician, nurse,
    patient}, patient, plan, others."""
    from plans.demo import seed_scenario

    org = factories.OrganizationFactory()
    clinic = factories.ClinicFactory(organization=org)
    users = {
        "coordinator": factories.CoordinatorFactory(organization=org),
        "psychiatrist": factories.ClinicianFactory(organization=org),
        "technician": factories.TechnicianFactory(organization=org),
        "nurse": factories.ClinicianFactory(organization=org, credential="nurse"),
        "patient": factories.PatientUserFactory(organization=org),
    }
    scenario = seed_scenario(organization=org, clinic=clinic, users=users)
    return {"organization": org, "clinic": clinic, "users": users, **scenario}
