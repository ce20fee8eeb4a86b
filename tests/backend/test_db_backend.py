"""backend/db: Django's PostgreSQL backend with timestamptz parsed by psycopg's C loader."""

import datetime as dt
from zoneinfo import ZoneInfo

import psycopg
import pytest
from django.db import connection
from psycopg.types.datetime import TimestamptzLoader

from backend.db.base import OPTIMISED_TIMESTAMPTZ_LOADER, TzLoader, bound_cursor

pytestmark = pytest.mark.django_db


def test_the_connection_parses_timestamps_with_the_optimised_loader():
    # given psycopg[binary] installed (a dependency in pyproject.toml)
    assert psycopg.pq.__impl__ == "binary"
    # then the loader psycopg picks is the C one, and the connection uses ours over it
    assert OPTIMISED_TIMESTAMPTZ_LOADER is not TimestamptzLoader
    connection.ensure_connection()
    loader = connection.connection.adapters.get_loader(
        psycopg.postgres.types["timestamptz"].oid, psycopg.pq.Format.TEXT
    )
    assert issubclass(loader, TzLoader)
    assert loader.timezone is dt.UTC


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        (
            "2026-03-08 06:59:59.999999+00",
            dt.datetime(2026, 3, 8, 6, 59, 59, 999999, tzinfo=dt.UTC),
        ),
        # written with another offset: read back as the same instant, in UTC
        ("2026-11-01 01:30:00-07", dt.datetime(2026, 11, 1, 8, 30, tzinfo=dt.UTC)),
        ("0001-01-01 00:00:00+00", dt.datetime(1, 1, 1, tzinfo=dt.UTC)),
        ("9999-12-31 23:59:59+00", dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC)),
    ],
)
def test_timestamps_come_back_aware_in_utc_as_with_djangos_loader(literal, expected):
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::timestamptz, NULL::timestamptz", [literal])
        value, null = cursor.fetchone()
    assert value == expected
    assert value.tzinfo is dt.UTC
    assert null is None


def test_orm_datetimes_round_trip():
    # given a row written through the ORM with an aware datetime in another zone
    from backend.accounts.models import Organization

    made = dt.datetime(2026, 7, 4, 9, 15, 30, 123456, tzinfo=ZoneInfo("America/Denver"))
    org = Organization.objects.create(name="Round trip", slug="tz-round-trip")
    Organization.objects.filter(pk=org.pk).update(created_at=made)
    # when it is read back, as a model and as a value
    read = Organization.objects.get(pk=org.pk).created_at
    value = Organization.objects.values_list("created_at", flat=True).get(pk=org.pk)
    # then it is the same instant, in UTC
    assert read == value == made
    assert read.tzinfo is value.tzinfo is dt.UTC


def _prepared_statements() -> list[str]:
    with connection.cursor() as cur:
        cur.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cur.fetchall()]


def test_a_prepared_cursor_plans_a_fixed_statement_once_per_connection():
    from backend.db.base import prepared_cursor

    sql = "SELECT %s::int + 1 AS n, 'prepared-cursor-probe' AS probe"
    for value in (1, 2, 3):
        with prepared_cursor() as cur:
            cur.execute(sql, [value])
            assert cur.fetchone() == (value + 1, "prepared-cursor-probe")
    # one server-side statement for the three executions, bound by position
    probes = [s for s in _prepared_statements() if "prepared-cursor-probe" in s]
    assert probes == ["SELECT $1::int + 1 AS n, 'prepared-cursor-probe' AS probe"]


def test_ordinary_queries_are_never_prepared_automatically():
    # psycopg would prepare a statement run five times; Django turns that off, and the
    # threshold backend.db sets in its place (so a cursor may ask) is never reached
    assert connection.connection.prepare_threshold >= 2**62
    for _ in range(10):
        with connection.cursor() as cur:
            cur.execute("SELECT 'ordinary-probe', %s::int", [1])
        with bound_cursor() as cur:
            cur.execute("SELECT 'bound-probe', %s::int", [1])
    assert not [s for s in _prepared_statements() if "-probe'" in s and "prepared" not in s]


def test_prepared_and_bound_statements_are_logged_with_their_values():
    from django.test.utils import CaptureQueriesContext

    from backend.db.base import prepared_cursor

    with CaptureQueriesContext(connection) as queries:
        with prepared_cursor() as cur:
            cur.execute("SELECT %s::text AS logged", ["it's logged"])
        with bound_cursor() as cur:
            cur.execute("SELECT %s::int AS logged", [7])
    assert [q["sql"] for q in queries.captured_queries] == [
        "SELECT 'it''s logged'::text AS logged",
        "SELECT 7::int AS logged",
    ]
