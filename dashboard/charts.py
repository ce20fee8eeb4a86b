"""The outcome chart: PHQ-9, GAD-7 and pain over time as a server-rendered SVG.

Pure (STYLE.md habit 9): plain data in, an SVG string out, no database and no JavaScript, so the
chart works without a chart library or a CDN and is unit-tested without Django's ORM. One panel per
instrument (their scales differ: PHQ-9 0–27, GAD-7 0–21, pain 0–10) sharing one time axis. Each
panel draws the baseline, the response threshold (baseline reduced by the instrument's response
reduction — 50 % for PHQ-9) and the remission threshold (PHQ-9 < 5), with the thresholds taken
from ``plans.rules.scoring.CHANGE_RULES`` and the latest point judged by ``compare_to_baseline``
(DOMAIN.md §5.2). Course starts and ends are vertical markers across every panel.

Accessibility: the SVG is ``role="img"`` with a ``<title>`` and a ``<desc>`` summarising each
series; every point has its own ``<title>`` (tooltip); the page also renders the same numbers as
a table (``ChartData.rows``) for screen readers and for printing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html import escape

from modalities.vocab import Instrument
from plans.rules.scoring import CHANGE_RULES, INSTRUMENT_RANGES, ChangeRule, compare_to_baseline

CHART_INSTRUMENTS: tuple[Instrument, ...] = (Instrument.PHQ9, Instrument.GAD7, Instrument.PAIN_NRS)
LABELS: Mapping[Instrument, str] = {
    Instrument.PHQ9: "PHQ-9",
    Instrument.GAD7: "GAD-7",
    Instrument.PAIN_NRS: "Pain (NRS)",
}
# Colours meet WCAG AA contrast (≥ 3:1 for graphics) on white.
COLOURS: Mapping[Instrument, str] = {
    Instrument.PHQ9: "#1f4e9c",
    Instrument.GAD7: "#7a3e9d",
    Instrument.PAIN_NRS: "#a4461b",
}

WIDTH = 720
PANEL_HEIGHT = 150
MARGIN_LEFT = 56
MARGIN_RIGHT = 120
MARGIN_TOP = 28
PANEL_GAP = 34
AXIS_HEIGHT = 30


@dataclass(frozen=True, slots=True)
class Point:
    at: dt.datetime  # aware
    total: float
    is_baseline: bool = False


@dataclass(frozen=True, slots=True)
class CourseMark:
    """A course (plan component) with its first and last session, either may be unknown."""

    label: str
    starts_at: dt.datetime | None
    ends_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class SeriesSummary:
    instrument: Instrument
    label: str
    baseline: float | None
    latest: float | None
    response_threshold: float | None
    remission_below: int | None
    response: bool | None
    remission: bool | None
    percent_change: float | None

    @property
    def text(self) -> str:
        if self.latest is None:
            return f"{self.label}: no scores recorded."
        parts = [f"{self.label}: latest {_fmt(self.latest)}"]
        if self.baseline is not None:
            parts.append(f"baseline {_fmt(self.baseline)}")
        if self.percent_change is not None:
            parts.append(f"change {self.percent_change:+.0f} %")
        if self.response is not None:
            parts.append("response" if self.response else "no response yet")
        if self.remission:
            parts.append("remission")
        return ", ".join(parts) + "."


@dataclass(frozen=True, slots=True)
class ChartData:
    svg: str
    summaries: tuple[SeriesSummary, ...]
    rows: tuple[tuple[dt.datetime, Instrument, str, float], ...] = field(default=())


def _fmt(value: float) -> str:
    return f"{value:g}" if value == int(value) else f"{value:.1f}"


def _baseline(points: Sequence[Point]) -> float | None:
    """The most recent point marked baseline; else the first point (nothing better is known)."""
    marked = [p for p in points if p.is_baseline]
    if marked:
        return max(marked, key=lambda p: p.at).total
    return points[0].total if points else None


def summarise(instrument: Instrument, points: Sequence[Point]) -> SeriesSummary:
    points = sorted(points, key=lambda p: p.at)
    rule: ChangeRule | None = CHANGE_RULES.get(instrument)
    baseline = _baseline(points)
    latest = points[-1].total if points else None
    threshold = None
    if rule is not None and rule.response_reduction is not None and baseline is not None:
        threshold = float(baseline * (1 - rule.response_reduction))
    response = remission = percent = None
    if baseline is not None and latest is not None and len(points) > 1:
        change = compare_to_baseline(instrument, baseline, latest)
        response, remission, percent = change.response, change.remission, change.percent_change
    return SeriesSummary(
        instrument=instrument,
        label=LABELS[instrument],
        baseline=baseline,
        latest=latest,
        response_threshold=threshold,
        remission_below=rule.remission_below if rule is not None else None,
        response=response,
        remission=remission,
        percent_change=percent,
    )


def _time_bounds(
    series: Mapping[Instrument, Sequence[Point]], courses: Sequence[CourseMark]
) -> tuple[dt.datetime, dt.datetime] | None:
    times = [p.at for points in series.values() for p in points]
    times += [t for c in courses for t in (c.starts_at, c.ends_at) if t is not None]
    if not times:
        return None
    low, high = min(times), max(times)
    if high - low < dt.timedelta(days=7):  # a single day would divide by zero; show a week
        high = low + dt.timedelta(days=7)
    pad = (high - low) * 0.03
    return low - pad, high + pad


def render_outcome_chart(
    series: Mapping[Instrument, Sequence[Point]],
    courses: Sequence[CourseMark] = (),
    *,
    tz: dt.tzinfo = dt.UTC,
    title: str = "Outcome measures over time",
) -> ChartData:
    """Render the chart. ``series`` maps an instrument to its points (any order); instruments
    outside ``CHART_INSTRUMENTS`` are ignored. Dates on the axis are shown in ``tz``."""
    ordered = {i: sorted(series.get(i, ()), key=lambda p: p.at) for i in CHART_INSTRUMENTS}
    summaries = tuple(summarise(i, pts) for i, pts in ordered.items())
    rows = tuple(
        sorted(
            ((p.at, i, LABELS[i], p.total) for i, pts in ordered.items() for p in pts),
            key=lambda r: (r[0], CHART_INSTRUMENTS.index(r[1])),
        )
    )
    panels = len(CHART_INSTRUMENTS)
    height = MARGIN_TOP + panels * PANEL_HEIGHT + (panels - 1) * PANEL_GAP + AXIS_HEIGHT
    plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    desc = " ".join(s.text for s in summaries)
    out: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="outcome-chart" role="img" '
        f'viewBox="0 0 {WIDTH} {height}" width="100%" preserveAspectRatio="xMidYMin meet" '
        f'aria-labelledby="outcome-chart-title outcome-chart-desc" font-family="inherit" '
        f'font-size="12">',
        f'<title id="outcome-chart-title">{escape(title)}</title>',
        f'<desc id="outcome-chart-desc">{escape(desc)}</desc>',
        f'<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="#ffffff"/>',
    ]
    bounds = _time_bounds(ordered, courses)
    if bounds is None:
        out.append(
            f'<text x="{WIDTH / 2}" y="{height / 2}" text-anchor="middle" fill="#333333">'
            "No outcome measures or sessions recorded yet.</text></svg>"
        )
        return ChartData(svg="".join(out), summaries=summaries, rows=rows)
    t0, t1 = bounds
    span = (t1 - t0).total_seconds()

    def x_of(at: dt.datetime) -> float:
        return round(MARGIN_LEFT + (at - t0).total_seconds() / span * plot_w, 1)

    for index, instrument in enumerate(CHART_INSTRUMENTS):
        top = MARGIN_TOP + index * (PANEL_HEIGHT + PANEL_GAP)
        out.extend(_panel(instrument, ordered[instrument], summaries[index], top, x_of, plot_w, tz))

    # Course start/end markers across all panels.
    plot_top = MARGIN_TOP - 10
    plot_bottom = MARGIN_TOP + panels * PANEL_HEIGHT + (panels - 1) * PANEL_GAP
    for n, course in enumerate(courses):
        for kind, at in (("start", course.starts_at), ("end", course.ends_at)):
            if at is None:
                continue
            x = x_of(at)
            label = f"{course.label} {kind}s {at.astimezone(tz):%d %b %Y}"
            dash = "6 3" if kind == "start" else "2 3"
            out.append(
                f'<g class="course-mark course-{kind}"><title>{escape(label)}</title>'
                f'<line x1="{x}" y1="{plot_top}" x2="{x}" y2="{plot_bottom}" stroke="#2f6f3e" '
                f'stroke-width="1.5" stroke-dasharray="{dash}"/>'
                f'<text x="{x + 3}" y="{plot_top + 10 + (n % 3) * 11}" fill="#2f6f3e" '
                f'font-size="10">{escape(course.label[:18])} {kind}</text></g>'
            )

    # Time axis: about six ticks, dates in the clinic's zone.
    ticks = 6
    for k in range(ticks + 1):
        at = t0 + (t1 - t0) * (k / ticks)
        x = x_of(at)
        out.append(
            f'<line x1="{x}" y1="{plot_bottom}" x2="{x}" y2="{plot_bottom + 4}" stroke="#444444"/>'
            f'<text x="{x}" y="{plot_bottom + 17}" text-anchor="middle" fill="#333333">'
            f"{at.astimezone(tz):%d %b}</text>"
        )
    out.append("</svg>")
    return ChartData(svg="".join(out), summaries=summaries, rows=rows)


def _panel(
    instrument: Instrument,
    points: Sequence[Point],
    summary: SeriesSummary,
    top: float,
    x_of,
    plot_w: float,
    tz: dt.tzinfo,
) -> list[str]:
    low, high = INSTRUMENT_RANGES[instrument]
    colour = COLOURS[instrument]
    label = LABELS[instrument]
    right = MARGIN_LEFT + plot_w

    def y_of(value: float) -> float:
        return round(top + PANEL_HEIGHT - (value - low) / (high - low) * PANEL_HEIGHT, 1)

    slug = instrument.value.replace("_", "-")
    parts = [
        f'<g class="panel panel-{slug}" data-instrument="{instrument.value}">',
        f'<text x="{MARGIN_LEFT}" y="{top - 6}" font-weight="bold" fill="{colour}">'
        f"{escape(label)}</text>",
        f'<rect x="{MARGIN_LEFT}" y="{top}" width="{plot_w}" height="{PANEL_HEIGHT}" '
        f'fill="#fafafa" stroke="#888888"/>',
    ]
    for value in (low, (low + high) / 2, high):
        y = y_of(value)
        parts.append(
            f'<text x="{MARGIN_LEFT - 6}" y="{y + 4}" text-anchor="end" fill="#333333">'
            f"{_fmt(value)}</text>"
        )

    def hline(value: float, css: str, text: str, dash: str, stroke: str) -> None:
        y = y_of(value)
        parts.append(
            f'<g class="{css}"><title>{escape(text)}</title>'
            f'<line x1="{MARGIN_LEFT}" y1="{y}" x2="{right}" y2="{y}" stroke="{stroke}" '
            f'stroke-width="1.2" stroke-dasharray="{dash}"/>'
            f'<text x="{right + 4}" y="{y + 4}" fill="{stroke}" font-size="10">'
            f"{escape(text)}</text></g>"
        )

    if summary.baseline is not None:
        hline(summary.baseline, "baseline", f"baseline {_fmt(summary.baseline)}", "", "#555555")
    if summary.response_threshold is not None:
        hline(
            summary.response_threshold,
            "response-threshold",
            f"response ≤ {_fmt(summary.response_threshold)}",
            "5 3",
            "#8a5a00",
        )
    if summary.remission_below is not None:
        hline(
            summary.remission_below,
            "remission-threshold",
            f"remission < {summary.remission_below}",
            "2 2",
            "#2f6f3e",
        )

    if not points:
        parts.append(
            f'<text x="{MARGIN_LEFT + plot_w / 2}" y="{top + PANEL_HEIGHT / 2}" '
            f'text-anchor="middle" fill="#333333">No {escape(label)} scores recorded.</text>'
        )
    else:
        coords = [(x_of(p.at), y_of(p.total), p) for p in points]
        path = " ".join(f"{x},{y}" for x, y, _ in coords)
        parts.append(
            f'<polyline class="series" points="{path}" fill="none" stroke="{colour}" '
            f'stroke-width="2"/>'
        )
        for x, y, p in coords:
            shape = (
                f'<rect x="{x - 4}" y="{y - 4}" width="8" height="8" fill="{colour}"/>'
                if p.is_baseline
                else f'<circle cx="{x}" cy="{y}" r="3.5" fill="{colour}"/>'
            )
            note = " (baseline)" if p.is_baseline else ""
            parts.append(
                f'<g class="point"><title>{escape(label)} {_fmt(p.total)}{note} on '
                f"{p.at.astimezone(tz):%Y-%m-%d}</title>{shape}</g>"
            )
    parts.append("</g>")
    return parts


# ---------------------------------------------------------------------------------------------
# Timeline strip: every session of the plan, one lane per modality
# ---------------------------------------------------------------------------------------------

STRIP_LANE = 34
STRIP_LEFT = 110
STRIP_RIGHT = 20
STRIP_TOP = 14
STATE_STYLE: Mapping[str, tuple[str, str]] = {
    # state → (fill, stroke); upcoming markers are hollow, missed ones a red cross
    "past": ("#1d6b34", "#1d6b34"),
    "today": ("#1f4e9c", "#1f4e9c"),
    "upcoming": ("#ffffff", "#1f4e9c"),
    "missed": ("#a4161a", "#a4161a"),
}


@dataclass(frozen=True, slots=True)
class StripItem:
    lane: str  # e.g. "TMS"
    starts_at: dt.datetime
    state: str  # "past" | "today" | "upcoming" | "missed"
    label: str  # tooltip, e.g. "Treatment #3"


def render_timeline_strip(
    items: Sequence[StripItem], *, now: dt.datetime, tz: dt.tzinfo = dt.UTC
) -> str:
    """A compact SVG of all sessions across modalities: lanes in first-appearance order, a marker
    per session (filled = past, hollow = upcoming, cross = missed) and a 'today' line."""
    if not items:
        return ""
    lanes: list[str] = []
    for item in sorted(items, key=lambda i: i.starts_at):
        if item.lane not in lanes:
            lanes.append(item.lane)
    height = STRIP_TOP + len(lanes) * STRIP_LANE + AXIS_HEIGHT
    times = [i.starts_at for i in items] + [now]
    t0, t1 = min(times), max(times)
    if t1 - t0 < dt.timedelta(days=7):
        t1 = t0 + dt.timedelta(days=7)
    pad = (t1 - t0) * 0.02
    t0, t1 = t0 - pad, t1 + pad
    plot_w = WIDTH - STRIP_LEFT - STRIP_RIGHT

    def x_of(at: dt.datetime) -> float:
        return round(STRIP_LEFT + (at - t0).total_seconds() / (t1 - t0).total_seconds() * plot_w, 1)

    counts = {lane: sum(1 for i in items if i.lane == lane) for lane in lanes}
    summary = "; ".join(f"{lane}: {n} sessions" for lane, n in counts.items())
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="timeline-strip" role="img" '
        f'viewBox="0 0 {WIDTH} {height}" width="100%" preserveAspectRatio="xMidYMin meet" '
        f'aria-labelledby="timeline-strip-title" font-family="inherit" font-size="12">',
        f'<title id="timeline-strip-title">Sessions by modality over time. {escape(summary)}.'
        "</title>",
        f'<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="#ffffff"/>',
    ]
    bottom = STRIP_TOP + len(lanes) * STRIP_LANE
    for n, lane in enumerate(lanes):
        y = STRIP_TOP + n * STRIP_LANE + STRIP_LANE / 2
        out.append(
            f'<g class="lane" data-lane="{escape(lane)}">'
            f'<text x="{STRIP_LEFT - 8}" y="{y + 4}" text-anchor="end" fill="#1b1b1b">'
            f"{escape(lane)}</text>"
            f'<line x1="{STRIP_LEFT}" y1="{y}" x2="{WIDTH - STRIP_RIGHT}" y2="{y}" '
            f'stroke="#c9ccd1"/>'
        )
        for item in (i for i in items if i.lane == lane):
            x = x_of(item.starts_at)
            fill, stroke = STATE_STYLE.get(item.state, STATE_STYLE["past"])
            tip = f"{item.label}, {item.starts_at.astimezone(tz):%a %d %b %Y %H:%M} ({item.state})"
            if item.state == "missed":
                cross = f"M{x - 4},{y - 4} L{x + 4},{y + 4} M{x - 4},{y + 4} L{x + 4},{y - 4}"
                shape = f'<path d="{cross}" stroke="{stroke}" stroke-width="2.2"/>'
            else:
                shape = (
                    f'<circle cx="{x}" cy="{y}" r="4.5" fill="{fill}" stroke="{stroke}" '
                    f'stroke-width="1.6"/>'
                )
            out.append(
                f'<g class="session state-{escape(item.state)}"><title>{escape(tip)}</title>'
                f"{shape}</g>"
            )
        out.append("</g>")
    x_now = x_of(now)
    out.append(
        f'<g class="now"><title>Now</title><line x1="{x_now}" y1="{STRIP_TOP - 6}" x2="{x_now}" '
        f'y2="{bottom}" stroke="#7a4d00" stroke-width="1.5" stroke-dasharray="3 2"/>'
        f'<text x="{x_now + 3}" y="{STRIP_TOP - 2}" fill="#7a4d00" font-size="10">today</text></g>'
    )
    for k in range(7):
        at = t0 + (t1 - t0) * (k / 6)
        x = x_of(at)
        anchor = "end" if k == 6 else "middle"  # the last date must not run off the edge
        out.append(
            f'<text x="{x}" y="{bottom + 17}" text-anchor="{anchor}" fill="#333333">'
            f"{at.astimezone(tz):%d %b}</text>"
        )
    out.append("</svg>")
    return "".join(out)
