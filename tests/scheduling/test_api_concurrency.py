"""50 concurrent bookings of one chair at one time through the API, on the real PostgreSQL.

Each thread uses its own database connection (closed at the end); the exclusion constraint is
the last word: exactly one booking wins, the 49 others get a 409 in the error shape.
"""

from __future__ import annotations

import threading
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from modalities.models import Protocol
from modalities.services import sync_catalogue
from scheduling.models import Session, SessionResource
from tests import factories
from tests.scheduling.conftest import add_resources, make_component, make_patient

ATTEMPTS = 50


@pytest.mark.slow
def test_50_concurrent_bookings_of_one_chair_exactly_one_wins(
    restore_catalogue, transactional_db, monkeypatch
):
    # reminder planning is not under test here (and would need a broker in every thread)
    monkeypatch.setattr(
        "scheduling.services._common.notify_sessions_changed", lambda **kwargs: None
    )
    monkeypatch.setattr("scheduling.services.course.notify_sessions_changed", lambda **kw: None)
    # given one REMS-certified clinic with one monitoring chair and 50 SPRAVATO patients
    if not Protocol.objects.exists():
        sync_catalogue()
    organization = factories.OrganizationFactory()
    clinic = factories.rems_certified(factories.ClinicFactory(organization=organization))
    (chair,) = add_resources(clinic, "monitoring_chair", 1)
    coordinator = factories.CoordinatorFactory(organization=organization)
    token = Token.objects.create(user=coordinator).key
    components = [
        make_component(
            patient=make_patient(organization, mrn=f"C{i:02d}"), clinic=clinic, code="spravato_trd"
        )
        for i in range(ATTEMPTS)
    ]
    starts_at = datetime(2027, 3, 2, 10, tzinfo=ZoneInfo("America/New_York")).isoformat()
    barrier = threading.Barrier(ATTEMPTS)
    results: list[tuple[int, dict]] = []
    lock = threading.Lock()

    def attempt(component_id: int) -> None:
        try:
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
            barrier.wait(timeout=30)
            response = client.post(
                "/api/v1/sessions/",
                {
                    "component": component_id,
                    "kind": "treatment",
                    "starts_at": starts_at,
                    "resource_ids": [chair.pk],
                },
                format="json",
            )
            with lock:
                results.append((response.status_code, response.json()))
        finally:
            connection.close()

    # when 50 threads book the same chair at the same time
    threads = [threading.Thread(target=attempt, args=(c.pk,)) for c in components]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    # then exactly one succeeds and 49 get 409 slot_conflict in the error shape; none a 500
    codes = sorted(code for code, _ in results)
    assert len(results) == ATTEMPTS
    assert codes.count(201) == 1
    assert codes.count(409) == ATTEMPTS - 1
    for code, body in results:
        if code == 409:
            assert body["code"] == "slot_conflict"
            assert set(body) >= {"code", "message", "fields"}
    assert Session.objects.count() == 1
    assert SessionResource.objects.filter(resource=chair, active=True).count() == 1
