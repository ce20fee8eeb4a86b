"""Each page costs the same number of queries for a plan with 5 sessions as with 60
(STYLE.md habit 12). Measures and reminders grow with the sessions too."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.dashboard import scenario as sc

pytestmark = pytest.mark.django_db


def grow(scenario, n: int) -> None:
    """``n`` psychiatric follow-ups for the psychiatrist — Wed–Fri this week, 30 minutes apart,
    then following weeks — with one reminder and one PHQ-9 per session."""
    tz = sc.ZoneInfo(scenario.clinic.timezone)
    starts: list[dt.datetime] = []
    day = dt.date(2026, 12, 2)
    while len(starts) < n:
        if day.weekday() < 5:
            for k in range(18):
                if len(starts) < n:
                    starts.append(
                        dt.datetime.combine(day, dt.time(8, 0), tzinfo=tz)
                        + dt.timedelta(minutes=30 * k)
                    )
        day += dt.timedelta(days=1)
    sessions = sc.book_follow_ups(scenario, starts)
    sc.add_reminders(sessions)
    sc.record_phq9_series(scenario, list(range(n, 0, -1)), [2] * n)


def count(django_assert_num_queries, client, url: str, expected: int) -> None:
    with django_assert_num_queries(expected):
        response = client.get(url)
    assert response.status_code == 200


# Every page: the session row and the user (2, authentication) and the sliding-expiry save of the
# session (3: SAVEPOINT, UPDATE django_session, RELEASE — SESSION_SAVE_EVERY_REQUEST) = 5.
REQUEST_OVERHEAD = 5

# Plan page = 5 + 12, whatever the number of sessions, measures or reminders:
#   plans.access.access_plan with patient, clinic and coordinator (1);
#   plans.selectors.get_plan_detail (plans.detail_reads): components with protocol, indication,
#   prior authorisations and course sessions (1), evaluations (1), measures (1), open flags (1)
#   — the protocols' specs from modalities.spec_cache, warmed while the scenario was built;
#   care team with users (1); scheduling.selectors.list_sessions_for_plan + bookings (2);
#   chart measures (1); reminders with sessions (1); audit events with actors (1);
#   the read's AuditEvent insert (1). (The coordinator in the header comes with access_plan.)
PLAN_PAGE_QUERIES = REQUEST_OVERHEAD + 12

# Worklist = 5 + 6: the dashboard's clinic zone (1),
#   scheduling.selectors.list_sessions_for_clinician + bookings (2),
#   open flags with plans and patients (1), visible plans with patients and clinics (1),
#   the AuditEvent insert (1).
WORKLIST_QUERIES = REQUEST_OVERHEAD + 6


@pytest.mark.parametrize("n", [5, 60])
def test_plan_page_query_count_does_not_grow(n, scenario, login, django_assert_num_queries):
    grow(scenario, n)
    client = login(scenario.users["psychiatrist"])
    count(
        django_assert_num_queries,
        client,
        f"/dashboard/plans/{scenario.plan.pk}/",
        PLAN_PAGE_QUERIES,
    )


@pytest.mark.parametrize("n", [5, 60])
def test_worklist_query_count_does_not_grow(n, scenario, login, django_assert_num_queries):
    grow(scenario, n)
    client = login(scenario.users["psychiatrist"])
    count(django_assert_num_queries, client, "/dashboard/", WORKLIST_QUERIES)
