import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from django.conf import settings

from backend.health import write_worker_heartbeat

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def clean_heartbeats():
    client = redis.Redis.from_url(settings.REDIS_URL)
    for key in client.scan_iter(f"{settings.WORKER_HEARTBEAT_KEY}:*"):
        client.delete(key)
    yield client
    for key in client.scan_iter(f"{settings.WORKER_HEARTBEAT_KEY}:*"):
        client.delete(key)


def test_healthz_is_200_without_touching_dependencies(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_is_503_naming_worker_without_heartbeat(client, clean_heartbeats):
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failed"] == ["worker"]


@pytest.mark.django_db
def test_readyz_is_200_with_recent_heartbeat(client, clean_heartbeats):
    write_worker_heartbeat("test-worker", time.time())
    response = client.get("/readyz")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "ok"


@pytest.mark.django_db
def test_readyz_is_503_on_stale_heartbeat(client, clean_heartbeats):
    write_worker_heartbeat("test-worker", time.time() - 3600)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["worker"]["error"] == "worker heartbeat is stale"


@pytest.mark.django_db
def test_readyz_is_503_naming_redis_when_redis_is_down(client, settings):
    # given Redis at an address where nothing listens
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert "redis" in body["failed"]
    assert body["checks"]["database"]["status"] == "ok"


@pytest.mark.worker
@pytest.mark.django_db
def test_readyz_turns_ready_when_a_real_worker_runs(client, clean_heartbeats):
    # given a real Celery worker process on the test Redis
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "backend.settings.test"}
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "backend",
            "worker",
            "--pool",
            "solo",
            "--loglevel",
            "WARNING",
            "-Q",
            "default",
            "-n",
            f"health-{os.getpid()}@%h",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    try:
        # when it has started consuming, it writes a heartbeat
        deadline = time.monotonic() + 60
        status = None
        while time.monotonic() < deadline:
            status = client.get("/readyz").status_code
            if status == 200:
                break
            time.sleep(0.5)
        # then readiness is green
        assert status == 200
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)
