"""Hostile text and dates at the boundary (issue 13 part 4), each reported case turned around.

NUL bytes and unpaired surrogates anywhere → 400 ``validation_error`` naming the field; dates
in a plausible window; unknown fields named; free text bounded — and in every refusal nothing
is written. The bounds are documented in the OpenAPI schema.
"""

from __future__ import annotations

import json

import pytest
from drf_spectacular.generators import SchemaGenerator

from api.boundary import StrictInputMixin
from plans.models import CarePlan, Evaluation, Measure, PlanComponent
from scheduling.models import Resource, Session
from tests.api.matrix import build_world

pytestmark = pytest.mark.django_db

API = "/api/v1"


@pytest.fixture
def w(db):
    return build_world()


@pytest.fixture
def client(w, client_for):
    return client_for(w.users["coordinator"])


def _raw(client, url: str, text: str, method: str = "post"):
    """Send ``text`` as the JSON body verbatim (escapes such as \\u0000 stay as written)."""
    return getattr(client, method)(url, data=text.encode(), content_type="application/json")


def _error(response, status: int = 400) -> dict:
    assert response.status_code == status, response.content
    return response.json()


def test_nul_in_evaluation_data_is_400_naming_the_field(w, client):
    before = Evaluation.objects.count()
    body = json.dumps(
        {
            "patient": w.patient.pk,
            "kind": "transport_plan",
            "data": {"driver": {"name": "Sam\u0000"}},
        }
    )
    err = _error(_raw(client, f"{API}/evaluations/", body))
    assert err["code"] == "validation_error"
    assert list(err["fields"]) == ["data.driver.name"]
    assert Evaluation.objects.count() == before


def test_lone_surrogate_key_in_measure_answers_is_400_naming_the_field(w, client):
    before = Measure.objects.count()
    text = (
        f'{{"patient": {w.patient.pk}, "instrument": "gad7", "answers": {{"q1": 1, "\\ud800": 2}}}}'
    )
    err = _error(_raw(client, f"{API}/measures/", text))
    assert err["code"] == "validation_error"
    assert list(err["fields"]) == ["answers.\ufffd"]
    assert Measure.objects.count() == before


def test_nul_reaches_no_endpoint_even_one_that_ignores_its_body(w, client):
    plan = w.plan_in("draft")
    err = _error(_raw(client, f"{API}/plans/{plan.pk}/activate/", '{"x": "\\u0000"}'))
    assert err["fields"] == {"x": ["contains a NUL byte or an unpaired surrogate"]}
    assert CarePlan.objects.get(pk=plan.pk).status == "draft"


def test_nul_in_the_path_is_400_naming_the_path(client):
    err = _error(client.get(f"{API}/flags/%00/"))
    assert err["code"] == "validation_error"
    assert list(err["fields"]) == ["path"]


def test_nul_in_a_query_parameter_is_400(client):
    err = _error(client.get(f"{API}/flags/", {"code": "safety\u0000"}))
    assert err["code"] == "validation_error"
    assert list(err["fields"]) == ["code"]


@pytest.mark.parametrize("value", ["1850-01-01T10:00:00Z", "2999-01-01T10:00:00Z"])
def test_evaluation_dates_out_of_the_plausible_window_are_400(w, client, value):
    field = "performed_at"
    before = Evaluation.objects.count()
    response = client.post(
        f"{API}/evaluations/",
        {"patient": w.patient.pk, "kind": "transport_plan", field: value},
        format="json",
    )
    assert list(_error(response)["fields"]) == [field]
    assert Evaluation.objects.count() == before


@pytest.mark.parametrize(
    "taken_at", ["1850-01-01T10:00:00Z", "2999-01-01T10:00:00Z", "1979-12-31T10:00:00Z"]
)
def test_measure_taken_outside_the_window_or_before_birth_is_400(w, client, taken_at):
    # the target patient was born on 1980-01-01
    before = Measure.objects.count()
    payload = {
        "patient": w.patient.pk,
        "instrument": "gad7",
        "taken_at": taken_at,
        "answers": {f"q{i}": 1 for i in range(1, 8)},
    }
    response = client.post(f"{API}/measures/", payload, format="json")
    err = _error(response)
    assert err["code"] == "validation_error"
    assert list(err["fields"]) == ["taken_at"]
    assert Measure.objects.count() == before


@pytest.mark.parametrize(
    "starts_at", ["1900-01-02T10:00:00", "2026-10-05T10:00:00\u0000", "2999-01-07T10:00:00Z"]
)
def test_implausible_session_times_are_not_booked(w, client, starts_at):
    component = w.plan.components.get(protocol__code="tms_hf_lm1_fibromyalgia")
    response = client.post(
        f"{API}/sessions/",
        {"component": component.pk, "kind": "evaluation", "starts_at": starts_at},
        format="json",
    )
    err = _error(response)
    assert err["code"] == "validation_error"
    assert list(err["fields"]) == ["starts_at"]
    assert not Session.objects.exists()


def test_a_megabyte_of_goals_is_refused_and_the_bound_is_in_the_schema(w, client):
    before = CarePlan.objects.count()
    response = client.post(
        f"{API}/plans/",
        {"patient": w.patient.pk, "clinic": w.clinic.pk, "title": "T", "goals": "x" * 1_000_000},
        format="json",
    )
    assert list(_error(response)["fields"]) == ["goals"]
    assert CarePlan.objects.count() == before
    schema = SchemaGenerator().get_schema(request=None, public=True)
    assert (
        schema["components"]["schemas"]["PlanInRequest"]["properties"]["goals"]["maxLength"]
        == 10_000
    )
    performed = schema["components"]["schemas"]["EvaluationInRequest"]["properties"]["performed_at"]
    assert "Plausible window" in performed["description"]


def test_a_body_over_the_cap_is_413(w, client):
    response = _raw(client, f"{API}/plans/", json.dumps({"goals": "x" * 1_100_000}))
    assert _error(response, 413)["code"] == "request_too_large"


def test_component_patch_with_an_unknown_field_is_400_naming_it(w, client):
    component = w.plan.components.get(protocol__code="tms_hf_lm1_fibromyalgia")
    response = client.patch(f"{API}/components/{component.pk}/", {"coil": "h7"}, format="json")
    assert _error(response)["fields"] == {"coil": ["unknown field"]}
    assert PlanComponent.objects.get(pk=component.pk).updated_at == component.updated_at


def test_resource_coil_is_a_vocabulary_value(w, client):
    response = client.post(
        f"{API}/resources/",
        {"clinic": w.clinic.pk, "kind": "tms_device", "name": "Deep", "coil_type": "H7"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert Resource.objects.get(pk=response.json()["id"]).coil_type == "h7"
    bad = client.post(
        f"{API}/resources/",
        {"clinic": w.clinic.pk, "kind": "tms_device", "name": "Odd", "coil_type": "banana"},
        format="json",
    )
    assert list(_error(bad)["fields"]) == ["coil_type"]


def test_every_request_body_serializer_is_strict():
    """Unknown fields, text and date bounds hold on every write endpoint: its request
    serializer derives from the boundary base (the provider's SMS webhook and DRF's token
    endpoint are the two deliberate exceptions: their peers send fields we do not define)."""
    generator = SchemaGenerator()
    generator._initialise_endpoints()
    loose = []
    for path, _regex, method, callback in generator.endpoints:
        if method not in ("POST", "PUT", "PATCH") or path.startswith(
            ("/api/v1/notifications/sms/", "/api/v1/auth/")
        ):
            continue
        serializer = generator.create_view(callback, method).schema.get_request_serializer()
        cls = serializer if isinstance(serializer, type) else type(serializer)
        if serializer is not None and not issubclass(cls, StrictInputMixin):
            loose.append(f"{method} {path}: {cls.__name__}")
    assert loose == []
