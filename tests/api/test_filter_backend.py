"""api.filters.FilterBackend: django-filter's backend, skipped when the query names no filter."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from api.filters import FilterBackend, _filter_names
from api.plans.filters import PlanFilter
from api.scheduling.filters import SessionFilter
from tests.api.plans.helpers import API, ok

pytestmark = pytest.mark.django_db


def test_the_filter_names_of_a_filter_set_and_whether_one_is_required():
    assert _filter_names(PlanFilter) == (("patient", "status"), False)
    names, required = _filter_names(SessionFilter)
    assert "patient" in names
    assert required is False


def test_a_list_answers_the_same_with_and_without_the_filter_set(client_for, demo_world):
    client = client_for(demo_world["users"]["coordinator"])
    patient = demo_world["patient"]
    everything = ok(client.get(f"{API}/plans/"))["results"]
    assert len(everything) >= 2
    # no filter named (only the paginator's parameters): every plan, as before
    assert ok(client.get(f"{API}/plans/?count=true"))["results"] == everything
    # a filter named: the filter set runs, validates and filters
    mine = ok(client.get(f"{API}/plans/?patient={patient.pk}"))["results"]
    assert mine
    assert {p["patient"] for p in mine} == {patient.pk}
    assert len(mine) < len(everything)
    for query in ("status=", "patient=abc", "patient=0"):
        response = client.get(f"{API}/plans/?{query}")
        assert response.status_code == 400, query
        assert response.json()["code"] == "validation_error"
    # an unknown parameter is ignored either way (it names no filter)
    assert ok(client.get(f"{API}/plans/?colour=blue"))["results"] == everything


def test_the_backend_leaves_the_queryset_untouched_when_no_filter_is_named(rf, demo_world):
    from rest_framework.request import Request

    from api.plans.views.plans import PlanListCreateView

    view = PlanListCreateView()
    view.request = Request(rf.get("/", {"cursor": "x", "count": "true"}))
    view.request.user = demo_world["users"]["coordinator"]
    queryset = view.get_queryset()
    with CaptureQueriesContext(connection) as queries:
        assert FilterBackend().filter_queryset(view.request, queryset, view) is queryset
    assert not queries.captured_queries
    view.request = Request(rf.get("/", {"status": "active"}))
    filtered = FilterBackend().filter_queryset(view.request, queryset, view)
    assert filtered is not queryset
    assert str(filtered.query).count("active") == 1
