"""Issue 6 acceptance in a real browser (headless Debian Chromium): sign in as a clinician, see only
care-team patients, open the seed plan, read the checklist, the PHQ-9 chart and the
multi-modality timeline, dismiss a flag, be refused a check-in that lists what is missing — with
no console error and no request leaving the machine. Screenshots go to ``artifacts/``."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone

from plans.models import Flag, FlagStatus
from scheduling import services as scheduling_services
from scheduling.models import Session, SessionStatus
from tests.dashboard import scenario as sc

pytestmark = pytest.mark.e2e


def seeded_with_sessions():
    """Seed scenario + TMS course from next Monday + psychiatric follow-ups (one past, one
    missed, one upcoming) + a PHQ-9 series, all through the services."""
    s = sc.build()
    now = timezone.now()
    monday = sc.next_monday(s.clinic, now)
    tms_ids = sc.schedule_tms(s, starts_on=monday)
    last_week = monday - dt.timedelta(days=14)
    past = sc.book_follow_ups(s, sc.weekday_slots(s.clinic, last_week, 2, at=dt.time(15, 0)))
    scheduling_services.mark_no_show(session=past[1], by=s.users["coordinator"])
    sc.book_follow_ups(s, sc.weekday_slots(s.clinic, monday + dt.timedelta(days=1), 1))
    sc.record_phq9_series(s, [20, 10, 2], [2, 2, 1])
    mapping = Session.objects.filter(pk__in=tms_ids).order_by("starts_at").first()
    return s, mapping


def sign_in(bp, base: str, username: str) -> None:
    page = bp.page
    page.goto(f"{base}/dashboard/")
    assert "/dashboard/login/" in page.url
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(sc.PASSWORDS[username])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/dashboard/")


def test_clinician_walks_the_seed_plan(live_server, browser_page, artifacts):
    s, mapping = seeded_with_sessions()
    page = browser_page.page
    base = live_server.url

    # given the psychiatrist signs in
    sign_in(browser_page, base, "psychiatrist")
    # then the worklist shows only care-team patients
    patients = page.locator("#patients")
    assert patients.get_by_text("Example, Alex").is_visible()
    assert patients.get_by_text("Placeholder, Riley").is_visible()
    assert "Sample" not in page.locator("main").inner_text()  # the nurse's patient

    # when the seed plan is opened
    page.get_by_role("link", name="Fibromyalgia with treatment-resistant depression").click()
    page.wait_for_url(f"{base}/dashboard/plans/{s.plan.pk}/")
    assert page.get_by_role("heading", level=1).inner_text() == "Alex Example"

    # then the checklist lists the missing steps with their reasons
    missing = page.locator("#readiness tr.row-missing")
    assert missing.count() >= 10
    missing_text = missing.all_inner_texts()
    for step in (
        "Psychiatric evaluation",
        "TMS safety screen",
        "Off-label consent",
        "REMS patient enrolment",
        "Site REMS certification",
    ):
        assert any(step in row for row in missing_text), step
    assert page.locator("#readiness").get_by_text("Not ready to start").is_visible()

    # and the PHQ-9 chart is drawn, with baseline, response and remission lines
    phq9 = page.locator("#outcome-chart svg g[data-instrument=phq9]")
    assert phq9.locator("g.point").count() == 3
    for line in ("baseline", "response-threshold", "remission-threshold"):
        assert phq9.locator(f"g.{line}").count() == 1
    assert page.locator("#outcome-chart svg g.course-start").count() >= 1
    assert page.locator("#outcomes .summary-list").get_by_text("PHQ-9: latest").is_visible()

    # and the timeline spans modalities: TMS and psychiatric follow-ups, past, missed, upcoming
    timeline = page.locator("#timeline")
    assert timeline.locator("tbody .badge.modality-tms").count() == 10
    assert timeline.locator("tbody .badge.modality-psychiatry").count() == 3
    for state in ("past", "missed", "upcoming"):
        assert timeline.locator(f"tbody .state-{state}").count() >= 1, state
    strip = timeline.locator("#timeline-strip svg")
    assert strip.locator("g.lane").count() == 2
    assert strip.locator("g.lane[data-lane=TMS] g.session").count() == 10
    assert strip.locator("g.session.state-missed").count() == 1
    page.screenshot(path=str(artifacts / "plan-page.png"), full_page=True)

    # when a flag is dismissed with a reason
    first_flag = page.locator("#flags li.flag").first
    flag_id = int(first_flag.get_attribute("id").removeprefix("flag-"))
    before = page.locator("#flags li.flag").count()
    first_flag.get_by_label("Reason for dismissing").fill("Discussed at team meeting")
    first_flag.get_by_role("button", name="Dismiss flag").click()
    page.wait_for_load_state()
    # then it is gone from the list, with a confirmation, and stored with the reason
    assert page.get_by_role("status").get_by_text("Flag dismissed").is_visible()
    assert page.locator("#flags li.flag").count() == before - 1
    flag = Flag.objects.get(pk=flag_id)
    assert (flag.status, flag.dismiss_reason) == (FlagStatus.DISMISSED, "Discussed at team meeting")

    # when the TMS mapping session is checked in
    page.locator(f"#session-{mapping.pk}").get_by_role(
        "button", name=re.compile("Check in")
    ).click()
    page.wait_for_load_state()
    # then the check-in is refused and the missing steps are listed
    refusal = page.locator("#check-in-refused")
    assert refusal.get_by_role("heading", name="Check-in refused").is_visible()
    steps = refusal.locator("ul.missing-steps li").all_inner_texts()
    assert any("Psychiatric evaluation" in step for step in steps)
    assert any("TMS safety screen" in step for step in steps)
    assert refusal.get_by_label(re.compile("Override reason")).is_visible()  # a prescriber
    assert Session.objects.get(pk=mapping.pk).status == SessionStatus.BOOKED
    page.screenshot(path=str(artifacts / "plan-page-check-in-refused.png"), full_page=True)

    # and nothing went wrong in the browser, and nothing left the machine
    browser_page.assert_clean()


def test_plan_page_fits_a_tablet(live_server, tablet_page, artifacts):
    s, _ = seeded_with_sessions()
    sign_in(tablet_page, live_server.url, "psychiatrist")
    page = tablet_page.page
    page.goto(f"{live_server.url}/dashboard/plans/{s.plan.pk}/")
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0  # wide tables scroll inside their own box, the page does not
    assert page.locator("#outcome-chart svg").bounding_box()["width"] <= 768
    page.screenshot(path=str(artifacts / "plan-page-tablet.png"), full_page=True)
    tablet_page.assert_clean()


def test_other_clinicians_patient_is_not_found_in_the_browser(live_server, browser_page):
    s = sc.build()
    sign_in(browser_page, live_server.url, "psychiatrist")
    response = browser_page.page.goto(f"{live_server.url}/dashboard/plans/{s.other_plan.pk}/")
    assert response.status == 404
    browser_page.console_errors.clear()  # the 404 itself is reported as a failed resource
    browser_page.assert_clean()


def test_patient_login_is_refused_in_the_browser(live_server, browser_page):
    sc.build()
    page = browser_page.page
    page.goto(f"{live_server.url}/dashboard/login/")
    page.get_by_label("Username").fill("patient")
    page.get_by_label("Password").fill(sc.PASSWORDS["patient"])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    assert page.get_by_role("alert").get_by_text("This dashboard is for clinic staff").is_visible()
    assert page.goto(f"{live_server.url}/dashboard/").url.startswith(
        f"{live_server.url}/dashboard/login/"
    )
    browser_page.assert_clean()


def test_idle_timer_signs_out(live_server, browser_page, settings):
    # given a short idle limit (the server's sliding expiry and the page timer share it)
    settings.SESSION_COOKIE_AGE = 6
    sc.build()
    sign_in(browser_page, live_server.url, "psychiatrist")
    page = browser_page.page
    # when nothing happens in the page, the timer submits the sign-out form
    page.wait_for_url(re.compile(r".*/dashboard/login/$"), timeout=20_000)
    assert page.get_by_text("You were signed out after 6 seconds without activity").is_visible()
    browser_page.assert_clean()
