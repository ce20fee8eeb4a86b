"""The one flag reconciler (issue 16, ``plans.reconcile.reconcile_flags``): open what is missing,
escalate (never lower), resolve the gone owned codes, leave foreign codes alone; idempotent,
and two concurrent calls open one flag per gap.

No module-level django_db mark: the concurrency test needs ``transactional_db`` after
``restore_catalogue`` (see tests/plans/test_flag_concurrency.py).
"""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, transaction

from plans.flag_codes import FlagCode
from plans.models import CarePlan, Flag
from plans.reconcile import FlagScope, WantedFlag, reconcile_flags
from tests import factories

OWNED = [FlagCode.NO_SHOW_STREAK, FlagCode.FOLLOW_UP_OVERDUE]


def _plan():
    org = factories.OrganizationFactory()
    clinic = factories.ClinicFactory(organization=org)
    patient = factories.PatientFactory(organization=org)
    return CarePlan.objects.create(
        patient=patient, organization=org, clinic=clinic, title="P", status="active"
    )


def want(plan, code=FlagCode.NO_SHOW_STREAK, key="", severity="warning", message="m"):
    return WantedFlag(plan.pk, str(code), key, severity, message, detail={"k": 1})


def open_rows(plan):
    return sorted(
        Flag.objects.filter(plan=plan, status="open").values_list(
            "code", "requirement_key", "severity"
        )
    )


@pytest.mark.django_db
def test_opens_escalates_never_lowers_and_resolves_the_gone():
    plan = _plan()
    scope = FlagScope(plan_ids=[plan.pk])

    # open: both gaps, with the plan's patient, once however often it runs
    first = reconcile_flags(scope, [want(plan), want(plan, FlagCode.FOLLOW_UP_OVERDUE)], OWNED)
    again = reconcile_flags(scope, [want(plan), want(plan, FlagCode.FOLLOW_UP_OVERDUE)], OWNED)
    assert (first.opened, again.opened, again.escalated, again.resolved) == (2, 0, 0, 0)
    assert {f.patient_id for f in Flag.objects.filter(plan=plan)} == {plan.patient_id}

    # escalate, then never lower
    up = reconcile_flags(
        scope, [want(plan, severity="critical"), want(plan, FlagCode.FOLLOW_UP_OVERDUE)], OWNED
    )
    down = reconcile_flags(
        scope, [want(plan, severity="info"), want(plan, FlagCode.FOLLOW_UP_OVERDUE)], OWNED
    )
    assert (up.escalated, down.escalated) == (1, 0)
    assert open_rows(plan) == [
        ("follow_up_overdue", "", "warning"),
        ("no_show_streak", "", "critical"),
    ]

    # resolve the gone owned gap; the resolved row stays as history
    gone = reconcile_flags(scope, [want(plan)], OWNED)
    assert gone.resolved == 1
    assert open_rows(plan) == [("no_show_streak", "", "critical")]
    assert Flag.objects.filter(plan=plan, status="resolved").count() == 1


@pytest.mark.django_db
def test_a_foreign_code_is_opened_and_escalated_but_never_resolved():
    plan = _plan()
    scope = FlagScope(plan_ids=[plan.pk])
    readiness = want(plan, FlagCode.REQUIREMENT_MISSING, key="1:rems_enrollment")
    reconcile_flags(scope, [readiness], OWNED)
    done = reconcile_flags(scope, [], OWNED)  # the scanner no longer wants it
    assert done.resolved == 0
    assert open_rows(plan) == [("requirement_missing", "1:rems_enrollment", "warning")]
    # its owner resolves it
    assert reconcile_flags(scope, [], [FlagCode.REQUIREMENT_MISSING]).resolved == 1


@pytest.mark.django_db
def test_refresh_rewords_only_owned_flags_and_scope_bounds_what_is_touched():
    plan, other = _plan(), _plan()
    reconcile_flags(FlagScope(plan_ids=[other.pk]), [want(other)], OWNED)
    reconcile_flags(FlagScope(plan_ids=[plan.pk]), [want(plan, message="old")], OWNED)
    done = reconcile_flags(
        FlagScope(plan_ids=[plan.pk]), [want(plan, message="new")], OWNED, refresh=True
    )
    assert done.refreshed == 1
    assert Flag.objects.get(plan=plan, status="open").message == "new"
    # a range scope (a scanner chunk) touches only the plans in its id range
    assert plan.pk < other.pk
    done = reconcile_flags(FlagScope(after_id=plan.pk - 1, upto_id=plan.pk), [], OWNED)
    assert done.resolved == 1
    assert Flag.objects.filter(plan=other, status="open").count() == 1


def test_two_concurrent_reconciliations_open_one_flag_per_gap(restore_catalogue, transactional_db):
    plan = _plan()
    wanted = [
        want(plan, FlagCode.NO_SHOW_STREAK),
        want(plan, FlagCode.FOLLOW_UP_OVERDUE),
        want(plan, FlagCode.REQUIREMENT_MISSING, key="1:x", severity="critical"),
    ]
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []
    opened: list[int] = []

    def worker() -> None:
        try:
            barrier.wait()
            opened.append(reconcile_flags(FlagScope(plan_ids=[plan.pk]), wanted, OWNED).opened)
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(opened) == 3  # each gap opened by exactly one of the racers
    assert open_rows(plan) == [
        ("follow_up_overdue", "", "warning"),
        ("no_show_streak", "", "warning"),
        ("requirement_missing", "1:x", "critical"),
    ]


@pytest.mark.django_db
def test_a_pass_with_nothing_to_change_locks_nothing_and_a_change_locks_only_its_rows():
    from django.test.utils import CaptureQueriesContext

    plan = _plan()
    scope = FlagScope(plan_ids=[plan.pk])
    wanted = [want(plan), want(plan, FlagCode.FOLLOW_UP_OVERDUE)]
    reconcile_flags(scope, wanted, OWNED)
    with CaptureQueriesContext(connection) as queries:
        assert reconcile_flags(scope, wanted, OWNED).opened == 0
    assert not [q for q in queries.captured_queries if "FOR UPDATE" in q["sql"]]
    assert not [q for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
    # escalating one flag locks that flag alone
    raised = Flag.objects.get(plan=plan, code=str(FlagCode.NO_SHOW_STREAK))
    with CaptureQueriesContext(connection) as queries:
        done = reconcile_flags(
            scope, [want(plan, severity="critical"), want(plan, FlagCode.FOLLOW_UP_OVERDUE)], OWNED
        )
    assert done.escalated == 1
    (lock,) = [q["sql"] for q in queries.captured_queries if "FOR UPDATE" in q["sql"]]
    assert f"ARRAY[{raised.pk}]" in lock.replace("'{", "ARRAY[").replace("}'", "]")


def test_a_flag_closed_between_the_read_and_the_lock_is_opened_again(
    restore_catalogue, transactional_db
):
    # given an open warning the reconciliation will escalate, held locked by another writer
    plan = _plan()
    scope = FlagScope(plan_ids=[plan.pk])
    reconcile_flags(scope, [want(plan)], OWNED)
    first = Flag.objects.get(plan=plan, status="open")
    locked, done = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def other_writer() -> None:
        try:
            with transaction.atomic():
                Flag.objects.select_for_update().get(pk=first.pk)
                locked.set()
                # once the reconciliation waits for the row, the other writer resolves it
                while not _someone_waits_for_a_lock():
                    time.sleep(0.01)
                Flag.objects.filter(pk=first.pk).update(status="resolved")
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            done.set()
            connection.close()

    thread = threading.Thread(target=other_writer)
    thread.start()
    assert locked.wait(10)
    # when the reconciliation, which read the flag open, gets the lock after the resolution
    result = reconcile_flags(scope, [want(plan, severity="critical")], OWNED)
    thread.join(10)
    assert errors == []
    # then the resolved flag stays resolved (not escalated), and the wanted gap is open again
    first.refresh_from_db()
    assert (first.status, first.severity) == ("resolved", "warning")
    assert (result.opened, result.escalated) == (1, 0)
    assert open_rows(plan) == [("no_show_streak", "", "critical")]


def _someone_waits_for_a_lock() -> bool:
    with connection.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cur.fetchone()[0] > 0
