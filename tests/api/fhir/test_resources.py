"""Acceptance 1: every resource the facade emits — for every catalogue protocol's demo plan —
validates with ``fhir.resources`` (R4B models), and every code is in the project's tables."""

from __future__ import annotations

import pytest

from api.fhir import codes
from modalities.models import ProtocolIndication
from modalities.vocab import PayerType
from plans.flag_codes import FlagCode
from plans.models import ComponentStatus, FlagStatus, PlanStatus, RecordStatus
from scheduling.models import SessionStatus
from tests.api.fhir.validate import codings, resources_in, validate
from tests.api.fhir.world import latest_protocols

pytestmark = pytest.mark.django_db

STATUS_MAP_OF = {
    "CarePlan": "careplan",
    "Appointment": "appointment",
    "Observation": "observation",
    "QuestionnaireResponse": "questionnaire_response",
    "Flag": "flag",
    "Consent": "consent",
    "Coverage": "coverage",
}


def _emitted(client, world) -> list[dict]:
    """Everything the facade answers for the world: metadata, $everything, each resource read by
    id, every search, the plan exports and an error."""
    out: list[dict] = [client.get("/fhir/R4/metadata").json()]
    for plan in world.plans:
        bundle = client.get(f"/fhir/R4/Patient/{plan.patient_id}/$everything").json()
        out.append(bundle)
        for resource in resources_in(bundle):
            read = client.get(f"/fhir/R4/{resource['resourceType']}/{resource['id']}")
            assert read.status_code == 200, read.json()
            assert read.json() == resource  # a read returns what $everything carries
            out.append(read.json())
        out.append(client.get(f"/api/v1/plans/{plan.pk}/fhir/").json())
        pid = plan.patient_id
        for query in (
            f"CarePlan?patient={pid}",
            f"Appointment?patient={pid}&date=ge2000-01-01&date=le2100-01-01&_count=3",
            f"Observation?patient={pid}&code=http://loinc.org|44261-6,70274-6,72514-3",
            f"Flag?patient=Patient/{pid}&status=active",
        ):
            response = client.get(f"/fhir/R4/{query}")
            assert response.status_code == 200, response.json()
            out.append(response.json())
    out.append(client.get("/fhir/R4/CarePlan/999999").json())
    return out


def test_every_emitted_resource_validates_with_fhir_resources_r4b(fhir_world, client_for):
    # given one demo plan per catalogue protocol (sessions in every status, every instrument,
    # the consent steps, open flags, insured and self-pay coverage)
    assert len(fhir_world.plans) == len(latest_protocols()) >= 15
    client = client_for(fhir_world.coordinator)
    # when every FHIR answer is collected
    emitted = _emitted(client, fhir_world)
    # then each validates as a whole (Bundles validate their entries) and resource by resource
    kinds: set[str] = set()
    for body in emitted:
        validate(body)
        for resource in resources_in(body) if body["resourceType"] == "Bundle" else [body]:
            validate(resource)
            kinds.add(resource["resourceType"])
    assert kinds >= {
        "Patient",
        "CarePlan",
        "Appointment",
        "Observation",
        "QuestionnaireResponse",
        "Flag",
        "Consent",
        "Coverage",
        "CapabilityStatement",
        "OperationOutcome",
    }


def test_every_emitted_code_is_in_the_code_tables(fhir_world, client_for):
    # given every FHIR answer for the demo plans
    client = client_for(fhir_world.coordinator)
    emitted = _emitted(client, fhir_world)
    tables = codes.tables()
    maps = codes.status_maps()
    seen_systems: set[str] = set()
    for body in emitted:
        # then every coding is in the project's table for its system, with the table's display
        for path, coding in codings(body):
            system, code = coding["system"], coding["code"]
            assert system in tables, f"{path}: unknown code system {system}"
            assert code in tables[system], f"{path}: {system}|{code} not in the tables"
            shown = coding.get("display") or coding.get("unit")
            assert shown == tables[system][code], f"{path}: display {shown!r} for {code}"
            seen_systems.add(system)
        # and every status is in the value set its map names
        resources = resources_in(body) if body["resourceType"] == "Bundle" else [body]
        for resource in resources:
            name = STATUS_MAP_OF.get(resource["resourceType"])
            if name:
                assert resource["status"] in maps[name]["allowed"], resource
        if body["resourceType"] == "Bundle":
            assert body["type"] in maps["bundle_type"]["allowed"]
        if body["resourceType"] == "OperationOutcome":
            assert all(i["code"] in maps["issue_type"]["allowed"] for i in body["issue"])
    assert {codes.ICD10CM, codes.LOINC} <= seen_systems


def test_loinc_totals_are_the_cited_codes():
    # PHQ-9 total 44261-6, GAD-7 total 70274-6, pain NRS 72514-3 (codes/loinc.yaml, DOMAIN §5.2)
    assert codes.loinc_for_instrument() == {
        "phq9": "44261-6",
        "gad7": "70274-6",
        "pain_nrs": "72514-3",
    }


def test_every_catalogue_icd10_code_is_in_the_table(catalogue):
    used = {c for ind in ProtocolIndication.objects.all() for c in ind.icd10}
    missing = sorted(used - set(codes.tables()[codes.ICD10CM]))
    assert not missing, (
        f"catalogue ICD-10 codes missing from api/fhir/codes/icd10cm.yaml: {missing}"
    )


def test_status_maps_cover_every_domain_value():
    maps = codes.status_maps()
    domain = {
        "careplan": PlanStatus,
        "careplan_activity": ComponentStatus,
        "appointment": SessionStatus,
        "observation": RecordStatus,
        "questionnaire_response": RecordStatus,
        "flag": FlagStatus,
        "coverage": ComponentStatus,
    }
    for name, enum in domain.items():
        assert set(maps[name]["map"]) == {s.value for s in enum}, name
        assert set(maps[name]["map"].values()) <= set(maps[name]["allowed"]), name
    # the Appointment map is 1:1 (DESIGN.md §3 'Session' statuses are FHIR's)
    assert all(k == v for k, v in maps["appointment"]["map"].items())
    for code in FlagCode:
        assert (
            codes.flag_category(code)
            in codes.tables()["http://terminology.hl7.org/CodeSystem/flag-category"]
        )
    for payer in PayerType:
        system, code = codes.coverage_type(payer)
        assert code in codes.tables()[system]


def test_every_code_table_carries_its_source():
    for name in ("icd10cm", "loinc", "terminology", "status_maps"):
        assert codes._load(name)["source"], name
    for uri, spec in codes._load("terminology")["systems"].items():
        assert spec["source"], uri
    for code, spec in codes._load("loinc")["codes"].items():
        assert spec["source"], code


def test_the_seed_scenario_exports_valid_fhir(demo_world, client_for):
    # the `make run` demo patient: off-label TMS (self-pay) + SPRAVATO (prior auth) + follow-up
    client = client_for(demo_world["users"]["coordinator"])
    body = client.get(f"/fhir/R4/Patient/{demo_world['patient'].pk}/$everything").json()
    validate(body)
    tables = codes.tables()
    for path, coding in codings(body):
        assert coding["code"] in tables[coding["system"]], path
    (care_plan,) = [r for r in resources_in(body) if r["resourceType"] == "CarePlan"]
    assert [c["code"]["coding"][0]["code"] for c in care_plan["contained"]] == ["M79.7", "F33.2"]
    assert len(care_plan["activity"]) == 3
    coverages = [r for r in resources_in(body) if r["resourceType"] == "Coverage"]
    assert [c["identifier"][0]["value"] for c in coverages if "identifier" in c] == ["PA-DEMO-1001"]
