"""backend/db: Django's PostgreSQL backend with timestamptz parsed by psycopg's C loader."""

import datetime as dt
from zoneinfo import ZoneInfo

import psycopg
import pytest
from django.db import connection
from psycopg.types.datetime import TimestamptzLoader

from backend.db.base import OPTIMISED_TIMESTAMPTZ_LOADER, TzLoader

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
