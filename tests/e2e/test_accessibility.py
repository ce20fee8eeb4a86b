"""A small, dependency-free accessibility audit of the dashboard pages in the browser (no axe
download): labelled form fields, named buttons and images, landmarks, one h1 and no skipped
heading levels, and WCAG AA text contrast computed from the rendered colours."""

from __future__ import annotations

import pytest
from django.utils import timezone

from tests.dashboard import scenario as sc
from tests.e2e.test_dashboard_browser import seeded_with_sessions, sign_in

pytestmark = pytest.mark.e2e

AUDIT_JS = r"""
() => {
  const problems = [];
  const visible = (el) => {
    const s = getComputedStyle(el);
    const r = el.getBoundingClientRect();
    return s.visibility !== "hidden" && s.display !== "none" && (r.width > 1 || r.height > 1);
  };
  const name = (el) => (el.getAttribute("aria-label") || el.textContent || "").trim();
  for (const el of document.querySelectorAll("input, select, textarea")) {
    if (el.type === "hidden") continue;
    const labelled = (el.labels && el.labels.length) || el.getAttribute("aria-label");
    if (!labelled) problems.push("unlabelled field " + (el.name || el.id));
  }
  for (const el of document.querySelectorAll("button, a[href]")) {
    if (visible(el) && !name(el)) problems.push("unnamed control " + el.outerHTML.slice(0, 80));
  }
  for (const svg of document.querySelectorAll("svg[role=img]")) {
    const ids = (svg.getAttribute("aria-labelledby") || "").split(/\s+/).filter(Boolean);
    if (!ids.length || ids.some((id) => !document.getElementById(id)))
      problems.push("svg without an accessible name");
  }
  const signedIn = !!document.getElementById("logout-form");
  for (const sel of ["header", "nav", "main", "footer"]) {
    if (sel === "nav" && !signedIn) continue;  // the sign-in page has nothing to navigate to
    if (!document.querySelector(sel)) problems.push("missing landmark " + sel);
  }
  const headings = [...document.querySelectorAll("h1, h2, h3, h4, h5, h6")];
  if (headings.filter((h) => h.tagName === "H1").length !== 1) problems.push("not exactly one h1");
  let level = 0;
  for (const h of headings) {
    const l = Number(h.tagName[1]);
    if (l > level + 1) problems.push("heading skips to " + h.tagName + ": " + h.textContent.trim());
    level = l;
  }
  if (!document.documentElement.lang) problems.push("no lang on <html>");

  const parse = (c) => (c.match(/[\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c.length >= 3 && (c.length === 3 || c[3] > 0.9)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const seen = new Set();
  while (walker.nextNode()) {
    const node = walker.currentNode;
    const el = node.parentElement;
    if (!node.textContent.trim() || !el || seen.has(el) || el.closest("svg")) continue;
    seen.add(el);
    if (!visible(el) || el.closest(".visually-hidden, [hidden]")) continue;
    const style = getComputedStyle(el);
    const fg = parse(style.color).slice(0, 3);
    const bg = background(el);
    const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5))
      problems.push(`contrast ${ratio.toFixed(2)} for "${node.textContent.trim().slice(0, 40)}"`);
  }
  return problems;
}
"""


def audit(page) -> list[str]:
    return page.evaluate(AUDIT_JS)


def test_login_worklist_and_plan_pages_pass_the_audit(live_server, browser_page):
    s, mapping = seeded_with_sessions()
    page = browser_page.page
    page.goto(f"{live_server.url}/dashboard/login/")
    assert audit(page) == []
    sign_in(browser_page, live_server.url, "psychiatrist")
    assert audit(page) == []
    page.goto(f"{live_server.url}/dashboard/plans/{s.plan.pk}/")
    assert audit(page) == []
    # the refusal panel with its override form too
    page.locator(f"#session-{mapping.pk} button").click()
    page.wait_for_load_state()
    assert page.locator("#check-in-refused").is_visible()
    assert audit(page) == []
    # and the audit itself does catch problems (so an empty list means something)
    page.evaluate(
        """() => document.querySelector("main").insertAdjacentHTML("beforeend",
             '<p style="color:#bbbbbb">faint text</p><input name="unlabelled">')"""
    )
    found = audit(page)
    assert any(p.startswith("contrast") and "faint text" in p for p in found)
    assert "unlabelled field unlabelled" in found
    browser_page.assert_clean()


def test_worklist_with_sessions_today_passes_the_audit(live_server, browser_page):
    s = sc.build()
    # a follow-up later today when the clinic is open (weekday 08:00–18:00 local), else none
    local = timezone.now().astimezone(sc.ZoneInfo(s.clinic.timezone))
    if local.weekday() < 5 and local.hour < 17:
        start = local.replace(minute=0, second=0, microsecond=0) + sc.dt.timedelta(hours=1)
        sc.book_follow_ups(s, [max(start, local.replace(hour=8, minute=0))])
    sign_in(browser_page, live_server.url, "psychiatrist")
    assert audit(browser_page.page) == []
    browser_page.assert_clean()
