"""XLSX rendering with openpyxl, for officers who sort, filter and sum the figures themselves.

Cells hold numbers, not formatted text: a rate is the fraction 0.8 with the format ``0.0%``, a
mean the float with ``0.00``, so a formula over a column works. Each table is its own sheet
with a bold header row frozen in place; a missing value (no rate where nothing was planned) is
an empty cell, which spreadsheet functions skip, rather than a dash they would choke on.

Text is always a string cell: names, places and references come from users, and openpyxl would
store a value starting with ``=`` as a live formula (``=HYPERLINK(…)``, ``=cmd|'/C calc'!A0``).
Every text cell is written as a string; one starting the way a formula or DDE call may
(``= + - @``, tab, CR) also gets Excel's quote prefix, so editing the cell keeps it text.
Control characters XML cannot hold are replaced, never a crash.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from io import BytesIO
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE as _ILLEGAL
from openpyxl.cell.cell import Cell
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter

from workflow.reports._columns import ROSTER_COLUMNS, Column, figure_columns, visit_columns
from workflow.reports._model import BatchRoster, PerformanceReport, VisitList

FORMATS = {"count": "0", "rate": "0.0%", "mean": "0.00", "date": "yyyy-mm-dd", "text": "@"}
HEADER_FONT = Font(bold=True)
HEADER_FILL = PatternFill("solid", fgColor="E8EEF5")
TOTAL_FONT = Font(bold=True)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


def _put(sheet: Any, row: int, column: int, value: Any) -> Cell:
    """One cell; text stays text (see the module's docstring)."""
    if not isinstance(value, str):
        cell: Cell = sheet.cell(row=row, column=column, value=value)
        return cell
    text = _ILLEGAL.sub("\ufffd", value)
    cell = sheet.cell(row=row, column=column, value=text)
    cell.data_type = "s"  # openpyxl made '=…' a formula and '#N/A' an error
    if text.startswith(FORMULA_STARTS):
        cell.quotePrefix = True
    return cell


def _sheet(
    book: Workbook,
    title: str,
    columns: Sequence[Column],
    rows: Iterable[Any],
    *,
    total: Any = None,
) -> None:
    sheet = book.create_sheet(title)
    for index, column in enumerate(columns, start=1):
        cell = _put(sheet, 1, index, column.header)
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
        sheet.column_dimensions[get_column_letter(index)].width = column.width + 2
    written = list(rows)
    for offset, row in enumerate(written):
        _write_row(sheet, offset + 2, columns, row)
    if total is not None:
        _write_row(sheet, len(written) + 2, columns, total, font=TOTAL_FONT)
    sheet.freeze_panes = "A2"


def _write_row(
    sheet: Any, line: int, columns: Sequence[Column], row: Any, *, font: Font | None = None
) -> None:
    for index, column in enumerate(columns, start=1):
        cell = _put(sheet, line, index, column.value(row))
        if column.kind != "text":
            cell.number_format = FORMATS[column.kind]
        if font is not None:
            cell.font = font


def _facts_sheet(book: Workbook, title: str, facts: Sequence[tuple[str, Any, str]]) -> None:
    """A two-column sheet of (item, value) with each value in its own number format."""
    sheet = book.create_sheet(title)
    for index, header in enumerate(("项目 item", "数值 value"), start=1):
        cell = _put(sheet, 1, index, header)
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
    for line, (label, value, kind) in enumerate(facts, start=2):
        _put(sheet, line, 1, label)
        cell = _put(sheet, line, 2, value)
        if kind != "text":
            cell.number_format = FORMATS[kind]
    sheet.column_dimensions["A"].width = 36
    sheet.column_dimensions["B"].width = 48
    sheet.freeze_panes = "A2"


def _new_book() -> Workbook:
    """A workbook without openpyxl's default empty "Sheet"."""
    book = Workbook()
    for sheet in list(book.worksheets):
        book.remove(sheet)
    return book


def _bytes(book: Workbook) -> bytes:
    book.active = 0
    buffer = BytesIO()
    book.save(buffer)
    return buffer.getvalue()


SUMMARY_SHEET = "概要 Summary"
SHEETS = {
    "organiser": "组织单位 By organiser",
    "county": "区县 By county",
    "contractor": "承办单位 By contractor",
}


def performance_xlsx(report: PerformanceReport) -> bytes:
    """A summary sheet, then one sheet per breakdown, each ending with the year's total row."""
    total = report.total
    book = _new_book()
    facts: list[tuple[str, Any, str]] = [
        ("年度 year", report.year, "count"),
        ("依据 policy", f"{report.policy.title}（{report.policy.document}）第十八条 A18.2", "text"),
        ("统计截至 as of", report.as_of, "date"),
        ("计划数 plans", report.plans, "count"),
        ("批次 batches", total.batches, "count"),
        ("名额 seats", total.capacity, "count"),
        ("计划人数 planned", total.planned, "count"),
        ("参加人数 attended", total.attended, "count"),
        ("完成率 completion rate", total.completion_rate, "rate"),
        ("评价数 evaluated", total.evaluated, "count"),
        ("满意度 mean satisfaction", total.mean_satisfaction, "mean"),
        *((f"例外 exceptions {a}", n, "count") for a, n in total.exceptions.items()),
        ("慰问应访 visits due", total.visits.due, "count"),
        ("慰问已访 visits done", total.visits.done, "count"),
        ("慰问按时 visits on time", total.visits.on_time, "count"),
        ("慰问逾期 visits overdue", total.visits.overdue, "count"),
        ("慰问按时率 on-time rate", total.visits.on_time_rate, "rate"),
    ]
    _facts_sheet(book, SUMMARY_SHEET, facts)
    for key, _, rows in report.breakdowns():
        _sheet(book, SHEETS[key], figure_columns(key, report.articles), rows, total=total)
    return _bytes(book)


def roster_xlsx(roster: BatchRoster) -> bytes:
    """The roster sheet first (what is printed), then the batch's facts."""
    book = _new_book()
    _sheet(book, "名单 Roster", ROSTER_COLUMNS, roster.entries)
    _facts_sheet(book, "批次 Batch", _roster_facts(roster))
    return _bytes(book)


def _roster_facts(roster: BatchRoster) -> list[tuple[str, Any, str]]:
    def contacts(people: Iterable[Any]) -> str:
        return "；".join(f"{p.get('name', '')} {p.get('phone', '')}".strip() for p in people)

    return [
        ("批次 batch", roster.batch_id, "count"),
        ("计划 plan", roster.plan_id, "count"),
        ("组织单位 organiser", roster.organiser, "text"),
        ("开始 start", roster.start_date, "date"),
        ("结束 end", roster.end_date, "date"),
        ("省份 province", roster.province, "text"),
        ("目的地 place", roster.place, "text"),
        ("承办单位 contractor", roster.contractor, "text"),
        ("承办协议 agreement", roster.contractor_agreement_no, "text"),
        ("名额 capacity", roster.capacity, "count"),
        ("已安排 seated", roster.seats_taken, "count"),
        ("工作人员 staff", roster.staff_count, "count"),
        ("安全预案 safety plan", roster.safety_plan_ref, "text"),
        ("应急预案 emergency plan", roster.emergency_plan_ref, "text"),
        ("组织方联系人 organiser contacts", contacts(roster.organiser_contacts), "text"),
        ("承办方联系人 contractor contacts", contacts(roster.contractor_contacts), "text"),
    ]


def visits_xlsx(visits: VisitList) -> bytes:
    book = _new_book()
    _sheet(book, "慰问 Visits", visit_columns(visits.as_of), visits.entries)
    return _bytes(book)
