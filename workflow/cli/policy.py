"""``convalescence policy what-if``: what a draft successor would change, before it is published.

An office drafting the next policy asks two questions: whom does it let in or keep out, and which
cases under way would it stop. The command answers both from the database (roster and open
cases) without writing a row: per tier counts, the cadres who gain or lose a plan level and the
checks behind it article by article, and the open cases whose next step a guard of the draft
would refuse. The terminal shows a summary and the first rows; ``--json``, ``--html`` and
``--xlsx`` hold everything. A draft that fails validation lists every problem as file:line:col
and exits 2, exactly like ``definitions validate``.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click
from rich.console import Console

from workflow.cli import output
from workflow.cli.db import open_engine
from workflow.cli.eligibility import parse_day
from workflow.errors import InputError
from workflow.i18n import _
from workflow.reports.files import write_bytes
from workflow.whatif import WhatIfReport, load_draft_file, what_if
from workflow.whatif.model import level_label, tier_label
from workflow.whatif.render import render_html, render_xlsx

TERMINAL_ROWS = 20


@click.group(help=_("政策修订：发布前试算草案的影响（第二十一条）。"))
def policy() -> None:
    """The policy commands (help above, through the catalogue)."""


@policy.command(
    "what-if",
    help=_(
        "用名册中的全部干部和在办案件试算草案 DRAFT_FILE：与 DATE 当日有效的版本（无则最新版本）"
        "相比，各层级人数（A4.1–A4.3）、哪些干部新增或失去参加资格及逐条原因、哪些在办案件的下一步"
        "会被草案的哪条规则拒绝。不写入数据库。\n\n"
        "DRAFT_FILE 先按 definitions validate 校验；有问题时逐条列出“文件:行:列”，退出状态为 2。"
    ),
    epilog=output.examples(
        "convalescence policy what-if honor_convalescence-v2.yaml --on 2026-03-01",
        "convalescence policy what-if honor_convalescence-v2.yaml "
        "--html whatif.html --xlsx whatif.xlsx",
        "convalescence policy what-if honor_convalescence-v2.yaml --json",
    ),
)
@click.argument("draft_file", type=click.Path(dir_okay=False, path_type=Path), metavar="DRAFT_FILE")
@click.option(
    "--on",
    "on",
    metavar="DATE",
    callback=parse_day,
    help=_(
        "试算日期（年龄按周岁计至该日，A8.2）；默认取全局 --now 的日期，否则为今天（北京时间）。"
    ),
)
@click.option(
    "--html",
    "html_file",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help=_("另写一份可打印的 HTML 报告。"),
)
@click.option(
    "--xlsx",
    "xlsx_file",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help=_("另写一份 XLSX 工作簿（含全部干部和案件）。"),
)
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    default=TERMINAL_ROWS,
    show_default=True,
    help=_("终端上列出的干部和案件的行数。"),
)
@output.json_option
def what_if_command(
    *,
    draft_file: Path,
    on: date,
    html_file: Path | None,
    xlsx_file: Path | None,
    limit: int,
    as_json: bool,
) -> None:
    """Validates first (nothing is read from the database for a bad draft), then checks the
    output folders, so a typo in a path costs no 30-second run."""
    draft = load_draft_file(draft_file)
    for target in (html_file, xlsx_file):
        if target is not None and not target.resolve().parent.is_dir():
            raise_missing_folder(target)
    report = what_if(open_engine(), draft, on=on)
    written = []
    if html_file is not None:
        written.append(write_bytes(html_file.resolve(), render_html(report).encode("utf-8")))
    if xlsx_file is not None:
        written.append(write_bytes(xlsx_file.resolve(), render_xlsx(report)))
    if as_json:
        output.print_json(report.to_json())
        for path in written:
            output.stderr().print(_("已写入 {path}").format(path=path))
        return
    show(report, limit)
    for path in written:
        output.say(_("已写入 {path}").format(path=path))


def raise_missing_folder(target: Path) -> None:
    raise InputError(
        _("{file}：目录 {directory} 不存在").format(file=target, directory=target.parent),
        field=str(target),
    )


def show(report: WhatIfReport, limit: int) -> None:
    """The summary an officer reads on the terminal."""
    console = output.stdout()
    current, draft = report.current, report.draft
    output.say(
        _(
            "政策草案试算：{name} 草案 v{draft} 对照现行 v{current}，日期 {on}；名册 {count} 人"
        ).format(
            name=draft.name,
            draft=draft.version,
            current=current.version,
            on=report.on.isoformat(),
            count=report.roster,
        ),
        style="bold",
    )
    console.print(
        output.table(
            _("版本"),
            [_("版本"), _("文号"), _("有效期"), _("当日有效"), _("文件")],
            [
                (f"{side} v{v.version}", v.document, v.window, v.in_force, v.source)
                for side, v in ((_("现行"), current), (_("草案"), draft))
            ],
        )
    )
    for notice in report.notices:
        output.say(notice, style="yellow")
    _tables(console, report, limit)
    _cases(console, report, limit)


def _tables(console: Console, report: WhatIfReport, limit: int) -> None:
    console.print(
        output.table(
            _("各层级人数（A4.1–A4.3）"),
            [_("层级"), _("现行"), _("草案"), _("变化")],
            [(tier_label(t.tier), t.before, t.after, f"{t.difference:+d}") for t in report.tiers],
        )
    )
    if report.tier_moves:
        moves = "；".join(
            f"{tier_label(b)} → {tier_label(a)}: {n}" for b, a, n in report.tier_moves
        )
        output.say(_("层级变动：{moves}").format(moves=moves))
    row = report.eligibility
    console.print(
        output.table(
            _("参加资格（A4.4，按{plan}）").format(
                plan="、".join(dict.fromkeys(map(level_label, (row.level_before, row.level_after))))
            ),
            [_("现行符合"), _("草案符合"), _("新增"), _("失去"), _("仍符合、层级变化")],
            [(row.before, row.after, row.gained, row.lost, row.tier_moved)],
        )
    )
    if report.articles:
        console.print(
            output.table(
                _("逐条变化（人数）"),
                [
                    _("条款"),
                    _("规则"),
                    _("内容"),
                    _("改为不满足"),
                    _("改为满足"),
                    _("草案删去"),
                    _("决定资格变化"),
                ],
                [
                    (a.clause, a.rule, a.label, a.now_fails, a.now_passes, a.removed, a.decisive)
                    for a in report.articles
                ],
            )
        )
    else:
        output.say(_("两版对名册中每名干部的结论相同。"))
    changes = report.changes
    if not changes:
        return
    console.print(
        output.table(
            _("资格变化的干部（共 {count} 人，列前 {shown} 人）").format(
                count=len(changes), shown=min(limit, len(changes))
            ),
            [_("编号"), _("姓名"), _("区县"), _("层级"), _("变化"), _("原因")],
            [
                (
                    c.cadre_id,
                    c.name,
                    c.county,
                    c.tiers,
                    c.kind_label,
                    "；".join(r.describe() for r in c.why),
                )
                for c in changes[:limit]
            ],
        )
    )


def _cases(console: Console, report: WhatIfReport, limit: int) -> None:
    output.say(
        _(
            "在办案件 {open} 件：按草案下一步会被拒绝 {refused} 件"
            "（其中现行版本不会拒绝的 {new} 件）；{unjudged} 件有须待办理时才能判断的守卫"
        ).format(
            open=report.open_cases,
            refused=report.refused_cases,
            new=report.newly_refused,
            unjudged=report.unjudged_cases,
        )
    )
    if report.case_rules:
        console.print(
            output.table(
                _("在办案件：各步骤的守卫（件数）"),
                [
                    _("步骤"),
                    _("规则"),
                    _("条款"),
                    _("拒绝"),
                    _("其中新增"),
                    _("无法判断"),
                    _("所需数据"),
                ],
                [
                    (r.trigger, r.rule, r.article, r.refused, r.new, r.unjudged, "、".join(r.needs))
                    for r in report.case_rules
                ],
            )
        )
    if report.cases:
        console.print(
            output.table(
                _("会被拒绝的案件（共 {count} 件，列前 {shown} 件）").format(
                    count=len(report.cases), shown=min(limit, len(report.cases))
                ),
                [_("案件"), _("编号"), _("姓名"), _("状态"), _("拒绝")],
                [
                    (
                        c.case_id,
                        c.cadre_id,
                        c.cadre_name,
                        c.state
                        if c.draft_state in (None, c.state)
                        else f"{c.state} → {c.draft_state}",
                        c.problem
                        or "；".join(
                            f"{s.trigger}: {g.rule}（{g.article}）{g.message or ''}"
                            for s in c.steps
                            for g in s.refusals
                        ),
                    )
                    for c in report.cases[:limit]
                ],
            )
        )
