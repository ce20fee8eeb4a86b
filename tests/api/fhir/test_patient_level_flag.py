"""A patient-level flag (no plan yet, e.g. a risk answer at intake) reads as a FHIR Flag about
the patient; it used to assume a plan (found by typing api/ under mypy)."""

from __future__ import annotations

import pytest

from plans.models import Flag
from tests import factories

pytestmark = pytest.mark.django_db


def test_a_patient_level_flag_reads_without_a_plan(client_for):
    org = factories.OrganizationFactory()
    coordinator = factories.CoordinatorFactory(organization=org)
    patient = factories.PatientFactory(organization=org)
    flag = Flag.objects.create(
        patient=patient, code="intake_risk", severity="critical", message="Follow up at intake."
    )
    response = client_for(coordinator).get(f"/fhir/R4/Flag/{flag.pk}")
    assert response.status_code == 200
    body = response.json()
    assert body["subject"]["reference"] == f"Patient/{patient.pk}"
    assert "None" not in response.content.decode()
