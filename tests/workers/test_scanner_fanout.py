"""Fan-out of the flag scan (issue 17) with real Celery workers and a real Redis: the beat task
``plans.scan_flags`` enqueues one ``plans.scan_flag_chunk`` per chunk on the ``flags`` queue, two
worker processes share them, and the result is exactly what one in-process pass decides.
Follows tests/workers/test_delivery_integration.py (own redis-server on a spare port).
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime

import pytest

from bench.bench_scanner import build_world
from plans.models import Flag
from plans.scanner import chunk_bounds, scan_all_plans
from tests.workers.test_delivery_integration import REDIS_SERVER, ROOT, Cluster

pytestmark = [
    pytest.mark.worker,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(REDIS_SERVER is None, reason="needs redis-server"),
]
CHUNK = 10
N_PLANS = 75


class ScanCluster(Cluster):
    def start_flag_worker(self) -> subprocess.Popen:
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
                "flags",
                "-n",
                f"f{self.started}@%h",
                "--without-gossip",
                "--without-mingle",
                "-l",
                "INFO",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self._log(f"worker{self.started}"),
            stderr=subprocess.STDOUT,
        )
        self.workers.append(proc)
        return proc

    def log(self, n: int) -> str:
        return (self.tmp / f"worker{n}.log").read_text(errors="replace")


def open_flags() -> Counter:
    return Counter(
        Flag.objects.filter(status="open").values_list("plan_id", "code", "requirement_key")
    )


def test_beat_scan_fans_out_one_task_per_chunk_shared_by_two_workers(catalogue, clinic, tmp_path):
    build_world(n_plans=N_PLANS, now=datetime.now(UTC), clinic=clinic)
    chunks = len(chunk_bounds(size=CHUNK))
    assert chunks == N_PLANS // CHUNK + 1
    cluster = ScanCluster(tmp_path, latency_ms=0)
    cluster.env["FLAG_SCAN_CHUNK_PLANS"] = str(CHUNK)
    done = re.compile(r"Task plans\.scan_flag_chunk\[[^\]]+\] succeeded")
    try:
        cluster.start_redis()
        for _ in range(2):
            cluster.start_flag_worker()
        deadline = time.monotonic() + 60
        while not all("ready" in cluster.log(n) for n in (1, 2)):
            assert time.monotonic() < deadline, "workers did not start"
            time.sleep(0.2)
        # the beat tick, published as beat would (a subprocess on the cluster's broker)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "backend",
                "call",
                "plans.scan_flags",
                "--queue",
                "flags",
            ],
            cwd=ROOT,
            env=cluster.env,
            check=True,
            capture_output=True,
            timeout=60,
        )
        deadline = time.monotonic() + 180
        while True:
            per_worker = [len(done.findall(cluster.log(n))) for n in (1, 2)]
            if sum(per_worker) >= chunks:
                break
            assert time.monotonic() < deadline, (per_worker, cluster.log(1)[-2000:])
            time.sleep(0.3)
    finally:
        cluster.stop()

    # then every chunk ran exactly once, on both workers, and one flag per gap exists
    assert sum(per_worker) == chunks
    assert all(n >= 1 for n in per_worker), per_worker
    flags = open_flags()
    assert flags
    assert max(flags.values()) == 1
    assert len({plan_id for plan_id, _, _ in flags}) == N_PLANS
    # and an in-process pass judging every plan (the management command's ``--full``) finds
    # nothing left to do
    again = scan_all_plans(force=True)
    assert (again.plans, again.opened, again.resolved) == (N_PLANS, 0, 0)
    assert open_flags() == flags
