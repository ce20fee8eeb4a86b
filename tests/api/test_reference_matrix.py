"""No existence oracle across organisations (issue 13 part 3; DESIGN.md promise 7).

Every foreign key a write payload accepts is a ``VisibleRelatedField``: an id of another
organisation's object and an id that does not exist give the same answer — 404 ``not_found``,
the same message, the field named — and nothing is written. ``FK_CASES`` has one case per
field; ``test_every_payload_foreign_key_has_a_case`` introspects every input serializer, so a
new foreign-key field without a case (or a bare ``IntegerField`` id) fails.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from rest_framework import serializers

from api.boundary import StrictInputMixin, VisibleRelatedField
from plans.models import CarePlan, Evaluation, Measure, Patient
from scheduling.models import CalendarFeed, ClinicianHours, Resource, Session
from tests.api.matrix import World, build_world

pytestmark = pytest.mark.django_db

API = "/api/v1"
SERIALIZER_MODULES = (
    *(
        f"api.plans.serializers.{m}"
        for m in ("fields", "catalogue", "patients", "plans", "records")
    ),
    "api.scheduling.serializers",
)
#: fields whose name says "an id of something" — they must be VisibleRelatedFields
ID_NAMES = {
    *("patient", "plan", "component", "clinic", "clinician", "user", "coordinator"),
    *("organization", "resource", "resource_ids", "care_team", "protocol", "indication"),
}
#: catalogue references: there is no "another organisation's" protocol; unknown is still 404
GLOBAL = {
    "ComponentIn.protocol",
    "ComponentIn.indication",
    "ComponentPatchIn.protocol",
    "ComponentPatchIn.indication",
    "PlanIn.components[].protocol",
    "PlanIn.components[].indication",
}
EXEMPT = {
    "PatientIn.organization": "an admin sees every organisation; anyone else sees only their "
    "own, so another organisation's id is 404 like an unknown one (tests/api/plans)",
}


@dataclass(frozen=True)
class Ref:
    method: str
    url: Callable[[World], str]
    payload: Callable[[World, Any], dict]  # (own world, the id under test) → body
    foreign: Callable[[World], int] | None  # the other organisation's object of that field


def _tms(w: World):
    return w.plan.components.get(protocol__code="tms_hf_lm1_fibromyalgia")


def _resource(w: World) -> Resource:
    return Resource.objects.get_or_create(
        clinic=w.clinic, name="Ref device", defaults={"kind": "tms_device", "coil_type": ""}
    )[0]


def _clinician(w: World):
    return w.users["clinician_team"]


def _book(w: World, **over: Any) -> dict:
    return {
        "component": _tms(w).pk,
        "kind": "evaluation",
        "starts_at": "2030-01-07T10:00:00",
        **over,
    }


def _protocol_ids(w: World) -> tuple[int, int]:
    comp = _tms(w)
    return comp.protocol_id, comp.indication_id


FK_CASES: dict[str, Ref] = {
    "PatientIn.user": Ref(
        "post",
        lambda w: f"{API}/patients/",
        lambda w, v: {
            "mrn": "REF-1",
            "given_name": "A",
            "family_name": "B",
            "birth_date": "1980-01-01",
            "timezone": "America/New_York",
            "user": v,
        },
        lambda o: o.users["patient_self"].pk,
    ),
    "PatientIn.care_team": Ref(
        "post",
        lambda w: f"{API}/patients/",
        lambda w, v: {
            "mrn": "REF-2",
            "given_name": "A",
            "family_name": "B",
            "birth_date": "1980-01-01",
            "timezone": "America/New_York",
            "care_team": [v],
        },
        lambda o: o.users["clinician_team"].pk,
    ),
    "PatientPatchIn.user": Ref(
        "patch",
        lambda w: f"{API}/patients/{w.other_patient.pk}/",
        lambda w, v: {"user": v},
        lambda o: o.users["patient_other"].pk,
    ),
    "CareTeamIn.user": Ref(
        "post",
        lambda w: f"{API}/patients/{w.patient.pk}/care-team/",
        lambda w, v: {"user": v},
        lambda o: o.users["clinician_team"].pk,
    ),
    "PlanIn.patient": Ref(
        "post",
        lambda w: f"{API}/plans/",
        lambda w, v: {"patient": v, "clinic": w.clinic.pk, "title": "T"},
        lambda o: o.patient.pk,
    ),
    "PlanIn.clinic": Ref(
        "post",
        lambda w: f"{API}/plans/",
        lambda w, v: {"patient": w.patient.pk, "clinic": v, "title": "T"},
        lambda o: o.clinic.pk,
    ),
    "PlanIn.coordinator": Ref(
        "post",
        lambda w: f"{API}/plans/",
        lambda w, v: {
            "patient": w.patient.pk,
            "clinic": w.clinic.pk,
            "title": "T",
            "coordinator": v,
        },
        lambda o: o.users["coordinator"].pk,
    ),
    "PlanPatchIn.clinic": Ref(
        "patch",
        lambda w: f"{API}/plans/{w.plan.pk}/",
        lambda w, v: {"clinic": v},
        lambda o: o.clinic.pk,
    ),
    "PlanPatchIn.coordinator": Ref(
        "patch",
        lambda w: f"{API}/plans/{w.plan.pk}/",
        lambda w, v: {"coordinator": v},
        lambda o: o.users["coordinator"].pk,
    ),
    "EvaluationIn.patient": Ref(
        "post",
        lambda w: f"{API}/evaluations/",
        lambda w, v: {"patient": v, "kind": "transport_plan"},
        lambda o: o.patient.pk,
    ),
    "EvaluationIn.plan": Ref(
        "post",
        lambda w: f"{API}/evaluations/",
        lambda w, v: {"patient": w.patient.pk, "plan": v, "kind": "transport_plan"},
        lambda o: o.plan.pk,
    ),
    "EvaluationIn.component": Ref(
        "post",
        lambda w: f"{API}/evaluations/",
        lambda w, v: {"patient": w.patient.pk, "component": v, "kind": "transport_plan"},
        lambda o: o.component.pk,
    ),
    "MeasureIn.patient": Ref(
        "post",
        lambda w: f"{API}/measures/",
        lambda w, v: {
            "patient": v,
            "instrument": "gad7",
            "answers": {f"q{i}": 1 for i in range(1, 8)},
        },
        lambda o: o.patient.pk,
    ),
    "MeasureIn.plan": Ref(
        "post",
        lambda w: f"{API}/measures/",
        lambda w, v: {
            "patient": w.patient.pk,
            "plan": v,
            "instrument": "gad7",
            "answers": {f"q{i}": 1 for i in range(1, 8)},
        },
        lambda o: o.plan.pk,
    ),
    "MeasureIn.component": Ref(
        "post",
        lambda w: f"{API}/measures/",
        lambda w, v: {
            "patient": w.patient.pk,
            "component": v,
            "instrument": "gad7",
            "answers": {f"q{i}": 1 for i in range(1, 8)},
        },
        lambda o: o.component.pk,
    ),
    "ResourceSerializer.clinic": Ref(
        "post",
        lambda w: f"{API}/resources/",
        lambda w, v: {"clinic": v, "kind": "consult_room", "name": "Ref room"},
        lambda o: o.clinic.pk,
    ),
    "ClinicianHoursSerializer.clinician": Ref(
        "post",
        lambda w: f"{API}/clinician-hours/",
        lambda w, v: {
            "clinician": v,
            "clinic": w.clinic.pk,
            "weekday": 0,
            "starts": "09:00",
            "ends": "12:00",
        },
        lambda o: o.users["clinician_team"].pk,
    ),
    "ClinicianHoursSerializer.clinic": Ref(
        "post",
        lambda w: f"{API}/clinician-hours/",
        lambda w, v: {
            "clinician": _clinician(w).pk,
            "clinic": v,
            "weekday": 0,
            "starts": "09:00",
            "ends": "12:00",
        },
        lambda o: o.clinic.pk,
    ),
    "BookSessionInputSerializer.component": Ref(
        "post",
        lambda w: f"{API}/sessions/",
        lambda w, v: _book(w, component=v),
        lambda o: _tms(o).pk,
    ),
    "BookSessionInputSerializer.resource_ids": Ref(
        "post",
        lambda w: f"{API}/sessions/",
        lambda w, v: _book(w, resource_ids=[v]),
        lambda o: _resource(o).pk,
    ),
    "BookSessionInputSerializer.clinician": Ref(
        "post",
        lambda w: f"{API}/sessions/",
        lambda w, v: _book(w, clinician=v),
        lambda o: o.users["clinician_team"].pk,
    ),
    "ScheduleInputSerializer.clinician": Ref(
        "post",
        lambda w: f"{API}/components/{_tms(w).pk}/schedule/",
        lambda w, v: {"starts_on": "2030-01-07", "preferred_start": "10:00", "clinician": v},
        lambda o: o.users["clinician_team"].pk,
    ),
    "FeedInputSerializer.patient": Ref(
        "post", lambda w: f"{API}/feeds/", lambda w, v: {"patient": v}, lambda o: o.patient.pk
    ),
    "FeedInputSerializer.clinician": Ref(
        "post",
        lambda w: f"{API}/feeds/",
        lambda w, v: {"clinician": v},
        lambda o: o.users["clinician_team"].pk,
    ),
    # catalogue references (no foreign object exists): unknown is 404 like the rest
    "ComponentIn.protocol": Ref(
        "post",
        lambda w: f"{API}/plans/{w.plan.pk}/components/",
        lambda w, v: {"protocol": v, "indication": _protocol_ids(w)[1], "payer_type": "self_pay"},
        None,
    ),
    "ComponentIn.indication": Ref(
        "post",
        lambda w: f"{API}/plans/{w.plan.pk}/components/",
        lambda w, v: {"protocol": _protocol_ids(w)[0], "indication": v, "payer_type": "self_pay"},
        None,
    ),
    "ComponentPatchIn.protocol": Ref(
        "patch", lambda w: f"{API}/components/{_tms(w).pk}/", lambda w, v: {"protocol": v}, None
    ),
    "ComponentPatchIn.indication": Ref(
        "patch", lambda w: f"{API}/components/{_tms(w).pk}/", lambda w, v: {"indication": v}, None
    ),
    "PlanIn.components[].protocol": Ref(
        "post",
        lambda w: f"{API}/plans/",
        lambda w, v: {
            "patient": w.patient.pk,
            "clinic": w.clinic.pk,
            "title": "T",
            "components": [
                {"protocol": v, "indication": _protocol_ids(w)[1], "payer_type": "self_pay"}
            ],
        },
        None,
    ),
    "PlanIn.components[].indication": Ref(
        "post",
        lambda w: f"{API}/plans/",
        lambda w, v: {
            "patient": w.patient.pk,
            "clinic": w.clinic.pk,
            "title": "T",
            "components": [
                {"protocol": _protocol_ids(w)[0], "indication": v, "payer_type": "self_pay"}
            ],
        },
        None,
    ),
}

UNKNOWN_ID = 2_000_000_000  # inside the integer range, never allocated in a test database


def _input_serializers() -> list[type[serializers.Serializer]]:
    for name in SERIALIZER_MODULES:
        importlib.import_module(name)
    found, todo = [], list(StrictInputMixin.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.__module__ in SERIALIZER_MODULES:
            found.append(cls)
    return found


def _walk(prefix: str, serializer: serializers.Serializer):
    for name, field in serializer.fields.items():
        if field.read_only:
            continue
        path = f"{prefix}.{name}"
        if isinstance(field, serializers.ListSerializer):
            yield from _walk(f"{path}[]", field.child)
        elif isinstance(field, serializers.Serializer):
            yield from _walk(path, field)
        else:
            yield path, name, field


def _payload_fk_fields() -> tuple[set[str], list[str]]:
    fks, bare = set(), []
    for cls in _input_serializers():
        for path, name, field in _walk(cls.__name__, cls()):
            child = getattr(field, "child_relation", None)
            if isinstance(field, VisibleRelatedField) or isinstance(child, VisibleRelatedField):
                fks.add(path)
            elif name in ID_NAMES or isinstance(field, serializers.RelatedField):
                bare.append(path)
    return fks, bare


def test_every_payload_foreign_key_has_a_case():
    # given: every field of every input serializer
    fks, bare = _payload_fk_fields()
    # then: ids are VisibleRelatedFields, and each has a case (or a reasoned exemption)
    assert bare == [], f"ids not resolved through VisibleRelatedField: {bare}"
    assert fks - set(FK_CASES) - set(EXEMPT) == set(), "foreign-key fields without a case"
    assert set(FK_CASES) - fks == set(), "cases for fields that no longer exist"


def _counts() -> tuple[int, ...]:
    return tuple(
        m.objects.count()
        for m in (
            Patient,
            CarePlan,
            Evaluation,
            Measure,
            Session,
            Resource,
            ClinicianHours,
            CalendarFeed,
        )
    )


def _send(client, ref: Ref, w: World, value: Any):
    return getattr(client, ref.method)(ref.url(w), ref.payload(w, value), format="json")


def test_foreign_and_unknown_ids_answer_identically(db, client_for):
    """One pair of worlds for every case (building one costs more than all the requests)."""
    own, other = build_world(), build_world()
    client = client_for(own.users["coordinator"])
    problems = []
    for field, ref in sorted(FK_CASES.items()):
        foreign = ref.foreign(other) if ref.foreign is not None else None
        before = _counts()
        # when: the same payload names an unknown id, then (when one exists) another org's id
        unknown = _send(client, ref, own, UNKNOWN_ID)
        answers = [unknown] + ([_send(client, ref, own, foreign)] if foreign else [])
        # then: 404 not_found naming the field, the same body every time, nothing written
        name = field.rsplit(".", 1)[1]
        for response in answers:
            body = response.json()
            if (response.status_code, body.get("code")) != (404, "not_found") or name not in body[
                "fields"
            ]:
                problems.append((field, response.status_code, body))
        if any(r.json() != unknown.json() for r in answers):
            problems.append((field, "differs", [r.json() for r in answers]))
        if _counts() != before:
            problems.append((field, "wrote rows"))
    assert problems == []
