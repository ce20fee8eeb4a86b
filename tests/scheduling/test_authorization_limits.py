"""Issue 11 acceptance: a 36-session TMS course against a 30-unit prior authorisation.

The 80 % flag opens at the 24th fulfilled session (not the 23rd); session 31 is refused with
409 ``authorization_exceeded`` unless booked with an override reason (audited); the
re-authorisation packet lists the evidence recorded for it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from backend.audit.models import AuditEvent
from backend.errors import ConflictError
from plans import services
from plans.models import Flag, FlagStatus
from plans.scanner import scan_all_plans
from plans.services.authorizations import (
    add_authorization_evidence,
    create_authorization,
    update_authorization,
)
from scheduling.errors import SchedulingErrorCode
from scheduling.models import Session
from scheduling.services import book_session, schedule_course
from tests import factories
from tests.scheduling.conftest import TEN_AM, make_component, make_patient

NY = ZoneInfo("America/New_York")


def _client(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def _open(component, code: str) -> bool:
    return Flag.objects.filter(
        plan_id=component.plan_id, code=code, status=FlagStatus.OPEN
    ).exists()


def _next_weekday_after(day: date) -> date:
    day += timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


@pytest.fixture
def course(catalogue, us_clinic, coordinator):
    """A 36-session 10 Hz TMS component with an approved 30-unit authorisation, course booked."""
    patient = make_patient(us_clinic.organization)
    component = make_component(patient=patient, clinic=us_clinic, code="tms_10hz_ldlpfc_mdd")
    assert component.protocol.session_cap == 36
    authorization = create_authorization(
        component=component,
        by=coordinator,
        status="approved",
        number="PA-30",
        authorized_units=30,
        starts_on=date(2026, 10, 1),
        ends_on=date(2027, 3, 31),
        payer_name="Example Health Plan",
    )
    result = schedule_course(
        component=component,
        starts_on=date(2026, 10, 5),
        preferred_start=TEN_AM,
        by=coordinator,
        commit=True,
    )
    return component, authorization, result


def test_course_stops_at_the_authorised_units(course):
    # given a 36-session protocol and 30 authorised units
    _, _, result = course
    # then the course is cut at 30 sessions and says why
    assert len(result.session_ids) == 30
    assert "capped" in [p["code"] for p in result.problems]


def test_80_percent_flag_opens_at_session_24_not_23(course):
    component, _, _ = course
    sessions = list(Session.objects.filter(component=component).order_by("starts_at"))
    # when the sessions are fulfilled one by one and the scanner runs after each
    for n, session in enumerate(sessions[:24], start=1):
        Session.objects.filter(pk=session.pk).update(status="fulfilled")
        scan_all_plans(plan_ids=[component.plan_id], now=session.ends_at + timedelta(hours=1))
        # then the units-low flag is open exactly from the 24th (24/30 = 80 %)
        assert _open(component, "prior_auth_units_low") == (n >= 24), n
    flag = Flag.objects.get(plan_id=component.plan_id, code="prior_auth_units_low", status="open")
    assert (flag.detail["used"], flag.detail["units"]) == (24, 30)
    assert flag.severity == "warning"


def test_session_31_is_refused_without_override_and_booked_with_one(course, coordinator, request):
    component, _, _ = course
    last = Session.objects.filter(component=component).order_by("-starts_at").first()
    day = _next_weekday_after(last.starts_at.astimezone(NY).date())
    starts_at = datetime.combine(day, time(10), tzinfo=NY)
    # when a coordinator books a 31st treatment session
    with pytest.raises(ConflictError) as exc:
        book_session(component=component, kind="treatment", starts_at=starts_at, by=coordinator)
    # then the service refuses it with the stable code and says why
    assert exc.value.code == SchedulingErrorCode.AUTHORIZATION_EXCEEDED
    assert exc.value.extra["problems"][0]["reason"] == "beyond_units"
    assert exc.value.extra["problems"][0]["sequence"] == 31
    # and through the API (on the day before, inside the back-entry window): 409 with the code,
    # nothing booked
    traveller = time_machine.travel(starts_at - timedelta(days=1), tick=False)
    traveller.start()
    request.addfinalizer(traveller.stop)
    client = _client(coordinator)
    body = {"component": component.pk, "kind": "treatment", "starts_at": starts_at.isoformat()}
    response = client.post("/api/v1/sessions/", body, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "authorization_exceeded"
    assert Session.objects.filter(component=component).count() == 30
    # when it is booked with an override reason
    response = client.post(
        "/api/v1/sessions/",
        {
            **body,
            "authorization_override_reason": "re-authorisation requested, peer-to-peer "
            "review booked",
        },
        format="json",
    )
    # then it is booked, the override is in the audit event, and the scanner flags it
    assert response.status_code == 201, response.json()
    assert response.json()["sequence"] == 31
    event = AuditEvent.objects.filter(object_type="scheduling.session").latest("id")
    override = event.detail["authorization_override"]
    assert override["reason"].startswith("re-authorisation requested")
    assert override["problems"][0]["reason"] == "beyond_units"
    scan_all_plans(plan_ids=[component.plan_id], now=starts_at - timedelta(days=1))
    assert _open(component, "sessions_beyond_authorization")


def test_session_after_the_end_date_is_refused(catalogue, us_clinic, coordinator):
    # given an authorisation ending on Friday 9 Oct 2026
    component = make_component(
        patient=make_patient(us_clinic.organization), clinic=us_clinic, code="tms_10hz_ldlpfc_mdd"
    )
    create_authorization(
        component=component,
        by=coordinator,
        status="approved",
        number="PA-E",
        authorized_units=30,
        starts_on=date(2026, 10, 1),
        ends_on=date(2026, 10, 9),
    )
    # when the course is committed from Monday 5 Oct
    with pytest.raises(ConflictError) as exc:
        schedule_course(
            component=component,
            starts_on=date(2026, 10, 5),
            preferred_start=TEN_AM,
            by=coordinator,
            commit=True,
        )
    # then it is refused (sessions after the end date), and nothing is written
    assert exc.value.code == SchedulingErrorCode.AUTHORIZATION_EXCEEDED
    assert exc.value.extra["problems"][0]["reason"] == "after_end_date"
    assert not Session.objects.filter(component=component).exists()
    # the preview lists the problem instead of refusing
    preview = schedule_course(
        component=component,
        starts_on=date(2026, 10, 5),
        preferred_start=TEN_AM,
        by=coordinator,
        commit=False,
    )
    assert "authorization_exceeded" in [p["code"] for p in preview.problems]
    # with an override the course is booked up to the protocol cap, audited
    booked = schedule_course(
        component=component,
        starts_on=date(2026, 10, 5),
        preferred_start=TEN_AM,
        by=coordinator,
        commit=True,
        authorization_override_reason="payer extension by phone",
    )
    assert len(booked.session_ids) == 36
    event = AuditEvent.objects.filter(object_type="scheduling.session").latest("id")
    assert event.detail["authorization_override"]["reason"] == "payer extension by phone"


def test_re_authorisation_resolves_the_units_flag_and_allows_booking(course, coordinator):
    component, authorization, _ = course
    sessions = list(Session.objects.filter(component=component).order_by("starts_at"))
    Session.objects.filter(pk__in=[s.pk for s in sessions[:24]]).update(status="fulfilled")
    now = sessions[23].ends_at + timedelta(hours=1)
    scan_all_plans(plan_ids=[component.plan_id], now=now)
    assert _open(component, "prior_auth_units_low")
    # when the payer approves 6 more sessions from the day after session 30
    last_day = sessions[-1].starts_at.astimezone(NY).date()
    update_authorization(authorization=authorization, by=coordinator, ends_on=last_day)
    create_authorization(
        component=component,
        by=coordinator,
        status="approved",
        number="PA-6",
        authorized_units=6,
        starts_on=last_day + timedelta(days=1),
        ends_on=last_day + timedelta(days=60),
    )
    # then session 31 books without an override
    day = _next_weekday_after(last_day)
    session = book_session(
        component=component,
        kind="treatment",
        starts_at=datetime.combine(day, time(10), tzinfo=NY),
        by=coordinator,
    )
    assert session.sequence == 31


def test_packet_lists_the_recorded_evidence(course, coordinator):
    component, authorization, _ = course
    patient = component.plan.patient
    now = datetime(2026, 9, 20, 10, tzinfo=NY)
    trials = services.record_evaluation(
        patient=patient,
        by=coordinator,
        plan=component.plan,
        kind="antidepressant_trials",
        performed_at=now.replace(hour=21, minute=30),  # 01:30 UTC on the 21st
        data={
            **factories.TWO_FAILED_TRIALS,
            "psychotherapy": [{"modality": "CBT", "weeks": 16, "outcome": "partial"}],
        },
    )
    for taken, answers in ((now, 2), (now + timedelta(days=40), 1)):
        services.record_measure(
            patient=patient,
            by=coordinator,
            plan=component.plan,
            instrument="phq9",
            answers={f"q{i}": answers for i in range(1, 10)} | {"q9": 0},
            taken_at=taken,
            is_baseline=taken == now,
        )
    add_authorization_evidence(
        authorization=authorization,
        by=coordinator,
        title="Antidepressant trial history",
        evaluation=trials,
    )
    add_authorization_evidence(
        authorization=authorization,
        by=coordinator,
        title="Approval letter",
        url="https://docs.example.com/pa-30.pdf",
    )
    sessions = Session.objects.filter(component=component).order_by("starts_at")
    Session.objects.filter(pk__in=[s.pk for s in sessions[:24]]).update(status="fulfilled")
    # when a coordinator asks for the packet
    response = _client(coordinator).get(
        f"/api/v1/components/{component.pk}/reauthorization-packet/"
    )
    # then it lists the evidence, the trials with their classes, the scores and sessions used
    assert response.status_code == 200
    packet = response.json()
    (auth,) = packet["authorizations"]
    assert [e["title"] for e in auth["evidence"]] == [
        "Antidepressant trial history",
        "Approval letter",
    ]
    assert auth["evidence"][0]["evaluation_kind"] == "antidepressant_trials"
    assert packet["failed_trials"] == 2
    assert packet["failed_trial_classes"] == ["NDRI", "SSRI"]
    assert packet["psychotherapy"][0]["modality"] == "CBT"
    # recorded on the clinic's date (New York), not the UTC one
    assert {t["recorded_on"] for t in packet["antidepressant_trials"]} == {"2026-09-20"}
    assert packet["psychotherapy"][0]["recorded_on"] == "2026-09-20"
    (phq9,) = [s for s in packet["scores"] if s["instrument"] == "phq9"]
    assert (phq9["baseline"]["total"], phq9["latest"]["total"]) == (16, 8)
    assert phq9["response"] is True
    assert packet["sessions"]["used_under_current_authorization"] == 24
    assert packet["sessions"]["remaining_units"] == 6
    # and the printable page shows the same evidence
    client = factories_login(coordinator)
    page = client.get(f"/dashboard/components/{component.pk}/reauthorization-packet/")
    assert page.status_code == 200
    html = page.content.decode()
    for text in ("Approval letter", "sertraline", "SSRI", "PA-30"):
        assert text in html


def factories_login(user):
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


def test_moving_a_session_past_the_end_date_needs_an_override(catalogue, us_clinic, coordinator):
    from scheduling.services import reschedule_session

    # given a course booked inside an authorisation ending 30 Nov 2026
    component = make_component(
        patient=make_patient(us_clinic.organization), clinic=us_clinic, code="tms_10hz_ldlpfc_mdd"
    )
    create_authorization(
        component=component,
        by=coordinator,
        status="approved",
        number="PA-M",
        authorized_units=10,
        starts_on=date(2026, 10, 1),
        ends_on=date(2026, 11, 30),
    )
    schedule_course(
        component=component,
        starts_on=date(2026, 10, 5),
        preferred_start=TEN_AM,
        by=coordinator,
        commit=True,
    )
    last = Session.objects.filter(component=component).order_by("-starts_at").first()
    # a move inside the window is fine (the session does not count against itself)
    inside = datetime.combine(date(2026, 11, 2), time(10), tzinfo=NY)
    assert reschedule_session(session=last, starts_at=inside, by=coordinator).starts_at == inside
    # when it is moved into December
    december = datetime.combine(date(2026, 12, 1), time(10), tzinfo=NY)
    with pytest.raises(ConflictError) as exc:
        reschedule_session(session=last, starts_at=december, by=coordinator)
    # then it is refused with the stable code; with a reason it moves, audited
    assert exc.value.code == SchedulingErrorCode.AUTHORIZATION_EXCEEDED
    reschedule_session(
        session=last,
        starts_at=december,
        by=coordinator,
        authorization_override_reason="extension requested",
    )
    event = AuditEvent.objects.filter(object_type="scheduling.session").latest("id")
    assert event.detail["authorization_override"]["reason"] == "extension requested"


def test_make_up_never_lands_past_the_authorisation(catalogue, us_clinic, coordinator):
    from scheduling.services import cancel_session

    # given a 10-session course whose authorisation ends on the day of the last session
    component = make_component(
        patient=make_patient(us_clinic.organization), clinic=us_clinic, code="tms_10hz_ldlpfc_mdd"
    )
    auth = create_authorization(
        component=component,
        by=coordinator,
        status="approved",
        number="PA-U",
        authorized_units=10,
        starts_on=date(2026, 10, 1),
        ends_on=date(2027, 1, 31),
    )
    schedule_course(
        component=component,
        starts_on=date(2026, 10, 5),
        preferred_start=TEN_AM,
        by=coordinator,
        commit=True,
    )
    sessions = list(Session.objects.filter(component=component).order_by("starts_at"))
    update_authorization(
        authorization=auth, by=coordinator, ends_on=sessions[-1].starts_at.astimezone(NY).date()
    )
    # when a session is cancelled (its make-up would go after the last one)
    with time_machine_at(datetime(2026, 10, 1, 9, tzinfo=NY)):
        result = cancel_session(session=sessions[2], reason="patient ill", by=coordinator)
    # then no make-up is booked and the reason is the authorisation
    assert result.session is None
    assert result.problem["code"] == "authorization_exceeded"


def time_machine_at(moment):
    import time_machine

    return time_machine.travel(moment, tick=False)


def test_the_expiry_warning_counts_days_in_the_clinic_zone(catalogue, us_clinic, coordinator):
    # given an approved 10-unit authorisation ending on 31 March 2027 at a New York clinic
    patient = make_patient(us_clinic.organization)
    component = make_component(patient=patient, clinic=us_clinic, code="tms_10hz_ldlpfc_mdd")
    create_authorization(
        component=component,
        by=coordinator,
        status="approved",
        number="PA-10",
        authorized_units=10,
        starts_on=date(2027, 1, 4),
        ends_on=date(2027, 3, 31),
        payer_name="Example Health Plan",
    )
    # when the scanner runs at 22:00 on 16 March in New York (already 17 March in UTC; the
    # scan's clock is UTC, as timezone.now() is)
    evening = datetime(2027, 3, 16, 22, tzinfo=NY).astimezone(UTC)
    assert evening.date() == date(2027, 3, 17)
    scan_all_plans(plan_ids=[component.plan_id], now=evening)
    # then there are 15 days left in the clinic's calendar: no warning yet (14 days ahead)
    assert not _open(component, "prior_auth_expiring")
    # and the next morning, 14 days left, the warning is open
    morning = datetime(2027, 3, 17, 8, tzinfo=NY).astimezone(UTC)
    scan_all_plans(plan_ids=[component.plan_id], now=morning)
    flag = Flag.objects.get(
        plan_id=component.plan_id, code="prior_auth_expiring", status=FlagStatus.OPEN
    )
    assert flag.detail["days_left"] == 14
