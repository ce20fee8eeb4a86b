"""Permission matrix of the scheduling endpoints (DESIGN.md promise 7; STYLE.md habit 11).

Every endpoint × every actor, through the test client and the URL: anonymous (401), the
patient themself / another patient, a clinician on / off the care team, a coordinator of the
same / another organisation, a platform admin. Deny by default: what a user may not see is a
404, what they may see but not change is a 403.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from backend.audit.models import AuditEvent
from plans.models import CareTeamMember
from scheduling.models import ClinicClosure, ClinicianHours, Resource, Session
from scheduling.services import book_session
from scheduling.services.feeds import create_feed
from tests import factories
from tests.api.matrix import PERSONAS
from tests.scheduling.conftest import make_component, make_patient

NY = ZoneInfo("America/New_York")
ACTORS = PERSONAS  # the harness's personas, in its order


@dataclass
class World:
    users: dict
    patient: object
    component: object
    clinic: object
    session: Session
    resource: object
    hours: object
    feed: object


@pytest.fixture
def world(catalogue) -> World:
    org = factories.OrganizationFactory()
    other_org = factories.OrganizationFactory()
    clinic = factories.ClinicFactory(organization=org)
    Resource.objects.create(clinic=clinic, kind="tms_device", name="Device 1", coil_type="figure8")
    Resource.objects.create(clinic=clinic, kind="consult_room", name="Room 1")
    users = {
        "anonymous": None,
        "patient_self": factories.PatientUserFactory(organization=org),
        "patient_other": factories.PatientUserFactory(organization=org),
        "clinician_team": factories.ClinicianFactory(organization=org),
        "clinician_off_team": factories.ClinicianFactory(organization=org),
        "coordinator": factories.CoordinatorFactory(organization=org),
        "coordinator_other_org": factories.CoordinatorFactory(organization=other_org),
        "admin": factories.AdminFactory(),
    }
    patient = make_patient(org, mrn="SELF", user=users["patient_self"])
    CareTeamMember.objects.create(patient=patient, user=users["clinician_team"])
    make_patient(org, mrn="OTHER", user=users["patient_other"])
    component = make_component(patient=patient, clinic=clinic, code="tms_10hz_ldlpfc_mdd")
    # an evaluation visit: not behind the readiness gate, so check-in can succeed
    session = book_session(
        component=component,
        kind="evaluation",
        starts_at=datetime(2027, 2, 1, 10, tzinfo=NY),
        minutes=60,
        by=users["coordinator"],
    )
    ClinicClosure.objects.create(clinic=clinic, date=date(2027, 7, 5), reason="Independence Day")
    hours = ClinicianHours.objects.create(
        clinician=users["clinician_team"], clinic=clinic, weekday=0, starts=time(9), ends=time(17)
    )
    feed, _token = create_feed(by=users["coordinator"], patient=patient)
    resource = Resource.objects.get(clinic=clinic, name="Device 1")
    return World(users, patient, component, clinic, session, resource, hours, feed)


def _call(client_for, world: World, actor: str, method: str, url: str, data=None):
    client = client_for(world.users[actor])
    return (
        getattr(client, method)(url, data, format="json")
        if data is not None
        else getattr(client, method)(url)
    )


# Expected outcome per actor, in ACTORS order: "ok" (any 2xx) or the exact error status.
OK = "ok"
SESSION_READ = (401, OK, 404, OK, 404, OK, 404, OK)
SCHEDULE_WRITE = (401, 403, 404, 403, 404, OK, 404, OK)
CHECK_IN_WRITE = (401, 403, 404, OK, 404, OK, 404, OK)
CLINIC_READ = (401, 404, 404, OK, OK, OK, 404, OK)
CLINIC_WRITE = (401, 404, 404, 403, 403, OK, 404, OK)
LIST = (401, OK, OK, OK, OK, OK, OK, OK)
CREATE_CLINIC = (401, 403, 403, 403, 403, OK, OK, OK)  # always in one's own organisation
OWN_HOURS = (401, 404, 404, OK, 403, OK, 404, OK)  # a clinician manages their own hours
PATIENT_FEED = (401, OK, 404, 403, 404, OK, 404, OK)
REVOKE_FEED = (401, OK, 404, 404, 404, OK, 404, OK)
PHI, NOT_PHI = True, False

# (name, method, url template, body, expected per actor, patient data → exactly one audit event)
CASES = [
    ("session detail", "get", "/api/v1/sessions/{session}/", None, SESSION_READ, PHI),
    (
        "book session",
        "post",
        "/api/v1/sessions/",
        {
            "component": "{component}",
            "kind": "follow_up",
            "starts_at": "2027-02-02T10:00:00",
            "minutes": 30,
        },
        SCHEDULE_WRITE,
        PHI,
    ),
    (
        "reschedule",
        "post",
        "/api/v1/sessions/{session}/reschedule/",
        {"starts_at": "2027-02-01T14:00:00"},
        SCHEDULE_WRITE,
        PHI,
    ),
    (
        "cancel",
        "post",
        "/api/v1/sessions/{session}/cancel/",
        {"reason": "ill"},
        SCHEDULE_WRITE,
        PHI,
    ),
    ("no-show", "post", "/api/v1/sessions/{session}/no-show/", {}, CHECK_IN_WRITE, PHI),
    ("check-in", "post", "/api/v1/sessions/{session}/check-in/", {}, CHECK_IN_WRITE, PHI),
    (
        "complete",
        "post",
        "/api/v1/sessions/{session}/complete/",
        {"completion": {"note": "ok"}},
        CHECK_IN_WRITE,
        PHI,
    ),
    (
        "schedule preview",
        "post",
        "/api/v1/components/{component}/schedule/",
        {"starts_on": "2027-03-01", "preferred_start": "10:00", "commit": False},
        SCHEDULE_WRITE,
        PHI,
    ),
    ("clinics", "get", "/api/v1/clinics/", None, LIST, NOT_PHI),
    (
        "clinic create",
        "post",
        "/api/v1/clinics/",
        {
            "name": "New site",
            "timezone": "America/Chicago",
            "phone": "+15555550111",
            "organization": "{organization}",
        },
        CREATE_CLINIC,
        NOT_PHI,
    ),
    ("clinic detail", "get", "/api/v1/clinics/{clinic}/", None, CLINIC_READ, NOT_PHI),
    (
        "clinic patch",
        "patch",
        "/api/v1/clinics/{clinic}/",
        {"address": "2 Example Road"},
        CLINIC_WRITE,
        NOT_PHI,
    ),
    (
        "clinic put",
        "put",
        "/api/v1/clinics/{clinic}/",
        {"name": "Renamed", "timezone": "America/New_York", "phone": "+15555550142"},
        CLINIC_WRITE,
        NOT_PHI,
    ),
    ("closures", "get", "/api/v1/clinics/{clinic}/closures/", None, CLINIC_READ, NOT_PHI),
    (
        "add closure",
        "post",
        "/api/v1/clinics/{clinic}/closures/",
        {"date": "2027-12-24"},
        CLINIC_WRITE,
        NOT_PHI,
    ),
    (
        "remove closure",
        "delete",
        "/api/v1/clinics/{clinic}/closures/?date=2027-07-05",
        None,
        CLINIC_WRITE,
        NOT_PHI,
    ),
    (
        "generate closures",
        "post",
        "/api/v1/clinics/{clinic}/generate-closures/",
        {"year": 2027},
        CLINIC_WRITE,
        NOT_PHI,
    ),
    ("resources", "get", "/api/v1/resources/", None, LIST, NOT_PHI),
    (
        "add resource",
        "post",
        "/api/v1/resources/",
        {"clinic": "{clinic}", "kind": "monitoring_chair", "name": "Chair 9"},
        CLINIC_WRITE,
        NOT_PHI,
    ),
    ("resource detail", "get", "/api/v1/resources/{resource}/", None, CLINIC_READ, NOT_PHI),
    (
        "resource patch",
        "patch",
        "/api/v1/resources/{resource}/",
        {"coil_type": "H1"},
        CLINIC_WRITE,
        NOT_PHI,
    ),
    (
        "resource put",
        "put",
        "/api/v1/resources/{resource}/",
        {"clinic": "{clinic}", "kind": "tms_device", "name": "Device 1b"},
        CLINIC_WRITE,
        NOT_PHI,
    ),
    ("resource deactivate", "delete", "/api/v1/resources/{resource}/", None, CLINIC_WRITE, NOT_PHI),
    ("clinician hours", "get", "/api/v1/clinician-hours/", None, LIST, NOT_PHI),
    (
        "clinician hours add",
        "post",
        "/api/v1/clinician-hours/",
        {
            "clinician": "{clinician_team}",
            "clinic": "{clinic}",
            "weekday": 1,
            "starts": "09:00",
            "ends": "13:00",
        },
        OWN_HOURS,
        NOT_PHI,
    ),
    (
        "clinician hours detail",
        "get",
        "/api/v1/clinician-hours/{hours}/",
        None,
        CLINIC_READ,
        NOT_PHI,
    ),
    (
        "clinician hours remove",
        "delete",
        "/api/v1/clinician-hours/{hours}/",
        None,
        OWN_HOURS,
        NOT_PHI,
    ),
    (
        "availability",
        "get",
        "/api/v1/availability/?clinic={clinic}&kind=tms_device&minutes=50&start=2027-02-01"
        "&end=2027-02-02",
        None,
        CLINIC_READ,
        NOT_PHI,
    ),
    ("feeds", "get", "/api/v1/feeds/", None, LIST, NOT_PHI),
    ("patient feed", "post", "/api/v1/feeds/", {"patient": "{patient}"}, PATIENT_FEED, PHI),
    ("revoke feed", "post", "/api/v1/feeds/{feed}/revoke/", {}, REVOKE_FEED, PHI),
]

#: routes checked by the dedicated tests below rather than through CASES
COVERED_ROUTES = ("GET api:session-list", "GET api:feed-ics")


def _fill(value, ids: dict):
    if isinstance(value, str):
        filled = value.format(**ids)
        return int(filled) if filled.isdigit() and value.startswith("{") else filled
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


@pytest.mark.parametrize(
    ("name", "method", "url", "body", "actor", "expected", "phi"),
    [
        pytest.param(name, method, url, body, actor, statuses[i], phi, id=f"{name}-{actor}")
        for name, method, url, body, statuses, phi in CASES
        for i, actor in enumerate(ACTORS)
    ],
)
def test_scheduling_permission_matrix(
    client_for, world, name, method, url, body, actor, expected, phi
):
    if name == "complete":
        Session.objects.filter(pk=world.session.pk).update(status="arrived")
    ids = {
        "session": world.session.pk,
        "component": world.component.pk,
        "clinic": world.clinic.pk,
        "patient": world.patient.pk,
        "resource": world.resource.pk,
        "hours": world.hours.pk,
        "feed": world.feed.pk,
        "organization": world.clinic.organization_id,
        "clinician_team": world.users["clinician_team"].pk,
    }
    before = AuditEvent.objects.count()
    response = _call(client_for, world, actor, method, _fill(url, ids), _fill(body, ids))
    got = "ok" if 200 <= response.status_code < 300 else response.status_code
    assert got == expected, (name, actor, response.status_code, response.content[:300])
    if got != "ok":
        assert set(response.json()) >= {"code", "message", "fields"}
    elif phi:
        assert AuditEvent.objects.count() - before == 1, (name, actor, "audit events")


@pytest.mark.parametrize("actor", ACTORS)
def test_feed_ics_needs_only_the_token(client_for, world, actor):
    # an unknown token is a 404 whoever asks; no credential opens a feed without its token
    response = client_for(world.users[actor]).get("/api/v1/feeds/" + "u" * 43 + ".ics")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize(
    ("actor", "visible"),
    [
        ("patient_self", 1),
        ("patient_other", 0),
        ("clinician_team", 1),
        ("clinician_off_team", 0),
        ("coordinator", 1),
        ("coordinator_other_org", 0),
        ("admin", 1),
    ],
)
def test_session_list_is_scoped(client_for, world, actor, visible):
    response = client_for(world.users[actor]).get("/api/v1/sessions/")
    assert response.status_code == 200
    assert response.json()["count"] == visible


def test_session_list_anonymous_is_401(client_for, world):
    response = client_for(None).get("/api/v1/sessions/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
