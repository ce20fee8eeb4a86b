"""Reminder delivery throughput with the null SMS channel, against a raw floor (issue 17).

``BENCH_DISPATCH_ROWS`` (default 5,000) due SMS reminders for as many patients in zones awake
right now, written with bulk SQL into a fresh organisation (removed at the end). Three runs over
the same rows, reset to pending between runs:

1. floor: raw SQL — claim 200 rows per ``UPDATE … SKIP LOCKED … RETURNING`` and mark each row
   ``sent`` with its own ``UPDATE`` (autocommit), i.e. what any delivery must at least do;
2. one process: ``dispatch_due_reminders`` + ``send_reminders`` inline (the service code every
   worker runs: lease, checks, render, null provider call, batch mark);
3. two workers: two ``celery worker -P solo -Q reminders`` processes on this machine's Redis
   (``REDIS_URL``), fed by one ``dispatch_due_reminders`` call; workers refill themselves.

Prints rows/s and the ratios. Figures, not assertions: the machine is shared.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from bench import _world

ROOT = Path(__file__).resolve().parents[1]
FLOOR_CLAIM = """
UPDATE scheduling_reminder r SET status = 'sending', claimed_at = now()
FROM (SELECT id FROM scheduling_reminder
      WHERE status = 'pending' AND due_at <= now() AND key LIKE 'bench:%%'
      ORDER BY due_at, id LIMIT 200 FOR UPDATE SKIP LOCKED) d
WHERE r.id = d.id RETURNING r.id
"""
FLOOR_MARK = (
    "UPDATE scheduling_reminder SET status = 'sent', sent_at = now(), provider_id = %s"
    " WHERE id = %s"
)


def _floor() -> tuple[int, float]:
    from django.db import connection

    done, t0 = 0, time.perf_counter()
    with connection.cursor() as cur:
        while True:
            cur.execute(FLOOR_CLAIM)
            ids = [r[0] for r in cur.fetchall()]
            if not ids:
                break
            for rid in ids:
                cur.execute(FLOOR_MARK, [f"null-{rid}", rid])
            done += len(ids)
    return done, time.perf_counter() - t0


def _one_process() -> tuple[int, float]:
    from scheduling.delivery.dispatch import dispatch_due_reminders
    from scheduling.delivery.send import send_reminders

    done, t0 = 0, time.perf_counter()
    while True:
        claimed = dispatch_due_reminders(enqueue=lambda ids: send_reminders(reminder_ids=ids))
        if not claimed:
            break
        done += len(claimed)
    return done, time.perf_counter() - t0


def _sent(clinic_id: int) -> int:
    return _world.scalar(
        "SELECT count(*) FROM scheduling_reminder r JOIN scheduling_session s"
        " ON s.id = r.session_id WHERE s.clinic_id = %s AND r.status = 'sent'",
        [clinic_id],
    )


def _two_workers(n: int, clinic_id: int, tmp: Path) -> tuple[int, float]:
    from backend.celery import app
    from scheduling.delivery.dispatch import dispatch_due_reminders

    app.control.purge()
    env = {
        **os.environ,
        "DEBUG": "false",
        "SMS_BACKEND": "notifications.channels.sms.NullSmsBackend",
    }
    workers = []
    for i in range(2):
        log = open(tmp / f"bench-worker{i}.log", "wb")  # noqa: SIM115 - closed with the process
        workers.append(
            subprocess.Popen(
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
                    f"bench{i}-{os.getpid()}@%h",
                    "--without-gossip",
                    "--without-mingle",
                    "-l",
                    "WARNING",
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
    try:
        ping_deadline = time.monotonic() + 60
        while time.monotonic() < ping_deadline:
            replies = app.control.ping(timeout=0.5) or []
            if sum(1 for r in replies for k in r if k.startswith("bench")) >= 2:
                break
        t0 = time.perf_counter()
        dispatch_due_reminders()
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            done = _sent(clinic_id)
            if done >= n:
                break
            time.sleep(0.05)
        return _sent(clinic_id), time.perf_counter() - t0
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            try:
                w.wait(20)
            except subprocess.TimeoutExpired:
                w.kill()


def main() -> None:
    import tempfile

    _world.setup_django()
    from django.conf import settings

    from modalities.services import sync_catalogue

    settings.SMS_BACKEND = "notifications.channels.sms.NullSmsBackend"
    n = int(os.environ.get("BENCH_DISPATCH_ROWS", "5000"))
    zones = _world.awake_zones()
    sync_catalogue()
    tag = _world.tag()
    org, clinic, coordinator = _world.make_org(tag)
    try:
        _world.add_plans(
            org_id=org.pk,
            clinic_id=clinic.pk,
            coordinator_id=coordinator.pk,
            n=n,
            tag=tag,
            zones=zones,
        )
        rows = _world.add_due_reminders(org_id=org.pk, clinic_id=clinic.pk)
        print(f"dispatch: {rows} due SMS reminders, zones {', '.join(zones)}; {_world.load()}")
        floor_n, floor_s = _floor()
        _world.reset_reminders(clinic.pk)
        one_n, one_s = _one_process()
        _world.reset_reminders(clinic.pk)
        with tempfile.TemporaryDirectory() as tmp:
            two_n, two_s = _two_workers(rows, clinic.pk, Path(tmp))
        floor, one, two = floor_n / floor_s, one_n / one_s, two_n / two_s
        print(
            f"  floor (raw claim 200 + per-row mark): {floor_n} in {floor_s:.2f}s = {floor:,.0f}/s"
        )
        print(
            f"  one process (claim + send, null channel): {one_n} in {one_s:.2f}s = "
            f"{one:,.0f}/s = {one / floor:.2f}x floor"
        )
        print(
            f"  two workers (celery, refill): {two_n} in {two_s:.2f}s = {two:,.0f}/s = "
            f"{two / floor:.2f}x floor"
        )
        print(f"  {_world.load()}")
    finally:
        _world.drop_org(org.pk)


if __name__ == "__main__":
    main()
