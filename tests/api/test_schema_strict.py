"""What the fuzzer found at issue 12's close, each turned into a test: the schema says what the
service enforces (enums, additionalProperties, minLength, cross-field rules in the description)
and the service enforces what the schema says (JSON types, empty and `null` query values)."""

from __future__ import annotations

import pytest
from drf_spectacular.generators import SchemaGenerator

from api.boundary import time_zones
from scheduling.models import Clinic
from scheduling.services.clinics import holiday_countries
from tests.api.matrix import build_world

pytestmark = pytest.mark.django_db

API = "/api/v1"


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator(urlconf="backend.urls").get_schema(request=None, public=True)


@pytest.fixture
def w(db):
    return build_world()


@pytest.fixture
def client(w, client_for):
    return client_for(w.users["coordinator"])


def _component(schema, name: str) -> dict:
    node = schema["components"]["schemas"][name]
    return node


def _enum(schema, prop: dict) -> list:
    if "enum" in prop:
        return prop["enum"]
    ref = prop["allOf"][0]["$ref"].rsplit("/", 1)[-1]
    return _component(schema, ref)["enum"]


# --- the service enforces the schema's JSON types ---------------------------------------------


@pytest.mark.parametrize("reason", [0, 1.5, True, ["x"]])
def test_a_number_or_boolean_for_a_text_field_is_400_naming_it(w, client, reason):
    response = client.post(f"{API}/flags/{w.flag.pk}/dismiss/", {"reason": reason}, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "validation_error"
    assert list(response.json()["fields"]) == ["reason"]


@pytest.mark.parametrize(("field", "value"), [("is_active", "true"), ("is_active", 1)])
def test_a_string_or_number_for_a_boolean_field_is_400(w, client, field, value):
    body = {"clinic": w.clinic.pk, "name": "Chair 9", "kind": "infusion_chair", field: value}
    response = client.post(f"{API}/resources/", body, format="json")
    assert response.status_code == 400, response.content
    assert list(response.json()["fields"]) == [field]


def test_an_id_given_as_a_string_is_400(w, client):
    body = {"clinic": str(w.clinic.pk), "name": "Chair 9", "kind": "infusion_chair"}
    response = client.post(f"{API}/resources/", body, format="json")
    assert response.status_code == 400, response.content
    assert list(response.json()["fields"]) == ["clinic"]


def test_query_strings_keep_drf_parsing(w, client):
    # a query string is all text: ?clinic=<id> is still an integer parameter
    response = client.get(f"{API}/reports/claims/?clinic={w.clinic.pk}&limit=5")
    assert response.status_code == 200, response.content


# --- empty and `null` query values ---------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "flags/?severity=",
        "flags/?code=",
        "sessions/?start=",
        "protocols/?is_active=null",
        "resources/?is_active=yes",
        "plans/?count=null",
        "reports/claims/?date_to=",
    ],
)
def test_an_empty_or_non_boolean_query_value_is_400_naming_the_parameter(client, query):
    response = client.get(f"{API}/{query}")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "validation_error"
    assert list(response.json()["fields"]) == [query.split("?")[1].split("=")[0]]


@pytest.mark.parametrize("query", ["protocols/?is_active=true", "plans/?count=false"])
def test_true_and_false_are_the_booleans(client, query):
    assert client.get(f"{API}/{query}").status_code == 200


def test_any_rfc3339_offset_is_a_valid_filter_instant(client):
    response = client.get(f"{API}/sessions/?end=2026-08-11T07:18:32%2B18:28")
    assert response.status_code == 200, response.content


# --- clinics: country, subdivision, time zone ---------------------------------------------------


def _clinic(**extra):
    return {"name": "Eastside", "timezone": "America/New_York", "phone": "+15555550101", **extra}


def test_a_clinic_country_without_a_holiday_calendar_is_400(client):
    response = client.post(f"{API}/clinics/", _clinic(country="ZZ"), format="json")
    assert response.status_code == 400, response.content
    assert list(response.json()["fields"]) == ["country"]


def test_a_subdivision_the_country_has_no_calendar_for_is_400(w, client):
    response = client.post(f"{API}/clinics/", _clinic(subdivision="XX"), format="json")
    assert response.status_code == 400, response.content
    assert list(response.json()["fields"]) == ["subdivision"]
    # a patch checks the subdivision against the stored country
    patched = client.patch(f"{API}/clinics/{w.clinic.pk}/", {"subdivision": "NY"}, format="json")
    assert patched.status_code == 200, patched.content
    assert Clinic.objects.get(pk=w.clinic.pk).subdivision == "NY"


def test_a_time_zone_outside_the_documented_list_is_400(client):
    response = client.post(f"{API}/clinics/", _clinic(timezone="posixrules"), format="json")
    assert response.status_code == 400, response.content
    assert list(response.json()["fields"]) == ["timezone"]


# --- the schema states it -----------------------------------------------------------------------


def test_the_schema_lists_zones_and_countries_the_service_accepts(schema):
    clinic = _component(schema, "ClinicRequest")["properties"]
    assert _enum(schema, clinic["timezone"]) == list(time_zones())
    assert _enum(schema, clinic["country"]) == holiday_countries()
    assert clinic["phone"]["format"] == "phone"
    patient = _component(schema, "PatientInRequest")["properties"]
    assert _enum(schema, patient["timezone"]) == list(time_zones())


def test_input_schemas_refuse_additional_properties(schema):
    for name in ("ClinicRequest", "PatientInRequest", "ReasonInRequest"):
        if name in schema["components"]["schemas"]:
            assert _component(schema, name)["additionalProperties"] is False, name


def test_text_filters_say_min_length_one(schema):
    parameters = schema["paths"]["/api/v1/flags/"]["get"]["parameters"]
    code = next(p for p in parameters if p["name"] == "code")
    assert code["schema"]["minLength"] == 1


@pytest.mark.parametrize(
    ("path", "method", "rule"),
    [
        ("/api/v1/feeds/", "post", "Exactly one of `patient` and `clinician`"),
        ("/api/v1/availability/", "get", "`end` not before `start`"),
        ("/api/v1/clinician-hours/", "post", "`ends` after `starts`"),
        ("/api/v1/components/{id}/schedule/", "post", "`window_end`"),
        ("/api/v1/reports/claims/", "get", "`date_to`"),
        ("/api/v1/authorizations/{id}/evidence/", "post", "Exactly one of `url`"),
    ],
)
def test_cross_field_rules_are_in_the_operation_description(schema, path, method, rule):
    assert rule in schema["paths"][path][method]["description"]


def test_an_object_for_a_list_of_ids_is_400(w, client):
    body = {
        "mrn": "S-1",
        "given_name": "Sam",
        "family_name": "Lee",
        "birth_date": "1980-01-01",
        "timezone": "America/New_York",
        "care_team": {},
    }
    response = client.post(f"{API}/patients/", body, format="json")
    assert response.status_code == 400, response.content
    assert list(response.json()["fields"]) == ["care_team"]


# --- a patient's organisation: validated for every role ------------------------------------------


def _new_patient(**extra) -> dict:
    body = {
        "mrn": "S-ORG-1",
        "given_name": "Test",
        "family_name": "Patient",
        "birth_date": "1980-01-01",
        "timezone": "America/New_York",
        "email": "s-org@example.com",
    }
    return {**body, **extra}


@pytest.mark.parametrize("value", [{}, "1", [1], True])
def test_a_coordinator_naming_an_organization_of_the_wrong_type_is_400(w, client, value):
    response = client.post(f"{API}/patients/", _new_patient(organization=value), format="json")
    assert response.status_code == 400, response.content
    assert list(response.json()["fields"]) == ["organization"]


def test_a_coordinator_may_name_only_their_own_organization(w, client):
    own = w.users["coordinator"].organization_id
    other = w.users["coordinator_other_org"].organization_id
    refused = client.post(f"{API}/patients/", _new_patient(organization=other), format="json")
    assert refused.status_code == 404, refused.content
    created = client.post(f"{API}/patients/", _new_patient(organization=own), format="json")
    assert created.status_code == 201, created.content
    assert created.json()["organization"] == own
