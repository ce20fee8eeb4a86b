"""The CapabilityStatement lists exactly what the facade serves — no more, no less."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.fhir.queries import READ_TYPES, SEARCH_PARAMS
from api.fhir.views import InvalidSearch, _instant
from tests import factories

pytestmark = pytest.mark.django_db


def test_capability_lists_exactly_the_served_interactions(client):
    # metadata is public (FHIR clients read it before authenticating)
    response = client.get("/fhir/R4/metadata")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/fhir+json; charset=utf-8"
    statement = response.json()
    assert (statement["fhirVersion"], statement["kind"]) == ("4.0.1", "instance")
    (rest,) = statement["rest"]
    by_type = {r["type"]: r for r in rest["resource"]}
    assert set(by_type) == set(READ_TYPES)
    for resource_type, entry in by_type.items():
        interactions = {i["code"] for i in entry["interaction"]}
        params = {p["name"] for p in entry.get("searchParam", [])}
        if resource_type in SEARCH_PARAMS:
            assert interactions == {"read", "search-type"}
            assert params == {*SEARCH_PARAMS[resource_type], "_count"}
        else:
            assert interactions == {"read"}
            assert not params
    assert [o["name"] for o in by_type["Patient"]["operation"]] == ["everything"]
    assert all("operation" not in e for t, e in by_type.items() if t != "Patient")


@pytest.mark.parametrize("resource_type", sorted(SEARCH_PARAMS))
def test_every_listed_search_parameter_is_accepted(catalogue, client_for, resource_type):
    client = client_for(factories.CoordinatorFactory())
    values = {"patient": "1", "date": "ge2027-01-01", "code": "44261-6", "status": "active"}
    query = "&".join(f"{p}={values[p]}" for p in SEARCH_PARAMS[resource_type])
    assert client.get(f"/fhir/R4/{resource_type}?{query}&_count=5").status_code == 200
    refused = client.get(f"/fhir/R4/{resource_type}?_lastUpdated=ge2027-01-01")
    assert refused.status_code == 400
    assert refused.json()["issue"][0]["code"] == "not-supported"


def test_writes_and_options_are_refused_as_operation_outcomes(catalogue, client_for):
    client = client_for(factories.CoordinatorFactory())
    for method in ("post", "put", "patch", "delete", "options"):
        response = getattr(client, method)("/fhir/R4/CarePlan/1")
        assert response.status_code == 405, method
        assert response.json()["resourceType"] == "OperationOutcome"


@given(st.text(max_size=40))
def test_a_date_value_is_parsed_or_refused_never_crashes(raw):
    # any text after a prefix: an aware datetime, or InvalidSearch (a 400), nothing else
    for prefix in ("ge", "le", "gt", "lt"):
        try:
            value = _instant(raw, prefix)
        except InvalidSearch:
            continue
        assert value.tzinfo is not None
