"""List endpoints keep a constant number of queries (STYLE.md habit 12)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from plans import services

pytestmark = pytest.mark.django_db

# Every list below: 1 token → user · 2 COUNT for pagination · 3 the page · 4 the read's audit
# event; plus what the rows need, in bulk: plans → 5 their components (+ protocol, indication),
# 6 the components' prior authorisations (issue 11);
# measures → 5 the baselines of the page's measures; patients → 5 care-team members (+ user);
# evaluations and flags (plan joined) → nothing more.
# Plans are keyset-paginated (issue 17): no COUNT unless ?count=true or ?page= is sent, and
# PostgreSQL builds the page's JSON with the components nested (api/plans/rows.py), so
# 1 token · 2 the page (organisation index) · 3 audit.
EXPECTED = {"plans": 3, "measures": 5, "patients": 5, "evaluations": 4, "flags": 4}


def _grow(world, n: int) -> None:
    coordinator, patient = world["users"]["coordinator"], world["patient"]
    for _ in range(n):
        plan = services.create_plan(
            patient=patient,
            clinic=world["clinic"],
            by=coordinator,
            title="More",
            components=[
                {
                    "protocol": world["plan"].components.first().protocol,
                    "indication": world["plan"].components.first().indication,
                    "payer_type": "self_pay",
                }
            ],
        )
        services.record_evaluation(
            patient=patient,
            by=coordinator,
            plan=plan,
            kind="transport_plan",
            performed_at=timezone.now(),
        )
        services.record_measure(
            patient=patient,
            by=coordinator,
            plan=plan,
            instrument="gad7",
            answers={f"q{i}": 2 for i in range(1, 8)},
            taken_at=timezone.now(),
        )


@pytest.mark.parametrize("endpoint", sorted(EXPECTED))
def test_list_query_count_is_constant(client_for, demo_world, endpoint):
    client = client_for(demo_world["users"]["coordinator"])
    counts = []
    for extra in (1, 6):  # an empty page skips the page query: start from one row
        _grow(demo_world, extra)
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(f"/api/v1/{endpoint}/")
        assert response.status_code == 200
        counts.append(len(ctx))
    assert counts == [EXPECTED[endpoint]] * 2, counts


# ?count=true: + the COUNT (4); ?page=: COUNT, the page's ids, their rows (5).
@pytest.mark.parametrize(("query", "expected"), [("?count=true", 4), ("?page=1", 5)])
def test_plan_list_counts_only_when_asked(client_for, demo_world, query, expected):
    # given a coordinator's plans
    client = client_for(demo_world["users"]["coordinator"])
    counts = []
    for extra in (1, 6):
        _grow(demo_world, extra)
        # when the list is asked for its total, or in numbered pages
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(f"/api/v1/plans/{query}")
        assert response.status_code == 200
        # then one COUNT more than a keyset page (and the numbered page's ids), the same for
        # 2 plans and 8
        assert response.json()["count"] >= 2
        counts.append(len(ctx))
    assert counts == [expected] * 2, counts
