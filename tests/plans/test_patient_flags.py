"""Safety flags without a plan (issue 13 part 2; DOMAIN.md §5.2 PHQ-9 item 9 / C-SSRS rows).

A PHQ-9 with item 9 > 0 (or a high-risk C-SSRS screener) for a patient with no plan — intake
screening — opens a critical flag on the patient in the same request; it is visible in
``/api/v1/flags/`` to those who may see the patient, attached to the first plan created, on
the dashboard worklist, and in the coordinators' and care team's critical-flag digest.
"""

from __future__ import annotations

from datetime import date

import pytest
from django.core import mail
from django.db import IntegrityError, transaction

from plans.digests import send_critical_flag_digests
from plans.models import Flag, FlagStatus, Patient
from tests import factories

pytestmark = pytest.mark.django_db

API = "/api/v1"
PHQ9_ITEM9_TWO = {f"q{i}": 1 for i in range(1, 9)} | {"q9": 2}


@pytest.fixture
def intake_patient(organization, clinician):
    patient = Patient.objects.create(
        organization=organization,
        mrn="INTAKE-1",
        given_name="Sam",
        family_name="Intake",
        birth_date=date(1990, 1, 2),
        phone="+15555550111",
        email="intake@example.com",
        timezone="America/New_York",
    )
    patient.team_members.create(user=clinician)
    return patient


def _phq9(client, patient, answers=PHQ9_ITEM9_TWO):
    return client.post(
        f"{API}/measures/",
        {"patient": patient.pk, "instrument": "phq9", "answers": answers},
        format="json",
    )


def test_item9_answer_without_a_plan_gives_a_critical_patient_flag_in_the_same_request(
    client_for, clinician, intake_patient
):
    client = client_for(clinician)
    # when: intake screening, no plan yet
    response = _phq9(client, intake_patient)
    # then: stored with the alert, and the flag is there at once
    assert response.status_code == 201, response.json()
    assert response.json()["safety_alert"] is True
    flags = client.get(f"{API}/flags/", {"patient": intake_patient.pk}).json()["results"]
    assert [(f["code"], f["severity"], f["plan"], f["patient"]) for f in flags] == [
        ("safety_phq9_item9", "critical", None, intake_patient.pk)
    ]


def test_repeated_answers_keep_one_open_patient_flag(client_for, clinician, intake_patient):
    client = client_for(clinician)
    _phq9(client, intake_patient)
    _phq9(client, intake_patient)
    assert Flag.objects.filter(patient=intake_patient, status=FlagStatus.OPEN).count() == 1


def test_the_database_keeps_one_open_patient_flag_per_gap(intake_patient):
    # given: an open patient-level flag; when: a second one for the same gap is inserted
    Flag.objects.create(
        patient=intake_patient, code="safety_phq9_item9", severity="critical", message="m"
    )
    # then: the partial unique constraint refuses it
    with pytest.raises(IntegrityError), transaction.atomic():
        Flag.objects.create(
            patient=intake_patient, code="safety_phq9_item9", severity="critical", message="m"
        )


def test_patient_flag_is_attached_to_the_first_plan_created(
    client_for, coordinator, clinician, catalogue, clinic, intake_patient
):
    _phq9(client_for(clinician), intake_patient)
    # when: the coordinator creates the patient's first plan
    response = client_for(coordinator).post(
        f"{API}/plans/",
        {"patient": intake_patient.pk, "clinic": clinic.pk, "title": "Intake plan"},
        format="json",
    )
    # then: the safety flag is the plan's, and among its open flags
    assert response.status_code == 201, response.json()
    plan_id = response.json()["id"]
    assert [f["code"] for f in response.json()["open_flags"]] == ["safety_phq9_item9"]
    assert Flag.objects.get(patient=intake_patient).plan_id == plan_id


def test_patient_flags_follow_the_access_rules(
    client_for, clinician, other_organization, intake_patient
):
    _phq9(client_for(clinician), intake_patient)
    flag = Flag.objects.get(patient=intake_patient)
    stranger = factories.CoordinatorFactory(organization=other_organization)
    off_team = factories.ClinicianFactory(organization=intake_patient.organization)
    for user in (stranger, off_team):
        client = client_for(user)
        assert client.get(f"{API}/flags/").json()["results"] == []
        assert client.get(f"{API}/flags/{flag.pk}/").status_code == 404


def test_worklist_shows_the_patient_level_flag(client, clinician, intake_patient, client_for):
    _phq9(client_for(clinician), intake_patient)
    client.force_login(clinician)
    body = client.get("/dashboard/").content.decode()
    assert "Intake, Sam" in body
    assert "no plan yet" in body


def test_digest_tells_care_team_and_coordinators_of_a_patient_flag(
    client_for, clinician, coordinator, intake_patient
):
    _phq9(client_for(clinician), intake_patient)
    mail.outbox.clear()
    # when: the daily digest runs
    sent = send_critical_flag_digests()
    # then: the care team and the organisation's coordinators hear of it; no PHI in subjects
    recipients = sorted(m.to[0] for m in mail.outbox)
    assert sent == 2
    assert recipients == sorted([clinician.email, coordinator.email])
    assert all("Intake" not in m.subject and "PHQ" not in m.subject for m in mail.outbox)
    assert all("no plan yet" in m.body for m in mail.outbox)


def test_high_risk_cssrs_without_a_plan_gives_a_critical_patient_flag(
    client_for, clinician, intake_patient
):
    client = client_for(clinician)
    # when: a C-SSRS screener with intent and a plan (Q4, Q5) at intake
    answers = {"q1": True, "q2": True, "q3": True, "q4": True, "q5": True, "q6": False}
    response = client.post(
        f"{API}/measures/",
        {"patient": intake_patient.pk, "instrument": "cssrs_screener", "answers": answers},
        format="json",
    )
    # then
    assert response.status_code == 201, response.json()
    flags = client.get(f"{API}/flags/", {"patient": intake_patient.pk}).json()["results"]
    assert [(f["code"], f["severity"], f["plan"]) for f in flags] == [
        ("safety_cssrs_high_risk", "critical", None)
    ]


def test_a_patient_level_flag_can_be_dismissed_from_the_worklist(
    client, client_for, clinician, intake_patient
):
    _phq9(client_for(clinician), intake_patient)
    flag = Flag.objects.get(patient=intake_patient)
    client.force_login(clinician)
    # when: the clinician dismisses it with a reason (no plan page exists yet)
    response = client.post(f"/dashboard/flags/{flag.pk}/dismiss/", {"reason": "seen in clinic"})
    # then: back to the worklist, the flag dismissed with its reason
    assert response.status_code == 302
    assert response["Location"] == "/dashboard/#flags"
    flag.refresh_from_db()
    assert (flag.status, flag.dismiss_reason) == ("dismissed", "seen in clinic")
