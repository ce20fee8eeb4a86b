"""Plan lists at clinic-network scale (issue 17): keyset pages with an optional count, the
page-number behaviour for clients that send ``page``, and bounded open flags in plan detail."""

from __future__ import annotations

import pytest

from plans.models import CarePlan, Flag
from plans.selectors import DETAIL_OPEN_FLAGS
from tests import factories

pytestmark = pytest.mark.django_db
API = "/api/v1"


def _more_plans(world, n: int) -> None:
    """``n`` more plans for the seed patient (bulk: the list only reads the plan rows)."""
    patient = world["patient"]
    CarePlan.objects.bulk_create(
        CarePlan(
            patient=patient,
            organization_id=patient.organization_id,
            clinic=world["clinic"],
            title=f"Extra {i}",
            diagnoses=["F33.2"],
        )
        for i in range(n)
    )


def test_keyset_pages_walk_every_plan_once_newest_first(client_for, demo_world):
    # given an organisation with a dozen plans, and a plan of another organisation
    _more_plans(demo_world, 9)
    factories.OrganizationFactory()
    client = client_for(demo_world["users"]["coordinator"])
    expected = list(
        CarePlan.objects.filter(organization=demo_world["organization"])
        .order_by("-created_at", "-id")
        .values_list("pk", flat=True)
    )
    # when the client follows ``next`` three plans at a time
    seen, url, pages = [], f"{API}/plans/?page_size=3", 0
    while url:
        body = client.get(url).json()
        assert body["count"] is None  # no COUNT unless asked
        assert body["previous"] is None
        seen += [p["id"] for p in body["results"]]
        url, pages = body["next"], pages + 1
    # then it saw each of its plans exactly once, in the default order
    assert seen == expected
    assert pages == -(-len(expected) // 3)


def test_count_is_given_on_request_and_numbered_pages_still_work(client_for, demo_world):
    # given a dozen plans
    _more_plans(demo_world, 9)
    client = client_for(demo_world["users"]["coordinator"])
    total = CarePlan.objects.filter(organization=demo_world["organization"]).count()
    # when asked for the count, the keyset page carries it
    assert client.get(f"{API}/plans/", {"count": "true"}).json()["count"] == total
    # when a client sends page=, it gets the page-number shape it always had
    body = client.get(f"{API}/plans/", {"page": 2, "page_size": 5}).json()
    assert body["count"] == total
    assert "page=3" in body["next"]
    assert "page=" not in body["previous"]  # the link to page 1 carries no page number
    assert len(body["results"]) == 5


@pytest.mark.parametrize("cursor", ["not-a-cursor", "WyJ4IiwxXQ", "W10"])
def test_a_tampered_cursor_is_a_400_with_a_stable_code(client_for, demo_world, cursor):
    # given a coordinator
    client = client_for(demo_world["users"]["coordinator"])
    # when the cursor is not one the API gave out
    response = client.get(f"{API}/plans/", {"cursor": cursor})
    # then a clear 4xx, never a 500
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert "cursor" in response.json()["fields"]


def test_list_rows_are_exactly_what_the_plan_serializer_renders(client_for, demo_world):
    # given the demo plans (several components, prior authorisation, dates) and more, one with
    # whole-second times (no microseconds), a status reason and activation/end times
    import datetime as dt
    import json

    from django.db.models import Prefetch
    from rest_framework.renderers import JSONRenderer

    from api.plans.rows import plan_rows_for
    from api.plans.serializers.plans import PlanOut
    from plans.models import PlanComponent

    _more_plans(demo_world, 2)
    whole = dt.datetime(2026, 3, 1, 12, 30, tzinfo=dt.UTC)
    extra = CarePlan.objects.filter(title="Extra 0")
    extra.update(
        created_at=whole,
        activated_at=whole,
        ended_at=whole + dt.timedelta(seconds=1.5),
        status_reason='Paused: "travel" \\ ünïcode\n',
        diagnoses=[],
    )
    scope = CarePlan.objects.filter(organization=demo_world["organization"])
    components = PlanComponent.objects.select_related("protocol", "indication")
    plans = list(
        scope.prefetch_related(
            Prefetch("components", queryset=components.prefetch_related("authorizations"))
        )
    )
    # when PostgreSQL builds the rows and PlanOut renders the same plans
    fast = JSONRenderer().render([json.loads(t) for t in plan_rows_for([p.pk for p in plans])])
    slow = JSONRenderer().render(PlanOut(plans, many=True).data)
    # then the JSON is identical, byte for byte (PlanOut stays the schema)
    assert fast == slow
    rows = json.loads(fast)
    assert any(len(p["components"]) > 1 for p in rows)
    assert any(c["prior_auth_number"] for p in rows for c in p["components"])
    assert "2026-03-01T12:30:00Z" in fast.decode()


def test_the_list_endpoint_serves_those_rows_in_keyset_order(client_for, demo_world):
    # given a dozen plans
    from api.plans.serializers.plans import PlanOut

    _more_plans(demo_world, 9)
    client = client_for(demo_world["users"]["coordinator"])
    # when the list is read
    body = client.get(f"{API}/plans/", {"page_size": 4}).json()
    # then each row is PlanOut of that plan, newest first
    expected = CarePlan.objects.filter(organization=demo_world["organization"])[:4]
    assert body["results"] == [dict(PlanOut(p).data) for p in expected]
    assert body["next"]
    assert body["count"] is None
    assert body["previous"] is None


def test_plan_detail_shows_the_newest_open_flags_and_links_to_the_rest(client_for, demo_world):
    # given a plan with more open flags than the detail shows (one per fulfilled session)
    plan = demo_world["plan"]
    already = Flag.objects.filter(plan=plan, status="open").count()
    Flag.objects.bulk_create(
        Flag(
            plan=plan,
            patient_id=plan.patient_id,
            code="MONITORING_FORM_MISSING",
            requirement_key=f"session:{i}",
            severity="warning",
            message="A monitoring form is missing.",
        )
        for i in range(DETAIL_OPEN_FLAGS + 5)
    )
    client = client_for(demo_world["users"]["coordinator"])
    # when the plan is read
    body = client.get(f"{API}/plans/{plan.pk}/").json()
    # then the detail is bounded and links to the full list
    assert len(body["open_flags"]) == DETAIL_OPEN_FLAGS
    assert body["open_flags_more"] == f"{API}/flags/?plan={plan.pk}&status=open"
    everything = client.get(body["open_flags_more"] + "&page_size=100").json()
    assert everything["count"] == already + DETAIL_OPEN_FLAGS + 5
    # and a blocking gap is never the one cut off, however many newer warnings there are
    # (safety flags come first of all, issue 15; the rest by severity)
    ranks = {"blocking": 0, "critical": 1, "warning": 2, "info": 3}
    shown = [
        ranks[f["severity"]] for f in body["open_flags"] if not f["code"].startswith("safety_")
    ]
    assert shown == sorted(shown)


def test_plan_detail_without_many_flags_has_no_more_link(client_for, demo_world):
    client = client_for(demo_world["users"]["coordinator"])
    body = client.get(f"{API}/plans/{demo_world['plan'].pk}/").json()
    assert body["open_flags_more"] is None
