"""Container health checks for docker-compose.yml: ``python backend/healthcheck.py web|beat``.

Standard library only and run as a script, so a check costs a bare interpreter start, not a
Django and Celery import (the worker's check is ``celery inspect ping``). Exit 0 = healthy,
1 = unhealthy, with one line on stderr saying why.

``web``: GET ``/healthz`` on the local gunicorn as the proxy would send it — the first
``ALLOWED_HOSTS`` name as Host and ``X-Forwarded-Proto: https`` — so that neither the host
check nor ``SECURE_SSL_REDIRECT`` answers instead of the view; a redirect is a failure.
``beat``: the heartbeat file that beat's scheduler touches every tick (backend/beat.py) exists
and is younger than ``BEAT_HEARTBEAT_MAX_AGE`` seconds.
"""

from __future__ import annotations

import http.client
import json
import os
import sys
import time

DEFAULT_BEAT_HEARTBEAT_MAX_AGE = 120


def _host() -> str:
    for name in os.environ.get("ALLOWED_HOSTS", "").split(","):
        name = name.strip().lstrip(".")
        if name and name != "*":
            return name
    return "localhost"


def check_web() -> str | None:
    port = int(os.environ.get("HEALTHCHECK_PORT") or os.environ.get("PORT") or "8000")
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        headers = {"Host": _host(), "X-Forwarded-Proto": "https", "X-Request-ID": "healthcheck"}
        conn.request("GET", "/healthz", headers=headers)
        response = conn.getresponse()
        body = response.read()
    except OSError as exc:
        return f"web: no answer on 127.0.0.1:{port} ({exc.__class__.__name__}: {exc})"
    finally:
        conn.close()
    if response.status != 200:
        where = response.getheader("Location") or ""
        return f"web: /healthz answered {response.status} {where}".rstrip()
    try:
        status = json.loads(body).get("status")
    except ValueError:
        status = None
    return None if status == "ok" else f"web: /healthz body is not ok: {body[:100]!r}"


def check_beat() -> str | None:
    path = os.environ.get("BEAT_HEARTBEAT_FILE", "")
    if not path:
        return "beat: BEAT_HEARTBEAT_FILE is not set"
    max_age = float(os.environ.get("BEAT_HEARTBEAT_MAX_AGE") or DEFAULT_BEAT_HEARTBEAT_MAX_AGE)
    try:
        age = time.time() - os.stat(path).st_mtime
    except FileNotFoundError:
        return f"beat: no heartbeat at {path} (beat not running)"
    if age > max_age:
        return f"beat: heartbeat {age:.0f}s old (> {max_age:.0f}s): beat is not ticking"
    return None


CHECKS = {"web": check_web, "beat": check_beat}


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in CHECKS:
        print(f"usage: healthcheck.py {'|'.join(CHECKS)}", file=sys.stderr)
        return 2
    problem = CHECKS[argv[0]]()
    if problem:
        print(problem, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
