"""FHIR ``Patient/{id}/$everything`` for a plan with 200 sessions, as a ratio against the
plan-detail API (``GET /api/v1/plans/{id}/``) for the same plan, both through the in-process test
client with the same token — same authentication, routing and rendering costs (issue 10; target
≤ 2×). Medians of interleaved repeated requests; the data is written inside a transaction that
is rolled back.

``BENCH_FHIR_SESSIONS`` (default 200) and ``BENCH_FHIR_ROUNDS`` (default 21) tune it.
"""

from __future__ import annotations

import os
import statistics
import time
from datetime import UTC, date, datetime, timedelta


def _world(n_sessions: int):
    from backend.accounts.models import Organization, Role, User
    from modalities.models import Protocol
    from plans import services
    from scheduling.models import Clinic, Session

    stamp = int(time.time() * 1000)
    org = Organization.objects.create(name=f"bench-fhir-{stamp}", slug=f"bench-fhir-{stamp}")
    clinic = Clinic.objects.create(
        organization=org, name="Bench", timezone="America/New_York", phone="+15555550100"
    )
    coordinator = User.objects.create(
        username=f"bench-fhir-{stamp}", role=Role.COORDINATOR, organization=org
    )
    patient = services.create_patient(
        organization=org,
        by=coordinator,
        mrn=f"BF-{stamp}",
        given_name="Bench",
        family_name="Patient",
        birth_date=date(1980, 1, 1),
        timezone="America/New_York",
        phone="+15555550101",
        email="bench@example.com",
    )
    protocol = Protocol.objects.filter(code="tms_10hz_ldlpfc_mdd").order_by("-version").first()
    plan = services.create_plan(
        patient=patient,
        clinic=clinic,
        by=coordinator,
        coordinator=coordinator,
        title="Bench plan",
        diagnoses=["F33.2"],
        components=[
            {
                "protocol": protocol,
                "indication": protocol.indications.first(),
                "payer_type": "commercial",
                "payer_name": "Example Health Plan",
                "prior_auth_number": "PA-BENCH",
                "prior_auth_sessions": 36,
            }
        ],
    )
    component = plan.components.get()
    start = datetime(2027, 1, 4, 14, 0, tzinfo=UTC)
    statuses = ("fulfilled", "fulfilled", "noshow", "booked")
    Session.objects.bulk_create(
        Session(
            component=component,
            patient=patient,
            clinic=clinic,
            kind="treatment",
            sequence=i + 1,
            starts_at=start + timedelta(days=i),
            ends_at=start + timedelta(days=i, minutes=40),
            status=statuses[i % 4],
        )
        for i in range(n_sessions)
    )
    for week in range(6):
        services.record_measure(
            patient=patient,
            by=coordinator,
            plan=plan,
            instrument="phq9",
            answers={f"q{i}": 2 for i in range(1, 10)} | {"q9": 0},
            taken_at=start + timedelta(days=7 * week),
        )
    return plan, coordinator


def _medians_ms(client, urls: tuple[str, str], rounds: int) -> tuple[float, float]:
    """Median time of each URL, the two requests interleaved (order alternating) so that both
    see the same machine load — the machine is shared."""
    times: tuple[list[float], list[float]] = ([], [])
    for n in range(rounds):
        order = (0, 1) if n % 2 == 0 else (1, 0)
        for i in order:
            t0 = time.perf_counter()
            response = client.get(urls[i])
            times[i].append(time.perf_counter() - t0)
            assert response.status_code == 200, response.content[:300]
    return statistics.median(times[0]) * 1000, statistics.median(times[1]) * 1000


def main() -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings.development")
    django.setup()
    from django.db import transaction
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    from modalities.services import sync_catalogue

    n = int(os.environ.get("BENCH_FHIR_SESSIONS", "200"))
    rounds = int(os.environ.get("BENCH_FHIR_ROUNDS", "21"))
    with transaction.atomic():
        sync_catalogue()
        plan, coordinator = _world(n)
        token = Token.objects.create(user=coordinator)
        client = APIClient(SERVER_NAME="localhost")
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        everything = f"/fhir/R4/Patient/{plan.patient_id}/$everything"
        detail = f"/api/v1/plans/{plan.pk}/"
        entries = len(client.get(everything).json()["entry"])  # warm up both paths once
        client.get(detail)
        fhir_ms, api_ms = _medians_ms(client, (everything, detail), rounds)
        print(
            f"fhir $everything: {n} sessions, {entries} entries, median {fhir_ms:.1f} ms "
            f"over {rounds} requests"
        )
        print(
            f"plan-detail API (same plan): median {api_ms:.1f} ms; "
            f"$everything/plan-detail ratio {fhir_ms / api_ms:.2f}x (target <= 2x)"
        )
        transaction.set_rollback(True)


if __name__ == "__main__":
    main()
