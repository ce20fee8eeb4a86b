"""The dashboard's reports page and printable packet (issue 11): staff only, scoped, audited,
a constant number of queries whatever the number of rows."""

from __future__ import annotations

import pytest

from backend.audit.models import AuditEvent
from plans.services.authorizations import create_authorization
from tests import factories
from tests.billing.test_reports import build_cohort
from tests.dashboard.test_query_counts import REQUEST_OVERHEAD


def test_reports_page_shows_outcomes_and_is_audited(scenario, login):
    client = login(scenario.users["coordinator"])
    build_cohort(
        organization=scenario.clinic.organization,
        coordinator=scenario.users["coordinator"],
        clinic=scenario.clinic,
        size=12,
    )
    before = AuditEvent.objects.count()
    response = client.get("/dashboard/reports/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'class="outcomes-chart"' in html
    assert "Download CSV" in html
    assert AuditEvent.objects.count() - before == 1
    assert AuditEvent.objects.latest("id").object_type == "dashboard.reports"


def test_patients_never_get_the_reports_page(scenario, client):
    # a patient session obtained elsewhere (the dashboard's sign-in refuses patients)
    user = factories.PatientUserFactory(organization=scenario.clinic.organization)
    client.force_login(user)
    assert client.get("/dashboard/reports/").status_code == 403
    component = scenario.spravato
    assert (
        client.get(f"/dashboard/components/{component.pk}/reauthorization-packet/").status_code
        == 403
    )


def test_packet_of_another_organisations_component_is_404(scenario, client):
    outsider = factories.CoordinatorFactory(organization=factories.OrganizationFactory())
    client.force_login(outsider)
    url = f"/dashboard/components/{scenario.spravato.pk}/reauthorization-packet/"
    assert client.get(url).status_code == 404


@pytest.mark.parametrize("size", [6, 60])
def test_reports_page_query_count_does_not_grow(size, scenario, login, django_assert_num_queries):
    coordinator = scenario.users["coordinator"]
    build_cohort(
        organization=scenario.clinic.organization,
        coordinator=coordinator,
        clinic=scenario.clinic,
        size=size,
    )
    create_authorization(
        component=scenario.spravato,
        by=coordinator,
        status="denied",
        decision_note="step therapy first",
    )
    client = login(coordinator)
    # request overhead + outcomes (components with counts and measures · protocols' planned
    # lengths) + authorisation worklist (1) + claims preview through one cursor (1) + the audit
    # event (1) + clinics and protocols of the filter form (2)
    with django_assert_num_queries(REQUEST_OVERHEAD + 7):
        assert client.get("/dashboard/reports/").status_code == 200
