"""One open flag per gap under concurrency (promise 3): the partial unique constraint decides.

No module-level django_db mark on purpose: ``restore_catalogue`` must be set up before
``transactional_db`` so that it re-loads the catalogue *after* the flush at teardown.
"""

from __future__ import annotations

import threading

from django.db import connection
from django.utils import timezone

from plans import services
from plans.flag_codes import FlagCode
from plans.models import Flag
from tests import factories


def test_concurrent_open_creates_one_open_flag(restore_catalogue, transactional_db):
    # given a plan, when 6 threads open the same gap at once, then one open flag exists
    org = factories.OrganizationFactory()
    clinic = factories.ClinicFactory(organization=org)
    coordinator = factories.CoordinatorFactory(organization=org)
    patient = services.create_patient(
        organization=org,
        by=coordinator,
        mrn="C-1",
        given_name="C",
        family_name="C",
        birth_date=timezone.now().date().replace(year=1980),
        timezone="UTC",
    )
    plan = services.create_plan(patient=patient, clinic=clinic, by=coordinator, title="P")
    barrier = threading.Barrier(6)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            services.open_or_escalate_flag(
                plan=plan, code=FlagCode.SAFETY_PHQ9_ITEM9, severity="critical", message="m"
            )
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert (
        Flag.objects.filter(plan=plan, code=FlagCode.SAFETY_PHQ9_ITEM9, status="open").count() == 1
    )
