"""Every FHIR route × every persona (issue 10 acceptance 3): anonymous 401, another
organisation 404, a patient only themselves — through the real URL and token auth, with one audit
event per allowed request and an OperationOutcome for every refusal. A coverage test fails when a
/fhir/R4/ route or resource type has no case."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import transaction
from django.urls import resolve
from django.utils import timezone

from api.fhir.queries import READ_TYPES, SEARCH_PARAMS
from backend.audit.models import AuditEvent
from plans import services
from scheduling.models import Session
from tests.api import matrix
from tests.api.matrix import HIDDEN_FROM, LIST, PERSONAS, READ, World, build_world, client_for

pytestmark = pytest.mark.django_db

R4 = "/fhir/R4"
PUBLIC: Mapping[str, str] = dict.fromkeys(PERSONAS, "ok")


#: an unknown route or a write: 401 before anything else, then the refusal
def refused(code: str) -> Mapping[str, str]:
    return {p: ("401" if p == "anonymous" else code) for p in PERSONAS}


# Built by the URL builders, which run inside each persona's rolled-back savepoint: a fresh row
# per persona, never a cached one that an earlier rollback removed.
def _session(w: World) -> Session:
    start = timezone.now() + dt.timedelta(days=2)
    return Session.objects.create(
        component=w.component,
        patient=w.patient,
        clinic=w.clinic,
        kind="treatment",
        sequence=1,
        starts_at=start,
        ends_at=start + dt.timedelta(minutes=40),
    )


def _consent(w: World):
    return services.record_evaluation(
        patient=w.patient,
        by=w.users["coordinator"],
        plan=w.plan,
        kind="off_label_consent",
        performed_at=timezone.now(),
    )


def _search_url(w: World, resource_type: str) -> str:
    if resource_type == "Appointment":
        _session(w)
    return f"{R4}/{resource_type}?{SEARCH_QUERIES[resource_type].format(p=w.patient.pk)}"


#: one id per readable type, in the target patient's world
READ_IDS: dict[str, Callable[[World], Any]] = {
    "Patient": lambda w: w.patient.pk,
    "CarePlan": lambda w: w.plan.pk,
    "Appointment": lambda w: _session(w).pk,
    "Observation": lambda w: w.measure.pk,  # a GAD-7: has a LOINC total
    "QuestionnaireResponse": lambda w: w.measure.pk,
    "Flag": lambda w: w.flag.pk,
    "Consent": lambda w: _consent(w).pk,
    "Coverage": lambda w: w.component.pk,
}
SEARCH_QUERIES = {
    "CarePlan": "patient={p}",
    "Appointment": "patient={p}&date=ge2000-01-01&date=le2100-12-31",
    "Observation": "patient={p}&code=http://loinc.org|70274-6",
    "Flag": "patient=Patient/{p}&status=active",
}


def _no_target(world: World, body: Any) -> bool:
    return body.get("total") == 0 and not body.get("entry")


def _has_target(world: World, body: Any) -> bool:
    return body.get("total", 0) >= 1


@dataclass(frozen=True)
class FhirCase:
    name: str
    method: str
    url: Callable[[World], str]
    expect: Mapping[str, str]
    patient_data: bool = True
    hides_target: Callable[[World, Any], bool] | None = None
    shows_target: Callable[[World, Any], bool] | None = None

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.name}"


CASES: list[FhirCase] = [
    FhirCase("metadata", "get", lambda w: f"{R4}/metadata", PUBLIC, patient_data=False),
    FhirCase("$everything", "get", lambda w: f"{R4}/Patient/{w.patient.pk}/$everything", READ),
    *[
        FhirCase(f"read {t}", "get", lambda w, t=t: f"{R4}/{t}/{READ_IDS[t](w)}", READ)
        for t in READ_TYPES
    ],
    *[
        FhirCase(
            f"search {t}",
            "get",
            lambda w, t=t: _search_url(w, t),
            LIST,
            hides_target=_no_target,
            shows_target=_has_target,
        )
        for t in SEARCH_PARAMS
    ],
    FhirCase(
        "unknown type", "get", lambda w: f"{R4}/Medication/1", refused("404"), patient_data=False
    ),
    FhirCase(
        "unknown interaction",
        "get",
        lambda w: f"{R4}/Patient/{w.patient.pk}/_history",
        refused("404"),
        patient_data=False,
    ),
    FhirCase(
        "write refused",
        "post",
        lambda w: f"{R4}/CarePlan/{w.plan.pk}",
        refused("405"),
        patient_data=False,
    ),
    FhirCase("plan export", "get", lambda w: f"/api/v1/plans/{w.plan.pk}/fhir/", READ),
]

_ISSUE = {"401": "login", "404": "not-found", "405": "not-supported", "403": "forbidden"}


def run_fhir_case(case: FhirCase, persona: str, world: World) -> None:
    expected = case.expect[persona]
    url = case.url(world)
    client = client_for(world.users[persona])
    before = AuditEvent.objects.count()
    response = getattr(client, case.method)(url, {} if case.method == "post" else None)
    audited = AuditEvent.objects.count() - before
    got = "ok" if 200 <= response.status_code < 300 else str(response.status_code)
    body = response.json()
    assert got == expected, f"{case} as {persona}: expected {expected}, got {got}: {body}"
    api_route = url.startswith("/api/")
    if not api_route:
        assert response["Content-Type"].startswith("application/fhir+json"), case
    if got == "ok":
        if case.patient_data:
            assert audited == 1, f"{case} as {persona}: {audited} audit events, expected 1"
        if case.hides_target and persona in HIDDEN_FROM:
            assert case.hides_target(world, body), f"{case} as {persona}: target rows leaked"
        if case.shows_target and persona not in HIDDEN_FROM:
            assert case.shows_target(world, body), f"{case} as {persona}: target rows missing"
    elif api_route:
        assert "code" in body, body  # /api/v1/ keeps the API's error shape
    else:
        assert body["resourceType"] == "OperationOutcome", body
        assert body["issue"][0]["code"] == _ISSUE[got], body
        assert audited == 0, f"{case} as {persona}: a refusal was audited"


@pytest.fixture
def matrix_world(catalogue):
    return build_world()


@pytest.mark.parametrize("case", CASES, ids=str)
def test_fhir_permission_matrix(case: FhirCase, matrix_world):
    """Each case × all 8 personas on one world, each persona in a rolled-back savepoint."""
    failures: list[str] = []
    for persona in PERSONAS:
        with transaction.atomic():
            try:
                run_fhir_case(case, persona, matrix_world)
            except AssertionError as exc:
                failures.append(str(exc).splitlines()[0])
            transaction.set_rollback(True)
    assert not failures, "\n".join(failures)


def test_profiles_keep_the_promises():
    for case in CASES:
        assert case.expect["anonymous"] in ("401", "ok"), case
        assert case.expect["coordinator_other_org"] in ("404", "ok", "405"), case
        assert set(case.expect) == set(PERSONAS), case


def test_every_fhir_route_and_resource_type_has_a_case(matrix_world):
    # every URL name under /fhir/R4/ and every readable/searchable type is exercised above
    names = set()
    for case in CASES:
        with transaction.atomic():  # URL builders may create rows: one savepoint each
            names.add(resolve(case.url(matrix_world).split("?")[0]).view_name)
            transaction.set_rollback(True)
    assert names >= {
        "fhir:metadata",
        "fhir:patient-everything",
        "fhir:read",
        "fhir:search",
        "fhir:unknown",
        "api:plan-fhir",
    }
    read = {c.name.removeprefix("read ") for c in CASES if c.name.startswith("read ")}
    search = {c.name.removeprefix("search ") for c in CASES if c.name.startswith("search ")}
    assert read == set(READ_TYPES)
    assert search == set(SEARCH_PARAMS)
    assert matrix.view_name(f"{R4}/Whatever/x/y") == "fhir:unknown"
