import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from backend.settings.env import env_bool, env_int, env_list, env_str

ROOT = Path(__file__).resolve().parents[2]


def test_env_bool_reads_common_spellings(monkeypatch):
    # given / when / then
    for raw, expected in [("1", True), ("true", True), ("Yes", True), ("0", False), ("off", False)]:
        monkeypatch.setenv("X_FLAG", raw)
        assert env_bool("X_FLAG", not expected) is expected


def test_env_bool_rejects_garbage(monkeypatch):
    monkeypatch.setenv("X_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="X_FLAG"):
        env_bool("X_FLAG", False)


def test_env_int_and_list(monkeypatch):
    monkeypatch.setenv("X_INT", "42")
    monkeypatch.setenv("X_LIST", "a.example.com, b.example.com,,")
    assert env_int("X_INT", 1) == 42
    assert env_list("X_LIST", []) == ["a.example.com", "b.example.com"]
    monkeypatch.setenv("X_INT", "forty")
    with pytest.raises(ImproperlyConfigured):
        env_int("X_INT", 1)


def test_env_str_required_without_default(monkeypatch):
    monkeypatch.delenv("X_MISSING", raising=False)
    with pytest.raises(ImproperlyConfigured, match="X_MISSING"):
        env_str("X_MISSING")


def _run_manage(args: list[str], extra_env: dict[str, str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(extra_env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "backend.settings.production",
    "SECRET_KEY": "p9$Kz2!vQ7@mL4#tR8^wX1&yB6*cN3(hJ5)dF0_gS-aE+uI=oP~lZ",
    "ALLOWED_HOSTS": "plans.example.com",
}


def test_production_profile_passes_check_deploy():
    # given the production profile with its required variables (and the test DB/Redis URLs)
    env = {
        **PRODUCTION_ENV,
        "DATABASE_URL": os.environ.get("DATABASE_URL", ""),
        "REDIS_URL": os.environ.get("REDIS_URL", ""),
    }
    # when
    result = _run_manage(["check", "--deploy", "--fail-level", "WARNING"], env)
    # then
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 silenced" in result.stdout or "no issues" in result.stdout


def test_production_profile_refuses_missing_secret_key():
    env = {
        **PRODUCTION_ENV,
        "SECRET_KEY": "",
        "DATABASE_URL": "postgres://x@127.0.0.1/x",
        "REDIS_URL": "redis://127.0.0.1:1/0",
    }
    result = _run_manage(["check"], env)
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_production_profile_requires_allowed_hosts():
    env = {
        **PRODUCTION_ENV,
        "ALLOWED_HOSTS": "",
        "DATABASE_URL": "postgres://x@127.0.0.1/x",
        "REDIS_URL": "redis://127.0.0.1:1/0",
    }
    result = _run_manage(["check"], env)
    assert result.returncode != 0
    assert "ALLOWED_HOSTS" in result.stderr


def test_database_and_redis_come_from_the_environment(settings):
    # make test exports the URLs it resolved; the settings must use exactly those
    db = settings.DATABASES["default"]
    url = os.environ["DATABASE_URL"]
    assert db["ENGINE"] == "backend.db"  # Django's PostgreSQL backend, C timestamps
    assert str(db["PORT"]) in url
    # the same server; under pytest-xdist each worker has its own database index on it
    server = os.environ["REDIS_URL"].rsplit("/", 1)[0]
    assert settings.REDIS_URL.rsplit("/", 1)[0] == server
    assert settings.CELERY_BROKER_URL == settings.REDIS_URL
    assert settings.CACHES["default"]["LOCATION"] == settings.REDIS_URL


def test_each_xdist_worker_gets_its_own_redis_database():
    # given the test profile loaded in an xdist worker process "gw1"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "backend.settings.test",
        "PYTEST_XDIST_WORKER": "gw1",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
    }
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.REDIS_URL, s.CELERY_BROKER_URL, s.CACHES['default']['LOCATION'])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    # then Redis, broker and cache all use that worker's own database
    assert result.stdout.split() == ["redis://127.0.0.1:6379/2"] * 3, result.stderr


def test_celery_configuration_is_safe(settings):
    from backend.celery import app

    assert app.conf.accept_content == ["json"]
    assert app.conf.task_serializer == "json"
    assert app.conf.enable_utc is True
    assert app.conf.timezone == "UTC"
    assert app.conf.worker_prefetch_multiplier == 1
    assert app.conf.task_acks_late is True
    assert app.conf.task_time_limit
    assert app.conf.task_soft_time_limit
    assert {q.name for q in app.conf.task_queues} == {"default", "reminders", "flags"}
    assert settings.USE_TZ is True
    assert settings.TIME_ZONE == "UTC"
    assert settings.DATABASES["default"]["ATOMIC_REQUESTS"] is False


def test_the_suite_runs_on_the_test_settings(settings):
    # a stray DJANGO_SETTINGS_MODULE in the environment once made `make test` run on the
    # development profile (slow password hashing, console SMS); the profile must be the test one
    assert settings.SETTINGS_MODULE == "backend.settings.test"
    assert settings.PASSWORD_HASHERS == ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_devservices_children_do_not_inherit_a_settings_module(monkeypatch):
    from backend.devtools.services import Services

    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "backend.settings.development")
    services = Services("postgres://x@127.0.0.1/x", "redis://127.0.0.1:6379/0")
    assert "DJANGO_SETTINGS_MODULE" not in services.env()
