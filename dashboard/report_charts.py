"""The outcomes chart of the reports page: PHQ-9 response and remission rates per protocol and
indication, as a server-rendered SVG (same approach as ``dashboard/charts.py``: pure, no
JavaScript, no chart library; ``role="img"`` with a ``<title>`` and a ``<desc>``, a ``<title>``
per bar, and the page shows the same numbers as a table).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH = 720
ROW_HEIGHT = 60
MARGIN_LEFT = 12
MARGIN_RIGHT = 110
MARGIN_TOP = 34
AXIS_HEIGHT = 30
LABEL_CHARS = 95  # ≈ the chart width at 12 px; the table below has the full names
# WCAG AA contrast (≥ 3:1 for graphics) on white, as in dashboard/charts.py
RESPONSE_COLOUR = "#1f4e9c"
REMISSION_COLOUR = "#2f6b3a"


@dataclass(frozen=True, slots=True)
class RateRow:
    label: str
    evaluable: int
    responders: int
    remitters: int

    @property
    def response(self) -> float | None:
        return self.responders / self.evaluable if self.evaluable else None

    @property
    def remission(self) -> float | None:
        return self.remitters / self.evaluable if self.evaluable else None


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.0f} %"


def render_rates_chart(rows: Sequence[RateRow], *, title: str = "PHQ-9 outcomes") -> str:
    height = MARGIN_TOP + max(len(rows), 1) * ROW_HEIGHT + AXIS_HEIGHT
    plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    desc = (
        "; ".join(
            f"{r.label}: response {_pct(r.response)} ({r.responders}/{r.evaluable}), remission "
            f"{_pct(r.remission)} ({r.remitters}/{r.evaluable})"
            for r in rows
        )
        or "No course with a baseline and a later PHQ-9 in the selection."
    )
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="outcomes-chart" '
        f'viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
        f'aria-labelledby="oc-title oc-desc">',
        f'<title id="oc-title">{escape(title)}: response and remission rates</title>',
        f'<desc id="oc-desc">{escape(desc)}</desc>',
        f'<g class="legend" font-size="12"><rect x="{MARGIN_LEFT}" y="8" width="12" height="12" '
        f'fill="{RESPONSE_COLOUR}"/><text x="{MARGIN_LEFT + 16}" y="18">Response (≥ 50 % drop)'
        f'</text><rect x="{MARGIN_LEFT + 180}" y="8" width="12" height="12" '
        f'fill="{REMISSION_COLOUR}"/><text x="{MARGIN_LEFT + 196}" y="18">Remission (PHQ-9 &lt; 5)'
        "</text></g>",
    ]
    for i, r in enumerate(rows):
        y = MARGIN_TOP + i * ROW_HEIGHT
        label = f"{r.label} (n={r.evaluable})"
        room = LABEL_CHARS - len(f" (n={r.evaluable})")
        short = label if len(label) <= LABEL_CHARS else f"{r.label[: room - 1]}… (n={r.evaluable})"
        out.append(  # the label on its own line (protocol names are long); full text in <title>
            f'<text x="{MARGIN_LEFT}" y="{y + 12}" font-size="12" font-weight="bold">'
            f"<title>{escape(label)}</title>{escape(short)}</text>"
        )
        for j, (value, n, colour, name) in enumerate(
            (
                (r.response, r.responders, RESPONSE_COLOUR, "response"),
                (r.remission, r.remitters, REMISSION_COLOUR, "remission"),
            )
        ):
            bar_y = y + 20 + j * 17
            w = 0 if value is None else round(plot_w * value, 1)
            out.append(
                f'<rect class="bar bar-{name}" x="{MARGIN_LEFT}" y="{bar_y}" width="{w}" '
                f'height="14" fill="{colour}"><title>{escape(r.label)} {name}: {_pct(value)} '
                f"({n}/{r.evaluable})</title></rect>"
                f'<text x="{MARGIN_LEFT + w + 4}" y="{bar_y + 11}" font-size="11">'
                f"{_pct(value)} ({n}/{r.evaluable})</text>"
            )
    axis_y = MARGIN_TOP + max(len(rows), 1) * ROW_HEIGHT
    out.append(
        f'<line x1="{MARGIN_LEFT}" y1="{axis_y}" x2="{MARGIN_LEFT + plot_w}" y2="{axis_y}" '
        'stroke="#555"/>'
    )
    for tick in (0, 25, 50, 75, 100):
        x = MARGIN_LEFT + plot_w * tick / 100
        out.append(
            f'<line x1="{x}" y1="{axis_y}" x2="{x}" y2="{axis_y + 5}" stroke="#555"/>'
            f'<text x="{x}" y="{axis_y + 18}" text-anchor="middle" font-size="11">{tick} %</text>'
        )
    out.append("</svg>")
    return "".join(out)
