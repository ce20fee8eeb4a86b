"""The commands of backend/devservices.py (the usage text below) and the ones small enough to
live beside them: ``exec`` (services up, run a command with progress lines, stop them),
``browser``, ``stop`` / ``clean``, ``env``."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from .common import DATA, PROGRESS_EVERY, DevServicesError, log, run_logged, step
from .lock import cmd_lock, cmd_setup
from .postgres import drop_test_databases, runtime_home, stop_embedded_postgres
from .redis import stop_embedded_redis
from .run import cmd_run
from .services import resolve

USAGE = """\
Usage (what each command does: backend/devtools/__init__.py, docs/adr/0001):

    python backend/devservices.py setup                   # virtualenv + install from the lock
    python backend/devservices.py lock [--upgrade]        # regenerate requirements*.txt
    python backend/devservices.py exec [--test] -- CMD    # services up, run CMD, stop them
    python backend/devservices.py run                     # migrate, seed, web + worker + beat
    python backend/devservices.py stop                    # stop embedded servers left running
    python backend/devservices.py clean                   # … and remove their files outside .data
    python backend/devservices.py browser                 # Debian chromium for the e2e tests
"""


def cmd_browser() -> int:
    """Debian's chromium for the browser tests (never a downloaded build); skipped, with a
    line, where it cannot be installed."""
    with step("browser for the e2e tests") as s:
        if Path("/usr/bin/chromium").exists():
            s.result = "Debian chromium present"
        elif os.geteuid() == 0 and shutil.which("apt-get"):
            logfile = DATA / "logs" / "apt-chromium.log"
            env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            install = ["apt-get", "install", "-y", "-q", "chromium"]
            try:
                run_logged(install, logfile, env=env)
            except DevServicesError:
                run_logged(["apt-get", "update", "-q"], DATA / "logs" / "apt-update.log", env=env)
                run_logged(install, logfile, env=env)
            s.result = "Debian chromium installed"
        else:
            s.result = "chromium not installed (needs root and apt-get): browser tests skip"
    return 0


def call_with_progress(argv: list[str], *, env: dict[str, str], label: str) -> int:
    """Run ``argv`` with its output passed through as it comes, plus a line whenever it has been
    silent for 10 s (pytest prints nothing while it creates the test database, and nothing
    during one long test). Ctrl-C reaches the child from the terminal; we keep reading until it
    has finished, so that what follows (dropping test databases, stopping servers) still runs."""
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    started = last = time.monotonic()
    at_line_start = True
    lock = threading.Lock()
    done = threading.Event()

    def tick() -> None:
        nonlocal last, at_line_start
        while not done.wait(1.0):
            with lock:
                if time.monotonic() - last < PROGRESS_EVERY:
                    continue
                prefix = "" if at_line_start else "\n"
                sys.stdout.buffer.flush()
                print(
                    f"{prefix}[make] {label}: still running ({time.monotonic() - started:.0f} s)",
                    file=sys.stderr,
                    flush=True,
                )
                at_line_start, last = True, time.monotonic()

    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=tick, daemon=True).start()
    try:
        while chunk := os.read(proc.stdout.fileno(), 65536):
            with lock:
                sys.stdout.buffer.write(chunk)
                sys.stdout.buffer.flush()
                at_line_start, last = chunk.endswith(b"\n"), time.monotonic()
        return proc.wait()
    finally:
        done.set()
        signal.signal(signal.SIGINT, previous)


def cmd_exec(argv: list[str], *, purpose: str) -> int:
    services = resolve(purpose=purpose)
    derived_db = not os.environ.get("DATABASE_URL")
    code = 1
    try:
        label = "tests" if purpose == "test" else Path(argv[0]).name if argv else "command"
        code = call_with_progress(argv, env=services.env(), label=label)
    finally:
        if purpose == "test":
            with step("test databases: drop") as s:
                dropped = drop_test_databases(services.database_url, include_base=derived_db)
                s.result = ", ".join(dropped) or "none left"
        services.stop_started()
    return code


def main(argv: list[str]) -> int:
    if not argv:
        print(USAGE)
        return 2
    command, rest = argv[0], argv[1:]
    try:
        if command == "setup":
            return cmd_setup()
        if command == "browser":
            return cmd_browser()
        if command == "lock":
            return cmd_lock(upgrade="--upgrade" in rest)
        if command == "exec":
            purpose = "test" if "--test" in rest[:1] else "run"
            rest = rest[1:] if purpose == "test" else rest
            if rest and rest[0] == "--":
                rest = rest[1:]
            return cmd_exec(rest, purpose=purpose)
        if command == "run":
            return cmd_run()
        if command in ("stop", "clean"):
            stop_embedded_redis()
            with contextlib.suppress(DevServicesError):  # not installed: nothing can run
                stop_embedded_postgres()
            if command == "clean" and os.geteuid() == 0 and runtime_home().is_dir():
                shutil.rmtree(runtime_home())
                log(f"removed {runtime_home()}")
            return 0
        if command == "env":
            services = resolve(purpose="test" if "--test" in rest else "run")
            print(f"DATABASE_URL={services.database_url}\nREDIS_URL={services.redis_url}")
            return 0
    except DevServicesError as exc:
        log(f"error: {exc}")
        return 1
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    print(USAGE)
    return 2
