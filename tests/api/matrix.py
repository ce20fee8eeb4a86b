"""Permission-matrix harness (issue 3 acceptance 6; STYLE.md habit 11; DESIGN.md promise 7).

Every API endpoint × every persona, through the real URL and real token auth:

    anonymous, patient_self, patient_other, clinician_team, clinician_off_team,
    coordinator, coordinator_other_org, admin

How to add cases (other areas import this module):

    from tests.api.matrix import Case, READ, MANAGE, params, run_case

    CASES = [
        Case("session detail", "get", lambda w: f"/api/v1/sessions/{w.session().pk}/", READ),
    ]

    @pytest.mark.parametrize(("case", "persona"), params(CASES))
    def test_matrix(case, persona, matrix_world):
        run_case(case, persona, matrix_world)

``World`` holds one target patient (with a draft plan, a component, an evaluation, a measure and
an open flag) in ``org``, the persona users, and lazy builders (``w.plan_in("active")``,
``w.extra``) for objects an endpoint needs. ``url``/``payload`` builders run *before* the audit
count is taken, so they may create what they need through services.

``Case.expect`` maps persona → "ok" (any 2xx) | "401" | "403" | "404". Profiles below cover
the common rules. A module's ``CASES`` list is picked up by the route-coverage test in
``tests/api/test_permission_matrix.py`` (it imports ``tests.api.matrix.CASES`` and
``tests.api.test_permission_matrix_scheduling.CASES``/``EXEMPT_ROUTES`` when present).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.urls import resolve
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from backend.audit.models import AuditEvent
from modalities.models import Protocol
from modalities.services import sync_catalogue
from plans import services
from plans.models import Flag, FlagStatus, PlanStatus
from tests import factories

PERSONAS = (
    "anonymous",
    "patient_self",
    "patient_other",
    "clinician_team",
    "clinician_off_team",
    "coordinator",
    "coordinator_other_org",
    "admin",
)

# --- expectation profiles --------------------------------------------------------------------

#: read one object of the target patient: who may *see* the patient
READ: Mapping[str, str] = {
    "anonymous": "401",
    "patient_self": "ok",
    "patient_other": "404",
    "clinician_team": "ok",
    "clinician_off_team": "404",
    "coordinator": "ok",
    "coordinator_other_org": "404",
    "admin": "ok",
}
#: record evaluations/measures, handle flags: staff who see the patient
RECORD: Mapping[str, str] = {**READ, "patient_self": "403"}
#: manage patients, plans, components: coordinators and admins of the patient
MANAGE: Mapping[str, str] = {**RECORD, "clinician_team": "403"}
#: lists: every authenticated user gets 200, scoped (``hides_target`` checks the scoping)
LIST: Mapping[str, str] = {p: ("401" if p == "anonymous" else "ok") for p in PERSONAS}
#: the protocol catalogue: any authenticated user, not patient data
CATALOGUE: Mapping[str, str] = LIST
#: create a patient naming the target organisation: a coordinator elsewhere does not see it (404,
#: like an unknown id); without the field everyone creates in their own (test_schema_strict)
CREATE_PATIENT: Mapping[str, str] = {
    "anonymous": "401",
    "patient_self": "403",
    "patient_other": "403",
    "clinician_team": "403",
    "clinician_off_team": "403",
    "coordinator": "ok",
    "coordinator_other_org": "404",
    "admin": "ok",
}
#: personas that must not see the target patient's rows in a list
HIDDEN_FROM = frozenset({"patient_other", "clinician_off_team", "coordinator_other_org"})


@dataclass
class World:
    org: Any
    other_org: Any
    clinic: Any
    patient: Any
    other_patient: Any
    plan: Any
    component: Any
    evaluation: Any
    measure: Any
    flag: Any
    users: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)

    def plan_in(self, status: str):
        """A fresh plan of the target patient in ``status`` (built through the services)."""
        coordinator = self.users["coordinator"]
        plan = services.create_plan(
            patient=self.patient,
            clinic=self.clinic,
            by=coordinator,
            title=f"Plan {status}",
            components=[_component("psychiatric_follow_up", "follow_up", "commercial")],
        )
        if status in (PlanStatus.ACTIVE, PlanStatus.ON_HOLD, PlanStatus.COMPLETED):
            services.activate_plan(plan=plan, by=coordinator)
        if status == PlanStatus.ON_HOLD:
            services.hold_plan(plan=plan, by=coordinator)
        if status == PlanStatus.COMPLETED:
            services.complete_plan(plan=plan, by=coordinator)
        return plan

    def new_clinician(self):
        return factories.ClinicianFactory(organization=self.org)


def _component(code: str, indication: str, payer: str, **extra: Any) -> dict[str, Any]:
    protocol = Protocol.objects.filter(code=code).order_by("-version").first()
    return {
        "protocol": protocol,
        "indication": protocol.indications.get(code=indication),
        "payer_type": payer,
        **extra,
    }


def build_world() -> World:
    """The target patient and everyone around them. Needs the database (``db`` fixture)."""
    if not Protocol.objects.exists():
        sync_catalogue()
    org, other_org = factories.OrganizationFactory(), factories.OrganizationFactory()
    clinic = factories.ClinicFactory(organization=org)
    users: dict[str, Any] = {
        "anonymous": None,
        "patient_self": factories.PatientUserFactory(organization=org),
        "patient_other": factories.PatientUserFactory(organization=org),
        "clinician_team": factories.ClinicianFactory(organization=org),
        "clinician_off_team": factories.ClinicianFactory(organization=org),
        "coordinator": factories.CoordinatorFactory(organization=org),
        "coordinator_other_org": factories.CoordinatorFactory(organization=other_org),
        "admin": factories.AdminFactory(),
    }
    coordinator = users["coordinator"]
    common = {"birth_date": dt.date(1980, 1, 1), "timezone": "America/New_York"}
    patient = services.create_patient(
        organization=org,
        by=coordinator,
        mrn="MX-1",
        given_name="Target",
        family_name="Patient",
        user=users["patient_self"],
        care_team=(users["clinician_team"],),
        **common,
    )
    other_patient = services.create_patient(
        organization=org,
        by=coordinator,
        mrn="MX-2",
        given_name="Other",
        family_name="Patient",
        user=users["patient_other"],
        care_team=(users["clinician_off_team"],),
        **common,
    )
    plan = services.create_plan(
        patient=patient,
        clinic=clinic,
        by=coordinator,
        title="Target plan",
        components=[
            _component("tms_hf_lm1_fibromyalgia", "fibromyalgia", "self_pay"),
            _component("spravato_trd", "trd", "commercial"),
        ],
    )
    now = timezone.now()
    evaluation = services.record_evaluation(
        patient=patient, by=coordinator, plan=plan, kind="transport_plan", performed_at=now
    )
    measure = services.record_measure(
        patient=patient,
        by=coordinator,
        plan=plan,
        instrument="gad7",
        answers={f"q{i}": 1 for i in range(1, 8)},
        taken_at=now,
    )
    flag = Flag.objects.filter(plan=plan, status=FlagStatus.OPEN).order_by("id").first()
    return World(
        org=org,
        other_org=other_org,
        clinic=clinic,
        patient=patient,
        other_patient=other_patient,
        plan=plan,
        component=plan.components.order_by("id").first(),
        evaluation=evaluation,
        measure=measure,
        flag=flag,
        users=users,
    )


@dataclass(frozen=True)
class Case:
    """One endpoint + method with the expected outcome per persona.

    ``patient_data``: an allowed request must record exactly one AuditEvent.
    ``hides_target``: for lists — given the response body, True when the target patient's rows
    are absent; checked for the personas in ``HIDDEN_FROM``.
    """

    name: str
    method: str
    url: Callable[[World], str]
    expect: Mapping[str, str]
    payload: Callable[[World], dict] | None = None
    patient_data: bool = True
    hides_target: Callable[[World, Any], bool] | None = None

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.name}"


def params(cases: list[Case]) -> list[tuple[Case, str]]:
    """``(case, persona)`` pairs for ``pytest.mark.parametrize``."""
    import pytest

    return [
        pytest.param(case, persona, id=f"{case.method}:{case.name}:{persona}")
        for case in cases
        for persona in PERSONAS
    ]


def client_for(user: Any) -> APIClient:
    client = APIClient()
    if user is not None:
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def run_case(case: Case, persona: str, world: World) -> Any:
    """Send the request as ``persona`` and check outcome and audit. Returns the response."""
    expected = case.expect[persona]
    url = case.url(world)
    payload = case.payload(world) if case.payload else None
    client = client_for(world.users[persona])
    before = AuditEvent.objects.count()
    response = getattr(client, case.method)(url, payload, format="json")
    audited = AuditEvent.objects.count() - before
    got = "ok" if 200 <= response.status_code < 300 else str(response.status_code)
    body = (
        response.json() if response.content and "json" in response.get("Content-Type", "") else None
    )
    assert got == expected, f"{case} as {persona}: expected {expected}, got {got}: {body}"
    if got == "ok" and case.patient_data:
        assert audited == 1, f"{case} as {persona}: {audited} audit events, expected 1"
    if got == "ok" and case.hides_target and persona in HIDDEN_FROM:
        assert case.hides_target(world, body), f"{case} as {persona}: target rows leaked"
    if got != "ok" and body is not None:
        assert "code" in body, f"{case} as {persona}: error without a code: {body}"
    return response


def view_name(url: str) -> str:
    return resolve(url.split("?")[0]).view_name


def _ids(body: Any) -> list[dict]:
    return body.get("results", []) if isinstance(body, dict) else []


def no_patient(field_name: str = "patient") -> Callable[[World, Any], bool]:
    def check(world: World, body: Any) -> bool:
        return all(row.get(field_name) != world.patient.pk for row in _ids(body))

    return check


def _no_target_patient(world: World, body: Any) -> bool:
    return all(row.get("id") != world.patient.pk for row in _ids(body))


# --- the plans area's cases -------------------------------------------------------------------

V1 = "/api/v1"


def _patient_payload(w: World) -> dict:
    return {
        "organization": w.org.pk,  # any for an admin; only one's own for anyone else
        "mrn": f"NEW-{uuid.uuid4().hex[:8]}",
        "given_name": "New",
        "family_name": "Patient",
        "birth_date": "1990-02-03",
        "timezone": "America/New_York",
        "phone": "+15555550150",
    }


def _component_payload(w: World) -> dict:
    protocol = Protocol.objects.get(code="psychiatric_follow_up")
    return {
        "protocol": protocol.pk,
        "indication": protocol.indications.first().pk,
        "payer_type": "commercial",
    }


def _phq9(w: World) -> dict:
    return {
        "patient": w.patient.pk,
        "plan": w.plan.pk,
        "instrument": "phq9",
        "answers": {f"q{i}": 1 for i in range(1, 10)} | {"q9": 0},
    }


CASES: list[Case] = [
    Case("protocols", "get", lambda w: f"{V1}/protocols/", CATALOGUE, patient_data=False),
    Case(
        "protocol",
        "get",
        lambda w: f"{V1}/protocols/{Protocol.objects.first().pk}/",
        CATALOGUE,
        patient_data=False,
    ),
    Case("patients", "get", lambda w: f"{V1}/patients/", LIST, hides_target=_no_target_patient),
    Case("patients", "post", lambda w: f"{V1}/patients/", CREATE_PATIENT, _patient_payload),
    Case("patient", "get", lambda w: f"{V1}/patients/{w.patient.pk}/", READ),
    Case(
        "patient",
        "patch",
        lambda w: f"{V1}/patients/{w.patient.pk}/",
        MANAGE,
        lambda w: {"email": "target@example.com"},
    ),
    Case(
        "care team add",
        "post",
        lambda w: f"{V1}/patients/{w.patient.pk}/care-team/",
        MANAGE,
        lambda w: {"user": w.new_clinician().pk, "role": "nurse"},
    ),
    Case(
        "care team remove",
        "delete",
        lambda w: f"{V1}/patients/{w.patient.pk}/care-team/{w.users['clinician_team'].pk}/",
        MANAGE,
    ),
    Case("plans", "get", lambda w: f"{V1}/plans/", LIST, hides_target=no_patient()),
    Case(
        "plans",
        "post",
        lambda w: f"{V1}/plans/",
        MANAGE,
        lambda w: {
            "patient": w.patient.pk,
            "clinic": w.clinic.pk,
            "title": "New plan",
            "components": [_component_payload(w)],
        },
    ),
    Case("plan", "get", lambda w: f"{V1}/plans/{w.plan.pk}/", READ),
    Case(
        "plan",
        "patch",
        lambda w: f"{V1}/plans/{w.plan.pk}/",
        MANAGE,
        lambda w: {"goals": "Feel better"},
    ),
    Case("plan activate", "post", lambda w: f"{V1}/plans/{w.plan.pk}/activate/", MANAGE),
    Case(
        "plan hold",
        "post",
        lambda w: f"{V1}/plans/{w.plan_in('active').pk}/hold/",
        MANAGE,
        lambda w: {"reason": "travel"},
    ),
    Case("plan resume", "post", lambda w: f"{V1}/plans/{w.plan_in('on-hold').pk}/resume/", MANAGE),
    Case(
        "plan complete", "post", lambda w: f"{V1}/plans/{w.plan_in('active').pk}/complete/", MANAGE
    ),
    Case(
        "plan revoke",
        "post",
        lambda w: f"{V1}/plans/{w.plan.pk}/revoke/",
        MANAGE,
        lambda w: {"reason": "duplicate plan"},
    ),
    Case("plan readiness", "get", lambda w: f"{V1}/plans/{w.plan.pk}/readiness/", READ),
    Case("plan FHIR export", "get", lambda w: f"{V1}/plans/{w.plan.pk}/fhir/", READ),
    Case(
        "component create",
        "post",
        lambda w: f"{V1}/plans/{w.plan.pk}/components/",
        MANAGE,
        _component_payload,
    ),
    Case("component", "get", lambda w: f"{V1}/components/{w.component.pk}/", READ),
    Case(
        "component",
        "patch",
        lambda w: f"{V1}/components/{w.component.pk}/",
        MANAGE,
        lambda w: {"rationale": "left M1 for fibromyalgia (Level B)"},
    ),
    Case("component", "delete", lambda w: f"{V1}/components/{w.component.pk}/", MANAGE),
    Case("evaluations", "get", lambda w: f"{V1}/evaluations/", LIST, hides_target=no_patient()),
    Case(
        "evaluations",
        "post",
        lambda w: f"{V1}/evaluations/",
        RECORD,
        lambda w: {"patient": w.patient.pk, "plan": w.plan.pk, "kind": "pdmp_check"},
    ),
    Case("evaluation", "get", lambda w: f"{V1}/evaluations/{w.evaluation.pk}/", READ),
    Case(
        "evaluation entered-in-error",
        "post",
        lambda w: f"{V1}/evaluations/{w.evaluation.pk}/entered-in-error/",
        RECORD,
        lambda w: {"reason": "recorded twice"},
    ),
    Case("measures", "get", lambda w: f"{V1}/measures/", LIST, hides_target=no_patient()),
    Case("measures", "post", lambda w: f"{V1}/measures/", RECORD, _phq9),
    Case("measure", "get", lambda w: f"{V1}/measures/{w.measure.pk}/", READ),
    Case("flags", "get", lambda w: f"{V1}/flags/", LIST, hides_target=no_patient()),
    Case("flag", "get", lambda w: f"{V1}/flags/{w.flag.pk}/", READ),
    Case(
        "flag dismiss",
        "post",
        lambda w: f"{V1}/flags/{w.flag.pk}/dismiss/",
        RECORD,
        lambda w: {"reason": "handled by phone"},
    ),
]

#: routes outside the matrix, by URL name: public by design or authenticated by other means
EXEMPT_ROUTES: frozenset[str] = frozenset(
    {
        "api:root",  # API index, no data
        "api:token-obtain",  # login (username + password)
        "api:token-revoke",  # acts on the caller's own token only
        "api:sms-inbound",  # SMS provider webhook: authenticated by the provider's signature
        "api:feed-ics",  # calendar feed: authenticated by the secret token in its URL
    }
)
