"""The outcome chart is pure: plain points in, SVG out — no database (STYLE.md habit 9)."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from zoneinfo import ZoneInfo

from dashboard.charts import CourseMark, Point, render_outcome_chart, summarise
from modalities.vocab import Instrument

SVG = "{http://www.w3.org/2000/svg}"
T0 = dt.datetime(2026, 1, 5, 15, 0, tzinfo=dt.UTC)


def day(n: int) -> dt.datetime:
    return T0 + dt.timedelta(days=n)


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 — our own output, parsed to prove it is well-formed


def panel(root: ET.Element, instrument: str) -> ET.Element:
    return next(g for g in root.iter(f"{SVG}g") if g.get("data-instrument") == instrument)


def line_y(group: ET.Element) -> float:
    line = group.find(f"{SVG}line")
    assert line is not None
    assert line.get("y1") == line.get("y2")
    return float(line.get("y1"))


PHQ9 = [
    Point(day(0), 20, is_baseline=True),
    Point(day(14), 14),
    Point(day(28), 9),
    Point(day(42), 4),
]


def test_chart_is_well_formed_accessible_svg_with_three_panels():
    # given PHQ-9, GAD-7 and pain series and two courses
    chart = render_outcome_chart(
        {
            Instrument.PHQ9: PHQ9,
            Instrument.GAD7: [Point(day(0), 12, True), Point(day(28), 6)],
            Instrument.PAIN_NRS: [Point(day(1), 8, True), Point(day(30), 5)],
        },
        [CourseMark("TMS", day(2), day(30)), CourseMark("SPRAVATO", day(3), None)],
    )
    # when it is parsed
    root = parse(chart.svg)
    # then it is an image with a title and a description, and one panel per instrument
    assert root.get("role") == "img"
    assert root.find(f"{SVG}title").text == "Outcome measures over time"
    assert "PHQ-9: latest 4, baseline 20" in root.find(f"{SVG}desc").text
    assert [g.get("data-instrument") for g in root.iter(f"{SVG}g") if g.get("data-instrument")] == [
        "phq9",
        "gad7",
        "pain_nrs",
    ]
    # and each point is a marker with its own tooltip
    titles = [t.text for t in panel(root, "phq9").iter(f"{SVG}title")]
    assert "PHQ-9 20 (baseline) on 2026-01-05" in titles
    assert "PHQ-9 4 on 2026-02-16" in titles


def test_phq9_panel_draws_baseline_response_and_remission_lines_at_the_right_height():
    root = parse(render_outcome_chart({Instrument.PHQ9: PHQ9}).svg)
    phq = panel(root, "phq9")
    groups = {g.get("class"): g for g in phq.iter(f"{SVG}g") if g.get("class") != "point"}
    baseline, response, remission = (
        line_y(groups["baseline"]),
        line_y(groups["response-threshold"]),
        line_y(groups["remission-threshold"]),
    )
    # PHQ-9 scale 0–27 over a 150 px panel: a higher score is higher up (smaller y)
    assert baseline < response < remission
    # response threshold is 50 % of the baseline (20 → 10); remission is PHQ-9 < 5
    assert groups["response-threshold"].find(f"{SVG}title").text == "response ≤ 10"
    assert groups["remission-threshold"].find(f"{SVG}title").text == "remission < 5"
    top = float(phq.find(f"{SVG}rect").get("y"))
    assert abs(remission - (top + 150 - 5 / 27 * 150)) < 0.2


def test_pain_has_a_response_threshold_but_no_remission_line():
    root = parse(render_outcome_chart({Instrument.PAIN_NRS: [Point(day(0), 8, True)]}).svg)
    classes = {g.get("class") for g in panel(root, "pain_nrs").iter(f"{SVG}g")}
    assert "response-threshold" in classes  # IMMPACT 30 % reduction
    assert "remission-threshold" not in classes


def test_course_start_and_end_markers_are_drawn_in_order():
    chart = render_outcome_chart({Instrument.PHQ9: PHQ9}, [CourseMark("TMS", day(7), day(35))])
    root = parse(chart.svg)
    marks = {
        g.get("class"): g for g in root.iter(f"{SVG}g") if "course-mark" in (g.get("class") or "")
    }
    start = float(marks["course-mark course-start"].find(f"{SVG}line").get("x1"))
    end = float(marks["course-mark course-end"].find(f"{SVG}line").get("x1"))
    assert start < end
    assert marks["course-mark course-start"].find(f"{SVG}title").text == "TMS starts 12 Jan 2026"


def test_summary_uses_compare_to_baseline_for_response_and_remission():
    s = summarise(Instrument.PHQ9, PHQ9)
    assert (s.baseline, s.latest, s.response, s.remission) == (20, 4, True, True)
    assert s.percent_change == -80.0
    early = summarise(Instrument.PHQ9, PHQ9[:2])
    assert (early.response, early.remission) == (False, False)
    assert "no response yet" in early.text


def test_baseline_is_the_marked_point_even_when_not_first():
    s = summarise(Instrument.PHQ9, [Point(day(-3), 22), Point(day(0), 18, True), Point(day(7), 9)])
    assert s.baseline == 18
    assert s.response_threshold == 9.0
    assert s.response is True


def test_empty_chart_says_so_and_a_missing_series_is_labelled():
    assert "No outcome measures" in render_outcome_chart({}).svg
    root = parse(render_outcome_chart({Instrument.PHQ9: PHQ9}).svg)
    texts = [t.text for t in panel(root, "gad7").iter(f"{SVG}text")]
    assert "No GAD-7 scores recorded." in texts


def test_dates_follow_the_clinic_zone():
    late = dt.datetime(2026, 3, 1, 3, 30, tzinfo=dt.UTC)  # 22:30 on 28 Feb in New York
    chart = render_outcome_chart(
        {Instrument.PHQ9: [Point(late, 10)]}, tz=ZoneInfo("America/New_York")
    )
    assert "PHQ-9 10 on 2026-02-28" in chart.svg


def test_text_is_escaped():
    chart = render_outcome_chart(
        {Instrument.PHQ9: PHQ9}, [CourseMark("<script>", day(1), None)], title="A & B"
    )
    assert "<script>" not in chart.svg
    parse(chart.svg)


def test_rows_list_every_score_in_time_order():
    chart = render_outcome_chart({Instrument.PHQ9: PHQ9, Instrument.GAD7: [Point(day(14), 6)]})
    assert [(r[2], r[3]) for r in chart.rows][:3] == [("PHQ-9", 20), ("PHQ-9", 14), ("GAD-7", 6)]


# --------------------------------------------------------------------------- timeline strip


def strip_items():
    from dashboard.charts import StripItem

    return [
        StripItem("TMS", day(7), "upcoming", "Mapping #1"),
        StripItem("Psychiatry", day(-7), "past", "Follow up"),
        StripItem("Psychiatry", day(-6), "missed", "Follow up"),
        StripItem("TMS", day(8), "upcoming", "Treatment #2"),
    ]


def test_timeline_strip_has_one_lane_per_modality_in_time_order():
    from dashboard.charts import render_timeline_strip

    root = parse(render_timeline_strip(strip_items(), now=day(0)))
    lanes = [g.get("data-lane") for g in root.iter(f"{SVG}g") if g.get("data-lane")]
    assert lanes == ["Psychiatry", "TMS"]
    assert "Psychiatry: 2 sessions; TMS: 2 sessions" in root.find(f"{SVG}title").text


def test_timeline_strip_marks_past_upcoming_and_missed_around_today():
    from dashboard.charts import render_timeline_strip

    root = parse(render_timeline_strip(strip_items(), now=day(0)))
    states = [
        g.get("class") for g in root.iter(f"{SVG}g") if (g.get("class") or "").startswith("session")
    ]
    assert sorted(states) == [
        "session state-missed",
        "session state-past",
        "session state-upcoming",
        "session state-upcoming",
    ]
    missed = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "session state-missed")
    assert missed.find(f"{SVG}path") is not None  # a cross, not a dot
    now_x = float(next(g for g in root.iter(f"{SVG}g") if g.get("class") == "now")[1].get("x1"))
    xs = {
        g.find(f"{SVG}title").text.split(",")[0] + g.get("class"): g
        for g in root.iter(f"{SVG}g")
        if (g.get("class") or "").startswith("session")
    }
    mapping = xs["Mapping #1session state-upcoming"].find(f"{SVG}circle")
    assert float(mapping.get("cx")) > now_x
    assert mapping.get("fill") == "#ffffff"  # hollow = upcoming


def test_timeline_strip_is_empty_without_sessions():
    from dashboard.charts import render_timeline_strip

    assert render_timeline_strip([], now=day(0)) == ""
