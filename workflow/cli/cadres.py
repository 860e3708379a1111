"""``convalescence cadres``: import an agency roster (JSON, CSV or XLSX) into the cadre table,
read it (``list``, ``show``, ``search``, issue 19 item 5) and record a cadre unable to take part.

The command is a shell over `workflow.roster.import_roster`. It renders a `RosterError` itself
instead of leaving it to the group's error boundary, for one reason: an officer fixes a roster
with the file open beside the terminal, so every problem gets its own ``FILE:ROW: field: reason``
line (greppable, one per problem) and ``--json`` carries the same list, which the generic
one-message rendering of the boundary cannot show. The exit status is still the error's own.

The reads take ``--as ROLE:NAME@SCOPE`` like the plans reads: a county officer reads its county's
cadres, an agency officer its agency's (A5.2), through `workflow.cadre_views`; pages go by cadre
id (``--after`` the last id shown), and the next page's command is printed under each page.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.text import Text

from workflow.cli import output
from workflow.cli.cases import parse_actor
from workflow.cli.db import open_engine
from workflow.i18n import N_, _, ngettext
from workflow.machine import Actor
from workflow.roster import ImportReport, RosterError, RowProblem, import_roster

if TYPE_CHECKING:
    from workflow.cadre_views import CadreDetail, CadrePage
    from workflow.roster.importer import Progress as RosterProgress
    from workflow.roster.importer import ProgressHook


@click.group(help=_("军休干部名册：导入各军休机构交来的名册文件，查看、查找干部，登记无法参加。"))
def cadres() -> None:
    """The roster commands (help above, through the catalogue)."""


@cadres.command(
    "import",
    help=_(
        "导入名册文件 FILE（.json、.jsonl、.csv 或 .xlsx，格式见 docs/roster-formats.md）。\n\n"
        "先检查每一行；新干部新建、有变化的更新、相同的不动，在一个事务内完成，"
        "每项变更记入该干部的变更记录。问题逐行输出，格式为 文件:行: 字段: 原因。"
        "CSV 可为 UTF-8 或 GB18030（中文 Excel 的“CSV（逗号分隔）”）编码，输出中注明所用编码。"
        "文件逐行读取，再大也不会占满内存；在终端上，标准错误输出显示进度（行数、每秒行数、错误数）。"
    ),
    epilog=output.examples(
        "convalescence cadres import roster.xlsx",
        "convalescence cadres import roster.csv --skip-invalid --json",
    ),
)
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE")
@click.option(
    "--skip-invalid",
    is_flag=True,
    help=_(
        "导入有效的行，无效的行报告为已跳过（退出状态 0）；"
        "不加此项时，有一行无效即全部不导入（退出状态 2）。"
    ),
)
@click.option(
    "--processes",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help=_(
        "用 N 个进程检查各行（1：只用本进程）；默认按 CPU 核数，"
        "4 MB 以下的文件和 .xlsx 只用本进程。结果与一个进程相同。"
    ),
)
@output.json_option
@click.pass_context
def import_file(
    ctx: click.Context, file: Path, skip_invalid: bool, processes: int | None, as_json: bool
) -> None:
    """A RosterError is rendered here, not at the boundary: one line per problem (module note).
    The progress bar is drawn only on a terminal and never with ``--json``."""
    engine = open_engine()
    try:
        with _progress_bar(enabled=not as_json and output.stderr().is_terminal) as progress:
            report = import_roster(
                engine,
                file,
                skip_invalid=skip_invalid,
                shown_as=str(file),
                progress=progress,
                processes=processes,
            )
    except RosterError as error:
        _print_problems(error.problems)
        output.stderr().print(Text(error.summary, style="red"))
        if error.encoding is not None:
            output.stderr().print(Text(_encoding_line(error.encoding)))
        if as_json:
            output.print_json(error.to_json())
        ctx.exit(error.exit_code)
    _print_problems(report.problems)
    if as_json:
        output.print_json(report.to_json())
        return
    _print_report(report)


def _print_problems(problems: Sequence[RowProblem]) -> None:
    """Messages for people go to stderr, one unwrapped line each, so ``--json`` stays parseable."""
    console = output.stderr()
    for problem in problems:
        console.print(Text(str(problem), style="yellow"))


def _print_report(report: ImportReport) -> None:
    output.say(
        _("{file}：新增 {created}，更新 {updated}，未变 {unchanged}，跳过 {skipped}").format(
            file=report.file,
            created=report.created,
            updated=report.updated,
            unchanged=report.unchanged,
            skipped=report.skipped,
        ),
        style="bold",
    )
    if report.encoding is not None:
        output.say(_encoding_line(report.encoding))
    if report.skipped:
        output.say(
            ngettext(
                "{count} 行因错误被跳过，见上方各行：改正后重新导入该文件",
                "{count} 行因错误被跳过，见上方各行：改正后重新导入该文件",
                report.skipped,
            ).format(count=report.skipped)
        )
    if report.unlisted:
        output.say(
            _("另有 {count} 处错误未列出：请先改正上方列出的，再导入一次").format(
                count=report.unlisted
            )
        )


def _encoding_line(encoding: str) -> str:
    from workflow.roster.encoding import SHOWN  # noqa: PLC0415  # help loads no roster code

    return _("文件编码：{encoding}").format(encoding=SHOWN.get(encoding, encoding))


@contextmanager
def _progress_bar(*, enabled: bool) -> Iterator[ProgressHook | None]:
    """A transient rich progress bar on stderr for `import_roster`'s progress reports: the
    phase, rows so far, rows per second and problems found; None (no bar) when not enabled."""
    if not enabled:
        yield None
        return
    from rich.progress import BarColumn, TaskID, TextColumn, TimeElapsedColumn  # noqa: PLC0415
    from rich.progress import Progress as Bar  # noqa: PLC0415

    labels = {"check": _("检查"), "write": _("写入")}
    columns = (TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    with Bar(*columns, console=output.stderr(), transient=True) as bar:
        tasks: dict[str, tuple[TaskID, float]] = {}

        def report(progress: RosterProgress) -> None:
            if progress.phase not in tasks:
                for task_id, _started in tasks.values():
                    bar.update(task_id, visible=False)
                tasks[progress.phase] = (bar.add_task("", total=None), time.monotonic())
            task_id, started = tasks[progress.phase]
            rate = progress.rows / max(time.monotonic() - started, 1e-3)
            description = _("{phase} {rows} 行 · {rate} 行/秒 · 错误 {problems}").format(
                phase=labels[progress.phase],
                rows=f"{progress.rows:,}",
                rate=f"{rate:,.0f}",
                problems=f"{progress.problems:,}",
            )
            bar.update(
                task_id,
                description=description,
                completed=progress.done,
                total=progress.total or None,
            )

        yield report


# -- A9.3: a cadre who cannot take part in a cycle ---------------------------------------------


@cadres.command(
    "unable",
    help=_(
        "登记军休干部 CADRE_ID 因身体健康等原因无法参加某一疗养周期（第九条，A9.3）。\n\n"
        "由军休机构或县级部门工作人员在本人职责范围内登记（A5.2），写明原因；"
        "不需要报名案件。定时任务随后为其开启一项重点走访慰问；周期结束后补登的，"
        "走访补开并标记为逾期。每名干部每个周期只登记一次，登记不可修改。"
    ),
)
@click.argument("cadre_id", metavar="CADRE_ID")
@click.option("--cycle", required=True, metavar="CYCLE", help=_("疗养周期编号，如 2024-2025。"))
@click.option("--reason", required=True, help=_("无法参加的原因，如 因脑梗住院治疗。"))
@click.option(
    "--on",
    "occurred_on",
    metavar="DATE",
    callback=output.iso_date,
    help=_("无法参加的情况发生的日期（须在该周期内）；不写为今天。"),
)
@click.option(
    "--as",
    "actor",
    required=True,
    metavar="ROLE:NAME@SCOPE",
    callback=parse_actor,
    help=_("登记人，如 agency_officer:王芳@东昌府区军休所 或 county_officer:赵局长@东昌府区。"),
)
@output.json_option
def unable(
    *,
    cadre_id: str,
    cycle: str,
    reason: str,
    occurred_on: date | None,
    actor: Actor,
    as_json: bool,
) -> None:
    from workflow.unable import record_unable  # noqa: PLC0415  # help loads no engine

    report = record_unable(
        open_engine(), cadre_id, cycle=cycle, reason=reason, actor=actor, occurred_on=occurred_on
    )
    if as_json:
        output.print_json(report.to_json())
        return
    output.say(
        _("已登记：{cadre} 在周期 {cycle} 无法参加疗养（登记编号 {id}，{who}）").format(
            cadre=report.cadre_id, cycle=report.cycle, id=report.id, who=report.reporter_name
        ),
        style="bold",
    )


@cadres.command(
    "unable-list",
    help=_("列出无法参加疗养的登记及其重点走访慰问案件（第九条，A9.3）。"),
    epilog=output.examples(
        "convalescence cadres unable-list --cycle 2024-2025",
        "convalescence cadres unable-list --cadre LC-DCF-0001 --json",
    ),
)
@click.option("--cycle", metavar="CYCLE", help=_("只列出该周期。"))
@click.option("--cadre", "cadre_id", metavar="CADRE_ID", help=_("只列出该干部。"))
@output.json_option
def unable_list(*, cycle: str | None, cadre_id: str | None, as_json: bool) -> None:
    from workflow.unable import list_unable  # noqa: PLC0415  # help loads no engine

    rows = list_unable(open_engine(), cycle=cycle, cadre_id=cadre_id)
    if as_json:
        output.print_json(rows)
        return
    output.stdout().print(
        output.table(
            _("无法参加疗养登记（A9.3）"),
            [_("编号"), _("周期"), _("干部"), _("日期"), _("原因"), _("登记人"), _("走访案件")],
            [
                (
                    r["id"],
                    r["cycle"],
                    f"{r['cadre_id']} {r['name']}",
                    r["occurred_on"],
                    r["reason"],
                    r["reporter_name"],
                    _("{case}（逾期）").format(case=r["visit_case_id"])
                    if r["visit_late"]
                    else r["visit_case_id"],
                )
                for r in rows
            ],
        )
    )


# -- reading the roster (issue 19 item 5) ------------------------------------------------------

reader_option = click.option(
    "--as",
    "actor",
    required=True,
    metavar="ROLE:NAME@SCOPE",
    callback=parse_actor,
    help=_(
        "查看人（必填），如 county_officer:李娜@东昌府区；县级部门只看到本县、军休机构只看到本机构"
        "的干部（A5.2），市级经办人员和审计人员看到全部。"
    ),
)
after_option = click.option(
    "--after",
    metavar="ID",
    help=_("从此编号之后列起（上一页最后一名干部的编号，每页下方会给出）。"),
)
limit_option = click.option(
    "--limit",
    type=click.IntRange(1, 500),
    default=50,
    show_default=True,
    help=_("每页最多列出的人数。"),
)


@cadres.command(
    "list",
    help=_(
        "按编号顺序列出查看人权限范围内的军休干部：姓名、县（市、区）、机构、今天的年龄和"
        "按第四条计算的层级。每页下方给出下一页的 --after。"
    ),
    short_help=_("按编号列出权限范围内的军休干部。"),
    epilog=output.examples(
        "convalescence cadres list --as county_officer:李娜@东昌府区",
        "convalescence cadres list --tier city --limit 20 --json --as city_officer:赵敏",
    ),
)
@click.option("--county", metavar="COUNTY", help=_("只列此县（市、区）的干部。"))
@click.option("--agency", metavar="AGENCY", help=_("只列此军休服务管理机构的干部。"))
@click.option(
    "--tier",
    metavar="city|county|none",
    help=_(
        "只列今天按第四条属于此层级的干部（city 市级、county 县级、none 无层级）；层级按名册"
        "记录计算，每页最多检查 2000 人，不足一页时也给出下一页的 --after。"
    ),
)
@after_option
@limit_option
@reader_option
@output.json_option
def list_command(
    *,
    county: str | None,
    agency: str | None,
    tier: str | None,
    after: str | None,
    limit: int,
    actor: Actor,
    as_json: bool,
) -> None:
    from workflow.cadre_views import list_cadres  # noqa: PLC0415  # help loads no engine

    found = list_cadres(
        open_engine(), actor, county=county, agency=agency, tier=tier, after=after, limit=limit
    )
    _print_page(found, as_json, title=_("军休干部名册"))


@cadres.command(
    "search",
    help=_(
        "按编号或姓名的一部分查找查看人权限范围内的军休干部（编号不分大小写），按编号顺序分页。"
    ),
    short_help=_("按编号或姓名查找军休干部。"),
    epilog=output.examples(
        "convalescence cadres search 张 --as agency_officer:王芳@东昌府区军休所",
        "convalescence cadres search LC-DCF --limit 10 --as auditor:审计员",
    ),
)
@click.argument("text", metavar="TEXT")
@after_option
@limit_option
@reader_option
@output.json_option
def search_command(
    *, text: str, after: str | None, limit: int, actor: Actor, as_json: bool
) -> None:
    from workflow.cadre_views import list_cadres  # noqa: PLC0415  # help loads no engine

    if not text.strip():
        raise click.BadParameter(_("须写出编号或姓名的一部分，如 张 或 LC-DCF"), param_hint="TEXT")
    found = list_cadres(open_engine(), actor, text=text.strip(), after=after, limit=limit)
    _print_page(found, as_json, title=_("查找“{text}”").format(text=text.strip()))


@cadres.command(
    "show",
    help=_(
        "查看一名军休干部：名册记录（身份证号、电话已遮盖）、今天的年龄、按第四条计算的层级及"
        "理由（A4.2）、各周期报名和参加疗养的情况（A9.2）、案件及其状态、重点走访慰问和无法参加"
        "登记（A9.3）、名册导入的变更（A19.1）。权限范围外的干部与不存在的一样，退出状态 4。"
    ),
    short_help=_("查看一名军休干部的层级、案件、走访和变更。"),
)
@click.argument("cadre_id", metavar="ID")
@reader_option
@output.json_option
def show_command(*, cadre_id: str, actor: Actor, as_json: bool) -> None:
    from workflow.cadre_views import show_cadre  # noqa: PLC0415  # help loads no engine

    detail = show_cadre(open_engine(), actor, cadre_id)
    if as_json:
        output.print_json(detail.to_json())
        return
    _print_detail(detail)


_TIER_NAMES = {"city": N_("市级"), "county": N_("县级"), "none": N_("无层级")}


def _tier(tier: str | None) -> str:
    return _(_TIER_NAMES[tier]) if tier in _TIER_NAMES else (tier or "—")


def _print_page(found: CadrePage, as_json: bool, *, title: str) -> None:
    if as_json:
        output.print_json(found.to_json())
        return
    if found.items:
        rows = [
            (r.id, r.name, r.county, r.agency, r.birth_date.isoformat(), r.age, _tier(r.tier))
            for r in found.items
        ]
        columns = [
            _("编号"),
            _("姓名"),
            _("县（市、区）"),
            _("机构"),
            _("出生日期"),
            _("年龄"),
            _("层级（第四条）"),
        ]
        output.stdout().print(output.table(title, columns, rows))
    count = ngettext("{count} 名军休干部", "{count} 名军休干部", len(found.items)).format(
        count=len(found.items)
    )
    if found.examined > len(found.items):
        count += _("（检查了 {examined} 名）").format(examined=found.examined)
    output.say(count)
    if found.next_after is not None:
        output.say(_("下一页：加上 --after {cursor}").format(cursor=found.next_after))
    else:
        output.say(_("已是最后一页"))


def _print_detail(detail: CadreDetail) -> None:
    console = output.stdout()
    row = detail.cadre
    output.say(
        _("军休干部 {id} {name} · {county} / {agency}").format(
            id=row.id, name=row.name, county=row.county, agency=row.agency
        ),
        style="bold",
    )
    output.say(
        _("出生日期 {birth}，今天 {age} 周岁 · 层级（第四条）：{tier}").format(
            birth=row.birth_date.isoformat(), age=row.age, tier=_tier(row.tier)
        )
    )
    output.say(
        _("资格（按今天、{definition} 第 {version} 版的规则，A4.2）：").format(
            definition=detail.definition, version=detail.definition_version
        ),
        style="bold",
    )
    for sentence in detail.explanation.sentences():
        output.say("  " + sentence)
    if detail.cycles:
        cycle_rows = [
            (
                line.cycle,
                _ids(line.cases),
                _ids(line.taking_part),
                _("是") if line.unable_reported else "",
                line.visit_case or "",
            )
            for line in detail.cycles
        ]
        columns = [
            _("周期"),
            _("报名案件"),
            _("参加疗养的案件（A9.2）"),
            _("无法参加登记"),
            _("重点走访案件"),
        ]
        console.print(output.table(_("各周期（第九条）"), columns, cycle_rows))
    if detail.cases:
        case_rows = [
            (
                c.id,
                f"{c.definition} v{c.definition_version}",
                c.state,
                c.state_label,
                c.cycle or "—",
                c.updated_at.isoformat(timespec="minutes"),
            )
            for c in detail.cases
        ]
        columns = [_("案件"), _("流程"), _("状态"), _("说明"), _("周期"), _("更新时间")]
        console.print(output.table(_("案件"), columns, case_rows))
    else:
        output.say(_("无可查看的案件"))
    if detail.visits:
        visit_rows = [
            (
                v["cycle"],
                v["case_id"],
                v["state_label"] or v["state"],
                _("是") if v["late"] else "",
                v["opened_at"][:10],
            )
            for v in detail.visits
        ]
        columns = [_("周期"), _("案件"), _("状态"), _("周期结束后补开"), _("开启日期")]
        console.print(output.table(_("重点走访慰问（A9.3）"), columns, visit_rows))
    if detail.unable:
        unable_rows = [
            (u["id"], u["cycle"], u["occurred_on"], u["reason"], u["reporter"])
            for u in detail.unable
        ]
        columns = [_("编号"), _("周期"), _("日期"), _("原因"), _("登记人")]
        console.print(output.table(_("无法参加疗养登记（A9.3）"), columns, unable_rows))
    if detail.changes:
        change_rows = [
            (
                c["at"][:16].replace("T", " "),
                c["source"],
                _("新增") if c["kind"] == "created" else _("更新"),
                "、".join(sorted(c["changes"])),
            )
            for c in detail.changes
        ]
        columns = [_("时间"), _("来源文件"), _("类型"), _("变更的字段")]
        title = _("名册变更（最近 {shown} 条，共 {total} 条，A19.1）").format(
            shown=len(detail.changes), total=detail.changes_total
        )
        console.print(output.table(title, columns, change_rows))


def _ids(ids: Sequence[int]) -> str:
    return "、".join(str(i) for i in ids)
