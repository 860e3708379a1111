"""HTML rendering: one self-contained file per report (inline CSS for print, inline SVG charts),
so it opens offline, can be mailed or archived as it is, and prints on A4.

The templates are ours and the data comes from our own database, so a plain `Environment` is
enough (the sandbox in `notifications.render` guards templates officers may edit); it still
autoescapes, since cadre names, places and contacts were typed by people, and uses
`StrictUndefined` so a misspelt field fails the test suite instead of printing a blank.
The output is also well-formed XML (self-closed void tags, no named entities), which the tests
check with a strict parser.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from workflow.reports._columns import (
    BUDGET_COLUMNS,
    ROSTER_COLUMNS,
    figure_columns,
    visit_columns,
)
from workflow.reports._model import BatchRoster, Figures, PerformanceReport, VisitList
from workflow.reports.charts import Chart, bar_chart, drop_empty

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
MISSING = "—"


def _cell(value: Any, kind: str) -> str:
    """One table cell as text: a missing value is a dash, never "None" or an empty cell."""
    if value is None:
        return MISSING
    if kind == "rate":
        return f"{value:.1%}"
    if kind == "mean":
        return f"{value:.2f}"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _moment(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M")


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=False,
        keep_trailing_newline=True,
    )
    env.filters["cell"] = _cell
    env.filters["moment"] = _moment
    return env


def performance_charts(report: PerformanceReport) -> list[Chart]:
    """Planned vs attended for each breakdown, satisfaction and the A18.3 standing (with its
    exit line) per contractor, visits per county. A row with nothing to draw (0 planned, 0
    attended) is left out of a chart; the tables keep it."""
    series = ("计划 planned", "参加 attended")
    charts = []
    for _, title, rows in report.breakdowns():
        drawn = drop_empty([(f.label, (f.planned, f.attended)) for f in rows])
        if drawn:
            charts.append(
                bar_chart(
                    f"计划与参加 Planned vs attended · {title.split(' ', 1)[0]}",
                    drawn,
                    series,
                    axis_label="人数 cadres",
                )
            )
    scored = drop_empty([(f.label, (f.mean_satisfaction,)) for f in report.by_contractor])
    if scored:
        charts.append(
            bar_chart(
                "满意度 Mean satisfaction (1–5) · 承办单位",
                scored,
                ("满意度 satisfaction",),
                scale_max=5,
                fmt=_score,
                axis_label="平均分 mean score, 1–5 (A18.1)",
            )
        )
    standing = drop_empty([(_flagged(f), (f.standing_score,)) for f in report.by_contractor])
    if standing:
        lines = {f.exit_threshold for f in report.by_contractor if f.exit_threshold is not None}
        line = lines.pop() if len(lines) == 1 else None  # one line for all, else none drawn
        charts.append(
            bar_chart(
                "承办单位评分 Contractor score (A18.3)",
                standing,
                ("累计平均分 mean of all evaluations",),
                scale_max=100,
                fmt=lambda v: f"{v:.0f}",
                axis_label="评分 score, 0–100",
                marker=None if line is None else (line, f"退出线 exit {line:g}"),
            )
        )
    visited = drop_empty(
        [(f.label, (f.visits.due, f.visits.on_time)) for f in report.by_county if f.visits.due]
    )
    if visited:
        charts.append(
            bar_chart(
                "慰问走访 Condolence visits · 区县",
                visited,
                ("应访 due", "按时 on time"),
                axis_label="走访任务 visits",
            )
        )
    return charts


def _score(value: float) -> str:
    """A tick's whole number as it is, a mean to two places."""
    return f"{value:g}" if value == int(value) else f"{value:.2f}"


def _flagged(figures: Figures) -> str:
    return f"⚠ {figures.label}" if figures.below_exit_line else figures.label


def render_performance(report: PerformanceReport) -> str:
    columns = {key: figure_columns(key, report.articles) for key, _, _ in report.breakdowns()}
    return (
        environment()
        .get_template("performance.html.j2")
        .render(
            report=report,
            total=report.total,
            policy=report.policy,
            generated_at=report.generated_at,
            columns=columns,
            budget_columns=BUDGET_COLUMNS,
            charts=performance_charts(report) if not report.empty else [],
        )
    )


def render_roster(roster: BatchRoster) -> str:
    return (
        environment()
        .get_template("roster.html.j2")
        .render(
            roster=roster,
            policy=roster.policy,
            generated_at=roster.generated_at,
            columns=ROSTER_COLUMNS,
        )
    )


def render_visits(visits: VisitList) -> str:
    return (
        environment()
        .get_template("visits.html.j2")
        .render(
            visits=visits,
            policy=visits.policy,
            generated_at=visits.generated_at,
            columns=visit_columns(visits.as_of),
        )
    )
