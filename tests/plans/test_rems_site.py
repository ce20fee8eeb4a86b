"""One REMS-site rule (issue 16): the booking check and the readiness requirement agree.

``modalities.rules.rems.rems_site_certified`` is the single predicate; the booking check
(``scheduling.services._common.check_rems_site``: 409 ``rems_site_not_certified``) and the
readiness requirement ``site_rems_certification`` (evidence ``clinic``) both follow it. Pure.
"""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.errors import ConflictError
from modalities.catalogue import load_catalogue
from modalities.rules.rems import recorded_until, rems_site_certified
from modalities.specs import find_protocol
from modalities.vocab import PayerType, RequirementStatus
from plans.rules.readiness import ClinicFacts, ComponentFacts, evaluate_component
from scheduling.services._common import check_rems_site

TRD = find_protocol(load_catalogue(), "spravato_trd")
DAY = dt.date(2027, 1, 4)
_DATES = st.dates(dt.date(2026, 1, 1), dt.date(2028, 12, 31))


def _readiness_status(until: dt.date | None, today: dt.date) -> RequirementStatus:
    indication = TRD.indications[0]
    facts = ComponentFacts("c", TRD, indication, indication.label_status, PayerType.COMMERCIAL)
    readiness = evaluate_component(
        component=facts,
        evaluations=[],
        measures=[],
        clinic=ClinicFacts(rems_certified_until=until),
        today=today,
    )
    return readiness.item("site_rems_certification").status


def _booking_allowed(certification_id: str, until: dt.date | None, day: dt.date) -> bool:
    component = SimpleNamespace(protocol=SimpleNamespace(modality="spravato"))
    clinic = SimpleNamespace(
        pk=1,
        name="Example clinic",
        rems_certification_id=certification_id,
        rems_certified_until=until,
    )
    refused: str | None = None
    try:
        check_rems_site(component=component, clinic=clinic, days=[day])
    except ConflictError as exc:
        refused = str(exc.code)
    assert refused in (None, "rems_site_not_certified")
    return refused is None


def test_the_predicate_is_inclusive_of_the_last_certified_day():
    assert rems_site_certified(DAY, DAY)
    assert not rems_site_certified(DAY, DAY + dt.timedelta(days=1))
    assert not rems_site_certified(None, DAY)
    assert recorded_until("", DAY) is None
    assert recorded_until("REMS-TEST-0001", DAY) == DAY


@given(until=st.none() | _DATES, day=_DATES)
def test_booking_and_readiness_follow_the_one_predicate(until, day):
    certified = rems_site_certified(until, day)
    assert _booking_allowed("REMS-TEST-0001", until, day) == certified
    status = _readiness_status(until, day)
    assert (status == RequirementStatus.SATISFIED) == certified
    if not certified:
        expected = RequirementStatus.MISSING if until is None else RequirementStatus.EXPIRED
        assert status == expected


@pytest.mark.parametrize("until", [None, DAY])
def test_booking_without_a_recorded_certification_id_is_refused(until):
    assert not _booking_allowed("", until, DAY)


def test_other_modalities_are_not_checked():
    component = SimpleNamespace(protocol=SimpleNamespace(modality="tms"))
    clinic = SimpleNamespace(pk=1, name="x", rems_certification_id="", rems_certified_until=None)
    check_rems_site(component=component, clinic=clinic, days=[DAY])


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("certification_id", "expected"),
    [("", RequirementStatus.MISSING), ("REMS-TEST-0001", RequirementStatus.SATISFIED)],
)
def test_stored_readiness_reads_the_certification_as_the_booking_check_does(
    catalogue, organization, clinic, certification_id, expected
):
    # given a clinic with a certification date, with and without the certification id
    from plans.selectors import get_plan_readiness
    from tests.factories import PatientFactory, make_active_component

    clinic.rems_certification_id = certification_id
    clinic.rems_certified_until = dt.date(2030, 12, 31)
    clinic.save(update_fields=["rems_certification_id", "rems_certified_until"])
    component = make_active_component(
        patient=PatientFactory(organization=organization), clinic=clinic, code="spravato_trd"
    )
    # when readiness is read from the database
    readiness = get_plan_readiness(plan=component.plan).component(component.pk)
    # then a date alone certifies nothing, as booking refuses it (409 rems_site_not_certified)
    assert readiness.item("site_rems_certification").status == expected
    assert _booking_allowed(certification_id, clinic.rems_certified_until, DAY) == (
        expected == RequirementStatus.SATISFIED
    )


@pytest.mark.django_db
def test_the_clinic_api_reads_the_certification_on_the_clinics_date(client_for, coordinator):
    # given a New York clinic certified through 3 December, and 22:00 there on the 3rd (03:00
    # UTC on the 4th)
    import time_machine

    from tests.factories import ClinicFactory

    clinic = ClinicFactory(
        organization=coordinator.organization,
        timezone="America/New_York",
        rems_certification_id="REMS-TEST-0002",
        rems_certified_until=dt.date(2026, 12, 3),
    )
    client = client_for(coordinator)

    def certified(at: dt.datetime) -> bool:
        with time_machine.travel(at, tick=False):
            return client.get(f"/api/v1/clinics/{clinic.pk}/").json()["rems_certified"]

    # then it is certified for the rest of its day, and not on the next one
    assert certified(dt.datetime(2026, 12, 4, 3, tzinfo=dt.UTC)) is True
    assert certified(dt.datetime(2026, 12, 4, 6, tzinfo=dt.UTC)) is False
