"""Course commit cost: ``schedule_course`` (36-session TMS course) vs a raw bulk INSERT.

For each repeat, inside a transaction that is rolled back at the end (the database is left as
it was): commit a 36-session course through the service (generation, one availability query,
two bulk INSERTs, audit), then insert the very same rows — sessions and their resource bookings,
for a second patient on a second device so the exclusion constraints stay satisfied — with
psycopg ``executemany``. Prints the median of each and their ratio.
"""

from __future__ import annotations

import os
import statistics
import time
from datetime import date
from datetime import time as dtime


def _world(tag: str):
    from backend.accounts.models import Organization, Role, User
    from modalities.models import Protocol
    from plans.models import CarePlan, Patient, PlanComponent
    from scheduling.models import Clinic, ClinicHours, Resource

    org = Organization.objects.create(name=f"bench {tag}", slug=f"bench-{tag}")
    clinic = Clinic.objects.create(
        organization=org, name="Bench", timezone="America/New_York", phone="+15555550100"
    )
    ClinicHours.objects.bulk_create(
        ClinicHours(clinic=clinic, weekday=d, opens=dtime(8), closes=dtime(18)) for d in range(5)
    )
    devices = [
        Resource.objects.create(
            clinic=clinic, kind="tms_device", name=f"device {i}", coil_type="figure8"
        )
        for i in range(2)
    ]
    coordinator = User.objects.create(
        username=f"bench-coord-{tag}", role=Role.COORDINATOR, organization=org
    )
    protocol = Protocol.objects.filter(code="tms_10hz_ldlpfc_mdd").order_by("-version").first()
    indication = protocol.indications.first()
    components = []
    for i in range(2):
        patient = Patient.objects.create(
            organization=org,
            mrn=f"BENCH-{i}",
            given_name="Bench",
            family_name=f"P{i}",
            birth_date=date(1980, 1, 1),
            timezone="America/New_York",
        )
        plan = CarePlan.objects.create(
            patient=patient, organization=org, clinic=clinic, title="Bench", status="active"
        )
        components.append(
            PlanComponent.objects.create(
                plan=plan,
                protocol=protocol,
                indication=indication,
                label_status=indication.label_status,
                target=protocol.target,
                payer_type="commercial",
                status="active",
            )
        )
    return coordinator, components, devices


def _raw_insert(rows, *, component, device) -> None:
    """The same sessions and bookings through psycopg executemany (the floor)."""
    from django.db import connection
    from django.utils import timezone

    now = timezone.now()
    plan = component.plan
    with connection.cursor() as cursor:
        raw = cursor.cursor  # the psycopg cursor under Django's wrapper
        raw.executemany(
            "INSERT INTO scheduling_session (component_id, patient_id, clinic_id, kind, sequence,"
            " phase, starts_at, ends_at, status, completion, override_reason, cancel_reason,"
            " created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 'booked', '{}',"
            " '', '', %s, %s) RETURNING id",
            [
                (
                    component.pk,
                    plan.patient_id,
                    plan.clinic_id,
                    r.kind,
                    r.sequence,
                    r.phase,
                    r.starts_at,
                    r.ends_at,
                    now,
                    now,
                )
                for r in rows
            ],
            returning=True,
        )
        ids = []
        while True:
            ids.append(raw.fetchone()[0])
            if not raw.nextset():
                break
        raw.executemany(
            "INSERT INTO scheduling_sessionresource (session_id, resource_id, starts_at, ends_at,"
            " active) VALUES (%s, %s, %s, %s, true)",
            [(i, device.pk, r.starts_at, r.ends_at) for i, r in zip(ids, rows, strict=True)],
        )


def _one_run(run: int) -> tuple[float, float, int]:
    from django.db import transaction

    from scheduling.models import Session
    from scheduling.services import schedule_course

    with transaction.atomic():
        coordinator, (first, second), devices = _world(f"{os.getpid()}-{run}-{time.time_ns()}")
        t0 = time.perf_counter()
        result = schedule_course(
            component=first,
            starts_on=date(2027, 1, 4),
            preferred_start=dtime(10),
            by=coordinator,
            commit=True,
        )
        service = time.perf_counter() - t0
        rows = list(Session.objects.filter(pk__in=result.session_ids).order_by("starts_at"))
        used = {b.resource_id for r in rows for b in r.bookings.all()}
        other = next(d for d in devices if d.pk not in used)
        t0 = time.perf_counter()
        _raw_insert(rows, component=second, device=other)
        raw = time.perf_counter() - t0
        transaction.set_rollback(True)
    return service, raw, len(rows)


def main() -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings.development")
    django.setup()
    from modalities.services import sync_catalogue
    from scheduling.services import _common

    # reminder planning runs after commit; these transactions never commit
    _common.notify_sessions_changed = lambda **kwargs: None
    sync_catalogue()
    repeats = int(os.environ.get("BENCH_COURSE_REPEATS", "7"))
    _one_run(0)  # warm-up: imports, catalogue, plan caches
    services, raws, n = [], [], 0
    for run in range(1, repeats + 1):
        service, raw, n = _one_run(run)
        services.append(service)
        raws.append(raw)
    s_med, r_med = statistics.median(services), statistics.median(raws)
    print(
        f"course commit ({n} sessions, {repeats} runs): schedule_course median "
        f"{s_med * 1000:.1f} ms; raw executemany INSERT of the same rows median "
        f"{r_med * 1000:.1f} ms; ratio {s_med / r_med:.1f}x"
    )


if __name__ == "__main__":
    main()
