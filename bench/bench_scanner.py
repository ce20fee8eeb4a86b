"""Flag scanner throughput: one pass over 10,000 plans, printed as plans per second.

Run with ``make bench`` (``python -m bench`` runs every ``bench/bench_*.py`` ``main()``). The
synthetic plans are written inside a transaction that is rolled back, so the database is left
as it was. ``build_world`` is shared with tests/workers/test_scanner.py.
"""

from __future__ import annotations

import itertools
import os
import time
from datetime import UTC, date, datetime, timedelta

ZONES = ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles",
         "Pacific/Honolulu")  # fmt: skip
_run = itertools.count(1)


def build_world(*, n_plans: int, now: datetime, clinic, coordinator=None) -> list[int]:
    """``n_plans`` active plans with a mix of gaps, in a handful of bulk inserts.

    Every third plan is SPRAVATO (first dose 30 days ago, a dose 10 days ago without a PMF, the
    next booked 48 h ahead, REMS enrolment missing); the others are a running TMS course with
    no PHQ-9 for two weeks; every fifth plan's last two visits were no-shows; every fourth has
    a prior authorisation for 3 sessions expiring in a week; every seventh has not started.
    """
    from modalities.models import Protocol
    from plans.models import CarePlan, Patient, PlanComponent, PriorAuthorization
    from scheduling.models import Session

    tag = f"{os.getpid()}-{next(_run)}-{int(time.time() * 1000)}"
    protos = {}
    for code in ("tms_10hz_ldlpfc_mdd", "spravato_trd"):
        p = Protocol.objects.filter(code=code).order_by("-version").first()
        protos[code] = (p, p.indications.first())
    patients = Patient.objects.bulk_create(
        Patient(
            organization_id=clinic.organization_id,
            mrn=f"B{tag}-{i}",
            given_name="Bench",
            family_name=f"P{i}",
            birth_date=date(1980, 1, 1),
            phone=f"+1{201 + (i // 100) % 700}55501{i % 100:02d}",  # fictional 555-01xx
            timezone=ZONES[i % len(ZONES)],
            preferred_channel="sms",
        )
        for i in range(n_plans)
    )
    plans = CarePlan.objects.bulk_create(
        CarePlan(
            patient=pt,
            organization_id=clinic.organization_id,
            clinic=clinic,
            title="Bench plan",
            diagnoses=["F33.2"],
            status="active",
            coordinator=coordinator,
        )
        for pt in patients
    )
    comps = []
    for i, plan in enumerate(plans):
        proto, ind = protos["spravato_trd" if i % 3 == 0 else "tms_10hz_ldlpfc_mdd"]
        comps.append(
            PlanComponent(
                plan=plan,
                protocol=proto,
                indication=ind,
                label_status=ind.label_status,
                target=proto.target,
                payer_type="commercial",
                status="active",
            )
        )
    comps = PlanComponent.objects.bulk_create(comps)
    PriorAuthorization.objects.bulk_create(
        PriorAuthorization(component=comp, number="PA-1", authorized_units=3, status="approved",
                           ends_on=(now + timedelta(days=7)).date())
        for i, comp in enumerate(comps)
        if i % 4 == 0
    )  # fmt: skip
    sessions = []
    for i, comp in enumerate(comps):
        pid = comp.plan.patient_id

        def add(days: float, status: str, *, comp=comp, pid=pid) -> None:
            start = (now + timedelta(days=days)).replace(second=0, microsecond=0)
            sessions.append(
                Session(component=comp, patient_id=pid, clinic=clinic, kind="treatment",
                        starts_at=start, ends_at=start + timedelta(minutes=40), status=status)
            )  # fmt: skip

        past = [-30, -26, -10] if i % 3 == 0 else [-14, -12, -10, -8, -6, -4, -2]
        if i % 7 == 1:  # not started yet: pre-course requirements are still open
            past = []
        for n, d in enumerate(past):
            noshow = i % 5 == 0 and n >= len(past) - 2
            add(d, "noshow" if noshow else "fulfilled")
        for d in (2, 4, 6):
            add(d, "booked")
    Session.objects.bulk_create(sessions, batch_size=5000)
    return [p.pk for p in plans]


BASELINE_SQL = """
    SELECT p.id, count(DISTINCT c.id), count(s.id), max(s.starts_at),
           (SELECT count(*) FROM plans_evaluation e WHERE e.patient_id = p.patient_id)
    FROM plans_careplan p
    JOIN plans_plancomponent c ON c.plan_id = p.id
    LEFT JOIN scheduling_session s ON s.component_id = c.id
    WHERE p.status IN ('active', 'on-hold')
    GROUP BY p.id
"""


def main() -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings.development")
    django.setup()
    from django.db import connection, transaction

    from backend.accounts.models import Organization
    from modalities.services import sync_catalogue
    from plans.scanner import scan_all_plans
    from scheduling.models import Clinic

    n = int(os.environ.get("BENCH_SCANNER_PLANS", "10000"))
    now = datetime.now(UTC)
    with transaction.atomic():
        sync_catalogue()
        stamp = int(time.time() * 1000)
        org = Organization.objects.create(name=f"bench-{stamp}", slug=f"bench-{stamp}")
        clinic = Clinic.objects.create(organization=org, name="Bench", timezone="UTC",
                                       phone="+15555550100")  # fmt: skip
        t0 = time.perf_counter()
        build_world(n_plans=n, now=now, clinic=clinic)
        built = time.perf_counter() - t0
        t0 = time.perf_counter()
        first = scan_all_plans(now=now)
        scan = time.perf_counter() - t0
        t0 = time.perf_counter()
        second = scan_all_plans(now=now)
        rescan = time.perf_counter() - t0
        # Baseline in the same run: one raw SQL pass reading what a scan must read for every
        # plan (plans × components × sessions, evaluations per patient) — no rules, no writes.
        t0 = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(BASELINE_SQL)
            cursor.fetchall()
        baseline = time.perf_counter() - t0
        print(
            f"scanner: {first.plans} plans in {scan:.2f}s = {first.plans / scan:,.0f} plans/s "
            f"(opened {first.opened} flags); re-scan {rescan:.2f}s = "
            f"{second.plans / rescan:,.0f} plans/s, opened {second.opened}; "
            f"setup {built:.1f}s"
        )
        print(
            f"baseline raw SQL read of the same rows {baseline:.2f}s; "
            f"scan/baseline ratio {scan / baseline:.1f}x, re-scan/baseline {rescan / baseline:.1f}x"
        )
        transaction.set_rollback(True)


if __name__ == "__main__":
    main()
