from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from tests.dashboard import scenario as sc

# Wednesday 2 December 2026, 10:00 in New York (the demo clinic's zone): after the November DST
# change, a weekday, so "today" and "later this week" both have open clinic days.
FROZEN_AT = dt.datetime(2026, 12, 2, 15, 0, tzinfo=dt.UTC)


@pytest.fixture
def frozen():
    with time_machine.travel(FROZEN_AT, tick=True) as traveller:
        yield traveller


@pytest.fixture
def scenario(db, frozen):
    return sc.build()


@pytest.fixture
def login(client):
    """``login(user)`` → the test client signed in through the real login form."""

    def do(user, password=None):
        response = client.post(
            "/dashboard/login/",
            {"username": user.username, "password": password or sc.PASSWORDS[user.username]},
        )
        assert response.status_code == 302, response.content[:500]
        return client

    return do
