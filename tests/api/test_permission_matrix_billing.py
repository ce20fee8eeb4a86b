"""Permission matrix of the issue-11 endpoints: prior authorisations, the re-authorisation
packet and the reports (DESIGN.md promise 7; STYLE.md habit 11), on the shared harness world.

Reports are for clinic staff: patients get 403 (whoever they are), staff get 200 scoped to the
patients they see (another organisation's coordinator and an off-team clinician see none of the
target patient's rows). CSV routes stream, so they are checked outside ``run_case`` (which reads
``response.content``) and listed in ``COVERED_ROUTES``.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction

from backend.audit.models import AuditEvent
from plans.services.authorizations import create_authorization
from tests.api import matrix
from tests.api.matrix import MANAGE, PERSONAS, READ, RECORD, Case, World, client_for, run_case

pytestmark = pytest.mark.django_db

V1 = "/api/v1"

#: reports: staff of any organisation get 200 (scoped); patients 403; anonymous 401
REPORT = dict.fromkeys(PERSONAS, "ok") | {
    "anonymous": "401",
    "patient_self": "403",
    "patient_other": "403",
}


def _covered(w: World):
    """The target plan's commercial (SPRAVATO) component — self-pay takes no authorisation."""
    return w.plan.components.get(payer_type="commercial")


def _authorization(w: World):
    if "authorization" not in w.extra:
        w.extra["authorization"] = create_authorization(
            component=_covered(w),
            by=w.users["coordinator"],
            status="approved",
            number="PA-M",
            authorized_units=18,
            starts_on=dt.date(2026, 1, 1),
            ends_on=dt.date(2026, 12, 31),
        )
    return w.extra["authorization"]


def _no_target_rows(w: World, body) -> bool:
    return all(r.get("patient_mrn") != w.patient.mrn for r in body.get("results", []))


CASES: list[Case] = [
    Case(
        "component authorizations",
        "get",
        lambda w: f"{V1}/components/{_covered(w).pk}/authorizations/",
        READ,
    ),
    Case(
        "component authorizations",
        "post",
        lambda w: f"{V1}/components/{_covered(w).pk}/authorizations/",
        MANAGE,
        lambda w: {"status": "requested", "payer_name": "Example Health Plan"},
    ),
    Case("authorization", "get", lambda w: f"{V1}/authorizations/{_authorization(w).pk}/", READ),
    Case(
        "authorization",
        "patch",
        lambda w: f"{V1}/authorizations/{_authorization(w).pk}/",
        MANAGE,
        lambda w: {"decision_note": "approved by phone"},
    ),
    Case(
        "authorization evidence",
        "post",
        lambda w: f"{V1}/authorizations/{_authorization(w).pk}/evidence/",
        MANAGE,
        lambda w: {"title": "Approval letter", "url": "https://docs.example.com/pa.pdf"},
    ),
    Case(
        "reauthorization packet",
        "get",
        lambda w: f"{V1}/components/{_covered(w).pk}/reauthorization-packet/",
        RECORD,
    ),
    Case(
        "claims report",
        "get",
        lambda w: f"{V1}/reports/claims/",
        REPORT,
        hides_target=_no_target_rows,
    ),
    Case("outcomes report", "get", lambda w: f"{V1}/reports/outcomes/", REPORT),
    Case(
        "authorizations report",
        "get",
        lambda w: f"{V1}/reports/authorizations/",
        REPORT,
        hides_target=_no_target_rows,
    ),
]

CSV_ROUTES = {
    "api:report-claims-csv": f"{V1}/reports/claims/csv/",
    "api:report-outcomes-csv": f"{V1}/reports/outcomes/csv/",
    "api:report-authorizations-csv": f"{V1}/reports/authorizations/csv/",
}
COVERED_ROUTES = tuple(f"GET {name}" for name in CSV_ROUTES)


@pytest.fixture
def matrix_world(catalogue):
    return matrix.build_world()


@pytest.mark.parametrize("case", CASES, ids=str)
def test_billing_permission_matrix(case: Case, matrix_world):
    _authorization(matrix_world)  # outside the per-persona savepoints, so it survives them
    failures: list[str] = []
    for persona in PERSONAS:
        with transaction.atomic():
            try:
                run_case(case, persona, matrix_world)
            except AssertionError as exc:
                failures.append(str(exc).splitlines()[0])
            transaction.set_rollback(True)
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("url", list(CSV_ROUTES.values()))
def test_csv_reports_matrix(url, matrix_world):
    # the authorisation makes the target patient appear in the authorisation worklist
    auth = _authorization(matrix_world)
    auth.status = "denied"
    auth.decision_note = "not medically necessary"
    auth.save()
    for persona in PERSONAS:
        client = client_for(matrix_world.users[persona])
        before = AuditEvent.objects.count()
        response = client.get(url)
        expected = REPORT[persona]
        got = "ok" if response.status_code == 200 else str(response.status_code)
        assert got == expected, (url, persona, got)
        if got != "ok":
            assert "code" in response.json()
            continue
        text = b"".join(response.streaming_content).decode()
        assert AuditEvent.objects.count() - before == 1, (url, persona)
        if persona in matrix.HIDDEN_FROM:
            assert matrix_world.patient.mrn not in text, (url, persona)
        elif "authorizations" in url and persona != "clinician_off_team":
            assert matrix_world.patient.mrn in text, (url, persona)
