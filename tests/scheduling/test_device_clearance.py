"""Label status follows the TMS device actually booked (issue 13 part 1; DOMAIN.md §1.1).

Through the API: the generator and the auto-pick use only devices the indication is cleared
with; a coordinator's explicit choice outside the clearance makes the component off-label (and
the off-label consent then applies) or, when the protocol pins the coil (H7 OCD), is refused
with 409 ``coil_not_allowed``. Pure rules at the end.
"""

from __future__ import annotations

from datetime import datetime

import pytest
import time_machine

from backend.audit.models import AuditEvent
from modalities.rules.devices import DeviceFit, device_fit, label_status_with_devices
from modalities.vocab import LabelStatus
from plans.models import PlanComponent
from scheduling.models import Resource, Session
from tests.scheduling.conftest import make_component
from tests.scheduling.test_lifecycle import NY

pytestmark = pytest.mark.django_db

API = "/api/v1"


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(datetime(2026, 9, 28, 12, tzinfo=NY), tick=True):
        yield


def _device(clinic, name: str, coil: str) -> Resource:
    return Resource.objects.create(clinic=clinic, kind="tms_device", name=name, coil_type=coil)


def _preview(client, component):
    return client.post(
        f"{API}/components/{component.pk}/schedule/",
        {"starts_on": "2026-10-05", "preferred_start": "10:00", "commit": False},
        format="json",
    )


def _book(client, component, resource, *, kind="treatment"):
    return client.post(
        f"{API}/sessions/",
        {
            "component": component.pk,
            "kind": kind,
            "starts_at": "2026-10-05T10:00:00",
            "resource_ids": [resource.pk],
        },
        format="json",
    )


def test_generator_proposes_only_the_cleared_h7_device_for_the_ocd_course(
    client_for, coordinator, catalogue, patient, us_clinic
):
    # given: an H7 OCD course; figure-8 devices are listed first (us_clinic has two), H7 last
    h7 = _device(us_clinic, "zz Deep TMS H7", "H7")
    ocd = make_component(patient=patient, clinic=us_clinic, code="dtms_h7_ocd")
    # when: the coordinator previews the course
    body = _preview(client_for(coordinator), ocd).json()
    # then: every session holds the H7 device, none a figure-8 one
    assert body["sessions"]
    assert not body["conflicts"]
    held = {r["id"] for s in body["sessions"] for r in s["resources"]}
    assert held == {h7.pk}


def test_generator_never_falls_back_to_a_device_outside_the_clearance(
    client_for, coordinator, catalogue, patient, us_clinic
):
    # given: an H7 OCD course and only figure-8 devices
    ocd = make_component(patient=patient, clinic=us_clinic, code="dtms_h7_ocd")
    client = client_for(coordinator)
    # when: previewed, then committed
    body = _preview(client, ocd).json()
    commit = client.post(
        f"{API}/components/{ocd.pk}/schedule/",
        {"starts_on": "2026-10-05", "preferred_start": "10:00", "commit": True},
        format="json",
    )
    # then: no session proposes a device; the commit is refused and nothing is written
    assert all(not s["resources"] for s in body["sessions"])
    assert all("no_free_tms_device" in c["reasons"] for c in body["conflicts"])
    assert commit.status_code == 409
    assert commit.json()["code"] == "slot_conflict"
    assert not Session.objects.filter(component=ocd).exists()


def test_figure8_booking_for_the_pinned_h7_ocd_course_is_refused(
    client_for, coordinator, catalogue, patient, us_clinic
):
    # given: the H7 OCD protocol pins the coil; the coordinator picks a figure-8 device
    ocd = make_component(patient=patient, clinic=us_clinic, code="dtms_h7_ocd")
    figure8 = Resource.objects.filter(clinic=us_clinic, kind="tms_device").first()
    # when
    response = _book(client_for(coordinator), ocd, figure8)
    # then: 409 with a stable code, nothing booked, the label untouched
    assert response.status_code == 409, response.json()
    assert response.json()["code"] == "coil_not_allowed"
    assert "resource_ids" in response.json()["fields"]
    assert not Session.objects.filter(component=ocd).exists()
    assert PlanComponent.objects.get(pk=ocd.pk).label_status == LabelStatus.CLEARED


def test_explicit_device_outside_the_clearance_makes_the_course_off_label(
    client_for, coordinator, catalogue, patient, us_clinic
):
    # given: a 10 Hz MDD course (cleared with figure-8, no pinned coil) and an H7 device
    h7 = _device(us_clinic, "Deep TMS H7", "h7")
    mdd = make_component(patient=patient, clinic=us_clinic, code="tms_10hz_ldlpfc_mdd")
    client = client_for(coordinator)
    # when: the coordinator books a session on the H7 device explicitly
    response = client.post(
        f"{API}/sessions/",
        {
            "component": mdd.pk,
            "kind": "mapping",
            "starts_at": "2026-10-05T10:00:00",
            "resource_ids": [h7.pk],
        },
        format="json",
    )
    # then: booked, and the component is off-label — said in the answer, audited, and the
    # off-label consent is now a missing requirement
    assert response.status_code == 201, response.json()
    assert response.json()["component_label_status"] == "off_label"
    assert PlanComponent.objects.get(pk=mdd.pk).label_status == LabelStatus.OFF_LABEL
    assert AuditEvent.objects.filter(
        object_type="plans.plancomponent", object_id=str(mdd.pk), action="update"
    ).exists()
    readiness = client.get(f"{API}/plans/{mdd.plan_id}/readiness/").json()
    items = {i["key"]: i for c in readiness["components"] for i in c["items"]}
    assert items["off_label_consent"]["status"] == "missing"


def test_auto_pick_skips_a_free_device_outside_the_clearance(
    client_for, coordinator, catalogue, patient, us_clinic
):
    # given: the figure-8 devices are busy at 10:00, an H7 device is free
    _device(us_clinic, "aa Deep TMS H7", "h7")
    other = make_component(patient=patient, clinic=us_clinic, code="tms_10hz_ldlpfc_mdd")
    client = client_for(coordinator)
    for device in Resource.objects.filter(clinic=us_clinic, coil_type="figure-8"):
        assert _book(client, other, device, kind="evaluation").status_code in (201, 409)
    # when: a session is booked without naming a device
    mdd = make_component(patient=patient, clinic=us_clinic, code="tms_10hz_ldlpfc_mdd")
    response = client.post(
        f"{API}/sessions/",
        {"component": mdd.pk, "kind": "treatment", "starts_at": "2026-10-06T10:00:00"},
        format="json",
    )
    # then: a figure-8 device is picked (H7 is listed first but outside the clearance)
    assert response.status_code == 201, response.json()
    names = [r["name"] for r in response.json()["resources"]]
    assert names
    assert all("H7" not in n for n in names)
    assert response.json()["component_label_status"] == "cleared"


# --- pure rules ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("coil", "parameters", "cleared", "fit"),
    [
        ("figure8", {"coil": "H7"}, ["h7"], DeviceFit.REFUSED),
        ("H7", {"coil": "H7"}, ["h7"], DeviceFit.CLEARED),
        ("h7", {}, ["figure8"], DeviceFit.OFF_LABEL),
        ("Figure-8", {}, ["figure8"], DeviceFit.CLEARED),
        ("", {}, ["figure8"], DeviceFit.OFF_LABEL),
        ("h4", {}, [], DeviceFit.CLEARED),
    ],
)
def test_device_fit(coil, parameters, cleared, fit):
    assert device_fit(coil=coil, parameters=parameters, cleared_coils=cleared) == fit


def test_label_status_with_devices_never_upgrades_off_label():
    assert (
        label_status_with_devices(
            status="off_label", cleared_coils=["figure8"], coils_used=["figure8"]
        )
        == "off_label"
    )
    assert (
        label_status_with_devices(
            status="cleared", cleared_coils=["figure8"], coils_used=["figure8", "h1"]
        )
        == "off_label"
    )
    assert label_status_with_devices(status="cleared", cleared_coils=[], coils_used=["h1"]) == (
        "cleared"
    )
