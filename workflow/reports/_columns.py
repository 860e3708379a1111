"""The columns of each table, declared once for the HTML and the XLSX renderers, so a column
added to one cannot be forgotten in the other. ``kind`` tells each renderer how to format:
``count`` whole numbers, ``rate`` a fraction shown as a percentage, ``mean`` two decimals,
``text`` as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from workflow.reports._model import Figures, VisitEntry

Kind = Literal["count", "rate", "mean", "text", "date"]


@dataclass(frozen=True)
class Column:
    header: str
    kind: Kind
    value: Callable[[Any], Any]
    width: int = 10  # XLSX column width in characters


def figure_columns(breakdown: str, articles: Sequence[str]) -> list[Column]:
    """A breakdown's columns; batches and capacity only where the breakdown owns batches, the
    contractor's evaluation score only for contractors (A18.3), one column per article that
    some exception of the report cites."""
    columns = [Column(_NAME[breakdown], "text", _label, 26)]
    if breakdown != "county":
        columns += [
            Column("批次 batches", "count", lambda f: f.batches),
            Column("名额 seats", "count", lambda f: f.capacity),
        ]
    columns += [
        Column("计划 planned", "count", lambda f: f.planned),
        Column("参加 attended", "count", lambda f: f.attended),
        Column("完成率 completion", "rate", lambda f: f.completion_rate, 12),
        Column("评价 evaluated", "count", lambda f: f.evaluated),
        Column("满意度 satisfaction", "mean", lambda f: f.mean_satisfaction, 12),
    ]
    if breakdown != "county":  # planned cadres over the seats offered
        columns.append(Column("名额利用率 seat use", "rate", lambda f: f.seat_utilisation, 12))
    columns += [
        Column(f"例外 {article}", "count", _exceptions_of(article), 10) for article in articles
    ]
    columns += [
        Column("慰问应访 visits due", "count", lambda f: f.visits.due, 12),
        Column("已访 done", "count", lambda f: f.visits.done),
        Column("按时 on time", "count", lambda f: f.visits.on_time),
        Column("逾期 overdue", "count", lambda f: f.visits.overdue),
        Column("按时率 on-time rate", "rate", lambda f: f.visits.on_time_rate, 12),
    ]
    if breakdown == "contractor":
        columns += [
            Column("累计评分 standing (A18.3)", "mean", lambda f: f.standing_score, 12),
            Column("评分 score (A18.3)", "mean", lambda f: f.contractor_score, 12),
        ]
    return columns


def _label(figures: Figures) -> str:
    """A contractor below the A18.3 exit line is marked where its name is read."""
    if figures.below_exit_line:
        return f"⚠ {figures.label}（低于退出线 below exit line）"
    return figures.label


_NAME = {
    "organiser": "组织单位 organiser",
    "county": "区县 county",
    "contractor": "承办单位 contractor",
    "total": "合计 total",
}


def _exceptions_of(article: str) -> Callable[[Figures], int]:
    return lambda f: f.exceptions.get(article, 0)


BUDGET_COLUMNS: list[Column] = [
    Column("计划 plan", "text", lambda b: b.label, 26),
    Column("计划预算 plan budget", "mean", lambda b: b.budget, 14),
    Column("批次 batches", "count", lambda b: b.batches),
    Column("批次预算 batch budgets", "mean", lambda b: b.batch_budget, 14),
    Column("已登记实际费用 costed", "count", lambda b: b.costed_batches, 12),
    Column("实际费用 actual (A16.1)", "mean", lambda b: b.actual_recorded, 14),
    Column("支出比例 spent", "rate", lambda b: b.share_spent, 10),
]


ROSTER_COLUMNS: list[Column] = [
    Column("案件 case", "count", lambda e: e.case_id, 8),
    Column("姓名 name", "text", lambda e: e.name, 12),
    Column("身份证号 ID no.", "text", lambda e: e.id_card, 22),
    Column("区县 county", "text", lambda e: e.county, 12),
    Column("军休机构 agency", "text", lambda e: e.agency, 20),
    Column("状态 state", "text", lambda e: e.state_label, 16),
    Column("协议编号 agreement", "text", lambda e: e.agreement_no, 16),
    Column("保险公司 insurer", "text", lambda e: e.insurer, 20),
    Column("保单号 policy", "text", lambda e: e.policy_no, 16),
]


def visit_columns(today: date) -> list[Column]:
    """The visit list's columns; ``today`` decides which unvisited tasks are overdue."""

    def on_time(entry: VisitEntry) -> str:
        if entry.on_time is None:
            return "逾期 overdue" if entry.overdue(today) else ""
        return "按时 on time" if entry.on_time else "迟 late"

    return [
        Column("案件 case", "count", lambda e: e.case_id, 8),
        Column("姓名 name", "text", lambda e: e.name, 12),
        Column("区县 county", "text", lambda e: e.county, 12),
        Column("军休机构 agency", "text", lambda e: e.agency, 20),
        Column("周期 cycle", "text", lambda e: e.cycle, 10),
        Column("状态 state", "text", lambda e: e.state_label, 12),
        Column("应访截止 due", "date", lambda e: e.due_on, 12),
        Column("走访人 visited by", "text", lambda e: e.visited_by, 14),
        Column("走访日期 visited on", "date", lambda e: e.visited_on, 12),
        Column("按时 on time", "text", on_time, 12),
    ]
