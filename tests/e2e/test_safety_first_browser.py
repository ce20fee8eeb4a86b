"""Issue 15 in a real browser (headless Debian Chromium): a PHQ-9 item 9 = 2 critical flag is the
first item on the clinician's worklist and on the plan page — above two dozen paperwork flags,
many of them blocking — with no console error and no request leaving the machine."""

from __future__ import annotations

import datetime as dt

import pytest

from modalities.vocab import Instrument
from plans import services as plan_services
from plans.flag_codes import FlagCode
from tests.dashboard import scenario as sc
from tests.e2e.test_dashboard_browser import sign_in

pytestmark = pytest.mark.e2e


def seeded_with_item9():
    """Seed scenario with its readiness flags (many blocking) and then an item-9 PHQ-9."""
    s = sc.build()
    plan_services.sync_readiness_flags(plan=s.plan)
    plan_services.record_measure(
        patient=s.patient,
        by=s.users["coordinator"],
        plan=s.plan,
        instrument=Instrument.PHQ9,
        answers={f"q{i}": 1 for i in range(1, 9)} | {"q9": 2},
        taken_at=dt.datetime.now(dt.UTC),
    )
    return s


def test_critical_safety_flag_is_first_on_the_worklist_and_the_plan_page(
    live_server, browser_page, artifacts
):
    s = seeded_with_item9()
    page = browser_page.page
    base = live_server.url

    # Given the psychiatrist signs in
    sign_in(browser_page, base, "psychiatrist")

    # Then the first flag item on the worklist — top of the page, and top of the flag list —
    # is the PHQ-9 item 9 safety flag, in a visible banner above today's sessions
    flags = page.locator("main li[data-code]")
    assert flags.count() > 5
    first = flags.first
    assert first.get_attribute("data-code") == FlagCode.SAFETY_PHQ9_ITEM9
    assert first.is_visible()
    assert "PHQ-9 item 9" in first.inner_text()
    banner = page.locator("#safety-flags")
    assert banner.get_attribute("role") == "alert"
    assert banner.bounding_box()["y"] < page.locator("#today").bounding_box()["y"]
    listed = page.locator("#flags li[data-code]").first
    assert listed.get_attribute("data-code") == FlagCode.SAFETY_PHQ9_ITEM9
    page.screenshot(path=str(artifacts / "safety-first-worklist.png"), full_page=True)

    # When the plan page is opened from the banner
    banner.get_by_role("link", name="Example, Alex").click()
    page.wait_for_url(f"{base}/dashboard/plans/{s.plan.pk}/#safety-banner")

    # Then the first flag item on the page is the safety flag, in the banner above the
    # components, and it is visible without scrolling
    first = page.locator("main li[data-code]").first
    assert first.get_attribute("data-code") == FlagCode.SAFETY_PHQ9_ITEM9
    assert first.is_visible()
    banner = page.locator("#safety-banner")
    assert banner.bounding_box()["y"] < page.locator("#components").bounding_box()["y"]
    # And no raw code is visible on the page
    main = page.locator("main").inner_text()
    for raw in ("pain_nrs", "plans.careplan", "safety_phq9_item9", "requirement_missing"):
        assert raw not in main, raw
    page.screenshot(path=str(artifacts / "safety-first-plan.png"), full_page=True)
    browser_page.assert_clean()
