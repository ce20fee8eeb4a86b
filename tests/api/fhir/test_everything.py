"""``Patient/{id}/$everything``, searches, paging and errors of the FHIR facade."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from backend.audit.models import AuditEvent
from tests import factories
from tests.api.fhir.validate import resources_in, validate
from tests.api.fhir.world import add_sessions, demo_plan, latest_protocols

pytestmark = pytest.mark.django_db

# $everything, token-authenticated: token + user (1), patient with organisation (1), plans with
# clinic + coordinator (1), components with protocol + indication (1), their prior
# authorisations (1, issue 11), sessions with clinic, clinician, component + protocol (1),
# measures (1), open flags (1), consent evaluations (1), the audit event (1) — whatever the
# number of plans, components, sessions or measures.
EVERYTHING_QUERIES = 10


@pytest.fixture
def org_world(catalogue):
    org = factories.OrganizationFactory()
    clinic = factories.ClinicFactory(organization=org)
    coordinator = factories.CoordinatorFactory(organization=org)
    return org, clinic, coordinator


def _plan(org_world, code: str = "spravato_trd", index: int = 1, sessions: int = 5):
    org, clinic, coordinator = org_world
    protocol = next(p for p in latest_protocols() if p.code == code)
    return demo_plan(
        org=org,
        clinic=clinic,
        coordinator=coordinator,
        protocol=protocol,
        index=index,
        sessions=sessions,
    )


@pytest.mark.parametrize("sessions", [5, 60])
def test_everything_query_count_is_constant(
    org_world, client_for, django_assert_num_queries, sessions
):
    # given a patient whose plan has 5 or 60 sessions
    plan = _plan(org_world, sessions=sessions)
    client = client_for(org_world[2])
    client.get("/fhir/R4/metadata")  # warm caches outside the count
    # when $everything is read, then the query count does not depend on the sessions
    with django_assert_num_queries(EVERYTHING_QUERIES):
        response = client.get(f"/fhir/R4/Patient/{plan.patient_id}/$everything")
    assert response.status_code == 200
    body = response.json()
    kinds = [r["resourceType"] for r in resources_in(body)]
    assert kinds.count("Appointment") == sessions
    assert body["total"] == len(kinds)


def test_everything_carries_the_whole_plan(org_world, client_for):
    # given the seed-like plan: SPRAVATO (insured, prior auth) with sessions and measures
    plan = _plan(org_world)
    client = client_for(org_world[2])
    # when
    body = client.get(f"/fhir/R4/Patient/{plan.patient_id}/$everything").json()
    validate(body)
    by_type: dict[str, list[dict]] = {}
    for r in resources_in(body):
        by_type.setdefault(r["resourceType"], []).append(r)
    # then the CarePlan has one activity per component, naming its protocol and Appointments
    (care_plan,) = by_type["CarePlan"]
    (activity,) = care_plan["activity"]
    component = plan.components.get()
    canonical = activity["detail"]["instantiatesCanonical"][0]
    assert canonical.endswith(
        f"/PlanDefinition/{component.protocol.code}|{component.protocol.version}"
    )
    appointment_ids = {a["id"] for a in by_type["Appointment"]}
    assert {r["reference"] for r in activity["outcomeReference"]} == {
        f"Appointment/{i}" for i in appointment_ids
    }
    # diagnoses are ICD-10-CM Conditions the plan addresses
    condition = care_plan["contained"][0]
    assert condition["code"]["coding"][0]["system"] == "http://hl7.org/fhir/sid/icd-10-cm"
    assert care_plan["addresses"] == [{"reference": f"#{condition['id']}"}]
    # Appointments: status 1:1, UTC instants, the clinic's zone as tz-code
    statuses = {a["status"] for a in by_type["Appointment"]}
    assert statuses <= {"booked", "arrived", "fulfilled", "cancelled", "noshow"}
    first = by_type["Appointment"][0]
    assert first["start"].endswith("Z")
    tz_code = "http://hl7.org/fhir/StructureDefinition/tz-code"
    assert first["_start"]["extension"][0] == {"url": tz_code, "valueCode": "America/New_York"}
    assert first["supportingInformation"] == [{"reference": f"CarePlan/{plan.pk}"}]
    # measures: PHQ-9 / GAD-7 / pain NRS totals as LOINC Observations derived from their QRs
    loinc = {o["code"]["coding"][0]["code"]: o for o in by_type["Observation"]}
    assert set(loinc) == {"44261-6", "70274-6", "72514-3"}
    phq9 = loinc["44261-6"]
    assert phq9["valueQuantity"]["value"] == 16
    qr_ids = {q["id"] for q in by_type["QuestionnaireResponse"]}
    assert phq9["derivedFrom"][0]["reference"].split("/")[1] in qr_ids
    assert len(by_type["QuestionnaireResponse"]) == 5  # every instrument, BPI and C-SSRS too
    # open flags, consents, and coverage with the prior-authorisation number as an identifier
    assert by_type["Flag"]
    assert all(f["status"] == "active" for f in by_type["Flag"])
    assert {c["category"][0]["text"].split(":")[0] for c in by_type["Consent"]} >= {
        "Informed consent to treatment",
        "Financial acknowledgment",
    }
    (coverage,) = by_type["Coverage"]
    assert coverage["identifier"][0]["value"] == component.prior_auth_number
    assert coverage["payor"] == [{"display": "Example Health Plan"}]


def test_off_label_self_pay_plan_has_off_label_consent_and_self_pay_coverage(org_world, client_for):
    plan = _plan(org_world, code="tms_hf_lm1_fibromyalgia")
    body = client_for(org_world[2]).get(f"/fhir/R4/Patient/{plan.patient_id}/$everything").json()
    consents = [r for r in resources_in(body) if r["resourceType"] == "Consent"]
    assert any(c["category"][0]["text"] == "Consent to off-label use" for c in consents)
    (coverage,) = [r for r in resources_in(body) if r["resourceType"] == "Coverage"]
    assert coverage["type"]["coding"][0] == {
        "system": "http://terminology.hl7.org/CodeSystem/coverage-selfpay",
        "code": "pay",
        "display": "Pay",
    }
    assert coverage["payor"][0]["reference"] == f"Patient/{plan.patient_id}"
    assert "identifier" not in coverage


def test_everything_is_audited_once_with_the_patient(org_world, client_for):
    plan = _plan(org_world)
    before = AuditEvent.objects.count()
    client_for(org_world[2]).get(f"/fhir/R4/Patient/{plan.patient_id}/$everything")
    assert AuditEvent.objects.count() == before + 1
    event = AuditEvent.objects.order_by("-id").first()
    assert (event.patient_id, event.object_type) == (plan.patient_id, "fhir.Patient.$everything")


# --- searches and paging -------------------------------------------------------------------------


def test_appointment_search_by_date_range_pages_with_links(org_world, client_for):
    # given 12 sessions, one a day from a fixed start
    plan = _plan(org_world, sessions=0)
    start = dt.datetime(2027, 3, 1, 14, 0, tzinfo=dt.UTC)
    add_sessions(plan.components.get(), n=12, start=start)
    client = client_for(org_world[2])
    pid = plan.patient_id
    # when searching 2027-03-03..2027-03-10 (8 days) five at a time
    url = f"/fhir/R4/Appointment?patient={pid}&date=ge2027-03-03&date=le2027-03-10&_count=5"
    page1 = client.get(url).json()
    # then the first page has 5 of 8 and a next link, and following it gives the other 3
    assert (page1["type"], page1["total"], len(page1["entry"])) == ("searchset", 8, 5)
    links = {link["relation"]: link["url"] for link in page1["link"]}
    assert set(links) == {"self", "first", "next", "last"}
    page2 = client.get(links["next"]).json()
    assert len(page2["entry"]) == 3
    assert {link["relation"] for link in page2["link"]} == {"self", "first", "previous", "last"}
    starts = [e["resource"]["start"] for e in page1["entry"] + page2["entry"]]
    assert starts == sorted(starts)
    assert starts[0] == "2027-03-03T14:00:00Z"


def test_observation_search_by_loinc_code(org_world, client_for):
    plan = _plan(org_world)
    client = client_for(org_world[2])
    body = client.get(f"/fhir/R4/Observation?patient={plan.patient_id}&code=44261-6").json()
    assert body["total"] == 1
    assert body["entry"][0]["resource"]["code"]["coding"][0]["code"] == "44261-6"
    other_system = client.get(
        f"/fhir/R4/Observation?patient={plan.patient_id}&code=http://snomed.info/sct|44261-6"
    ).json()
    assert other_system["total"] == 0


def test_flag_search_by_status(org_world, client_for):
    plan = _plan(org_world)
    client = client_for(org_world[2])
    active = client.get(f"/fhir/R4/Flag?patient={plan.patient_id}&status=active").json()
    inactive = client.get(f"/fhir/R4/Flag?patient={plan.patient_id}&status=inactive").json()
    assert active["total"] == plan.flags.filter(status="open").count() > 0
    assert inactive["total"] == plan.flags.exclude(status="open").count()


def test_care_plan_search_for_another_organisations_patient_is_empty(
    org_world, client_for, catalogue
):
    plan = _plan(org_world)
    outsider = factories.CoordinatorFactory(organization=factories.OrganizationFactory())
    body = client_for(outsider).get(f"/fhir/R4/CarePlan?patient={plan.patient_id}").json()
    assert body["total"] == 0
    assert "entry" not in body


@pytest.mark.parametrize(
    ("query", "status", "issue"),
    [
        ("Appointment?patient=1&date=ge2027-13-45", 400, "invalid"),
        ("Appointment?patient=1&date=ge2027-03-01T10:00", 400, "invalid"),  # no zone
        ("Appointment?patient=abc", 400, "invalid"),
        ("CarePlan?subject=Patient/1", 400, "not-supported"),
        ("CarePlan?_count=0", 400, "invalid"),
        ("CarePlan?_count=1000", 400, "invalid"),
        ("CarePlan?page=x", 400, "invalid"),
        ("Flag?status=open", 400, "code-invalid"),
        ("Patient?name=x", 400, "not-supported"),  # Patient: read only
        ("Medication?patient=1", 404, "not-found"),
        ("Patient/1/$everything?_since=2020-01-01", 400, "not-supported"),
        ("Patient/1/$everything?_count=5", 400, "not-supported"),  # one Bundle, no paging
        ("Observation/not-a-number", 404, "not-found"),
    ],
)
def test_bad_requests_are_operation_outcomes_never_500(org_world, client_for, query, status, issue):
    response = client_for(org_world[2]).get(f"/fhir/R4/{query}")
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/fhir+json")
    body = response.json()
    validate(body)
    assert body["issue"][0]["code"] == issue


def test_observation_of_an_instrument_without_loinc_total_is_not_found(org_world, client_for):
    # a BPI-SF measure is a QuestionnaireResponse only (no LOINC total in codes/loinc.yaml)
    plan = _plan(org_world)
    bpi = plan.measures.get(instrument="bpi_sf")
    client = client_for(org_world[2])
    assert client.get(f"/fhir/R4/QuestionnaireResponse/{bpi.pk}").status_code == 200
    assert client.get(f"/fhir/R4/Observation/{bpi.pk}").status_code == 404


def test_plan_export_is_a_collection_bundle_download(org_world, client_for):
    plan = _plan(org_world)
    response = client_for(org_world[2]).get(f"/api/v1/plans/{plan.pk}/fhir/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/fhir+json")
    assert "attachment" in response["Content-Disposition"]
    body = response.json()
    validate(body)
    assert body["type"] == "collection"
    assert body["identifier"]
    assert body["timestamp"]
    care_plans = [r for r in resources_in(body) if r["resourceType"] == "CarePlan"]
    assert [c["id"] for c in care_plans] == [str(plan.pk)]


def test_times_are_utc_and_local_time_survives_dst(org_world, client_for):
    # given a 10:00 New York session in winter (EST) and one in summer (EDT)
    plan = _plan(org_world, sessions=0)
    component = plan.components.get()
    ny = dt.timezone(dt.timedelta(hours=-5))
    add_sessions(component, n=1, start=dt.datetime(2027, 1, 12, 10, 0, tzinfo=ny))
    add_sessions(
        component, n=1, start=dt.datetime(2027, 7, 13, 10, 0, tzinfo=ny) + dt.timedelta(hours=-1)
    )
    body = client_for(org_world[2]).get(f"/fhir/R4/Appointment?patient={plan.patient_id}").json()
    winter, summer = (e["resource"] for e in body["entry"])
    assert (winter["start"], summer["start"]) == ("2027-01-12T15:00:00Z", "2027-07-13T14:00:00Z")
    assert "2027-01-12 10:00 (America/New_York)" in winter["comment"]
    assert "2027-07-13 10:00 (America/New_York)" in summer["comment"]
    assert timezone.is_aware(dt.datetime.fromisoformat(winter["start"]))
