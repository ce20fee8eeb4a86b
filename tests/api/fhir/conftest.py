from __future__ import annotations

import pytest

from tests.api.fhir.world import build_fhir_world


@pytest.fixture
def fhir_world(catalogue):
    return build_fhir_world()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """After a live-server test (test_fhir_client.py), close this thread's connections, as
    tests/e2e/conftest.py does, so no session is left open on the test database."""
    yield
    if "live_server" in getattr(item, "fixturenames", ()):
        from django.db import connections

        connections.close_all()
