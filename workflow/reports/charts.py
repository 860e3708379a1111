"""Bar charts as geometry, for the HTML report to draw as inline SVG.

The report must open offline, print the same on any machine and pass through a mail gateway
that strips scripts, so charts are computed here on the server (no JavaScript, no CDN). This
module only does arithmetic; the template writes the SVG, so every label an officer typed is
escaped by Jinja2's autoescaping like the rest of the page.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

LABEL_WIDTH = 190  # room for "县级 county · 东昌府区"
PLOT_WIDTH = 360
VALUE_WIDTH = 70
BAR_HEIGHT = 14
GROUP_GAP = 10
LEGEND_HEIGHT = 26
AXIS_HEIGHT = 18  # room under the bars for the scale's tick labels
COLOURS = ("#1f4e79", "#8fb8de", "#c55a11")  # dark, light, accent: distinct in greyscale print


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    fill: str
    title: str  # tooltip and screen-reader text: "series: value"
    value: str  # printed at the end of the bar
    value_x: float


@dataclass(frozen=True)
class Label:
    x: float
    y: float
    text: str
    anchor: str = "end"


@dataclass(frozen=True)
class LegendItem:
    x: float
    y: float
    fill: str
    text: str


@dataclass(frozen=True)
class Tick:
    """A mark of the value axis: a grid line across the plot and its value under it."""

    x: float
    text: str


@dataclass(frozen=True)
class Marker:
    """A reference value drawn across every group (the A18.3 exit line), with its label."""

    x: float
    text: str


@dataclass(frozen=True)
class Chart:
    title: str
    width: int
    height: int
    bars: tuple[Bar, ...]
    labels: tuple[Label, ...]
    legend: tuple[LegendItem, ...]
    axis_x: float
    axis_top: float
    axis_bottom: float
    ticks: tuple[Tick, ...] = ()
    axis_label: str = ""  # what the value axis measures, printed under the ticks
    marker: Marker | None = None


def nice_step(top: float, most: int = 5) -> float:
    """A tick step of 1, 2 or 5 times a power of ten giving at most ``most`` steps to ``top``."""
    if top <= 0:
        return 1.0
    raw = top / most
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if factor * power >= raw:
            return float(factor * power)
    return float(10 * power)  # pragma: no cover - the loop always returns


def drop_empty(
    rows: Sequence[tuple[str, Sequence[float | None]]],
) -> list[tuple[str, Sequence[float | None]]]:
    """Rows with something to draw: a row whose every value is 0 or missing (0 planned, 0
    attended) says nothing a bar could show, and the tables keep it."""
    return [(label, values) for label, values in rows if any(v for v in values)]


def bar_chart(
    title: str,
    rows: Sequence[tuple[str, Sequence[float | None]]],
    series: Sequence[str],
    *,
    scale_max: float | None = None,
    fmt: Callable[[float], str] = lambda v: f"{v:g}",
    axis_label: str = "",
    marker: tuple[float, str] | None = None,
) -> Chart:
    """Horizontal grouped bars: one group per row, one bar per series.

    ``scale_max`` fixes the full width (5 for satisfaction, 1 for a rate) so charts of the same
    measure compare across reports; by default the largest value fills it. A missing value (no
    rate where nothing was planned) draws no bar and prints "—".
    """
    values = [v for _, vs in rows for v in vs if v is not None]
    top = scale_max if scale_max is not None else max(values, default=0.0)
    step = nice_step(top)
    if scale_max is None and top > 0:
        top = math.ceil(top / step) * step  # the scale ends on a tick
    group_height = len(series) * BAR_HEIGHT + GROUP_GAP
    plot_bottom = LEGEND_HEIGHT + max(len(rows), 1) * group_height
    height = plot_bottom + AXIS_HEIGHT + (14 if axis_label else 0) + 4
    bars: list[Bar] = []
    labels: list[Label] = []
    for index, (label, row_values) in enumerate(rows):
        y0 = LEGEND_HEIGHT + index * group_height
        labels.append(Label(LABEL_WIDTH - 6, y0 + len(series) * BAR_HEIGHT / 2 + 4, label))
        for position, (name, value) in enumerate(zip(series, row_values, strict=True)):
            width = (value / top * PLOT_WIDTH) if value and top else 0.0
            shown = "—" if value is None else fmt(value)
            bars.append(
                Bar(
                    x=LABEL_WIDTH,
                    y=y0 + position * BAR_HEIGHT,
                    width=round(min(width, PLOT_WIDTH), 1),
                    height=BAR_HEIGHT - 2,
                    fill=COLOURS[position % len(COLOURS)],
                    title=f"{label} · {name}: {shown}",
                    value=shown,
                    value_x=LABEL_WIDTH + round(min(width, PLOT_WIDTH), 1) + 4,
                )
            )
    legend = tuple(
        LegendItem(LABEL_WIDTH + i * 130, 6, COLOURS[i % len(COLOURS)], name)
        for i, name in enumerate(series)
    )
    ticks = []
    if top > 0:
        count = round(top / step)
        ticks = [
            Tick(round(LABEL_WIDTH + i * step / top * PLOT_WIDTH, 1), fmt(i * step))
            for i in range(count + 1)
        ]
    drawn = None
    if marker is not None and top > 0:
        value, text = marker
        drawn = Marker(round(LABEL_WIDTH + min(value / top, 1) * PLOT_WIDTH, 1), text)
    return Chart(
        title=title,
        width=LABEL_WIDTH + PLOT_WIDTH + VALUE_WIDTH,
        height=int(height),
        bars=tuple(bars),
        labels=tuple(labels),
        legend=legend,
        axis_x=LABEL_WIDTH,
        axis_top=LEGEND_HEIGHT - 4,
        axis_bottom=plot_bottom,
        ticks=tuple(ticks),
        axis_label=axis_label,
        marker=drawn,
    )
