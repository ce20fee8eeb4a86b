"""Every catalogue protocol, run as a clinic would, through the API only (issue 15).

For each protocol: create the plan, record every required step on time with valid data,
generate and book the course, then check in and complete every session with valid completion
data — repeat steps (motor-threshold re-measurement, neurofeedback re-assessment, suicide screen
at every contact) recorded at the session they fall due. No 5xx, no gate block anywhere: a
before-first-session step recorded on time is never re-checked with its expiry at a later
session (the 36-session TMS course used to be blocked at sessions 8 and 25).

Time is frozen per step with time_machine (the API stamps ``performed_at``/``taken_at`` with the
current time), so the whole catalogue runs in well under a minute on a quiet machine.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from modalities.catalogue import load_catalogue
from modalities.specs import ProtocolSpec
from modalities.vocab import Coil, Evidence, Modality, Timing
from plans.models import CareTeamMember, Patient
from plans.rules.readiness import condition_applies
from scheduling.models import ClinicHours, Resource
from tests import factories

API = "/api/v1"
NY = ZoneInfo("America/New_York")
CATALOGUE = load_catalogue()
START = dt.date(2027, 1, 4)  # a Monday
RECORDED_AT = dt.datetime(2026, 12, 28, 9, 0, tzinfo=NY)  # one week before the course

IFCN_ALL_NO = {f"q{i}": False for i in range(1, 16)}
EVALUATION_DATA: dict[str, dict[str, Any]] = {
    "tms_safety_screen": {
        "answers": IFCN_ALL_NO,
        "decision": "cleared",
        "physician": "Dr. Example",
        "magnetic_implant_within_30cm": False,
    },
    "motor_threshold": {"percent": 55, "method": "emg"},
    "antidepressant_trials": factories.TWO_FAILED_TRIALS,
    "rems_enrollment": {"enrolled_on": "2026-12-28"},
    "baseline_bp": {"systolic": 122, "diastolic": 78},
    "financial_acknowledgment": {"form": "good_faith_estimate"},
}
MEASURE_ANSWERS: dict[str, dict[str, Any]] = {
    "phq9": {f"q{i}": 2 for i in range(1, 9)} | {"q9": 0},
    "gad7": {f"q{i}": 2 for i in range(1, 8)},
    "pain_nrs": {"score": 7},
    "bpi_sf": {"worst": 8, "least": 4, "average": 6, "now": 6} | {f"i{i}": 5 for i in range(1, 8)},
    "cssrs_screener": {"q1": False, "q2": False, "q6": False},
}
BP = {"systolic": 124, "diastolic": 80}
COMPLETION: dict[str, dict[str, Any]] = {
    Modality.TMS: {"percent_mt": 120, "pulses": 3000},
    Modality.SPRAVATO: {
        "dose_mg": 56,
        "monitoring_minutes": 125,
        "bp_before": BP,
        "bp_40min": BP,
        "bp_discharge": BP,
        "transport_confirmed": True,
    },
    Modality.KETAMINE: {
        "vitals": {"bp": BP, "heart_rate": 72, "spo2": 98},
        "driver_confirmed": True,
    },
}
UPFRONT = (Timing.BEFORE_FIRST_SESSION, Timing.VALID_DURING_COURSE, Timing.BEFORE_EVERY_SESSION)


def _ok(response, status: int = 200) -> Any:
    assert response.status_code < 500, response.content[:500]
    assert response.status_code == status, response.json()
    return response.json()


@pytest.fixture
def world(catalogue):
    """A REMS-certified clinic open 08:00–19:00 on weekdays (a SAINT day with its 90-minute
    mapping session is 10 h 30 min), two resources of every kind, a coordinator, a prescriber on
    the patient's care team."""
    org = factories.OrganizationFactory()
    clinic = factories.ClinicFactory(organization=org, weekday_hours=False)
    ClinicHours.objects.bulk_create(
        ClinicHours(clinic=clinic, weekday=d, opens=dt.time(8), closes=dt.time(19))
        for d in range(5)
    )
    factories.rems_certified(clinic)
    # two of every other resource; a TMS device of every coil family, so that each protocol
    # finds one its indication is cleared with (issue 13: H7 for OCD, figure-8 otherwise)
    Resource.objects.bulk_create(
        [
            Resource(clinic=clinic, kind=kind, name=f"{kind} {i}")
            for kind in (
                "monitoring_chair",
                "infusion_chair",
                "eeg_station",
                "consult_room",
                "treatment_room",
            )
            for i in range(2)
        ]
        + [
            Resource(
                clinic=clinic,
                kind="tms_device",
                name=f"tms_device {coil} {i}",
                coil_type=coil.value,
            )
            for coil in Coil
            for i in range(2)
        ]
    )
    coordinator = factories.CoordinatorFactory(organization=org)
    prescriber = factories.ClinicianFactory(organization=org)
    patient = Patient.objects.create(
        organization=org,
        mrn="E2E-1",
        given_name="Robin",
        family_name="Example",
        birth_date=dt.date(1981, 3, 9),
        phone="+15555550155",
        email="robin@example.com",
        timezone="America/New_York",
    )
    CareTeamMember.objects.create(patient=patient, user=prescriber)
    return {
        "clinic": clinic,
        "coordinator": coordinator,
        "prescriber": prescriber,
        "patient": patient,
    }


def _record(client, patient, plan_id, code: str, evidence: Evidence, *, baseline: bool) -> None:
    if evidence == Evidence.MEASURE:
        body = {
            "patient": patient.pk,
            "plan": plan_id,
            "instrument": code,
            "answers": MEASURE_ANSWERS[code],
        }
        if baseline:
            body["is_baseline"] = True
        _ok(client.post(f"{API}/measures/", body, format="json"), 201)
    elif evidence == Evidence.EVALUATION:
        body = {
            "patient": patient.pk,
            "plan": plan_id,
            "kind": code,
            "data": EVALUATION_DATA.get(code, {}),
        }
        _ok(client.post(f"{API}/evaluations/", body, format="json"), 201)
    # clinic evidence (site REMS certification) is the clinic's, set up in the fixture


def _run_course(spec: ProtocolSpec, world: dict, client_for) -> dict[str, int]:
    coordinator, prescriber = client_for(world["coordinator"]), client_for(world["prescriber"])
    patient, clinic = world["patient"], world["clinic"]
    from modalities.models import Protocol

    protocol = Protocol.objects.get(code=spec.code, version=spec.version)
    indication = protocol.indications.order_by("id").first()
    with time_machine.travel(RECORDED_AT, tick=False) as clock:
        # Given a plan with one component (commercial payer, authorised for the whole course)
        plan = _ok(
            coordinator.post(
                f"{API}/plans/",
                {
                    "patient": patient.pk,
                    "clinic": clinic.pk,
                    "title": spec.title,
                    "diagnoses": ["F33.2"],
                    "components": [
                        {
                            "protocol": protocol.pk,
                            "indication": indication.pk,
                            "payer_type": "commercial",
                            "payer_name": "Example Health",
                            "prior_auth_number": "PA-E2E-1",
                            "prior_auth_sessions": spec.session_cap,
                            "prior_auth_expires_on": "2028-12-31",
                        }
                    ],
                },
                format="json",
            ),
            201,
        )
        component_id = plan["components"][0]["id"]
        _ok(coordinator.post(f"{API}/plans/{plan['id']}/activate/", {}, format="json"))
        facts = _component_facts(spec, indication.code)
        # And every step required up front recorded a week ahead (motor threshold: at mapping)
        for req in spec.requirements:
            if req.timing not in UPFRONT or not condition_applies(req.condition, facts)[0]:
                continue
            if req.code == "motor_threshold" or req.code == "prior_authorization":
                continue
            _record(
                coordinator,
                patient,
                plan["id"],
                str(req.code),
                req.evidence,
                baseline=req.timing == Timing.BEFORE_FIRST_SESSION,
            )
        ready = _ok(coordinator.get(f"{API}/plans/{plan['id']}/readiness/"))
        blocking = [
            item["key"]
            for comp in ready["components"]
            for item in comp["items"]
            if item["status"] in ("missing", "expired") and item["severity"] == "blocking"
        ]
        assert blocking in ([], ["motor_threshold"]), blocking

        # When the course is generated and booked
        booked = _ok(
            coordinator.post(
                f"{API}/components/{component_id}/schedule/",
                {"starts_on": START.isoformat(), "preferred_start": "08:00", "commit": True},
                format="json",
            ),
            201,
        )
        assert booked["problems"] == []
        sessions = sorted(
            _ok(coordinator.get(f"{API}/sessions/", {"component": component_id, "page_size": 200}))[
                "results"
            ],
            key=lambda s: s["starts_at"],
        )
        assert len(sessions) == spec.total_sessions

        # Then every session checks in and completes on its day, with no gate block
        repeats = [r for r in spec.requirements if r.timing == Timing.EVERY_N_SESSIONS]
        for number, session in enumerate(sessions, start=1):
            clock.move_to(dt.datetime.fromisoformat(session["starts_at"]))
            for req in repeats:
                n = req.timing_value or 1
                if number > n and (number - 1) % n == 0:
                    _record(
                        coordinator,
                        patient,
                        plan["id"],
                        str(req.code),
                        req.evidence,
                        baseline=False,
                    )
            checked = prescriber.post(
                f"{API}/sessions/{session['id']}/check-in/", {}, format="json"
            )
            assert checked.status_code == 200, (spec.code, number, checked.json())
            if session["kind"] == "mapping":
                _record(
                    prescriber,
                    patient,
                    plan["id"],
                    "motor_threshold",
                    Evidence.EVALUATION,
                    baseline=False,
                )
            _ok(
                prescriber.post(
                    f"{API}/sessions/{session['id']}/complete/",
                    {"completion": COMPLETION.get(spec.modality, {})},
                    format="json",
                )
            )
    return {"sessions": len(sessions)}


def _component_facts(spec: ProtocolSpec, indication_code: str):
    from modalities.vocab import LabelStatus, PayerType
    from plans.rules.readiness import ComponentFacts

    indication = spec.indication(indication_code)
    return ComponentFacts(
        component_id=0,
        protocol=spec,
        indication=indication,
        label_status=LabelStatus(indication.label_status),
        payer_type=PayerType.COMMERCIAL,
    )


@pytest.mark.parametrize("spec", CATALOGUE, ids=lambda spec: spec.code)
def test_every_catalogue_protocol_books_and_completes_through_the_api(spec, world, client_for):
    # Given / When / Then: see _run_course (given-when-then inside)
    result = _run_course(spec, world, client_for)
    assert result["sessions"] == spec.total_sessions


def test_saint_books_fifty_sessions_over_five_days_with_fifty_minute_gaps(world, client_for):
    # Given the SAINT protocol on a plan
    spec = next(p for p in CATALOGUE if p.code == "tms_saint_accelerated_mdd")
    coordinator = client_for(world["coordinator"])
    from modalities.models import Protocol

    protocol = Protocol.objects.get(code=spec.code, version=spec.version)
    plan = _ok(
        coordinator.post(
            f"{API}/plans/",
            {
                "patient": world["patient"].pk,
                "clinic": world["clinic"].pk,
                "title": "SAINT",
                "components": [
                    {
                        "protocol": protocol.pk,
                        "indication": protocol.indications.first().pk,
                        "payer_type": "self_pay",
                    }
                ],
            },
            format="json",
        ),
        201,
    )
    # When its course is previewed
    with time_machine.travel(RECORDED_AT, tick=False):
        preview = _ok(
            coordinator.post(
                f"{API}/components/{plan['components'][0]['id']}/schedule/",
                {"starts_on": START.isoformat(), "preferred_start": "08:00"},
                format="json",
            )
        )
    # Then 50 sessions, 10 a day on 5 consecutive days, each starting 50 minutes after the
    # previous one ended (DOMAIN.md §1.2), the first a 90-minute mapping session
    sessions = preview["sessions"]
    assert len(sessions) == 50
    days: dict[str, list[dict]] = {}
    for s in sessions:
        days.setdefault(s["local_start"][:10], []).append(s)
    assert sorted(days) == [f"2027-01-0{d}" for d in range(4, 9)]
    assert {len(v) for v in days.values()} == {10}
    for day in days.values():
        for a, b in itertools.pairwise(day):
            gap = dt.datetime.fromisoformat(b["starts_at"]) - dt.datetime.fromisoformat(
                a["ends_at"]
            )
            assert gap == dt.timedelta(minutes=50)
    assert sessions[0]["kind"] == "mapping"
