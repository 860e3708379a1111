"""``convalescence cases migrate``: carry open cases over to a successor definition (A21.1).

A thin shell over `workflow.carry_over`: the options become its arguments, the report becomes a
table (or ``--json``), and the exit status is the worst outcome: 0 every case moved (or would
move), 1 at least one refused by a rule (the table cites it), 3 at least one conflict (someone
moved the case first; run again), which wins over 1.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from workflow.cli import output
from workflow.cli.cases import actor_option, cases, reason_option
from workflow.i18n import N_, _
from workflow.machine import Actor

if TYPE_CHECKING:
    from workflow.carry_over import CarryOverReport

CONFLICT_EXIT = 3
REFUSED_EXIT = 1

OUTCOME_LABELS = {  # translated when printed (--lang is read after import)
    "moved": N_("已迁移"),
    "would_move": N_("可迁移"),
    "refused": N_("拒绝"),
    "skipped": N_("跳过"),
    "conflict": N_("冲突"),
}


@cases.command(
    "migrate",
    short_help=_("把在办案件迁入后续版本（A21.1）"),
    help=_(
        "把在办案件迁入流程定义的后续版本（A21.1）：按后续版本 migrates_from 的状态映射"
        "（未映射的状态拒绝），并按新版本对案件下一步的规则逐件复核（今天的日期、新版本今天所在"
        "的周期，A9.1）；新版本会拒绝的案件留在原版本，报告写明规则和条款。每件案件单独一个事务，"
        "在其历史中记一条迁移记录（谁、自哪一版、理由），进入哈希链（A19.1）。\n\n"
        "先用 --dry-run 查看报告，不写入任何内容。退出状态：0 全部迁移（或可迁移），1 有案件被"
        "规则拒绝，3 有案件被他人先行办理（冲突优先于拒绝）。"
    ),
    epilog=output.examples(
        "convalescence cases migrate --to honor_convalescence@2 --dry-run "
        "--as city_officer:张伟@聊城市",
        "convalescence cases migrate --to honor_convalescence@2 --state registered "
        '--county 东昌府区 --as city_officer:张伟@聊城市 --reason "新细则施行，按新细则续办"',
    ),
)
@click.option("--to", "target", required=True, metavar="NAME@VERSION", help=_("迁入的版本。"))
@click.option(
    "--state",
    "states",
    multiple=True,
    metavar="STATE",
    help=_("只迁移处于此状态的案件（可重复）。"),
)
@click.option("--county", help=_("只迁移此县（市、区）的案件。"))
@click.option("--dry-run", is_flag=True, help=_("只报告，不写入。"))
@actor_option
@reason_option
@output.json_option
@click.pass_context
def migrate(
    ctx: click.Context,
    *,
    target: str,
    states: tuple[str, ...],
    county: str | None,
    dry_run: bool,
    actor: Actor,
    reason: str | None,
    as_json: bool,
) -> None:
    from workflow import carry_over  # noqa: PLC0415 (the engine only when run)
    from workflow.cli.db import open_engine  # noqa: PLC0415

    report = carry_over.carry_over(
        open_engine(),
        target,
        actor=actor,
        states=states,
        county=county,
        reason=reason,
        dry_run=dry_run,
    )
    if as_json:
        output.print_json(report.to_json())
    else:
        _print(report)
    if report.count("conflict"):
        ctx.exit(CONFLICT_EXIT)
    if report.count("refused"):
        ctx.exit(REFUSED_EXIT)


def _print(report: CarryOverReport) -> None:
    """The per-case table, then one line of counts; a sentence when there was nothing to move."""
    if not report.moves:
        output.say(
            _("{source} 没有符合条件的在办案件，无需迁移到 {target}").format(
                source=report.source, target=report.target
            )
        )
        return
    rows = [
        (
            move.case_id,
            move.county,
            move.state,
            move.new_state or "",
            _(OUTCOME_LABELS[move.outcome]),
            "；".join(f"{r.message}（{r.article}，{r.rule}）" for r in move.refusals)
            or (move.note or ""),
            ", ".join(move.unjudged),
        )
        for move in report.moves
    ]
    title = _("案件迁移{mode}：{source} → {target}（{on}，周期 {cycle}）").format(
        mode=_("（演练，未写入）") if report.dry_run else "",
        source=report.source,
        target=report.target,
        on=report.on.isoformat(),
        cycle=report.cycle or "-",
    )
    output.stdout().print(
        output.table(
            title,
            [
                _("案件"),
                _("县（市、区）"),
                _("原状态"),
                _("新状态"),
                _("结果"),
                _("原因"),
                _("须在办理时判断的规则"),
            ],
            rows,
        )
    )
    output.say(
        _("已迁移 {moved}，可迁移 {would}，拒绝 {refused}，跳过 {skipped}，冲突 {conflict}").format(
            moved=report.count("moved"),
            would=report.count("would_move"),
            refused=report.count("refused"),
            skipped=report.count("skipped"),
            conflict=report.count("conflict"),
        )
    )
