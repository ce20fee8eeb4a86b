"""Dashboard pages through the test client and the URLs (never by calling a view object)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client
from django.utils import timezone

from backend.audit.models import AuditAction, AuditEvent
from plans.models import Flag, FlagStatus
from scheduling.models import Session, SessionStatus
from tests import factories
from tests.dashboard import scenario as sc
from tests.dashboard.conftest import FROZEN_AT

pytestmark = pytest.mark.django_db


def text(response) -> str:
    """The page's visible text, whitespace collapsed (SVG and tags dropped)."""
    html = response.content.decode()
    html = re.sub(r"<svg.*?</svg>", " ", html, flags=re.S)
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def plan_url(plan) -> str:
    return f"/dashboard/plans/{plan.pk}/"


# --------------------------------------------------------------------------- sign-in and access


def test_login_page_has_labelled_fields_and_a_csrf_token(client):
    body = client.get("/dashboard/login/").content.decode()
    assert 'name="csrfmiddlewaretoken"' in body
    assert '<label for="id_username">' in body
    assert '<label for="id_password">' in body
    assert '<main id="main"' in body


def test_login_without_csrf_token_is_refused(scenario):
    strict = Client(enforce_csrf_checks=True)
    response = strict.post(
        "/dashboard/login/", {"username": "psychiatrist", "password": sc.PASSWORDS["psychiatrist"]}
    )
    assert response.status_code == 403
    assert "_auth_user_id" not in strict.session


def test_clinician_signs_in_and_lands_on_the_worklist(client, scenario):
    response = client.post(
        "/dashboard/login/",
        {"username": "psychiatrist", "password": sc.PASSWORDS["psychiatrist"]},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == "/dashboard/"
    assert "Worklist" in text(response)


def test_anonymous_is_sent_to_sign_in(client, scenario):
    for url in ("/dashboard/", plan_url(scenario.plan)):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/dashboard/login/?next=")


def test_patient_cannot_sign_in_to_the_dashboard(client, scenario):
    # given the seed patient's own login
    response = client.post(
        "/dashboard/login/", {"username": "patient", "password": sc.PASSWORDS["patient"]}
    )
    # then the form is shown again with a message, and no session is opened
    assert response.status_code == 200
    assert "This dashboard is for clinic staff" in text(response)
    assert "_auth_user_id" not in client.session
    assert client.get("/dashboard/").status_code == 302


def test_patient_session_from_elsewhere_gets_403_everywhere(client, scenario):
    client.force_login(scenario.users["patient"])  # e.g. a session opened by another interface
    for url in ("/dashboard/", plan_url(scenario.plan), "/dashboard/keepalive/"):
        assert client.get(url).status_code == 403
    flag = scenario.plan.flags.filter(status=FlagStatus.OPEN).first()
    assert client.post(f"/dashboard/flags/{flag.pk}/dismiss/", {"reason": "x"}).status_code == 403
    assert Flag.objects.get(pk=flag.pk).status == FlagStatus.OPEN


def test_another_clinicians_patient_is_404(login, scenario):
    # given the psychiatrist, who is not on Jordan Sample's care team (the nurse is)
    client = login(scenario.users["psychiatrist"])
    # then Jordan's plan, its flags and sessions do not exist for them
    assert client.get(plan_url(scenario.other_plan)).status_code == 404
    other_flag = scenario.other_plan.flags.filter(status=FlagStatus.OPEN).first()
    assert other_flag is not None
    assert (
        client.post(f"/dashboard/flags/{other_flag.pk}/dismiss/", {"reason": "x"}).status_code
        == 404
    )
    assert Flag.objects.get(pk=other_flag.pk).status == FlagStatus.OPEN
    assert client.get("/dashboard/plans/999999/").status_code == 404


def test_coordinator_sees_their_organisation_only(client, scenario):
    client.force_login(scenario.users["coordinator"])
    assert client.get(plan_url(scenario.other_plan)).status_code == 200
    stranger = factories.CoordinatorFactory()  # another organisation
    client.force_login(stranger)
    assert client.get(plan_url(scenario.plan)).status_code == 404
    assert "Alex" not in text(client.get("/dashboard/"))


# --------------------------------------------------------------------------- worklist


def test_worklist_shows_only_care_team_patients(login, scenario):
    page = text(login(scenario.users["psychiatrist"]).get("/dashboard/"))
    assert "Example, Alex" in page
    assert "Placeholder, Riley" in page
    assert "Sample" not in page  # the nurse's patient


def test_worklist_lists_todays_and_this_weeks_sessions_in_clinic_time(login, scenario):
    # given follow-ups for the psychiatrist today (Wed 14:00 New York), Friday and next Monday
    psychiatrist = scenario.users["psychiatrist"]
    slots = sc.weekday_slots(scenario.clinic, dt.date(2026, 12, 2), 1)
    slots += sc.weekday_slots(scenario.clinic, dt.date(2026, 12, 4), 2)  # Fri, Mon
    sc.book_follow_ups(scenario, slots, clinician=psychiatrist)
    page = text(login(psychiatrist).get("/dashboard/"))
    today = page.split("Today’s sessions", 1)[1].split("Open flags")[0]
    week = page.split("Later this week", 1)[1].split("care-team patients")[0]
    assert "Wed 2 Dec, 14:00" in today  # local wall-clock time, not 19:00 UTC
    assert "Fri 4 Dec, 14:00" in week
    assert "Mon 7 Dec" not in page  # next week


def test_worklist_flags_are_sorted_by_severity_then_due_time(login, scenario):
    # given the seed plan's open flags, two of them with due times (the scanner sets these)
    flags = list(scenario.plan.flags.filter(status=FlagStatus.OPEN, severity="blocking"))
    assert len(flags) >= 3
    Flag.objects.filter(pk=flags[0].pk).update(due_at=FROZEN_AT + dt.timedelta(days=3))
    Flag.objects.filter(pk=flags[1].pk).update(due_at=FROZEN_AT + dt.timedelta(days=1))
    response = login(scenario.users["psychiatrist"]).get("/dashboard/")
    shown = response.context["w"].flags
    ranks = [{"info": 0, "warning": 1, "critical": 2, "blocking": 3}[f.severity] for f in shown]
    assert ranks == sorted(ranks, reverse=True)
    blocking = [f.pk for f in shown if f.severity == "blocking"]
    assert blocking[:2] == [flags[1].pk, flags[0].pk]  # soonest due first, undated after
    # and each links to its plan
    assert f'href="{plan_url(scenario.plan)}#flags"' in response.content.decode()


def test_worklist_records_one_audit_event(login, scenario):
    client = login(scenario.users["psychiatrist"])
    before = AuditEvent.objects.count()
    client.get("/dashboard/")
    events = list(AuditEvent.objects.order_by("-id")[: AuditEvent.objects.count() - before])
    assert [e.object_type for e in events] == ["dashboard.worklist"]
    assert scenario.patient.pk in events[0].detail["patient_ids"]


# --------------------------------------------------------------------------- plan page


def test_plan_page_shows_header_components_checklist_and_chart(login, scenario):
    sc.record_phq9_series(scenario, [28, 14, 1], [2, 2, 1])
    page = text(login(scenario.users["psychiatrist"]).get(plan_url(scenario.plan)))
    # header: age on the clinic's today, diagnoses, status, care team
    assert "Age 47" in page
    assert "M79.7" in page
    assert "F33.2" in page
    assert "Draft" in page
    assert "Pat Prescriber" in page
    assert "Toni Technician" in page
    # components: target and rationale, label status, coverage
    assert "Left M1 (primary motor cortex) (left)" in page
    assert "Off label" in page
    assert "Self pay" in page
    assert "prior auth PA-DEMO-1001" in page
    # readiness: missing steps with their reasons
    for step in (
        "Psychiatric evaluation",
        "TMS safety screen",
        "Off-label consent",
        "REMS patient enrolment",
        "Site REMS certification",
        "Baseline pain score (NRS)",
    ):
        assert step in page, step
    assert "no Off-label consent recorded" in page  # human labels, never raw codes (issue 15)
    assert "off_label_consent" not in page
    assert "applies because: off-label indication" in page
    # outcomes: the PHQ-9 series is summarised and drawn
    assert "PHQ-9: latest 8, baseline 16" in page


def test_plan_page_records_one_read_audit_event(login, scenario):
    client = login(scenario.users["psychiatrist"])
    before = AuditEvent.objects.count()
    client.get(plan_url(scenario.plan))
    new = AuditEvent.objects.order_by("-id")[: AuditEvent.objects.count() - before]
    assert [(e.action, e.object_type, e.patient_id) for e in new] == [
        (AuditAction.READ, "plans.careplan", scenario.patient.pk)
    ]


def test_timeline_shows_every_modality_with_past_upcoming_and_missed(login, scenario):
    # given a TMS course from next Monday and psychiatric follow-ups: one done, one missed
    sc.schedule_tms(scenario, starts_on=dt.date(2026, 12, 7))
    past = sc.book_follow_ups(scenario, sc.weekday_slots(scenario.clinic, dt.date(2026, 11, 23), 2))
    from scheduling import services as scheduling_services

    scheduling_services.mark_no_show(session=past[1], by=scenario.users["coordinator"])
    page = text(login(scenario.users["psychiatrist"]).get(plan_url(scenario.plan)))
    timeline = page.split("Timeline of sessions", 1)[1].split("Reminders sent")[0]
    assert "TMS 0 past, 0 today, 10 upcoming, 0 missed" in timeline
    assert "Psychiatry 1 past, 0 today, 0 upcoming, 1 missed" in timeline
    assert "Mapping #1" in timeline
    assert "missed" in timeline


def test_reminders_sent_and_suppressed_are_listed(login, scenario):
    sessions = sc.book_follow_ups(
        scenario, sc.weekday_slots(scenario.clinic, dt.date(2026, 12, 7), 2)
    )
    sc.add_reminders(sessions)
    page = text(login(scenario.users["psychiatrist"]).get(plan_url(scenario.plan)))
    section = page.split("Reminders sent or suppressed", 1)[1].split("Recent activity")[0]
    assert "Sent" in section
    assert "Skipped — quiet_hours_daily_limit" in section


# --------------------------------------------------------------------------- actions


def test_dismiss_flag_with_a_reason(login, scenario):
    client = login(scenario.users["psychiatrist"])
    flag = scenario.plan.flags.filter(status=FlagStatus.OPEN).first()
    response = client.post(
        f"/dashboard/flags/{flag.pk}/dismiss/", {"reason": "Recorded on paper"}, follow=True
    )
    flag.refresh_from_db()
    assert (flag.status, flag.dismiss_reason) == (FlagStatus.DISMISSED, "Recorded on paper")
    assert flag.dismissed_by == scenario.users["psychiatrist"]
    assert "Flag dismissed" in text(response)


def test_dismiss_flag_without_a_reason_changes_nothing(login, scenario):
    client = login(scenario.users["psychiatrist"])
    flag = scenario.plan.flags.filter(status=FlagStatus.OPEN).first()
    response = client.post(f"/dashboard/flags/{flag.pk}/dismiss/", {"reason": "  "}, follow=True)
    assert Flag.objects.get(pk=flag.pk).status == FlagStatus.OPEN
    assert "Give a reason" in text(response)


def test_dismiss_needs_post_and_csrf(scenario):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(scenario.users["psychiatrist"])
    flag = scenario.plan.flags.filter(status=FlagStatus.OPEN).first()
    assert strict.get(f"/dashboard/flags/{flag.pk}/dismiss/").status_code == 405
    assert strict.post(f"/dashboard/flags/{flag.pk}/dismiss/", {"reason": "x"}).status_code == 403
    assert Flag.objects.get(pk=flag.pk).status == FlagStatus.OPEN


def _mapping_session(scenario) -> Session:
    ids = sc.schedule_tms(scenario, starts_on=dt.date(2026, 12, 7))
    return Session.objects.filter(pk__in=ids).order_by("starts_at").first()


def test_refused_check_in_lists_the_missing_steps(login, scenario):
    session = _mapping_session(scenario)
    client = login(scenario.users["technician"])
    response = client.post(f"/dashboard/sessions/{session.pk}/check-in/")
    assert response.status_code == 302  # Post/Redirect/Get to the plan page
    assert response["Location"] == f"{plan_url(scenario.plan)}#check-in-refused"
    response = client.get(response["Location"])
    page = text(response)
    refusal = page.split("Check-in refused", 1)[1].split("Components")[0]
    assert "Psychiatric evaluation" in refusal
    assert "TMS safety screen" in refusal
    assert "Motor threshold" not in refusal.split("Missing steps")[1]  # measured at mapping
    assert "Only a prescriber can override" in refusal  # a technician has no override form
    assert Session.objects.get(pk=session.pk).status == SessionStatus.BOOKED
    # and the refusal is shown once: a reload shows the plain plan page
    assert "Check-in refused" not in text(client.get(plan_url(scenario.plan)))


def test_technician_cannot_override_the_gate(login, scenario):
    session = _mapping_session(scenario)
    client = login(scenario.users["technician"])
    response = client.post(
        f"/dashboard/sessions/{session.pk}/check-in/", {"override_reason": "urgent"}, follow=True
    )
    assert "only a prescriber may override" in text(response)
    assert Session.objects.get(pk=session.pk).status == SessionStatus.BOOKED


def test_prescriber_overrides_the_gate_with_a_reason(login, scenario):
    session = _mapping_session(scenario)
    client = login(scenario.users["psychiatrist"])
    refused = client.post(f"/dashboard/sessions/{session.pk}/check-in/", follow=True)
    assert 'name="override_reason"' in refused.content.decode()
    response = client.post(
        f"/dashboard/sessions/{session.pk}/check-in/",
        {"override_reason": "Evaluated today; paperwork follows"},
        follow=True,
    )
    session.refresh_from_db()
    assert session.status == SessionStatus.ARRIVED
    assert session.override_reason == "Evaluated today; paperwork follows"
    assert "gate overridden" in text(response)
    assert AuditEvent.objects.filter(
        action=AuditAction.OVERRIDE, object_id=str(session.pk)
    ).exists()


def test_check_in_of_another_clinicians_session_is_404(login, scenario):
    other_component = scenario.other_plan.components.get()
    from scheduling import services as scheduling_services

    result = scheduling_services.schedule_course(
        component=other_component,
        starts_on=dt.date(2026, 12, 7),
        preferred_start=dt.time(11, 0),
        by=scenario.users["coordinator"],
        commit=True,
    )
    client = login(scenario.users["psychiatrist"])
    assert client.post(f"/dashboard/sessions/{result.session_ids[0]}/check-in/").status_code == 404


# --------------------------------------------------------------------------- idle log-off


def test_session_expires_after_15_idle_minutes_and_slides(settings, login, scenario, frozen):
    assert settings.SESSION_COOKIE_AGE == 15 * 60
    assert settings.SESSION_SAVE_EVERY_REQUEST
    client = login(scenario.users["psychiatrist"])
    frozen.shift(dt.timedelta(minutes=14))
    assert client.get("/dashboard/").status_code == 200  # activity slides the expiry
    frozen.shift(dt.timedelta(minutes=14))
    assert client.get("/dashboard/").status_code == 200
    frozen.shift(dt.timedelta(minutes=16))
    response = client.get("/dashboard/")
    assert response.status_code == 302
    assert response["Location"].startswith("/dashboard/login/")


def test_pages_carry_the_idle_timer(login, scenario):
    body = login(scenario.users["psychiatrist"]).get("/dashboard/").content.decode()
    assert 'data-idle-seconds="900"' in body
    assert "/static/dashboard/idle.js" in body
    assert 'id="logout-form"' in body


def test_idle_logout_is_a_post_and_says_why(login, scenario):
    client = login(scenario.users["psychiatrist"])
    assert client.get("/dashboard/logout/").status_code == 405
    response = client.post("/dashboard/logout/", {"reason": "idle"}, follow=True)
    assert "signed out after 15 minutes without activity" in text(response)
    assert client.get("/dashboard/").status_code == 302


def test_keepalive_is_empty(login, scenario):
    response = login(scenario.users["psychiatrist"]).get("/dashboard/keepalive/")
    assert response.status_code == 204
    assert response.content == b""


def test_now_is_frozen_for_these_tests(scenario):
    assert timezone.now() - FROZEN_AT < dt.timedelta(minutes=5)
