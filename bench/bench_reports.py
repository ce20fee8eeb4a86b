"""Claims CSV export: stream 100,000 fulfilled sessions, rows/s against a raw ``COPY … TO
STDOUT`` of the same rows in the same run, and the process RSS while streaming (flat memory).

``make bench BENCH=reports``. The synthetic sessions (2,000 TMS courses × 50 sessions, each
with an approved authorisation) are written inside a transaction that is rolled back. The export
path is the one the API serves: ``billing.reports.iter_claim_rows`` (one query through a
server-side cursor, codes per row in Python) → ``billing.csv_export.csv_chunks``.
``BENCH_REPORT_SESSIONS`` changes the size.
"""

from __future__ import annotations

import os
import resource
import time
from datetime import UTC, date, datetime, timedelta

PER_COURSE = 50


def _rss_mb() -> float:
    """Current resident set size (Linux /proc), in MB."""
    with open("/proc/self/statm", encoding="ascii") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def build(*, n_sessions: int, org, clinic, coordinator, clinician) -> None:
    from modalities.models import Protocol
    from plans.models import CarePlan, Patient, PlanComponent, PriorAuthorization
    from scheduling.models import Session

    proto = Protocol.objects.filter(code="tms_10hz_ldlpfc_mdd").order_by("-version").first()
    ind = proto.indications.first()
    courses = max(n_sessions // PER_COURSE, 1)
    patients = Patient.objects.bulk_create(
        Patient(
            organization=org,
            mrn=f"R{i:06d}",
            given_name="Bench",
            family_name=f"P{i}",
            birth_date=date(1980, 1, 1),
            timezone="America/New_York",
            email=f"r{i}@example.com",
            phone="+15555550100",
        )
        for i in range(courses)
    )
    plans = CarePlan.objects.bulk_create(
        CarePlan(
            patient=p,
            organization=org,
            clinic=clinic,
            title="Bench",
            status="active",
            diagnoses=["F33.2"],
            coordinator=coordinator,
        )
        for p in patients
    )
    comps = PlanComponent.objects.bulk_create(
        PlanComponent(
            plan=p,
            protocol=proto,
            indication=ind,
            label_status=ind.label_status,
            target=proto.target,
            payer_type="commercial",
            status="active",
            payer_name="Example Health Plan",
        )
        for p in plans
    )
    PriorAuthorization.objects.bulk_create(
        PriorAuthorization(
            component=c,
            number=f"PA-{c.pk}",
            authorized_units=36,
            starts_on=date(2025, 1, 1),
            ends_on=date(2026, 12, 31),
            status="approved",
            payer_name="Example Health Plan",
        )
        for c in comps
    )
    start = datetime(2025, 3, 3, 15, tzinfo=UTC)
    batch: list[Session] = []
    for c, p in zip(comps, plans, strict=True):
        for k in range(PER_COURSE):
            at = start + timedelta(days=k)
            batch.append(
                Session(
                    component=c,
                    patient_id=p.patient_id,
                    clinic=clinic,
                    kind="mapping" if k == 0 else "treatment",
                    status="fulfilled",
                    starts_at=at,
                    ends_at=at + timedelta(minutes=40),
                    clinician=clinician,
                    completion={"percent_mt": 120, "pulses": 3000},
                )
            )
        if len(batch) >= 10000:
            Session.objects.bulk_create(batch, batch_size=5000)
            batch = []
    if batch:
        Session.objects.bulk_create(batch, batch_size=5000)


def main() -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings.development")
    django.setup()
    from django.db import connection, transaction

    from backend.accounts.models import Organization, User
    from billing.csv_export import csv_chunks
    from billing.reports import CLAIM_COLUMNS, ReportFilters, claim_sessions, iter_claim_rows
    from modalities.services import sync_catalogue
    from scheduling.models import Clinic

    n = int(os.environ.get("BENCH_REPORT_SESSIONS", "100000"))
    with transaction.atomic():
        sync_catalogue()
        stamp = int(time.time() * 1000)
        org = Organization.objects.create(name=f"bench-{stamp}", slug=f"bench-r-{stamp}")
        clinic = Clinic.objects.create(
            organization=org, name="Bench", timezone="America/New_York", phone="+15555550100"
        )
        user = User.objects.create(username=f"bench-{stamp}", role="coordinator", organization=org)
        clinician = User.objects.create(
            username=f"bench-c-{stamp}",
            role="clinician",
            credential="technician",
            organization=org,
            first_name="Tess",
            last_name="Example",
        )
        t0 = time.perf_counter()
        build(n_sessions=n, org=org, clinic=clinic, coordinator=user, clinician=clinician)
        built = time.perf_counter() - t0
        filters = ReportFilters(clinic=clinic.pk)

        # the export as served: rows → CSV text chunks, written nowhere (a socket in real life)
        rss_before = _rss_mb()
        rss_max = rss_before
        rows = size = 0
        t0 = time.perf_counter()
        for chunk in csv_chunks(CLAIM_COLUMNS, iter_claim_rows(user=user, filters=filters)):
            size += len(chunk)
            rows += chunk.count("\n")
            rss_max = max(rss_max, _rss_mb())
        export = time.perf_counter() - t0
        rows -= 1  # the header

        # baseline: the same query's rows as CSV straight from PostgreSQL (COPY … TO STDOUT)
        sql, params = claim_sessions(user=user, filters=filters).query.sql_with_params()
        raw = connection.connection  # the psycopg 3 connection inside the same transaction
        copied = 0
        t0 = time.perf_counter()
        copy_sql = f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)"
        with raw.cursor() as cursor, cursor.copy(copy_sql, params) as copy:
            for data in copy:
                copied += bytes(data).count(b"\n")
        baseline = time.perf_counter() - t0
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"claims CSV: {rows:,} rows, {size / 2**20:.1f} MB in {export:.2f}s = "
            f"{rows / export:,.0f} rows/s (setup {built:.1f}s)"
        )
        print(
            f"baseline COPY … TO STDOUT of the same rows: {copied:,} rows in {baseline:.2f}s = "
            f"{copied / baseline:,.0f} rows/s; export/COPY time ratio {export / baseline:.1f}x"
        )
        print(
            f"RSS while streaming: {rss_before:.0f} MB at start, {rss_max:.0f} MB at most "
            f"(+{rss_max - rss_before:.1f} MB for {rows:,} rows); process peak RSS {peak:.0f} MB "
            "(includes building the synthetic rows)"
        )
        transaction.set_rollback(True)
