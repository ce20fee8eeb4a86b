"""The dev-services bootstrap behind `make run` / `make test` (docs/adr/0001)."""

import shutil

import psycopg
import pytest

from backend import devservices


def test_explicit_urls_are_used_and_nothing_is_started(monkeypatch):
    # given both URLs in the environment
    monkeypatch.setenv("DATABASE_URL", devservices._with_db(_machine_or_env_db(), "clinic_given"))
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/5")
    # when
    services = devservices.resolve()
    # then they are used as given and nothing embedded was started
    assert services.database_url.endswith("/clinic_given")
    assert services.redis_url == "redis://127.0.0.1:6379/5"
    assert services.started == []


def _machine_or_env_db() -> str:
    import os

    return os.environ["DATABASE_URL"]


@pytest.fixture
def embedded_dirs(monkeypatch):
    base = devservices.ROOT / ".data" / "test-embedded"
    shutil.rmtree(base, ignore_errors=True)
    monkeypatch.setattr(devservices, "DATA", base)
    monkeypatch.setattr(devservices, "PG_DATA", base / "pg")
    monkeypatch.setattr(devservices, "PG_RUN", base / "pg-run")
    monkeypatch.setattr(devservices, "PG_LOG", base / "pg.log")
    monkeypatch.setattr(devservices, "REDIS_DIR", base / "redis")
    monkeypatch.setattr(devservices, "EMBEDDED_PG_PORT", 54339)
    monkeypatch.setattr(devservices, "EMBEDDED_REDIS_PORT", 63809)
    yield base
    devservices.stop_embedded_redis()
    devservices.stop_embedded_postgres()
    shutil.rmtree(base, ignore_errors=True)


@pytest.mark.slow
def test_embedded_servers_start_serve_and_stop(embedded_dirs):
    # when nothing is configured and the embedded servers are started
    redis_url = devservices.start_embedded_redis()
    pg_url = devservices.start_embedded_postgres()
    # then both answer, the database supports the extensions the schema needs
    assert devservices.redis_usable(redis_url)
    with psycopg.connect(devservices._with_db(pg_url, "postgres"), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    # and starting again is idempotent (adopts the running servers)
    assert devservices.start_embedded_redis() == redis_url
    assert devservices.start_embedded_postgres() == pg_url
    # and stopping leaves nothing listening
    devservices.stop_embedded_redis()
    devservices.stop_embedded_postgres()
    assert not devservices.port_answers("127.0.0.1", 63809)
    assert not devservices.port_answers("127.0.0.1", 54339)
