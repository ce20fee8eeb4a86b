"""Reports (issue 11): outcome rates equal a hand computation for a 200-patient cohort; the CSV
exports open in ``csv`` with a header row; query counts do not grow with the rows; scoping."""

from __future__ import annotations

import csv
import io
import random
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from billing.reports import CLAIM_COLUMNS, ReportFilters, authorization_worklist, outcome_report
from plans.models import CarePlan, Measure, Patient, PlanComponent, PriorAuthorization
from scheduling.models import Session
from tests import factories

NY = ZoneInfo("America/New_York")
START = datetime(2026, 3, 2, 10, tzinfo=NY)
# planned course lengths, read off the catalogue by hand (phases, capped): the cohort uses
# these to decide "completed" independently of the report's own computation
COHORT = {  # protocol code → (indication code, planned sessions, fulfilled counts drawn from)
    "tms_10hz_ldlpfc_mdd": ("mdd_inadequate_response", 36, (0, 5, 20, 36)),
    "spravato_trd": ("trd", 18, (0, 4, 8, 18)),
    "tms_hf_lm1_fibromyalgia": ("fibromyalgia", 10, (0, 3, 10)),
}


def _client(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def _content(response) -> str:
    return b"".join(response.streaming_content).decode()


def build_cohort(*, organization, coordinator, clinic, size: int, seed: int = 11):
    """``size`` synthetic patients, one course each, sessions and measures drawn from a seeded
    RNG; returns what a hand computation needs. Bulk inserts (a handful of queries)."""
    rng = random.Random(seed)
    protocols = {code: factories.latest_protocol(code) for code in COHORT}
    codes = list(COHORT)
    patients = Patient.objects.bulk_create(
        Patient(
            organization=organization,
            mrn=f"C{i:04d}",
            given_name="Cohort",
            family_name=f"Patient{i}",
            birth_date=date(1975, 1, 1),
            timezone="America/New_York",
            email=f"c{i}@example.com",
            phone="+15555550111",
        )
        for i in range(size)
    )
    plans = CarePlan.objects.bulk_create(
        CarePlan(
            patient=p,
            organization=organization,
            clinic=clinic,
            title="Cohort plan",
            diagnoses=["F33.2"],
            status="active",
        )
        for p in patients
    )
    draws = []
    components = []
    for i, plan in enumerate(plans):
        code = codes[i % len(codes)]
        protocol = protocols[code]
        indication = protocol.indications.get(code=COHORT[code][0])
        n = rng.choice(COHORT[code][2])
        status = "completed" if rng.random() < 0.1 else "active"
        draws.append(
            {
                "code": code,
                "indication": indication.name,
                "n": n,
                "status": status,
                "planned": COHORT[code][1],
            }
        )
        components.append(
            PlanComponent(
                plan=plan,
                protocol=protocol,
                indication=indication,
                label_status=indication.label_status,
                target=protocol.target,
                payer_type="commercial",
                status=status,
            )
        )
    components = PlanComponent.objects.bulk_create(components)
    sessions, measures = [], []
    for d, component, plan in zip(draws, components, plans, strict=True):
        mapping = bool(component.protocol.mapping_minutes)
        for k in range(d["n"]):
            at = START + timedelta(days=k)
            sessions.append(
                Session(
                    component=component,
                    patient_id=plan.patient_id,
                    clinic=clinic,
                    kind="mapping" if k == 0 and mapping else "treatment",
                    starts_at=at,
                    ends_at=at + timedelta(minutes=40),
                    status="fulfilled",
                    completion={"percent_mt": 120, "pulses": 3000},
                )
            )
        # a booked, unfulfilled session never counts as started
        at = START + timedelta(days=200)
        sessions.append(
            Session(
                component=component,
                patient_id=plan.patient_id,
                clinic=clinic,
                kind="treatment",
                starts_at=at,
                ends_at=at + timedelta(minutes=40),
            )
        )

        def add(instrument, total, day, baseline, *, component=component, plan=plan):
            measures.append(
                Measure(
                    patient_id=plan.patient_id,
                    plan=plan,
                    component=component,
                    instrument=instrument,
                    answers={},
                    total=Decimal(total),
                    taken_at=START + timedelta(days=day),
                    is_baseline=baseline,
                    recorded_by=coordinator,
                )
            )

        for instrument, high in (("phq9", 27), ("gad7", 21), ("pain_nrs", 10)):
            if instrument == "pain_nrs" and d["code"] != "tms_hf_lm1_fibromyalgia":
                continue
            if rng.random() < 0.15:
                continue  # no baseline at all
            base = rng.randint(high // 3, high)
            add(instrument, base, -3, True)
            d[f"{instrument}_base"] = base
            if rng.random() < 0.8:
                mid = rng.randint(0, high)
                add(instrument, mid, 14, False)
                last = rng.randint(0, high)
                add(instrument, last, 35, False)
                d[f"{instrument}_last"] = last
    Session.objects.bulk_create(sessions, batch_size=2000)
    Measure.objects.bulk_create(measures, batch_size=2000)
    return draws


def hand_computation(draws):
    out: dict[tuple[str, str], dict] = {}
    for d in draws:
        if d["n"] == 0:
            continue
        g = out.setdefault(
            (d["code"], d["indication"]),
            {
                "started": 0,
                "completed": 0,
                "evaluable": 0,
                "responders": 0,
                "remitters": 0,
                "changes": defaultdict(list),
            },
        )
        g["started"] += 1
        g["completed"] += d["status"] == "completed" or d["n"] >= d["planned"]
        for inst in ("phq9", "gad7", "pain_nrs"):
            if f"{inst}_last" in d:
                g["changes"][inst].append(d[f"{inst}_last"] - d[f"{inst}_base"])
        if "phq9_last" in d:
            base, last = d["phq9_base"], d["phq9_last"]
            g["evaluable"] += 1
            g["responders"] += 2 * (base - last) >= base  # ≥ 50 % drop, exactly
            g["remitters"] += last < 5
    return out


@pytest.fixture
def clinic(organization):
    return factories.ClinicFactory(organization=organization)


def test_outcome_rates_of_a_200_patient_cohort_equal_a_hand_computation(
    catalogue, organization, coordinator, clinic
):
    # given 200 synthetic patients across three protocols
    draws = build_cohort(
        organization=organization, coordinator=coordinator, clinic=clinic, size=200
    )
    expected = hand_computation(draws)
    # when the outcomes report runs
    groups = {
        (g.protocol, g.indication): g
        for g in outcome_report(user=coordinator, filters=ReportFilters())
    }
    # then every count, rate and mean equals the hand computation
    assert set(groups) == set(expected)
    for key, e in expected.items():
        g = groups[key]
        assert (g.started, g.completed, g.evaluable, g.responders, g.remitters) == (
            e["started"],
            e["completed"],
            e["evaluable"],
            e["responders"],
            e["remitters"],
        ), key
        assert g.response_rate == pytest.approx(e["responders"] / e["evaluable"])
        assert g.remission_rate == pytest.approx(e["remitters"] / e["evaluable"])
        for inst in ("phq9", "gad7", "pain_nrs"):
            values = e["changes"][inst]
            if values:
                assert g.mean_change(inst) == pytest.approx(sum(values) / len(values)), inst
            else:
                assert g.mean_change(inst) is None
    assert sum(e["started"] for e in expected.values()) > 100  # the cohort is not degenerate
    # and a protocol filter keeps only its group
    only = outcome_report(user=coordinator, filters=ReportFilters(protocol="spravato_trd"))
    assert [g.protocol for g in only] == ["spravato_trd"]
    # a date range after every course start keeps nothing
    late = outcome_report(user=coordinator, filters=ReportFilters(date_from=date(2027, 1, 1)))
    assert late == []


def test_outcomes_api_and_csv(catalogue, organization, coordinator, clinic):
    build_cohort(organization=organization, coordinator=coordinator, clinic=clinic, size=12)
    client = _client(coordinator)
    body = client.get("/api/v1/reports/outcomes/").json()
    assert {r["protocol"] for r in body["results"]} <= set(COHORT)
    response = client.get("/api/v1/reports/outcomes/csv/")
    assert response["Content-Type"] == "text/csv"
    rows = list(csv.DictReader(io.StringIO(_content(response))))
    assert [r["protocol"] for r in rows] == [r["protocol"] for r in body["results"]]


def test_claims_csv_opens_in_the_csv_module_with_a_header(
    catalogue, organization, coordinator, clinic
):
    # given a few fulfilled sessions, one under an approved authorisation
    build_cohort(organization=organization, coordinator=coordinator, clinic=clinic, size=6)
    component = PlanComponent.objects.filter(protocol__code="tms_10hz_ldlpfc_mdd").first()
    PriorAuthorization.objects.create(
        component=component, number='PA-CSV, "quoted"', authorized_units=36, status="approved"
    )
    # when the CSV is downloaded
    response = _client(coordinator).get("/api/v1/reports/claims/csv/")
    # then it streams, parses with csv, starts with the header and quotes what needs it
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Disposition"].startswith('attachment; filename="claims-')
    text = _content(response)
    reader = csv.reader(io.StringIO(text))
    header = next(reader)
    assert header == list(CLAIM_COLUMNS)
    rows = [dict(zip(header, r, strict=True)) for r in reader]
    assert len(rows) == Session.objects.filter(status="fulfilled").count()
    mine = [r for r in rows if r["authorization_number"]]
    assert mine
    assert {r["authorization_number"] for r in mine} == {'PA-CSV, "quoted"'}
    # TMS rows are coded; the cohort's SPRAVATO rows have no dose recorded, and say so
    assert all(r["codes"] for r in rows if r["protocol"].startswith("tms"))
    assert {r["problems"] for r in rows if r["protocol"] == "spravato_trd"} <= {"dose_missing"}


def _sessions(component, n: int, clinic):
    Session.objects.bulk_create(
        Session(
            component=component,
            patient_id=component.plan.patient_id,
            clinic=clinic,
            kind="treatment",
            status="fulfilled",
            starts_at=START + timedelta(days=k),
            ends_at=START + timedelta(days=k, minutes=40),
            completion={},
        )
        for k in range(n)
    )


@pytest.mark.parametrize("n", [3, 60])
def test_report_query_counts_do_not_grow_with_rows(
    n, catalogue, organization, coordinator, clinic, django_assert_num_queries
):
    # given n fulfilled sessions on n components (each with an authorisation)
    for i in range(n):
        patient = factories.PatientFactory(organization=organization)
        component = factories.make_active_component(
            patient=patient,
            clinic=clinic,
            code="tms_10hz_ldlpfc_mdd",
            prior_auth_number=f"PA-{i}",
            prior_auth_sessions=30,
        )
        _sessions(component, 1, clinic)
    client = _client(coordinator)
    # claims CSV: token → user (1), the read's audit event (1), the rows through one server-side
    # cursor (1, whatever their number: the authorisation number is a subquery)
    with django_assert_num_queries(3):
        assert len(_content(client.get("/api/v1/reports/claims/csv/")).splitlines()) == n + 1
    # outcomes: token (1), audit (1), components with their counts and measures (1),
    # the protocols' planned lengths (1)
    with django_assert_num_queries(4):
        client.get("/api/v1/reports/outcomes/csv/")
    # authorisation worklist: token (1), audit (1), authorisations with units used (1)
    with django_assert_num_queries(3):
        client.get("/api/v1/reports/authorizations/")


def test_reports_are_scoped_and_refused_to_patients(catalogue, organization, coordinator, clinic):
    build_cohort(organization=organization, coordinator=coordinator, clinic=clinic, size=6)
    other = factories.CoordinatorFactory(organization=factories.OrganizationFactory())
    body = _client(other).get("/api/v1/reports/claims/").json()
    assert body["results"] == []
    clinician = factories.ClinicianFactory(organization=organization)  # on no care team
    assert _client(clinician).get("/api/v1/reports/claims/").json()["results"] == []
    patient_user = factories.PatientUserFactory(organization=organization)
    response = _client(patient_user).get("/api/v1/reports/claims/csv/")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    bad = _client(coordinator).get(
        "/api/v1/reports/claims/?date_from=2026-05-01&date_to=2026-04-01"
    )
    assert (bad.status_code, bad.json()["code"]) == (400, "validation_error")


def test_authorization_worklist_categories(catalogue, organization, coordinator, clinic):
    today = date(2026, 6, 1)
    rows = {}
    for name, fields in {
        "denied": {"status": "denied", "decision_note": "not medically necessary"},
        "requested": {"status": "requested"},
        "exhausted": {
            "status": "approved",
            "number": "PA-X",
            "authorized_units": 2,
            "starts_on": date(2026, 3, 1),
            "ends_on": date(2026, 12, 31),
        },
        "expiring": {
            "status": "approved",
            "number": "PA-S",
            "authorized_units": 30,
            "starts_on": date(2026, 3, 1),
            "ends_on": today + timedelta(days=10),
        },
        "expired": {
            "status": "approved",
            "number": "PA-E",
            "authorized_units": 30,
            "starts_on": date(2026, 1, 1),
            "ends_on": today - timedelta(days=1),
        },
        "ok": {
            "status": "approved",
            "number": "PA-OK",
            "authorized_units": 30,
            "starts_on": date(2026, 3, 1),
            "ends_on": date(2026, 12, 31),
        },
    }.items():
        patient = factories.PatientFactory(organization=organization)
        component = factories.make_active_component(
            patient=patient, clinic=clinic, code="tms_10hz_ldlpfc_mdd"
        )
        rows[name] = PriorAuthorization.objects.create(component=component, **fields)
        if name == "exhausted":
            _sessions(component, 2, clinic)
    noon = datetime(2026, 6, 1, 12, tzinfo=ZoneInfo("America/New_York"))  # the clinic's today
    got = authorization_worklist(user=coordinator, filters=ReportFilters(), now=noon)
    assert {r["number"] or r["status"]: r["category"] for r in got} == {
        "denied": "denied",
        "requested": "requested",
        "PA-X": "exhausted",
        "PA-S": "expiring",
        "PA-E": "expired",
    }
    exhausted = next(r for r in got if r["category"] == "exhausted")
    assert (exhausted["used"], exhausted["remaining"]) == (2, 0)


def test_authorization_worklist_counts_on_the_clinics_date(catalogue, organization, coordinator):
    # given a New York clinic's authorisation that ends on 3 December, and 22:00 there that
    # day — 03:00 UTC on the 4th
    clinic = factories.ClinicFactory(organization=organization, timezone="America/New_York")
    component = factories.make_active_component(
        patient=factories.PatientFactory(organization=organization),
        clinic=clinic,
        code="tms_10hz_ldlpfc_mdd",
    )
    PriorAuthorization.objects.create(
        component=component,
        status="approved",
        number="PA-TZ",
        authorized_units=30,
        starts_on=date(2026, 11, 1),
        ends_on=date(2026, 12, 3),
    )

    def row(at: datetime) -> dict:
        (r,) = authorization_worklist(user=coordinator, filters=ReportFilters(), now=at)
        return r

    # then it is expiring, with no day left — not expired — until the clinic's midnight
    evening = row(datetime(2026, 12, 4, 3, tzinfo=ZoneInfo("UTC")))
    assert (evening["category"], evening["days_left"]) == ("expiring", 0)
    after = row(datetime(2026, 12, 4, 6, tzinfo=ZoneInfo("UTC")))
    assert (after["category"], after["days_left"]) == ("expired", -1)
