"""Liveness (``/healthz``) and readiness (``/readyz``: database, Redis, worker heartbeat)."""

from __future__ import annotations

import time

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)


def write_worker_heartbeat(hostname: str, at: float) -> None:
    ttl = int(settings.WORKER_HEARTBEAT_MAX_AGE.total_seconds())
    _redis().set(f"{settings.WORKER_HEARTBEAT_KEY}:{hostname}", repr(at), ex=ttl)


def latest_worker_heartbeat() -> float | None:
    client = _redis()
    keys = list(client.scan_iter(f"{settings.WORKER_HEARTBEAT_KEY}:*", count=100))
    values = [float(v) for v in client.mget(keys) if v is not None] if keys else []
    return max(values) if values else None


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is up and serving. No dependency is touched."""
    return JsonResponse({"status": "ok"})


@require_GET
@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    """Ready to serve work: 200 when all checks pass, else 503 naming each failed check."""
    checks: dict[str, dict[str, str]] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = {"status": "ok"}
    except Exception as exc:  # any driver error means "not ready"
        checks["database"] = {"status": "fail", "error": exc.__class__.__name__}
    try:
        _redis().ping()
        checks["redis"] = {"status": "ok"}
        beat = latest_worker_heartbeat()
        max_age = settings.WORKER_HEARTBEAT_MAX_AGE.total_seconds()
        if beat is None:
            checks["worker"] = {"status": "fail", "error": "no worker heartbeat"}
        elif time.time() - beat > max_age:
            checks["worker"] = {"status": "fail", "error": "worker heartbeat is stale"}
        else:
            checks["worker"] = {"status": "ok", "age_seconds": f"{time.time() - beat:.0f}"}
    except redis.RedisError as exc:
        checks["redis"] = {"status": "fail", "error": exc.__class__.__name__}
        checks["worker"] = {"status": "unknown", "error": "redis unavailable"}
    failed = sorted(name for name, c in checks.items() if c["status"] != "ok")
    body = {"status": "ok" if not failed else "fail", "failed": failed, "checks": checks}
    return JsonResponse(body, status=200 if not failed else 503)
