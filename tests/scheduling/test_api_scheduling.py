"""The scheduling API through the test client: course preview/commit, actions, gate, feeds."""

from __future__ import annotations

from datetime import date, datetime

import pytest
import time_machine
from icalendar import Calendar

from backend.audit.models import AuditEvent
from notifications.terms import contains_forbidden_term
from plans.models import Evaluation
from scheduling.models import ClinicClosure, Session
from tests import factories
from tests.scheduling.test_lifecycle import NY, _record_spravato_prerequisites


@pytest.fixture(autouse=True)
def _before_the_courses():
    """The dates below are fixed in autumn 2026; sessions may be back-entered only a few days
    (SESSION_BACK_ENTRY_DAYS), so the clock stands just before them (issue 13)."""
    with time_machine.travel(datetime(2026, 9, 28, 12, tzinfo=NY), tick=True):
        yield


def _schedule(client, component, *, commit, starts_on="2026-10-05"):
    return client.post(
        f"/api/v1/components/{component.pk}/schedule/",
        {"starts_on": starts_on, "preferred_start": "10:00", "commit": commit},
        format="json",
    )


def test_schedule_preview_then_commit(client_for, coordinator, tms_component):
    client = client_for(coordinator)
    preview = _schedule(client, tms_component, commit=False)
    assert preview.status_code == 200, preview.json()
    body = preview.json()
    assert not body["committed"]
    assert len(body["sessions"]) == 36
    assert body["sessions"][0]["kind"] == "mapping"
    assert not Session.objects.exists()
    committed = _schedule(client, tms_component, commit=True)
    assert committed.status_code == 201
    assert len(committed.json()["session_ids"]) == 36
    again = _schedule(client, tms_component, commit=True)
    assert again.status_code == 409
    assert again.json()["code"] == "course_already_scheduled"


def test_spravato_at_uncertified_site_is_409(client_for, coordinator, catalogue, us_clinic):
    from tests.scheduling.conftest import make_component, make_patient

    component = make_component(
        patient=make_patient(us_clinic.organization), clinic=us_clinic, code="spravato_trd"
    )
    response = _schedule(client_for(coordinator), component, commit=True, starts_on="2027-01-04")
    assert response.status_code == 409
    assert response.json()["code"] == "rems_site_not_certified"


def test_session_list_filters_and_constant_queries(
    client_for, coordinator, tms_component, django_assert_max_num_queries
):
    client = client_for(coordinator)
    _schedule(client, tms_component, commit=True)
    # n = auth token + count + page of sessions + bookings prefetch + audit insert (+ savepoints)
    with django_assert_max_num_queries(8):
        response = client.get(
            "/api/v1/sessions/",
            {"start": "2026-10-05T00:00:00Z", "end": "2026-10-10T00:00:00Z", "status": "booked"},
        )
    assert response.status_code == 200
    assert response.json()["count"] == 5
    with django_assert_max_num_queries(8):
        everything = client.get("/api/v1/sessions/", {"patient": tms_component.plan.patient_id})
    assert everything.json()["count"] == 36


def test_check_in_gate_through_the_api(
    client_for, coordinator, clinician, patient, spravato_component
):
    # given SPRAVATO dose 1 booked and every step recorded except REMS patient enrolment
    client = client_for(coordinator)
    assert (
        _schedule(client, spravato_component, commit=True, starts_on="2027-01-04").status_code
        == 201
    )
    dose1 = Session.objects.filter(component=spravato_component).order_by("starts_at").first()
    _record_spravato_prerequisites(patient, spravato_component, coordinator, rems=False)
    clinician_client = client_for(clinician)
    # when the clinician checks in → 409 listing rems_enrollment
    refused = clinician_client.post(f"/api/v1/sessions/{dose1.pk}/check-in/", {}, format="json")
    assert refused.status_code == 409
    body = refused.json()
    assert body["code"] == "readiness_gate_blocked"
    assert [m["key"] for m in body["missing"]] == ["rems_enrollment"]
    # after recording the enrolment → 200
    Evaluation.objects.create(
        patient=patient,
        kind="rems_enrollment",
        performed_at=datetime.now(tz=NY),
        data={"enrolled_on": datetime.now(tz=NY).date().isoformat()},
        recorded_by=coordinator,
    )
    ok = clinician_client.post(f"/api/v1/sessions/{dose1.pk}/check-in/", {}, format="json")
    assert ok.status_code == 200
    assert ok.json()["status"] == "arrived"


def test_override_through_the_api_leaves_an_audit_event(
    client_for, coordinator, clinician, spravato_component
):
    client = client_for(coordinator)
    _schedule(client, spravato_component, commit=True, starts_on="2027-01-04")
    dose1 = Session.objects.filter(component=spravato_component).order_by("starts_at").first()
    response = client_for(clinician).post(
        f"/api/v1/sessions/{dose1.pk}/check-in/",
        {"override_reason": "enrolment form signed, upload pending"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["override_reason"] == "enrolment form signed, upload pending"
    assert AuditEvent.objects.filter(action="override", object_id=str(dose1.pk)).count() == 1
    # a coordinator may not override
    second = Session.objects.filter(component=spravato_component).order_by("starts_at")[1]
    denied = client.post(
        f"/api/v1/sessions/{second.pk}/check-in/", {"override_reason": "x"}, format="json"
    )
    assert denied.status_code == 403


def test_no_show_and_cancel_through_the_api(client_for, coordinator, clinician, tms_component):
    client = client_for(coordinator)
    _schedule(client, tms_component, commit=True)
    tenth = Session.objects.get(component=tms_component, sequence=10)
    response = client_for(clinician).post(
        f"/api/v1/sessions/{tenth.pk}/no-show/", {}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["make_up"]["session"]["replaces"] == tenth.pk
    missing_reason = client.post(f"/api/v1/sessions/{tenth.pk}/cancel/", {}, format="json")
    assert missing_reason.status_code == 400
    assert "reason" in missing_reason.json()["fields"]
    again = client.post(f"/api/v1/sessions/{tenth.pk}/cancel/", {"reason": "x"}, format="json")
    assert again.status_code == 409
    assert again.json()["code"] == "illegal_transition"


def test_book_single_follow_up_and_outside_hours(client_for, coordinator, tms_component, us_clinic):
    client = client_for(coordinator)
    ok = client.post(
        "/api/v1/sessions/",
        {
            "component": tms_component.pk,
            "kind": "evaluation",
            "starts_at": "2026-10-05T09:00:00",
            "minutes": 60,
        },
        format="json",
    )
    assert ok.status_code == 201, ok.json()
    assert ok.json()["local_start"].startswith("2026-10-05T09:00:00-04:00")
    closed = client.post(
        "/api/v1/sessions/",
        {
            "component": tms_component.pk,
            "kind": "evaluation",
            "starts_at": "2026-10-05T19:00:00",
            "minutes": 60,
        },
        format="json",
    )
    assert closed.status_code == 409
    assert closed.json()["code"] == "outside_clinic_hours"


def test_clinic_crud_closures_and_holidays(client_for, coordinator, clinician, clinic):
    client = client_for(coordinator)
    created = client.post(
        "/api/v1/clinics/",
        {
            "name": "Uptown",
            "timezone": "America/New_York",
            "phone": "+1 555 555 0100",
            "subdivision": "NY",
            "hours": [{"weekday": 0, "opens": "09:00", "closes": "17:00"}],
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    clinic_id = created.json()["id"]
    assert created.json()["phone"] == "+15555550100"
    assert (
        client.post(
            "/api/v1/clinics/",
            {"name": "Bad", "timezone": "Mars/Base", "phone": "1"},
            format="json",
        ).status_code
        == 400
    )
    generated = client.post(
        f"/api/v1/clinics/{clinic_id}/generate-closures/", {"year": 2026}, format="json"
    )
    assert generated.status_code == 201
    assert ClinicClosure.objects.filter(clinic_id=clinic_id, date=date(2026, 11, 26)).exists()
    removed = client.delete(f"/api/v1/clinics/{clinic_id}/closures/?date=2026-11-26")
    assert removed.status_code == 204
    assert client_for(clinician).get(f"/api/v1/clinics/{clinic_id}/").status_code == 200
    assert (
        client_for(clinician)
        .patch(f"/api/v1/clinics/{clinic_id}/", {"name": "X"}, format="json")
        .status_code
        == 403
    )
    other = factories.CoordinatorFactory(organization=factories.OrganizationFactory())
    assert client_for(other).get(f"/api/v1/clinics/{clinic_id}/").status_code == 404


def test_availability_search(client_for, coordinator, tms_component, us_clinic):
    client = client_for(coordinator)
    _schedule(client, tms_component, commit=True)
    response = client.get(
        "/api/v1/availability/",
        {
            "clinic": us_clinic.pk,
            "kind": "tms_device",
            "minutes": 50,
            "start": "2026-10-06",
            "end": "2026-10-06",
        },
    )
    assert response.status_code == 200
    slots = response.json()
    # 10:00 EDT is 14:00 UTC
    at_ten = [s for s in slots if s["starts_at"].startswith("2026-10-06T14:00:00")]
    assert at_ten
    assert len(at_ten[0]["resources"]) == 1


@time_machine.travel(datetime(2026, 10, 1, 12, tzinfo=NY), tick=False)
@pytest.mark.parametrize("creator", ["coordinator", "patient"])
def test_patient_feed_parses_has_no_modality_and_revocation_404s(
    client_for, coordinator, organization, tms_component, patient, creator
):
    _schedule(client_for(coordinator), tms_component, commit=True)
    if creator == "patient":
        user = factories.PatientUserFactory(organization=organization)
        patient.user = user
        patient.save(update_fields=["user"])
    else:
        user = coordinator
    client = client_for(user)
    created = client.post("/api/v1/feeds/", {"patient": patient.pk}, format="json")
    assert created.status_code == 201, created.json()
    url = created.json()["url"]
    anonymous = client_for(None)
    response = anonymous.get(url)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    text = response.content.decode()
    calendar = Calendar.from_ical(response.content)
    events = list(calendar.walk("VEVENT"))
    assert len(events) == 36
    assert all(str(e["SUMMARY"]).startswith("Appointment at ") for e in events)
    assert contains_forbidden_term(text) is None
    assert "tms" not in text.lower()
    feed_id = created.json()["id"]
    assert client.post(f"/api/v1/feeds/{feed_id}/revoke/").status_code == 200
    gone = anonymous.get(url)
    assert gone.status_code == 404
    assert gone.json()["code"] == "not_found"
    assert anonymous.get("/api/v1/feeds/" + "x" * 43 + ".ics").status_code == 404


@time_machine.travel(datetime(2026, 10, 1, 12, tzinfo=NY), tick=False)
def test_clinician_feed_shows_initials_and_kind(client_for, coordinator, clinician, tms_component):
    from scheduling.services import schedule_course
    from tests.scheduling.conftest import TEN_AM

    schedule_course(
        component=tms_component,
        starts_on=date(2026, 10, 5),
        preferred_start=TEN_AM,
        clinician=clinician,
        by=coordinator,
        commit=True,
    )
    client = client_for(clinician)
    created = client.post("/api/v1/feeds/", {"clinician": clinician.pk}, format="json")
    assert created.status_code == 201
    calendar = Calendar.from_ical(client_for(None).get(created.json()["url"]).content)
    summaries = {str(e["SUMMARY"]) for e in calendar.walk("VEVENT")}
    assert summaries == {"A.S. – mapping", "A.S. – treatment"}
    # another clinician may not create this clinician's feed
    assert (
        client_for(coordinator)
        .post("/api/v1/feeds/", {"clinician": clinician.pk}, format="json")
        .status_code
        == 403
    )


def test_reschedule_naive_time_is_clinic_wall_time_across_dst(
    client_for, coordinator, tms_component
):
    # given a session booked on Friday 30 Oct 2026 (EDT, UTC-4)
    client = client_for(coordinator)
    _schedule(client, tms_component, commit=True)
    session = Session.objects.get(component=tms_component, sequence=20)
    assert session.starts_at.astimezone(NY).date() == date(2026, 10, 30)
    # when it moves to Monday 2 Nov at 10:00 local (EST, UTC-5), given without an offset
    moved = client.post(
        f"/api/v1/sessions/{session.pk}/reschedule/",
        {"starts_at": "2026-11-02T07:30:00"},
        format="json",
    )
    # then 08:00 local would be the opening; 07:30 is refused as outside the clinic's hours
    assert moved.status_code == 409
    assert moved.json()["code"] == "outside_clinic_hours"
    ok = client.post(
        f"/api/v1/sessions/{session.pk}/reschedule/",
        {"starts_at": "2026-11-02T16:00:00"},
        format="json",
    )
    assert ok.status_code == 200, ok.json()
    assert ok.json()["starts_at"] == "2026-11-02T21:00:00Z"  # 16:00 EST
    assert ok.json()["local_start"].startswith("2026-11-02T16:00:00-05:00")


def test_schedule_with_clinician_respects_working_hours(
    client_for, coordinator, clinician, tms_component, us_clinic
):
    from datetime import time

    from scheduling.models import ClinicianHours

    # the clinician works Mon–Thu only
    for weekday in range(4):
        ClinicianHours.objects.create(
            clinician=clinician, clinic=us_clinic, weekday=weekday, starts=time(8), ends=time(17)
        )
    response = client_for(coordinator).post(
        f"/api/v1/components/{tms_component.pk}/schedule/",
        {"starts_on": "2026-10-05", "preferred_start": "10:00", "clinician": clinician.pk},
        format="json",
    )
    assert response.status_code == 200
    conflicts = response.json()["conflicts"]
    assert conflicts
    assert all(c["reasons"] == ["clinician_unavailable"] for c in conflicts)
    fridays = [
        s for s in response.json()["sessions"] if s["conflicts"] == ["clinician_unavailable"]
    ]
    assert len(fridays) == len(conflicts)
