"""Property: no write endpoint answers 5xx to hostile input, and a refusal writes nothing
(issue 13 part 4; DESIGN.md promise 8).

The write endpoints are enumerated from the URL conf through the OpenAPI generator (every
POST/PUT/PATCH, path ids filled with the caller's own objects), so a new endpoint is covered
without a edit here. Payloads mix the request serializer's own field names with random keys,
and values drawn from arbitrary unicode *including NUL and lone surrogates*, out-of-range and
malformed dates, huge integers and nested JSON. Asserted on every example:

* the status is below 500 and an error has the ``{"code", "message", "fields"}`` shape;
* a NUL or lone surrogate anywhere in the body → 400 ``validation_error``;
* on any 4xx the row counts of every patient-data and scheduling table are unchanged.

Bounded: ``MAX_EXAMPLES`` examples in one test over one world (≈20–40 s on the shared machine).
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest
from django.apps import apps
from django.db import connection
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.parsers import find_hostile
from plans.models import Flag, PriorAuthorization
from scheduling.models import CalendarFeed, ClinicianHours, Resource
from scheduling.services import book_session
from tests.api.matrix import World, build_world

pytestmark = pytest.mark.django_db

MAX_EXAMPLES = 200
SKIPPED = ("/api/v1/auth/", "/api/v1/notifications/sms/")  # DRF token login; signed webhook
COUNTED_APPS = ("plans", "scheduling", "audit")

# --- endpoints -----------------------------------------------------------------------------


def _write_endpoints() -> list[tuple[str, str, list[str]]]:
    generator = SchemaGenerator()
    generator._initialise_endpoints()
    out = []
    for path, _regex, method, callback in generator.endpoints:
        if method not in ("POST", "PUT", "PATCH") or path.startswith(SKIPPED):
            continue
        serializer = generator.create_view(callback, method).schema.get_request_serializer()
        if isinstance(serializer, type):
            serializer = serializer()
        names = sorted(
            name for name, f in getattr(serializer, "fields", {}).items() if not f.read_only
        )
        out.append((method, path, names))
    return out


ENDPOINTS = _write_endpoints()


def _objects(w: World) -> dict[str, int]:
    """The caller's own object for each ``/<collection>/{pk}/`` path parameter."""
    component = w.plan.components.get(protocol__code="tms_hf_lm1_fibromyalgia")
    resource = Resource.objects.create(clinic=w.clinic, kind="consult_room", name="Room P")
    session = book_session(
        component=component,
        kind="evaluation",
        by=w.users["coordinator"],
        starts_at=_next_weekday_10(),
        resources=[resource],
    )
    hours = ClinicianHours.objects.create(
        clinician=w.users["clinician_team"],
        clinic=w.clinic,
        weekday=0,
        starts="09:00",
        ends="12:00",
    )
    feed = CalendarFeed.objects.create(
        patient=w.patient, created_by=w.users["coordinator"], token_hash="p" * 64
    )
    flag = w.flag or Flag.objects.filter(plan=w.plan).first()
    authorization = PriorAuthorization.objects.create(
        component=component, payer_name="Synthetic Health Plan", status="requested"
    )
    return {
        "authorizations": authorization.pk,
        "patients": w.patient.pk,
        "plans": w.plan.pk,
        "components": component.pk,
        "evaluations": w.evaluation.pk,
        "measures": w.measure.pk,
        "flags": flag.pk,
        "clinics": w.clinic.pk,
        "resources": resource.pk,
        "sessions": session.pk,
        "clinician-hours": hours.pk,
        "feeds": feed.pk,
        "protocol": component.protocol_id,
        "indication": component.indication_id,
    }


def _next_weekday_10():
    """10:00 on a Monday–Thursday at least 3 days ahead, on the clinic's (New York) calendar —
    the weekday is the local one, whatever the hour in UTC."""
    from zoneinfo import ZoneInfo

    day = timezone.now().astimezone(ZoneInfo("America/New_York")) + timedelta(days=3)
    while day.weekday() > 3:
        day += timedelta(days=1)
    return day.replace(hour=10, minute=0, second=0, microsecond=0)


def _url(path: str, objects: dict[str, int]) -> str:
    return re.sub(r"/([\w-]+)/\{[^}]+\}", lambda m: f"/{m.group(1)}/{objects[m.group(1)]}", path)


# --- counts --------------------------------------------------------------------------------

_TABLES = [
    m._meta.db_table
    for m in apps.get_models()
    if m._meta.app_label in COUNTED_APPS and not m._meta.proxy and m._meta.managed
]


# Table names come from the model registry, never from input.
_COUNT_SQL = "SELECT " + ", ".join(f'(SELECT count(*) FROM "{t}")' for t in _TABLES)  # noqa: S608


def _counts() -> tuple[int, ...]:
    with connection.cursor() as cursor:
        cursor.execute(_COUNT_SQL)
        return tuple(cursor.fetchone())


# --- strategies ----------------------------------------------------------------------------

_POISON = st.sampled_from(["\x00", "\ud800", "\udfff", "\udc00", "\ud83d"])
_hostile_text = st.builds(
    lambda a, p, b: a + p + b, st.text(max_size=12), _POISON, st.text(max_size=12)
)
_dates = (
    st.sampled_from(
        [
            "1850-01-01",
            "2999-12-31",
            "1900-01-02",
            "0001-01-01",
            "9999-12-31",
            "2026-02-30",
            "1850-01-01T10:00:00Z",
            "2999-01-07T10:00:00",
            "1900-01-02T10:00:00",
            "9999-12-31T23:59:59+14:00",
            "2026-10-05T10:00:00\x00",
            "yesterday",
        ]
    )
    | st.datetimes().map(lambda d: d.isoformat())
    | st.dates().map(str)
)
_scalars = (
    st.text(max_size=30)
    | _hostile_text
    | _dates
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.booleans()
    | st.none()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.integers(min_value=10_001, max_value=12_000).map(lambda n: "y" * n)
)
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=8) | _hostile_text, inner, max_size=3)
    ),
    max_leaves=6,
)


def _templates(w: World, objects: dict[str, int]) -> dict[tuple[str, str], dict[str, Any]]:
    """A valid body per endpoint: the property replaces a field or two of it, so hostile
    values reach the deeper layers (services, database) and not only the first check."""
    patient, clinic = w.patient.pk, w.clinic.pk
    gad7 = {f"q{i}": 1 for i in range(1, 8)}
    when = _next_weekday_10().replace(tzinfo=None).isoformat()
    return {
        ("POST", "/api/v1/patients/"): {
            "mrn": "HP-1",
            "given_name": "A",
            "family_name": "B",
            "birth_date": "1980-01-01",
            "timezone": "America/New_York",
        },
        ("PATCH", "/api/v1/patients/{pk}/"): {"given_name": "Alex", "phone": "+15555550123"},
        ("POST", "/api/v1/patients/{pk}/care-team/"): {"user": w.users["clinician_team"].pk},
        ("POST", "/api/v1/plans/"): {
            "patient": patient,
            "clinic": clinic,
            "title": "P",
            "goals": "g",
            "diagnoses": ["F33.1"],
        },
        ("PATCH", "/api/v1/plans/{pk}/"): {"title": "P2", "goals": "g2"},
        ("POST", "/api/v1/plans/{pk}/components/"): {
            "protocol": objects["protocol"],
            "indication": objects["indication"],
            "payer_type": "self_pay",
            "rationale": "r",
        },
        ("PATCH", "/api/v1/components/{pk}/"): {"rationale": "r2", "laterality": "left"},
        ("POST", "/api/v1/evaluations/"): {
            "patient": patient,
            "kind": "transport_plan",
            "data": {"driver": "Sam"},
            "note": "n",
        },
        ("POST", "/api/v1/measures/"): {"patient": patient, "instrument": "gad7", "answers": gad7},
        ("POST", "/api/v1/sessions/"): {
            "component": objects["components"],
            "kind": "evaluation",
            "starts_at": when,
        },
        ("POST", "/api/v1/sessions/{pk}/reschedule/"): {"starts_at": when},
        ("POST", "/api/v1/sessions/{pk}/cancel/"): {"reason": "ill"},
        ("POST", "/api/v1/components/{pk}/schedule/"): {
            "starts_on": when[:10],
            "preferred_start": "10:00",
        },
        ("POST", "/api/v1/clinics/{pk}/closures/"): {"date": when[:10], "reason": "r"},
        ("PATCH", "/api/v1/clinics/{pk}/"): {"phone": "+15555550142"},
        ("POST", "/api/v1/resources/"): {"clinic": clinic, "kind": "consult_room", "name": "R"},
        ("POST", "/api/v1/clinician-hours/"): {
            "clinician": w.users["clinician_team"].pk,
            "clinic": clinic,
            "weekday": 1,
            "starts": "09:00",
            "ends": "10:00",
        },
        ("POST", "/api/v1/flags/{pk}/dismiss/"): {"reason": "seen"},
        ("POST", "/api/v1/plans/{pk}/hold/"): {"reason": "r"},
    }


@st.composite
def _request(draw, templates):
    method, path, names = draw(st.sampled_from(ENDPOINTS))
    body = dict(templates.get((method, path), {}))
    replaced = draw(st.lists(st.sampled_from(names), max_size=2, unique=True)) if names else []
    for name in replaced:
        body[name] = draw(_values)
    if draw(st.integers(0, 4)) == 0:  # now and then a key the endpoint does not know
        body[draw(st.text(max_size=8) | _hostile_text)] = draw(_values)
    return method, path, body


def _body_text(payload: Any) -> str:
    # ensure_ascii: a lone surrogate becomes a "\\udXXX" escape, which is valid JSON text
    return json.dumps(payload, ensure_ascii=True)


@pytest.fixture
def world(db):
    w = build_world()
    objects = _objects(w)
    return w, objects, _templates(w, objects)


@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(data=st.data())
def test_hostile_input_never_5xx_and_a_refusal_writes_nothing(data, world, client_for):
    w, objects, templates = world
    method, path, payload = data.draw(_request(templates))
    client = client_for(w.users["coordinator"])
    before = _counts()
    # when: the payload is sent as a JSON body
    response = client.generic(
        method, _url(path, objects), _body_text(payload), content_type="application/json"
    )
    # then
    assert response.status_code < 500, (method, path, payload, response.content[:500])
    if response.status_code >= 400:
        body = response.json()
        assert {"code", "message", "fields"} <= set(body), body
        assert _counts() == before, (method, path, payload, body)
    if find_hostile(payload):
        assert response.status_code == 400, (method, path, payload)
        assert response.json()["code"] == "validation_error"


def test_every_write_endpoint_is_enumerated():
    """The property sees the whole write surface (sanity: the generator found it)."""
    paths = {p for _, p, _ in ENDPOINTS}
    assert {
        "/api/v1/plans/",
        "/api/v1/sessions/",
        "/api/v1/measures/",
        "/api/v1/components/{pk}/",
    } <= paths
    assert len(ENDPOINTS) >= 30
