"""'Today' and 'this week' are the clinic's local calendar days (promise 9) — pure, no DB."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from dashboard.queries import local_window

NY = ZoneInfo("America/New_York")


def test_today_is_the_clinic_day_not_the_utc_day():
    # 02:30 UTC on Thursday is still Wednesday evening in New York
    w = local_window(dt.datetime(2026, 12, 3, 2, 30, tzinfo=dt.UTC), NY)
    assert w.today_start == dt.datetime(2026, 12, 2, 5, 0, tzinfo=dt.UTC)
    assert w.tomorrow_start - w.today_start == dt.timedelta(hours=24)
    assert w.week_start == dt.datetime(2026, 11, 30, 5, 0, tzinfo=dt.UTC)  # Monday, local midnight


def test_a_week_across_the_dst_change_is_169_hours():
    # the week of Monday 26 October 2026 contains Sunday 1 November, when clocks go back
    w = local_window(dt.datetime(2026, 10, 28, 16, 0, tzinfo=dt.UTC), NY)
    assert w.week_start.astimezone(NY).isoformat() == "2026-10-26T00:00:00-04:00"
    assert w.week_end.astimezone(NY).isoformat() == "2026-11-02T00:00:00-05:00"
    assert w.week_end - w.week_start == dt.timedelta(hours=7 * 24 + 1)
