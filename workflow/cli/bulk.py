"""``convalescence cases fire-many``: one step fired on a cohort of cases, with a report.

A thin shell over `workflow.bulk`, which chooses the cohort, records the run and fires each
case in its own transaction; this command turns the options into its arguments, prints each
case as it is done (on stderr, so ``--json`` stays one document), and prints the report as a
table or JSON with the exit code of its worst outcome.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import click
from rich.table import Table

from workflow import bulk
from workflow.cli import output
from workflow.cli.cases import actor_option, cases, data_option, reason_option
from workflow.cli.db import open_engine
from workflow.fields import INT_MAX
from workflow.i18n import _, ngettext
from workflow.machine import Actor


def parse_where(
    _ctx: click.Context, _param: click.Parameter, items: tuple[str, ...]
) -> dict[str, str]:
    """``--where KEY=VALUE`` items; a key given twice is a typo, not an override."""
    where: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise click.BadParameter(
                _("{item!r} 应形如 KEY=VALUE，如 state=registered").format(item=item)
            )
        if key in where:
            raise click.BadParameter(_("{key!r} 给出了不止一次").format(key=key))
        where[key] = value
    return where


@cases.command(
    "fire-many",
    help=_(
        "按 TRIGGER 将一批案件各推进一步：先按 --where 筛选案件（限于办理人的权限范围，A5.2），"
        "记下本次批量运行（谁、何时、步骤、条件、证据）和全部案件，再逐件办理，每件一个事务，"
        "最后报告每件的结果：已办理（新状态）、被拒绝（规则及所依据的条款）、冲突（筛选后已被他人"
        "办理）、找不到、输入有误。\n\n"
        "中断（崩溃、断电、Ctrl-C）后用 --resume RUN 继续：已办理的案件不会重复办理。"
        "--dry-run 只列出将要办理的案件，不写入任何内容。\n\n"
        "退出状态取各件结果中最大的一个：0 全部已办理，1 有被拒绝的，2 有输入有误的，"
        "3 有冲突的（冲突优先于被拒绝：报告已不反映案件现状，请重新筛选），4 有找不到的。"
    ),
    short_help=_("按条件筛选一批案件，各推进一步，并报告每件的结果。"),
    epilog=output.examples(
        "convalescence cases fire-many reject --where state=registered --county 东昌府区 "
        "--as county_officer:刘伟@东昌府区 --data article=A21.1 --reason 计划撤销 --dry-run",
        "convalescence cases fire-many reject --where state=registered "
        "--where cycle=2024-2025 --as county_officer:刘伟@东昌府区 --data article=A21.1 "
        "--reason 计划撤销 --json",
    ),
)
@click.argument("trigger", required=False, metavar="[TRIGGER]")
@click.option(
    "--where",
    "where",
    multiple=True,
    metavar="KEY=VALUE",
    callback=parse_where,
    help=_(
        "筛选条件，可重复给出：state=STATE（必需）、county=、agency=、"
        "definition=NAME 或 NAME@VERSION、cycle=。"
    ),
)
@click.option("--county", metavar="COUNTY", help=_("同 --where county=COUNTY。"))
@click.option("--agency", metavar="AGENCY", help=_("同 --where agency=AGENCY。"))
@actor_option
@data_option
@reason_option
@click.option(
    "--resume",
    "resume_id",
    type=click.IntRange(1, INT_MAX),
    metavar="RUN",
    help=_(
        "继续第 RUN 次批量运行：只办理尚未办理的案件，沿用该次的步骤、条件、证据和理由；"
        "须由发起人本人继续。"
    ),
)
@click.option(
    "--dry-run",
    "dry_run",
    is_flag=True,
    help=_("只列出符合条件的案件（与 --resume 同用时只打印该次运行的报告），不办理。"),
)
@output.json_option
def fire_many(
    *,
    trigger: str | None,
    where: dict[str, str],
    county: str | None,
    agency: str | None,
    actor: Actor,
    data: dict[str, str],
    reason: str | None,
    resume_id: int | None,
    dry_run: bool,
    as_json: bool,
) -> None:
    """The run, its progress on stderr and its report (help above, through the catalogue)."""
    ctx = click.get_current_context()
    if resume_id is not None:
        given = [
            name
            for name, value in (
                ("--where", where),
                ("--county", county),
                ("--agency", agency),
                ("--data", data),
                ("--reason", reason),
            )
            if value
        ]
        if given:
            raise click.UsageError(
                _("--resume 沿用该次运行的条件、证据和理由，不能再给出 {options}").format(
                    options=", ".join(given)
                )
            )
        engine = open_engine()
        found = bulk.resume(engine, resume_id, actor=actor)
        if trigger is not None and trigger != found.trigger:
            raise click.UsageError(
                _("第 {run} 次批量运行办理的是 {trigger}，不是 {given}").format(
                    run=resume_id, trigger=found.trigger, given=trigger
                )
            )
        if not dry_run:
            found = bulk.fire_pending(engine, resume_id, progress=_progress)
        _print_report(found, as_json)
        ctx.exit(found.exit_code)
    if trigger is None:
        raise click.UsageError(_("须给出 TRIGGER（或用 --resume RUN 继续一次运行）"))
    filters = bulk.Filters.parse(_merged(where, county=county, agency=agency))
    engine = open_engine()
    if dry_run:
        chosen = bulk.choose(engine, trigger=trigger, filters=filters, actor=actor)
        _print_cohort(trigger, filters, chosen, as_json)
        return
    started = bulk.start(
        engine, trigger=trigger, filters=filters, actor=actor, data=data, reason=reason
    )
    if started.id is None:
        _print_report(started, as_json)
        return
    output.stderr().print(
        _("批量运行 {run}：已记录 {count} 件案件，开始办理（中断后用 --resume {run} 继续）").format(
            run=started.id, count=len(started.items)
        ),
        highlight=False,
        markup=False,
    )
    found = bulk.fire_pending(engine, started.id, progress=_progress)
    _print_report(found, as_json)
    ctx.exit(found.exit_code)


def _merged(where: dict[str, str], **options: str | None) -> dict[str, str]:
    """``--county X`` is ``--where county=X``; both naming different values is a typo."""
    merged = dict(where)
    for key, value in options.items():
        if value is None:
            continue
        if merged.get(key, value) != value:
            raise click.BadParameter(
                _("--{key} 与 --where {key}= 不一致").format(key=key), param_hint=f"--{key}"
            )
        merged[key] = value
    return merged


def _progress(item: bulk.Item, total: int) -> None:
    """One line per case as it is recorded, on stderr."""
    label = _(bulk.OUTCOME_LABELS.get(item.outcome, item.outcome))
    what = item.new_state if item.outcome == "succeeded" else item.message
    line = _("[{position}/{total}] 案件 {case_id}：{outcome} {what}").format(
        position=item.position, total=total, case_id=item.case_id, outcome=label, what=what or ""
    )
    output.stderr().print(line.rstrip(), highlight=False, markup=False)


def _print_cohort(
    trigger: str, filters: bulk.Filters, chosen: list[bulk.Candidate], as_json: bool
) -> None:
    if as_json:
        output.print_json(
            {
                "trigger": trigger,
                "filters": filters.to_json(),
                "count": len(chosen),
                "cases": [c.to_json() for c in chosen],
            }
        )
        return
    rows = [
        (
            c.case_id,
            c.cadre_id,
            c.county,
            c.agency,
            f"{c.definition}@{c.definition_version}",
            c.cycle,
            c.state,
            c.version,
        )
        for c in chosen
    ]
    columns = [
        _("案件"),
        _("军休干部"),
        _("县（市、区）"),
        _("机构"),
        _("流程定义"),
        _("周期"),
        _("状态"),
        _("版本"),
    ]
    title = _("将办理 {trigger} 的案件（{filters}；未办理）").format(
        trigger=trigger, filters=filters.describe()
    )
    if chosen:
        output.stdout().print(output.table(title, columns, rows))
    count = ngettext("{count} 件案件", "{count} 件案件", len(chosen)).format(count=len(chosen))
    output.say(count)


def _print_report(found: bulk.Report, as_json: bool) -> None:
    if as_json:
        output.print_json(found.to_json())
        return
    if found.id is None:
        output.say(_("没有符合条件的案件，未记录批量运行。"))
        return
    filters = " ".join(f"{key}={value}" for key, value in found.filters.items())
    output.say(
        _("批量运行 {run} · {trigger} · {actor} · {filters} · {at}").format(
            run=found.id,
            trigger=found.trigger,
            actor=found.actor,
            filters=filters,
            at=found.created_at.isoformat(timespec="minutes"),
        ),
        style="bold",
    )
    output.stdout().print(_report_table(found))
    counts = found.counts
    shown = [
        _("{label} {count}").format(label=_(bulk.OUTCOME_LABELS[kind]), count=count)
        for kind, count in counts.items()
        if count or kind == "succeeded"
    ]
    total = ngettext("共 {count} 件", "共 {count} 件", len(found.items)).format(
        count=len(found.items)
    )
    output.say(total + _("：") + _("，").join(shown))
    if counts[bulk.PENDING]:
        output.say(
            _("尚有案件未办理：用 --resume {run} 继续。").format(run=found.id), style="yellow"
        )


def _report_table(found: bulk.Report) -> Table:
    columns = [
        _("案件"),
        _("结果"),
        _("新状态"),
        _("版本"),
        _("条款"),
        _("规则"),
        _("消息"),
    ]
    return output.table(_("每件案件的结果"), columns, _rows(found))


def _rows(found: bulk.Report) -> Iterable[tuple[Any, ...]]:
    for item in found.items:
        yield (
            item.case_id,
            _(bulk.OUTCOME_LABELS.get(item.outcome, item.outcome)),
            item.new_state,
            item.new_version,
            item.article,
            item.rule,
            item.message,
        )
