"""Reports (issue 19 item 8): the annual performance report of art. 18 (A18.2) in the page, its
printable document and its workbook.

The figures and their rendering are the report code's own (`workflow.reports`): the page shows
the body of the very HTML file ``convalescence report performance`` writes (tables and charts,
escaped by the report's templates), dressed by the console's stylesheet, so the console and
the file can never disagree. The report covers every county, organiser and contractor of the
city, so only the roles that see the whole city read it: the city officer and the auditor.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from workflow.console.documents import body_of, document, download
from workflow.console.session import Viewer
from workflow.console.site import ConsoleDep, NavItem, ViewerDep, render
from workflow.errors import NotFoundError
from workflow.i18n import N_, _
from workflow.plans import service
from workflow.reports import performance_report
from workflow.reports.files import performance_name
from workflow.reports.html import render_performance
from workflow.reports.performance import FIRST_YEAR, LAST_YEAR
from workflow.reports.xlsx import performance_xlsx

router = APIRouter()
REPORT_ROLES = frozenset({"city_officer", "auditor"})
NAV = (NavItem("/reports", N_("绩效报告"), 60, roles=REPORT_ROLES),)


def _reader(viewer: Viewer) -> None:
    if viewer.actor.role not in REPORT_ROLES:
        raise NotFoundError("页面", "reports")


def _year(text: str | None, default: int) -> int:
    """A plan year from the address; anything else is the page of a missing report."""
    text = (text or "").strip()
    if not text:
        return default
    if not (text.isdigit() and len(text) == 4 and FIRST_YEAR <= int(text) <= LAST_YEAR):
        raise NotFoundError("年度报告", text[:8])
    return int(text)


@router.get("/reports", include_in_schema=False)
def report_page(request: Request, console: ConsoleDep, viewer: ViewerDep) -> HTMLResponse:
    _reader(viewer)
    today = console.today()
    problem: str | None = None
    try:
        year = _year(request.query_params.get("year"), today.year)
    except NotFoundError:
        year = today.year
        problem = _("年度应为 {first}–{last} 之间的四位数字").format(
            first=FIRST_YEAR, last=LAST_YEAR
        )
    years = sorted({p["year"] for p in service.list_plans(console.engine)} | {today.year})
    html = render_performance(performance_report(console.engine, year))
    return render(
        request,
        "reports.html",
        viewer=viewer,
        title=_("{year} 年度绩效报告").format(year=year),
        year=year,
        years=years,
        problem=problem,
        report=body_of(html),
    )


def _report_year(text: str, suffix: str) -> int:
    year = text.removesuffix(suffix)
    if not text.endswith(suffix) or not year:
        raise NotFoundError("年度报告", text[:12])
    return _year(year, 0)


@router.get("/reports/performance/{name}", include_in_schema=False)
def report_file(name: str, console: ConsoleDep, viewer: ViewerDep) -> Response:
    """``2024.html``: the printable document; ``2024.xlsx``: the workbook."""
    _reader(viewer)
    if name.endswith(".xlsx"):
        year = _report_year(name, ".xlsx")
        content = performance_xlsx(performance_report(console.engine, year))
        return download(content, performance_name(year, "xlsx"))
    year = _report_year(name, ".html")
    return document(render_performance(performance_report(console.engine, year)))
