"""The roster (issue 19 item 5): the cadre list with search and filters, a cadre's page, and
the upload of an agency's roster file with its per-row error report.

Reads are `workflow.cadre_views`' (the reads behind ``cadres list | search | show`` and
``GET /cadres``), so the console shows exactly what the command line and the API show, in the
viewer's scope (A5.2): a cadre outside it is the page of a missing one. Pages are keyset pages
by cadre id.

An upload goes through the import path of ``cadres import`` (`workflow.roster`): every row is
read and checked before anything is written, and one bad row writes nothing (all or nothing),
the report listing every problem by row and column as the officer's spreadsheet names them.
The console adds what the command line, an administrator's tool, does not need: the uploader
is an officer with a scope, so a row (or a stored cadre it would change) outside that scope is
one more problem of its row, and the change log names the file and the officer (A19.1).
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from workflow.cadre_views import CadrePage, list_cadres, roster_filter, show_cadre
from workflow.clock import shanghai_date
from workflow.console.session import Viewer, check_csrf
from workflow.console.site import Console, ConsoleDep, NavItem, ViewerDep, render
from workflow.console.upload import TooLarge, Uploaded, read_form
from workflow.errors import InputError, NotFoundError
from workflow.i18n import N_, _
from workflow.roster import CheckedRoster, RosterError, RowProblem, check_roster, read_roster
from workflow.roster import write_roster as write_checked
from workflow.roster.readers import Location
from workflow.store import roster as store
from workflow.store.roster import RosterFilter

READERS = frozenset(
    {"city_officer", "county_officer", "agency_officer", "auditor", "contractor_staff"}
)
UPLOADERS = frozenset({"city_officer", "county_officer", "agency_officer"})
NAV = (NavItem("/roster", N_("名册"), 30, roles=READERS),)
PAGE = 50
SUFFIXES = (".csv", ".xlsx", ".json")
TIER_NAMES = {"city": N_("市级"), "county": N_("县级"), "none": N_("无层级")}
RECORD_LABELS = {  # the record's fields as docs/roster-formats.md names them in Chinese
    "id": N_("编号"),
    "name": N_("姓名"),
    "gender": N_("性别"),
    "birth_date": N_("出生日期"),
    "id_card": N_("身份证号"),
    "category": N_("人员类别"),
    "branch": N_("军种"),
    "county": N_("县（市、区）"),
    "agency": N_("军休机构"),
    "placed_on": N_("移交安置日期"),
    "merits": N_("立功"),
    "honours": N_("荣誉"),
    "recommendation": N_("推荐"),
    "health": N_("健康状况"),
    "phone": N_("电话"),
    "family_contact": N_("家属联系人"),
}

router = APIRouter()


def _reader(viewer: Viewer) -> None:
    """Cadres and family members have their own page; the roster is not theirs to browse."""
    if viewer.actor.role not in READERS:
        raise NotFoundError("页面", "roster")


def _clean(text: str | None, most: int = 100) -> str | None:
    cleaned = (text or "").replace("\x00", "").strip()
    return cleaned[:most] or None


def tier_label(tier: str | None) -> str:
    return _(TIER_NAMES[tier]) if tier in TIER_NAMES else (tier or "—")


@router.get("/roster", include_in_schema=False)
def roster_list(request: Request, console: ConsoleDep, viewer: ViewerDep) -> HTMLResponse:
    _reader(viewer)
    query = request.query_params
    shown = {
        "q": _clean(query.get("q")) or "",
        "county": _clean(query.get("county")) or "",
        "agency": _clean(query.get("agency")) or "",
        "tier": _clean(query.get("tier"), 16) or "",
    }
    after = _clean(query.get("after"), 64)
    problem = None
    try:
        found = list_cadres(
            console.engine,
            viewer.actor,
            county=shown["county"] or None,
            agency=shown["agency"] or None,
            tier=shown["tier"] or None,
            text=shown["q"] or None,
            after=after,
            limit=PAGE,
        )
    except InputError as error:  # a tier the rules do not know: said beside the filter
        problem = error.message
        found = CadrePage(items=(), limit=PAGE, next_after=None, examined=0)
    return render(
        request,
        "roster.html",
        viewer=viewer,
        title=_("名册"),
        page=found,
        shown=shown,
        tiers=[(key, _(label)) for key, label in TIER_NAMES.items()],
        tier_label=tier_label,
        fixed=_fixed_scope(console, viewer),
        problem=problem,
        paged=after is not None,
        may_upload=viewer.actor.role in UPLOADERS,
    )


def _fixed_scope(console: Console, viewer: Viewer) -> dict[str, str]:
    """The filters the viewer's scope fixes (shown, not editable)."""
    where = roster_filter(console.engine, viewer.actor)
    fixed = {}
    if where is not None and where.county is not None:
        fixed["county"] = where.county
    if where is not None and where.agency is not None:
        fixed["agency"] = where.agency
    return fixed


@router.get("/roster/upload", include_in_schema=False)
def upload_page(request: Request, viewer: ViewerDep) -> HTMLResponse:
    _uploader(viewer)
    return _upload_page(request, viewer)


@router.get("/roster/{cadre_id}", include_in_schema=False)
def cadre_page(
    request: Request, cadre_id: str, console: ConsoleDep, viewer: ViewerDep
) -> HTMLResponse:
    _reader(viewer)
    if not cadre_id.strip() or len(cadre_id) > 64 or "\x00" in cadre_id:
        raise NotFoundError("军休干部", cadre_id[:64])
    detail = show_cadre(console.engine, viewer.actor, cadre_id)
    decided = detail.explanation.decided_by
    return render(
        request,
        "cadre.html",
        viewer=viewer,
        title=detail.cadre.name,
        detail=detail,
        row=detail.cadre,
        tier=tier_label(detail.cadre.tier),
        why=None if decided is None else decided.message,
        sentences=detail.explanation.sentences(),
        record=_record_lines(detail.record),
    )


def _record_lines(record: Any) -> list[tuple[str, str]]:
    """The masked record's top-level fields as (field, text) lines."""
    if not isinstance(record, dict):
        return []
    lines = []
    for key, value in record.items():
        if isinstance(value, list):
            text = "；".join(_flat(item) for item in value) or "—"
        else:
            text = _flat(value)
        label = RECORD_LABELS.get(str(key))
        lines.append((_(label) if label else str(key), text))
    return lines


def _flat(value: Any) -> str:
    if isinstance(value, dict):
        return "，".join(f"{k} {_flat(v)}" for k, v in value.items() if v not in (None, ""))
    if value is None:
        return "—"
    if isinstance(value, bool):
        return _("是") if value else _("否")
    return str(value)


# -- upload --------------------------------------------------------------------------------


def _uploader(viewer: Viewer) -> None:
    if viewer.actor.role not in UPLOADERS:
        raise NotFoundError("页面", "roster/upload")


def _upload_page(
    request: Request,
    viewer: Viewer,
    *,
    status: int = 200,
    problems: tuple[RowProblem, ...] = (),
    summary: str | None = None,
    error: str | None = None,
    report: Any = None,
) -> HTMLResponse:
    return render(
        request,
        "roster_upload.html",
        viewer=viewer,
        status=status,
        title=_("上传名册"),
        problems=[(p, str(p.location)) for p in problems],
        summary=summary,
        error=error,
        report=report,
    )


@router.post("/roster/upload", include_in_schema=False)
async def upload(request: Request, console: ConsoleDep, viewer: ViewerDep) -> Response:
    try:
        fields, uploaded = await read_form(request)
    except TooLarge:  # nothing was read, so nothing can be written: no token to check
        _uploader(viewer)
        return _upload_page(
            request, viewer, status=413, error=_("文件太大：名册文件不能超过 20 MB")
        )
    check_csrf(viewer, fields)
    _uploader(viewer)
    if uploaded is None or not uploaded.data:
        return _upload_page(request, viewer, status=422, error=_("请选择要上传的名册文件"))
    name = Path(uploaded.filename.replace("\\", "/")).name[:200] or "roster"
    if Path(name).suffix.lower() not in SUFFIXES:
        return _upload_page(
            request,
            viewer,
            status=422,
            error=_("不支持的文件类型“{name}”，应为 .csv、.xlsx 或 .json").format(name=name),
        )
    try:
        report = import_upload(console, viewer, name, uploaded)
    except RosterError as refused:
        return _upload_page(
            request, viewer, status=422, problems=refused.problems, summary=refused.summary
        )
    return _upload_page(request, viewer, report=report)


def import_upload(console: Console, viewer: Viewer, name: str, uploaded: Uploaded) -> Any:
    """Check the whole file, add the rows outside the uploader's scope as problems, and write
    it only if no row has one (`RosterError` otherwise, nothing written)."""
    engine = console.engine
    today = shanghai_date(engine.clock.now())
    with tempfile.TemporaryDirectory(prefix="convalescence-upload-") as folder:
        path = Path(folder) / f"roster{Path(name).suffix.lower()}"
        path.write_bytes(uploaded.data)
        checked = check_roster(path, today=today, shown_as=name, admin=engine.admin_list)
        outside = _outside_scope(console, viewer, path, name, checked)
    problems = checked.problems + outside
    if problems:
        raise RosterError(name, _by_row(problems))
    source = f"{name} · {viewer.actor}"[:500]
    return write_checked(engine, replace(checked, source=source))


def _outside_scope(
    console: Console, viewer: Viewer, path: Path, name: str, checked: CheckedRoster
) -> tuple[RowProblem, ...]:
    """A problem for each good row whose county or agency lies outside the uploader's scope,
    or whose id names a stored cadre outside it (A5.2): an agency officer keeps its own
    agency's roster, never another's."""
    where = roster_filter(console.engine, viewer.actor)
    if where is None:  # cannot happen without filters; read as "nothing is in scope"
        where = RosterFilter(cadre_id="")
    if where.county is None and where.agency is None:
        return ()
    rows = {
        str(row.values.get("id", "")).strip(): row
        for row in read_roster(path, shown_as=name)
        if isinstance(row.values, dict)
    }
    found: list[RowProblem] = []
    with console.engine.transaction() as connection:
        for record in checked.records:
            row = rows.get(record.id)
            location = row.location if row is not None else Location("file")
            for column, wanted, have in (
                ("county", where.county, record.county),
                ("agency", where.agency, record.agency),
            ):
                if wanted is not None and have != wanted:
                    found.append(
                        RowProblem(
                            name,
                            location,
                            row.name_of(column) if row is not None else column,
                            _("“{have}”不在您的权限范围“{scope}”内（A5.2）").format(
                                have=have, scope=wanted
                            ),
                        )
                    )
            stored = store.cadre(connection, record.id, RosterFilter())
            if stored is not None and store.cadre(connection, record.id, where) is None:
                found.append(
                    RowProblem(
                        name,
                        location,
                        "id",
                        _("编号 {id} 的军休干部不在您的权限范围内，不能由您更改（A5.2）").format(
                            id=record.id
                        ),
                    )
                )
    return tuple(found)


def _by_row(problems: tuple[RowProblem, ...]) -> tuple[RowProblem, ...]:
    """Problems in file order (the whole file's first), each row's together."""

    def key(problem: RowProblem) -> tuple[int, int]:
        number = problem.location.number
        return (0 if number is None else 1, number or 0)

    return tuple(sorted(problems, key=key))
