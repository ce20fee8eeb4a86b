"""Batched delivery (issue 17): one query claims a batch, a batch is sent in a constant number
of queries, back-pressure is the broker queue's depth, a lost row comes back alone.

Time is the real rule's: Monday 7 Dec 2026 10:00 in New York is inside waking hours.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from notifications.models import OutboundMessage
from scheduling.delivery import dispatch, send
from scheduling.models.reminders import Reminder
from scheduling.reminders import claim_timeout
from tests.workers.conftest import make_component, make_patient, make_session

pytestmark = pytest.mark.django_db(transaction=True)

NOW = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)  # 10:00 New York, 00:00 Tokyo


@pytest.fixture(autouse=True)
def _no_recorded_rate():
    """Each test starts without a provider rate recorded by an earlier one."""
    from django.core.cache import cache

    cache.delete(dispatch._RATE_KEY)
    yield
    cache.delete(dispatch._RATE_KEY)


def _due_rows(organization, clinic, n: int, *, tz: str = "America/New_York") -> list[int]:
    """``n`` patients, each with one SMS reminder due a minute ago for a session tomorrow."""
    ids = []
    for i in range(n):
        patient = make_patient(organization, tz=tz)
        comp = make_component(patient=patient, clinic=clinic, code="tms_10hz_ldlpfc_mdd")
        session = make_session(comp, NOW + timedelta(days=1, minutes=i))
        row = Reminder.objects.create(
            key=f"session:{session.pk}:sms:reminder_24h",
            patient=patient,
            session=session,
            session_ids=[session.pk],
            channel="sms",
            kind="reminder",
            due_at=NOW - timedelta(minutes=1),
        )
        ids.append(row.pk)
    return ids


def test_zones_in_waking_hours_are_computed_in_python_once_per_tick():
    # given 10:00 in New York, which is midnight in Tokyo
    zones = set(dispatch.zones_in_waking_hours(NOW))
    # then New York is allowed, Tokyo is not, and an unknown zone is in no list
    assert "America/New_York" in zones
    assert "Asia/Tokyo" not in zones
    assert "Mars/Olympus_Mons" not in zones
    # and the boundary is the rule's: 08:00 allowed, 21:00 not (47 CFR 64.1200)
    assert "America/New_York" in dispatch.zones_in_waking_hours(NOW - timedelta(hours=2))
    assert "America/New_York" not in dispatch.zones_in_waking_hours(NOW + timedelta(hours=11))


@pytest.mark.parametrize("n", [2, 20])
def test_a_batch_is_claimed_in_one_query_and_sent_in_six_and_two_commits(
    catalogue, organization, clinic, django_assert_num_queries, n
):
    # given n due reminders
    ids = _due_rows(organization, clinic, n)
    zones = dispatch.zones_in_waking_hours(NOW)
    # when one claim statement takes them all (zones passed in: computed once per tick), in its
    # own transaction: BEGIN · claim · COMMIT
    with django_assert_num_queries(3):
        claimed = dispatch.claim_due_reminders(now=NOW, batch_size=50, zones=zones)
    assert claimed == sorted(ids)
    # then the batch is sent in the same number of queries for 2 rows and 20, two commits:
    # BEGIN · 1 lease (attempts + 1) · COMMIT · BEGIN · 2 lock the rows + patients · 3 their
    # sessions (+ clinic, preparation) · 4 STOP opt-outs · 5 SMS sent this week · 6 mark every row
    # · COMMIT (the ledger provider writes on its own connection, not counted here)
    with django_assert_num_queries(10):
        outcomes = send.send_reminders(reminder_ids=claimed, now=NOW)
    assert Counter(outcomes.values()) == {"sent": n}
    assert OutboundMessage.objects.count() == n
    assert set(Reminder.objects.values_list("status", "attempts")) == {("sent", 1)}


def test_one_batch_never_sends_a_patient_two_texts_in_a_day(catalogue, organization, clinic):
    # given one patient with two SMS rows due now (a reminder and a change notice)
    patient = make_patient(organization)
    comp = make_component(patient=patient, clinic=clinic, code="tms_10hz_ldlpfc_mdd")
    sessions = [make_session(comp, NOW + timedelta(days=d)) for d in (1, 3)]
    for s, kind in zip(sessions, ("reminder", "change_notice"), strict=True):
        Reminder.objects.create(
            key=f"k:{s.pk}",
            patient=patient,
            session=s,
            session_ids=[s.pk],
            channel="sms",
            kind=kind,
            due_at=NOW,
        )
    claimed = dispatch.claim_due_reminders(now=NOW)
    # when both are sent in the same batch
    outcomes = send.send_reminders(reminder_ids=claimed, now=NOW)
    # then the first goes out and the second waits for tomorrow morning (FCC 15-72: 1 a day)
    assert sorted(outcomes.values()) == ["deferred_budget", "sent"]
    assert OutboundMessage.objects.count() == 1


def test_a_full_queue_stops_the_tick_and_a_shallow_one_takes_what_fits(
    catalogue, organization, clinic, settings
):
    # given 30 due rows and room for two messages of 10 rows each
    settings.REMINDER_QUEUE_HIGH_WATER = 3
    _due_rows(organization, clinic, 30)
    published: list[list[int]] = []
    # when the broker already holds 3 messages, nothing is claimed
    assert (
        dispatch.dispatch_due_reminders(
            now=NOW, batch_size=10, enqueue=published.append, queue_depth=lambda: 3
        )
        == []
    )
    # when it holds 1, two batches are claimed and published, one message each
    claimed = dispatch.dispatch_due_reminders(
        now=NOW, batch_size=10, enqueue=published.append, queue_depth=lambda: 1
    )
    assert [len(b) for b in published] == [10, 10]
    assert len(claimed) == 20
    # and when the broker cannot be read, nothing is claimed (rows are not stranded)
    assert (
        dispatch.dispatch_due_reminders(now=NOW, enqueue=published.append, queue_depth=lambda: None)
        == []
    )
    assert Reminder.objects.filter(status="pending").count() == 10


def test_a_row_whose_batch_was_lost_comes_back_in_a_batch_of_its_own(
    catalogue, organization, clinic
):
    # given a batch of three claimed, whose message was lost (worker killed, Redis restarted)
    _due_rows(organization, clinic, 3)
    lost: list[list[int]] = []
    dispatch.dispatch_due_reminders(now=NOW, enqueue=lost.append)
    assert [len(b) for b in lost] == [3]
    # when a tick runs after the claim timeout
    later = NOW + claim_timeout() + timedelta(seconds=1)
    again: list[list[int]] = []
    dispatch.dispatch_due_reminders(now=later, enqueue=again.append)
    # then each row goes out alone: one poisonous row cannot spend its neighbours' attempts
    assert sorted(again) == [[i] for i in sorted(lost[0])]
    outcomes = [send.send_reminders(reminder_ids=b, now=later) for b in again]
    assert [list(o.values()) for o in outcomes] == [["sent"]] * 3


def test_a_batch_out_of_time_hands_the_untried_rows_back(catalogue, organization, clinic, settings):
    # given a batch of four and no time budget at all
    settings.REMINDER_SEND_BATCH_SECONDS = 0
    ids = _due_rows(organization, clinic, 4)
    claimed = dispatch.claim_due_reminders(now=NOW)
    # when it is sent
    outcomes = send.send_reminders(reminder_ids=claimed, now=NOW)
    # then the first row still goes out (progress) and the rest are pending again, untried
    assert [outcomes[i] for i in ids] == ["sent", "returned", "returned", "returned"]
    back = Reminder.objects.filter(pk__in=ids[1:])
    assert set(back.values_list("status", "attempts", "claimed_at")) == {("pending", 0, None)}
    # and the next claim takes them
    assert dispatch.claim_due_reminders(now=NOW) == ids[1:]


def test_the_worker_task_refills_after_a_full_batch(catalogue, organization, clinic, settings):
    # given batches of 2 and a full batch claimed
    from scheduling import tasks

    settings.REMINDER_SEND_BATCH_SIZE = 2
    _due_rows(organization, clinic, 3)
    batch = dispatch.claim_due_reminders(now=NOW, batch_size=2)
    calls: list[dict] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(dispatch, "dispatch_due_reminders", lambda **kw: calls.append(kw) or [])
        # when a worker has sent it
        tasks.send_reminders.run(reminder_ids=batch)
        # then it claims the next batch itself instead of waiting for beat
        assert len(calls) == 1
        # and a short batch (the due rows ran out) does not
        tasks.send_reminders.run(reminder_ids=batch[:1])
        assert len(calls) == 1


def test_batches_are_sized_to_what_the_provider_takes_in_the_time_budget(settings):
    # given batches of at most 100 and a one-second budget
    settings.REMINDER_SEND_BATCH_SIZE = 100
    settings.REMINDER_SEND_BATCH_SECONDS = 1
    # without a measured rate, a small first batch measures it
    assert dispatch.adaptive_batch_size() == 10
    # a provider taking 5 messages a second (200 ms each) gets batches of 5
    dispatch._record_send_rate(10, 2.0)
    assert dispatch.adaptive_batch_size() == 5
    # a very slow one still gets one row per batch (progress); a fast one the cap
    dispatch._record_send_rate(1, 10.0)
    assert dispatch.adaptive_batch_size() == 1
    dispatch._record_send_rate(100, 0.01)
    assert dispatch.adaptive_batch_size() == 100
