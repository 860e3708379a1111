"""`convalescence demo`: run the main job and print what happened, for an officer to read."""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from workflow.cli import output
from workflow.cli.db import Settings
from workflow.demo.logins import TOKENS_FILE, DemoLogin, write_demo_tokens
from workflow.demo.roster import COUNTIES
from workflow.demo.run import DB_FILE, DemoSummary, run_demo
from workflow.demo.successor import SuccessorSummary
from workflow.errors import InputError
from workflow.i18n import N_, _
from workflow.rules import RULES

# written beside the database the demo creates: only a database with this mark beside it is the
# demo's own to replace (`demo --dir .` must not wipe the office's ./convalescence.db)
DEMO_MARK = ".convalescence-demo"
REPLACED = (DB_FILE, f"{DB_FILE}-wal", "notices")


@click.command(
    help=_("在生成的名册上模拟一个完整的 2024–2025 年疗养周期。"),
    epilog=output.examples(
        "convalescence demo --cadres 200 --dir demo",
        "convalescence --db postgresql://postgres@127.0.0.1/demo demo --cadres 200",
    ),
)
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("demo"),
    show_default=True,
    help=_("演示用的新 SQLite 数据库所在目录（只替换演示自己建立的数据库）。"),
)
@click.option(
    "--cadres",
    type=click.IntRange(1, 200_000),
    default=500,
    show_default=True,
    help=_("生成的名册中干部的人数。"),
)
@click.option(
    "--seed",
    type=int,
    default=2023,
    show_default=True,
    help=_("名册和情景的随机种子；种子相同，运行结果相同。"),
)
@click.pass_context
def demo(ctx: click.Context, directory: Path, cadres: int, seed: int) -> None:
    """Runs the main job on a fresh database so an officer can see a whole cycle at once: a
    SQLite file in ``--dir``, or the empty database the global ``--db`` names (PostgreSQL)."""
    settings = ctx.ensure_object(Settings)
    calendar = settings.calendar()  # --holidays counts here too
    _claim(directory)
    console = Console()
    with Progress(
        TextColumn("[bold]" + _("模拟疗养周期")),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} " + _("天")),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task("cycle", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        summary = run_demo(
            directory,
            cadres=cadres,
            seed=seed,
            on_progress=advance,
            calendar=calendar,
            db=settings.db,  # only an explicit --db, never $CONVALESCENCE_DB (an office's own)
        )
    # the console's log-ins (issue 19 item 10): a token file beside the database
    logins = write_demo_tokens(summary.directory, next(iter(COUNTIES)))
    _print_summary(console, summary, logins)


def _claim(directory: Path) -> None:
    """Refuse a directory holding a database (or notices) the demo did not create; mark it as
    the demo's otherwise, before anything is written, so a run cut short can be run again."""
    if not (directory / DEMO_MARK).exists():
        found = [name for name in REPLACED if (directory / name).exists()]
        if found:
            raise InputError(
                _(
                    "{directory} 中已有 {found}，不是演示建立的：演示不会覆盖它们；"
                    "请用 --dir 指定另一个目录"
                ).format(directory=directory, found="、".join(found)),
                field="dir",
            )
    directory.mkdir(parents=True, exist_ok=True)
    (directory / DEMO_MARK).write_text(
        "convalescence demo: the database here is the demo's and is replaced by the next run\n",
        encoding="utf-8",
    )


def _print_summary(
    console: Console, summary: DemoSummary, logins: tuple[DemoLogin, ...] = ()
) -> None:
    """What the cycle came to, in plain Chinese for an officer: every figure with its words on
    one short line (``soft_wrap``: rich breaks no line, so no figure is parted from its unit),
    no internal counter names, and how to open the demo's database from the command line."""
    labels = {state: label for state, (label, _count) in summary.final_states.items()}
    console.print(_states_table(summary))
    console.print(_tiers_table(summary))
    console.print(_refusals_table(summary))
    _lines(console, _cycle_lines(summary))
    console.print(_scheduler_table(summary))
    _lines(console, _output_lines(summary))
    if summary.successor is not None:
        _lines(console, _policy_change_lines(summary.successor, labels))
    if summary.audit is not None:
        audit = summary.audit
        verdict = _("完好") if audit.intact else _("已损坏：{broken}").format(broken=audit.broken)
        _lines(
            console,
            [
                _("审计链（A19.1）：{verdict}").format(verdict=verdict),
                _("  {records} 条记录，{cases} 个案件，{batches} 个批次").format(
                    records=audit.records, cases=audit.cases, batches=audit.batches
                ),
            ],
        )
    _lines(console, look_around_lines(summary, logins))


def _lines(console: Console, lines: list[str]) -> None:
    """Plain text, one line each, never re-wrapped by rich (a figure stays with its unit and a
    command stays one line to copy), never read as markup."""
    for line in lines:
        console.print(line, markup=False, highlight=False, soft_wrap=True)


def _states_table(summary: DemoSummary) -> Table:
    states = Table(title=_("案件最终状态"))
    states.add_column(_("状态"), overflow="fold", min_width=8)
    states.add_column(_("案件数"), justify="right", no_wrap=True)
    states.add_column(_("代码（--state）"), overflow="fold")
    for state, (label, count) in summary.final_states.items():
        states.add_row(label, str(count), state)
    states.add_row(_("合计"), str(summary.cases), "", end_section=True)
    return states


def _tiers_table(summary: DemoSummary) -> Table:
    tiers = Table(title=_("花名册资格层级（第四条）"))
    tiers.add_column(_("层级"), overflow="fold")
    tiers.add_column(_("人数"), justify="right", no_wrap=True)
    for tier, label in (
        ("city", _("市级")),
        ("county", _("县级")),
        ("none", _("无（不符合第四条）")),
    ):
        tiers.add_row(label, str(summary.tiers.get(tier, 0)))
    return tiers


# why a step was refused, in a few words of the office, per rule of the refusals the demo meets
# (`DemoSummary.refusals` keys are "ARTICLE rule"); a rule missing here is told by its registered
# summary (`workflow.rules`), else by its name
RULE_PHRASES = {
    "eligible_for_plan_level": N_("功勋荣誉层级不够所报计划"),
    "category_covered": N_("人员类别不在适用范围内"),
    "in_a_cycle": N_("报名不在任何疗养周期内"),
    "once_per_cycle": N_("本周期已参加过疗养"),
    "paper_form_when_on_behalf": N_("代家属录入未登记纸质同意书编号"),
    "fit_for_convalescence": N_("身体状况不适宜疗养"),
    "under_age_limit_on_first_day": N_("疗养首日已满80周岁"),
    "policy_in_force": N_("政策已不在有效期内"),
    "stay_within_seven_days": N_("疗养超过7天"),
    "insurance_covers_stay": N_("保险未覆盖疗养全程"),
    "within_shandong": N_("疗养地点在省外"),
    "at_most_fifty_per_batch": N_("批次超过50人"),
    "batch_in_case_plan": N_("批次不属于所报计划"),
    "batch_in_case_cycle": N_("批次不在案件所在周期内"),
    "batch_within_policy": N_("批次不在政策有效期内"),
    "county_plan_own_cadres": N_("县级计划只接收本县干部"),
    "annual_plan_for_registration": N_("当年没有该层级的年度计划"),
    "checked_in_during_batch": N_("报到日期不在批次日期内"),
    "batch_started": N_("批次尚未开始"),
    "batch_dates": N_("批次日期有误"),
    "batch_days": N_("批次超过7天"),
    "staff_ratio": N_("工作人员配比不在1:5至1:10之间"),
    "start_batch": N_("批次开始条件不全"),
    "service_teams": N_("未确定双方服务小组负责人"),
    "contractor_papers": N_("承办单位资质或协议不全"),
    "contractor_exit": N_("承办单位评价低于退出线"),
    "cycle_length": N_("周期超过两年"),
    "plan_cycle": N_("计划不属于已知周期"),
    "out_of_scope": N_("超出办理人的权限范围"),
    "scope_required": N_("办理人未注明权限范围"),
    "role_not_in_workflow": N_("角色不属于该流程"),
    "identity": N_("办理人与花名册不符"),
}


def rule_phrase(rule: str) -> str:
    phrase = RULE_PHRASES.get(rule)
    if phrase is not None:
        return _(phrase)
    registered = RULES.get(rule)
    return registered.summary if registered is not None else rule


def _refusals_table(summary: DemoSummary) -> Table:
    refusals = Table(title=_("规则拒绝次数"))
    refusals.add_column(_("条款"), no_wrap=True)
    refusals.add_column(_("拒绝的原因"), overflow="fold", min_width=8)
    refusals.add_column(_("次数"), justify="right", no_wrap=True)
    for key, count in sorted(summary.refusals.items(), key=_by_article):
        article, rule = key.split(" ", 1)
        refusals.add_row(article, rule_phrase(rule), str(count))
    return refusals


def _cycle_lines(summary: DemoSummary) -> list[str]:
    none = _("无")
    granted = _("，").join(
        _("{article} {count} 件").format(article=a, count=n)
        for a, n in sorted(summary.exceptions.items())
    )
    lines = [
        _("模拟期间：{start} 至 {end}").format(
            start=summary.simulated_from, end=summary.simulated_until
        ),
        _("花名册：{count} 名军休干部").format(count=summary.cadres),
        _("案件：{count} 个，状态变更 {transitions} 次").format(
            count=summary.cases, transitions=summary.transitions
        ),
        _("例外审批（原则上条款）：{granted}").format(granted=granted or none),
        _("机构代家属录入纸质同意书：{count} 件").format(count=summary.on_behalf),
        _("年度计划：{count} 个").format(count=summary.plans),
        _("疗养批次：{count} 个").format(count=summary.batches),
        _("承办单位评价：{count} 次").format(count=summary.evaluations),
    ]
    if summary.contractors_dropped:
        lines.append(_("评价低于退出线、不再承接新批次的承办单位（A18.3）："))
        lines += [f"  {name}" for name in summary.contractors_dropped]
    else:
        lines.append(_("评价低于退出线、不再承接新批次的承办单位（A18.3）：无"))
    return lines


# what the scheduler's sweeps and the demo's officers counted (`DemoSummary.visits` keys), in the
# words of the office; a key missing here is shown under its own name rather than dropped
SCHEDULER_PHRASES = {
    "timers.reminded": N_("办理期限提醒"),
    "timers.escalated": N_("逾期督办，报上级"),
    "timers.fired": N_("期限届满自动办理的步骤"),
    "timers.refused": N_("期限届满但被规则拒绝的步骤"),
    "timers.tasks_closed": N_("案件已办结而关闭的待办"),
    "timers.waiting": N_("缺少节假日数据而暂缓的期限"),
    "condolence.opened": N_("开启的重点走访慰问（A9.3）"),
    "condolence.not_needed": N_("不再需要而关闭的走访"),
    "condolence.tasks_created": N_("为走访生成的待办"),
    "condolence.refused": N_("未能开启的走访（被规则拒绝）"),
    "visits.recorded": N_("军休机构已登记的走访"),
    "visits.reported_unable": N_("登记为无法参加疗养的干部（A9.3）"),
}


def _scheduler_table(summary: DemoSummary) -> Table:
    table = Table(title=_("定时任务与重点走访慰问（第七、九条）"))
    table.add_column(_("事项"), overflow="fold", min_width=8)
    table.add_column(_("次数"), justify="right", no_wrap=True)
    known = [key for key in SCHEDULER_PHRASES if summary.visits.get(key)]
    others = sorted(key for key in summary.visits if key not in SCHEDULER_PHRASES)
    for key in [*known, *others]:
        phrase = SCHEDULER_PHRASES.get(key)
        table.add_row(_(phrase) if phrase else key, str(summary.visits[key]))
    if not known and not others:
        table.add_row(_("无"), "0")
    return table


def _output_lines(summary: DemoSummary) -> list[str]:
    lines = [_("数据库：{database}").format(database=summary.database)]
    if summary.notices_dir is not None:
        lines.append(
            _("通知：{count} 份，每份一个文件，在 {directory}").format(
                count=summary.notices, directory=summary.notices_dir
            )
        )
    if summary.report is not None:
        lines.append(_("2024 年度绩效报告（A18.2）：{report}").format(report=summary.report))
    return lines


def _policy_change_lines(change: SuccessorSummary, labels: dict[str, str]) -> list[str]:
    """What the office did when the 2023 rules expired (A21.1), one short line per fact."""
    published = change.published
    lines = [
        _("政策变更（A21.1）：{today}").format(today=change.today.isoformat()),
        _("  由第 1 版起草第 {version} 版样例：{file}").format(
            version=published.version, file=change.draft_file
        ),
        _("  预演（policy what-if）：名册 {roster} 人").format(roster=change.roster),
        _("    新增符合条件 {gained} 人，不再符合 {lost} 人").format(
            gained=change.gained, lost=change.lost
        ),
        _("    在办案件下一步将被拒绝 {refused} 件").format(refused=change.refused_cases),
        _("  已发布第 {version} 版，有效期 {start} 至 {end}").format(
            version=published.version,
            start=published.effective_from.isoformat(),
            end=published.effective_until.isoformat() if published.effective_until else "-",
        ),
    ]
    if change.visits_version is not None:
        lines.append(
            _("  重点走访慰问流程同步发布第 {version} 版（A9.3）").format(
                version=change.visits_version
            )
        )
    if change.carried is not None:
        lines.append(
            _("  在办案件迁入第 {version} 版（cases migrate）：").format(version=published.version)
        )
        lines.append(
            _("    已迁移 {moved} 件，拒绝 {refused} 件").format(
                moved=change.carried.count("moved"), refused=change.carried.count("refused")
            )
        )
    if change.closed_folder is not None:
        lines.append(_("  2024-2025 周期已关闭（cycles close），归档目录："))
        lines.append(f"    {change.closed_folder}")
    else:
        lines.append(_("  2024-2025 周期尚不能关闭："))
        lines += [f"    {why}" for why in change.still_open]
    if change.new_cases:
        lines.append(_("  按新版本办理的案件："))
        by_state: dict[str, list[int]] = {}
        for case_id, state in change.new_cases:
            by_state.setdefault(state, []).append(case_id)
        for state, ids in by_state.items():
            lines.append(
                _("    {label}：案件 {cases}").format(
                    label=labels.get(state, state), cases=_("、").join(map(str, ids))
                )
            )
    else:
        lines.append(_("  按新版本办理的案件：无"))
    return lines


def look_around_lines(summary: DemoSummary, logins: tuple[DemoLogin, ...] = ()) -> list[str]:
    """How to open the demo's database from the command line (issue 19 item 10), commands that
    work as printed from the directory the demo ran in; then the console's, once it exists."""
    database = summary.database
    url = f"sqlite:///{database}" if isinstance(database, Path) else database
    prefix = f"convalescence --db {url}"
    county = next(iter(COUNTIES))
    lines = [
        _("用命令行查看演示数据库："),
        f"  {prefix} cases list --open",
        f"  {prefix} cadres list --as county_officer:赵局长@{county}",
        f"  {prefix} tasks list",
        f"  {prefix} audit verify",
    ]
    if summary.cases:
        lines.insert(2, f"  {prefix} cases show 1")
    if not isinstance(database, Path):
        lines.append(_("  （网址中的密码已隐去，请换成实际的密码）"))
    return lines + console_lines(summary, url, logins)


def console_lines(summary: DemoSummary, url: str, logins: tuple[DemoLogin, ...] = ()) -> list[str]:
    """The officer console's part of the demo's last words (issue 19 item 10): the one command
    that serves this database with the console (its token file beside the database), the
    address to open, and the tokens of a demo city officer and a county officer, printed this
    once (the file keeps only their digests). Nothing without log-ins to offer."""
    if not logins:
        return []
    lines = [_("用浏览器查看（办理平台）：")]
    if find_spec("fastapi") is None:  # the README's first command installs the core only
        lines.append(_("  先安装服务端组件：pip install 'convalescence-workflow[server]'"))
    lines += [
        f"  convalescence --db {url} serve --tokens {summary.directory / TOKENS_FILE}",
        _("  然后打开 http://127.0.0.1:8000/ ，用以下令牌登录（令牌只显示这一次）："),
    ]
    for login in logins:
        who = f"{login.actor.name}@{login.actor.scope}" if login.actor.scope else login.actor.name
        lines.append(
            _("    {who}（{role}）：{token}").format(who=who, role=_(login.who), token=login.token)
        )
    return lines


def _by_article(item: tuple[str, int]) -> tuple[int, ...]:
    """ "A6.2 rule" before "A21.1 rule": articles in their numeric order."""
    article = item[0].split(" ", 1)[0]
    return tuple(int(part) for part in article.removeprefix("A").split("."))
