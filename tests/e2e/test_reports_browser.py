"""Issue 11 in a real browser (headless Debian Chromium): a coordinator opens the reports page,
sees the outcomes chart (server-rendered SVG) with its table, filters by protocol, and downloads
the claims CSV, which opens in Python's ``csv`` with a header — no console error, no request
leaving the machine. Screenshots go to ``artifacts/``."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from billing.reports import CLAIM_COLUMNS
from tests.billing.test_reports import build_cohort
from tests.dashboard import scenario as sc
from tests.e2e.test_dashboard_browser import sign_in

pytestmark = pytest.mark.e2e


def test_reports_page_outcomes_chart_and_claims_csv(live_server, browser_page, artifacts):
    # given the seed organisation with a synthetic 60-patient outcome cohort
    s = sc.build()
    build_cohort(
        organization=s.clinic.organization,
        coordinator=s.users["coordinator"],
        clinic=s.clinic,
        size=60,
    )
    page = browser_page.page
    base = live_server.url

    # when the coordinator opens the reports page
    sign_in(browser_page, base, "coordinator")
    page.get_by_role("link", name="Reports").click()
    page.wait_for_url(f"{base}/dashboard/reports/")
    # then the outcomes chart is drawn with a bar per protocol and its accessible summary
    chart = page.locator("#outcomes-chart svg")
    assert chart.is_visible()
    assert chart.get_attribute("role") == "img"
    assert page.locator("#outcomes-chart svg rect.bar-response").count() == 3
    assert "response" in page.locator("#oc-desc").text_content()
    assert page.locator("#outcomes table tbody tr").count() == 3
    page.locator("#outcomes-chart").screenshot(path=str(artifacts / "reports-outcomes-chart.png"))
    page.screenshot(path=str(artifacts / "reports-page.png"), full_page=True)

    # when they filter by one protocol
    page.get_by_label("Protocol", exact=True).select_option("spravato_trd")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**protocol=spravato_trd**")
    # then only that protocol is charted
    assert page.locator("#outcomes-chart svg rect.bar-response").count() == 1

    # when they download the claims CSV of that selection
    with page.expect_download() as info:
        page.locator("#claims-csv").click()
    text = Path(info.value.path()).read_text(encoding="utf-8")
    # then it opens in csv with the header, one row per fulfilled SPRAVATO session
    reader = csv.reader(io.StringIO(text))
    assert next(reader) == list(CLAIM_COLUMNS)
    rows = list(reader)
    assert rows
    assert {r[CLAIM_COLUMNS.index("protocol")] for r in rows} == {"spravato_trd"}
    browser_page.assert_clean()
