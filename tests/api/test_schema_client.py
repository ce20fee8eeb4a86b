"""A client generated from the schema works (issue 12): ``openapi-python-client`` (installed from
PyPI, runs offline) generates a Python package from ``manage.py spectacular``'s output; the test
uses it against the live test server to create a plan, record an evaluation step and read the
readiness — and to receive a typed error (the error shape, ``code`` an enum) for a bad request."""

from __future__ import annotations

import importlib
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from django.core.management import call_command
from rest_framework.authtoken.models import Token

from tests import factories

pytestmark = [pytest.mark.slow]

PACKAGE = "clinic_client"


@pytest.fixture
def generated_client(tmp_path, monkeypatch):
    schema = tmp_path / "schema.json"
    call_command("spectacular", "--format", "openapi-json", "--file", str(schema))
    config = tmp_path / "config.yml"
    # no post hooks: the generated code is imported, not committed, so it is not linted
    config.write_text(f"post_hooks: []\npackage_name_override: {PACKAGE}\n")
    out = tmp_path / "pkg" / PACKAGE
    generator = Path(sys.executable).with_name("openapi-python-client")
    subprocess.run(
        [
            str(generator),
            "generate",
            "--path",
            str(schema),
            "--output-path",
            str(out),
            "--meta",
            "none",
            "--config",
            str(config),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    monkeypatch.syspath_prepend(str(out.parent))
    for name in [m for m in sys.modules if m == PACKAGE or m.startswith(f"{PACKAGE}.")]:
        del sys.modules[name]
    return importlib.import_module(PACKAGE)


def _api(name: str):
    return importlib.import_module(f"{PACKAGE}.api.v1.{name}")


def test_generated_client_creates_plan_records_step_reads_readiness(
    generated_client, restore_catalogue, transactional_db, catalogue, live_server
):
    # given: a coordinator (token), a clinic and a patient, and the generated package
    from modalities.models import Protocol
    from plans import services

    org = factories.OrganizationFactory()
    clinic = factories.ClinicFactory(organization=org)
    coordinator = factories.CoordinatorFactory(organization=org)
    patient = services.create_patient(
        organization=org,
        by=coordinator,
        mrn="GEN-0001",
        given_name="Gen",
        family_name="Client",
        birth_date=date(1980, 1, 2),
        phone="+15555550123",
        email="gen.client@example.com",
        timezone="America/New_York",
    )
    # a protocol whose readiness asks for a psychiatric evaluation (neurofeedback, DOMAIN.md §4)
    protocol = (
        Protocol.objects.filter(requirements__key="psychiatric_evaluation", is_active=True)
        .order_by("code", "-version")
        .first()
    )
    token = Token.objects.create(user=coordinator).key
    models = importlib.import_module(f"{PACKAGE}.models")
    client = generated_client.AuthenticatedClient(
        base_url=live_server.url, token=token, prefix="Token"
    )

    # when: the plan is created through the generated client
    plan = _api("v1_plans_create").sync(
        client=client,
        body=models.PlanInRequest(
            patient=patient.pk,
            clinic=clinic.pk,
            title="Generated-client plan",
            diagnoses=["F33.2"],
            components=[
                models.ComponentInRequest(
                    protocol=protocol.pk,
                    indication=protocol.indications.first().pk,
                    payer_type=models.PayerTypeEnum("self_pay"),
                )
            ],
        ),
    )
    # then: a typed plan detail
    assert isinstance(plan, models.PlanDetailOut), plan
    assert plan.status.value == "draft"

    # when: an evaluation step is recorded
    step = _api("v1_evaluations_create").sync(
        client=client,
        body=models.EvaluationInRequest(
            patient=patient.pk,
            plan=plan.id,
            kind=models.EvaluationKindEnum("psychiatric_evaluation"),
        ),
    )
    assert isinstance(step, models.EvaluationOut), step

    # and: readiness is read
    readiness = _api("v1_plans_readiness_retrieve").sync(client=client, id=plan.id)
    assert isinstance(readiness, models.PlanReadinessOut), readiness
    items = [item for component in readiness.components for item in component.items]
    satisfied = {item.key for item in items if item.status.value == "satisfied"}
    assert "psychiatric_evaluation" in satisfied

    # and: an error comes back as the typed error shape with its stable code
    missing = _api("v1_plans_readiness_retrieve").sync(client=client, id=2**62)
    assert type(missing).__name__ == "V1PlansReadinessRetrieveResponse404"
    assert missing.code.value == "not_found"
