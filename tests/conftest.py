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
