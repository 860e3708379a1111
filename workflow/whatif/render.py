"""The what-if as files: a self-contained HTML page in the reports' style and a workbook.

Both reuse the reports' machinery (`workflow.reports.html`'s environment, `_base.html.j2` and
its table macro; `workflow.reports.xlsx`'s sheets, which keep user text from becoming formulas),
with the columns declared once below for both. Headers are bilingual like the other reports,
since the file is passed round an office and filed. The HTML lists at most `HTML_ROWS` cadres
and cases (a page of 100,000 rows helps nobody); the workbook and ``--json`` hold every one.
"""

from __future__ import annotations

from typing import Any

from workflow.reports import xlsx
from workflow.reports._columns import Column
from workflow.reports.html import environment
from workflow.whatif.model import CadreChange, CaseOutcome, WhatIfReport, level_label, tier_label

HTML_ROWS = 500


def _why(change: CadreChange) -> str:
    return "；".join(r.describe() for r in change.why)


def _steps(case: CaseOutcome) -> str:
    if case.problem is not None:
        return case.problem
    return "；".join(
        f"{step.trigger}: {guard.rule}（{guard.article}）{guard.message or ''}"
        + ("" if guard.new else " [现行版本同样拒绝 also refused now]")
        for step in case.steps
        for guard in step.refusals
    )


TIER_COLUMNS = [
    Column("层级 tier", "text", lambda t: tier_label(t.tier), 14),
    Column("现行 current", "count", lambda t: t.before, 12),
    Column("草案 draft", "count", lambda t: t.after, 12),
    Column("变化 change", "count", lambda t: t.difference, 12),
]
ELIGIBILITY_COLUMNS = [
    Column("现行符合 eligible now", "count", lambda r: r.before, 14),
    Column("草案符合 eligible under draft", "count", lambda r: r.after, 14),
    Column("新增 gain", "count", lambda r: r.gained),
    Column("失去 lose", "count", lambda r: r.lost),
    Column("仍符合、层级变化 tier moved", "count", lambda r: r.tier_moved, 14),
]
ARTICLE_COLUMNS = [
    Column("条款 article", "text", lambda a: a.clause, 10),
    Column("规则 rule", "text", lambda a: a.rule, 28),
    Column("内容 what", "text", lambda a: a.label, 48),
    Column("改为不满足 now fails", "count", lambda a: a.now_fails, 12),
    Column("改为满足 now passes", "count", lambda a: a.now_passes, 12),
    Column("草案删去 dropped", "count", lambda a: a.removed, 12),
    Column("草案新增 added", "count", lambda a: a.added, 12),
    Column("决定资格变化 decisive", "count", lambda a: a.decisive, 14),
]
CHANGE_COLUMNS = [
    Column("编号 cadre", "text", lambda c: c.cadre_id, 14),
    Column("姓名 name", "text", lambda c: c.name, 10),
    Column("区县 county", "text", lambda c: c.county, 10),
    Column("层级 tier", "text", lambda c: c.tiers, 14),
    Column("变化 change", "text", lambda c: c.kind_label, 12),
    Column("条款 articles", "text", lambda c: "、".join(c.articles), 14),
    Column("原因 why (draft)", "text", _why, 80),
]
CASE_RULE_COLUMNS = [
    Column("步骤 step", "text", lambda r: r.trigger, 14),
    Column("规则 rule", "text", lambda r: r.rule, 28),
    Column("条款 article", "text", lambda r: r.article, 10),
    Column("拒绝 refused", "count", lambda r: r.refused, 10),
    Column("其中新增 new", "count", lambda r: r.new, 10),
    Column("无法判断 not judged", "count", lambda r: r.unjudged, 12),
    Column("需办理时的数据 needs", "text", lambda r: "、".join(r.needs) or "—", 30),
]
CASE_COLUMNS = [
    Column("案件 case", "count", lambda c: c.case_id, 8),
    Column("编号 cadre", "text", lambda c: c.cadre_id, 14),
    Column("姓名 name", "text", lambda c: c.cadre_name, 10),
    Column("区县 county", "text", lambda c: c.county, 10),
    Column("版本 version", "count", lambda c: c.version, 8),
    Column("状态 state", "text", lambda c: c.state, 16),
    Column("草案状态 draft state", "text", lambda c: c.draft_state or "—", 16),
    Column("被拒绝 refused by", "text", _steps, 90),
]


def render_html(report: WhatIfReport, rows: int = HTML_ROWS) -> str:
    return (
        environment()
        .get_template("whatif.html.j2")
        .render(
            report=report,
            policy=report.draft,
            generated_at=report.generated_at,
            rows=rows,
            tier_columns=TIER_COLUMNS,
            eligibility_columns=ELIGIBILITY_COLUMNS,
            plan_levels="、".join(
                dict.fromkeys(
                    level_label(level)
                    for level in (report.eligibility.level_before, report.eligibility.level_after)
                )
            ),
            article_columns=ARTICLE_COLUMNS,
            change_columns=CHANGE_COLUMNS,
            case_rule_columns=CASE_RULE_COLUMNS,
            case_columns=CASE_COLUMNS,
            moves=[
                f"{tier_label(before)} → {tier_label(after)}: {count}"
                for before, after, count in report.tier_moves
            ],
        )
    )


def _facts(report: WhatIfReport) -> list[tuple[str, Any, str]]:
    facts: list[tuple[str, Any, str]] = [("日期 on", report.on, "date")]
    for label, version in (("现行 current", report.current), ("草案 draft", report.draft)):
        facts += [
            (f"{label}", f"{version.name} v{version.version}（{version.source}）", "text"),
            (f"{label} 文号 document", version.document, "text"),
            (f"{label} 有效期 window", version.window, "text"),
            (f"{label} 当日有效 in force", "是 yes" if version.in_force else "否 no", "text"),
        ]
    facts += [(f"提示 notice {n}", text, "text") for n, text in enumerate(report.notices, 1)]
    facts += [
        ("名册人数 cadres", report.roster, "count"),
        ("资格变化 cadres changed", len(report.changes), "count"),
        ("在办案件 open cases", report.open_cases, "count"),
        ("按草案会被拒绝 refused under the draft", report.refused_cases, "count"),
        ("有无法判断的守卫 with guards not judged", report.unjudged_cases, "count"),
    ]
    return facts


def render_xlsx(report: WhatIfReport) -> bytes:
    """A summary sheet, then one sheet per table, every cadre and case included."""
    book = xlsx._new_book()
    xlsx._facts_sheet(book, "概要 Summary", _facts(report))
    tables: list[tuple[str, list[Column], tuple[Any, ...]]] = [
        ("层级 Tiers", TIER_COLUMNS, report.tiers),
        ("资格 Eligibility", ELIGIBILITY_COLUMNS, (report.eligibility,)),
        ("条款 Articles", ARTICLE_COLUMNS, report.articles),
        ("干部 Cadres", CHANGE_COLUMNS, report.changes),
        ("案件规则 Case rules", CASE_RULE_COLUMNS, report.case_rules),
        ("案件 Cases", CASE_COLUMNS, report.cases),
    ]
    for title, columns, rows in tables:
        xlsx._sheet(book, title, columns, rows)
    return xlsx._bytes(book)
