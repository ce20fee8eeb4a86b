"""``make run``: migrate, seed the synthetic demo data, then supervise web + worker + beat
until Ctrl-C / SIGTERM, with a one-screen summary once /healthz answers."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from .common import DATA, ROOT, DevServicesError, redact, run_logged, step
from .services import Services, resolve


def _terminate(children: list[subprocess.Popen], grace: float = 15.0) -> None:
    """SIGTERM to each child's main process only — the Celery worker then finishes its tasks
    (warm shutdown) and gunicorn its requests; a signal to the whole group would kill their
    pool processes mid-task (WorkerLostError). Whatever is left after ``grace`` is killed."""
    for child in children:
        if child.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for child in children:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        if child.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
            child.wait()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, signal.SIGKILL)  # stragglers of an exited main process


def check_port_free(host: str, port: int) -> None:
    """Fail before anything starts when the web port is taken (as gunicorn would bind it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise DevServicesError(
                f"port {port} on {host} is already in use ({exc.strerror}) — is another "
                f"`make run` running? Stop it, or choose another port: make run PORT={port + 1}"
            ) from exc


def _http_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (our own http URL)
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except (OSError, ValueError):
        return None


def _wait_for(url: str, children: list[subprocess.Popen], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _http_status(url) == 200:
            return True
        if any(child.poll() is not None for child in children):
            return False
        time.sleep(0.25)
    return False


# backend/settings/base.py WORKER_HEARTBEAT_KEY; read here before Django is configured.
WORKER_HEARTBEAT_KEY = "clinic:worker-heartbeat"


def _wait_for_heartbeat(redis_url: str, children: list[subprocess.Popen], timeout: float) -> bool:
    import redis

    client = redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and all(child.poll() is None for child in children):
        with contextlib.suppress(redis.RedisError):
            if next(client.scan_iter(f"{WORKER_HEARTBEAT_KEY}:*", count=1000), None):
                return True
        time.sleep(0.25)
    return False


def _summary(port: int, logins: list[str], services: Services, elapsed: float | None) -> str:
    base = f"http://127.0.0.1:{port}"
    ready = f" — ready {elapsed:.0f} s after `make run` started" if elapsed is not None else ""
    rule = "─" * 78
    lines = [
        rule,
        f" Clinic plans is running{ready}",
        f"   API          {base}/api/v1/",
        f"   API docs     {base}/api/docs/        (OpenAPI schema: /api/schema/)",
        f"   Dashboard    {base}/dashboard/",
        f"   Admin        {base}/admin/           (log in as admin)",
        f"   Health       {base}/healthz          readiness: {base}/readyz",
        " Synthetic demo logins (username, password, role):",
        *[f"   {line.strip()}" for line in logins],
        f" API token: curl -X POST {base}/api/v1/auth/token/ -H 'Content-Type: application/json'",
        '     -d \'{"username": "coordinator", "password": "demo-coordinator-2026"}\'',
        f" Database {redact(services.database_url)}",
        f" Redis    {services.redis_url}",
        " Logs of web, worker and beat follow below. Ctrl-C stops everything.",
        rule,
    ]
    return "\n".join(lines)


def _logins(seed_output: str) -> list[str]:
    lines = seed_output.splitlines()
    start = next((i for i, line in enumerate(lines) if "logins" in line.lower()), None)
    if start is None:
        return []
    return [line for line in lines[start + 1 :] if line.startswith("  ")]


def cmd_run() -> int:
    """Migrate, seed demo data, then supervise web + worker + beat until Ctrl-C / SIGTERM."""
    port = int(os.environ.get("PORT", "8000"))
    check_port_free("127.0.0.1", port)
    services = resolve(purpose="run")
    env = {
        **services.env(),
        "DJANGO_SETTINGS_MODULE": "backend.settings.development",
        # Celery warns on every start as root although nothing it accepts is pickle (json only,
        # backend/celery.py); a newcomer in a root container should not see a scary warning.
        "PYTHONWARNINGS": "ignore:You're running the worker with superuser privileges",
    }
    # Serve like production (issue 17): no DEBUG (no per-query logging, no debug pages) unless
    # the caller asks for it with DEBUG=true.
    env["DEBUG"] = os.environ.get("DEBUG", "false")
    py = sys.executable
    bindir = Path(py).parent
    children: list[subprocess.Popen] = []
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    logs = DATA / "logs"
    try:
        with step("migrations") as s:
            out = run_logged(
                [py, "manage.py", "migrate", "--noinput"], logs / "migrate.log", env=env
            )
            applied = out.count("  Applying ")
            s.result = f"{applied} applied" if applied else "up to date"
        with step("demo data (synthetic)") as s:
            # --force: make run serves without DEBUG (issue 17), and this is its own synthetic demo
            # database on the development profile; the guard is for a production shell.
            seed = run_logged(
                [py, "manage.py", "seed_demo", "--force"], logs / "seed_demo.log", env=env
            )
            logins = _logins(seed)
            s.result = f"ready, {len(logins)} demo logins"
        commands = {
            "web": [
                str(bindir / "gunicorn"),
                "backend.wsgi",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "--access-logfile",
                "-",
            ],
            "worker": [
                str(bindir / "celery"),
                "--quiet",
                "-A",
                "backend",
                "worker",
                "--loglevel",
                "INFO",
                "-Q",
                "default,reminders,flags",
                "--concurrency",
                "2",
            ],
            "beat": [
                str(bindir / "celery"),
                "--quiet",
                "-A",
                "backend",
                "beat",
                "--loglevel",
                "INFO",
                "--schedule",
                str(DATA / "celerybeat-schedule"),
            ],
        }
        with step("web, worker, beat: start") as s:
            for argv in commands.values():
                # Each child leads its own process group so that we, not the terminal, stop it —
                # after it has finished its warm shutdown — and nothing is left behind.
                children.append(subprocess.Popen(argv, env=env, cwd=ROOT, start_new_session=True))
            s.result = ", ".join(
                f"{n} pid {c.pid}" for n, c in zip(commands, children, strict=True)
            )
        with step(f"web: GET http://127.0.0.1:{port}/healthz") as s:
            if not _wait_for(f"http://127.0.0.1:{port}/healthz", children, 60):
                raise DevServicesError(
                    "the web server did not answer /healthz within 60 s; its output is above"
                )
            s.result = "200 OK"
        with step("worker: heartbeat, then GET /readyz") as s:
            # Watched in Redis, not by polling /readyz: each 503 before the worker is up would
            # log an ERROR line that means nothing to a newcomer.
            _wait_for_heartbeat(services.redis_url, children, 60)
            status = _http_status(f"http://127.0.0.1:{port}/readyz")
            s.result = "200 OK" if status == 200 else f"{status} (not ready yet, see /readyz)"
        t0 = os.environ.get("MAKE_RUN_T0")
        elapsed = time.time() - float(t0) if t0 else None
        print(_summary(port, logins, services, elapsed), file=sys.stderr, flush=True)
        while not stopping:
            exited = [
                name for name, c in zip(commands, children, strict=True) if c.poll() is not None
            ]
            if exited:
                raise DevServicesError(f"{', '.join(exited)} exited; stopping the rest")
            time.sleep(0.5)
        return 0
    finally:
        if children:
            with step("web, worker, beat: stop"):
                _terminate(children)
        services.stop_started()
