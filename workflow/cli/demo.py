"""`convalescence demo`: run the main job and print what happened, for an officer to read."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from workflow.cli import output
from workflow.cli.db import Settings
from workflow.demo.run import DB_FILE, DemoSummary, run_demo
from workflow.demo.successor import SuccessorSummary
from workflow.errors import InputError
from workflow.i18n import _

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
    _print_summary(console, summary)


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


def _print_summary(console: Console, summary: DemoSummary) -> None:
    states = Table(title=_("案件最终状态"))
    states.add_column(_("状态"))
    states.add_column(_("说明"))
    states.add_column(_("案件数"), justify="right")
    for state, (label, count) in summary.final_states.items():
        states.add_row(state, label, str(count))
    states.add_row("", _("合计"), str(summary.cases), end_section=True)
    console.print(states)

    tiers = Table(title=_("花名册资格层级（第四条）"))
    tiers.add_column(_("层级"))
    tiers.add_column(_("人数"), justify="right")
    for tier, label in (
        ("city", _("市级")),
        ("county", _("县级")),
        ("none", _("无（不符合第四条）")),
    ):
        tiers.add_row(f"{tier} {label}", str(summary.tiers.get(tier, 0)))
    console.print(tiers)

    refusals = Table(title=_("规则拒绝次数"))
    refusals.add_column(_("条款"))
    refusals.add_column(_("规则"))
    refusals.add_column(_("次数"), justify="right")
    for key, count in sorted(summary.refusals.items(), key=_by_article):
        article, rule = key.split(" ", 1)
        refusals.add_row(article, rule, str(count))
    console.print(refusals)
    none = _("无")
    granted = _("，").join(
        _("{article} {count} 件").format(article=a, count=n)
        for a, n in sorted(summary.exceptions.items())
    )
    text = _("例外审批（原则上条款）：{granted}；机构代家属录入纸质同意书：{count} 件。")
    console.print(text.format(granted=granted or none, count=summary.on_behalf), markup=False)
    text = _(
        "年度计划 {plans} 个，疗养批次 {batches} 个，承办单位评价 {evaluations} 次；"
        "因评价低于退出线不再承接新批次（A18.3）：{dropped}。"
    )
    dropped = _("、").join(summary.contractors_dropped) or none
    console.print(
        text.format(
            plans=summary.plans,
            batches=summary.batches,
            evaluations=summary.evaluations,
            dropped=dropped,
        ),
        markup=False,
    )
    text = _(
        "花名册 {cadres} 名军休干部，{cases} 个案件，{transitions} 次状态变更；"
        "模拟 {start} 至 {end}。\n数据库：{database}"
    )
    console.print(
        text.format(
            cadres=summary.cadres,
            cases=summary.cases,
            transitions=summary.transitions,
            start=summary.simulated_from,
            end=summary.simulated_until,
            database=summary.database,
        ),
        markup=False,
    )
    visits = _("，").join(f"{k} {v}" for k, v in sorted(summary.visits.items())) or none
    text = _("定时任务（提醒、督办、重点走访慰问 A9.3）：{visits}")
    console.print(text.format(visits=visits), markup=False)
    text = _("通知 {count} 份已写入：{directory}")
    console.print(text.format(count=summary.notices, directory=summary.notices_dir), markup=False)
    text = _("2024 年度绩效报告（A18.2）：{report}")
    console.print(text.format(report=summary.report), markup=False)
    if summary.successor is not None:
        _print_policy_change(console, summary.successor)
    if summary.audit is not None:
        audit = summary.audit
        verdict = _("完好") if audit.intact else _("已损坏：{broken}").format(broken=audit.broken)
        text = _(
            "审计链（A19.1，convalescence audit verify）：{verdict}，{records} 条记录，"
            "{cases} 个案件，{batches} 个批次"
        )
        console.print(
            text.format(
                verdict=verdict, records=audit.records, cases=audit.cases, batches=audit.batches
            ),
            markup=False,
        )


def _print_policy_change(console: Console, change: SuccessorSummary) -> None:
    """What the office did when the 2023 rules expired (A21.1), one line per step."""
    published = change.published
    lines = [
        _("政策变更（A21.1）：{today} 由第 1 版起草第 {version} 版样例 {file}").format(
            today=change.today.isoformat(), version=published.version, file=change.draft_file
        ),
        _(
            "  预演（policy what-if）：名册 {roster} 人，新增符合 {gained} 人，不再符合 {lost} 人；"
            "在办案件下一步将被拒绝 {refused} 件"
        ).format(
            roster=change.roster,
            gained=change.gained,
            lost=change.lost,
            refused=change.refused_cases,
        ),
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
        carried = change.carried
        lines.append(
            _(
                "  在办案件迁入第 {version} 版（cases migrate）：已迁移 {moved}，拒绝 {refused}"
            ).format(
                version=published.version,
                moved=carried.count("moved"),
                refused=carried.count("refused"),
            )
        )
    if change.closed_folder is not None:
        lines.append(
            _("  2024-2025 周期已关闭（cycles close），归档目录：{folder}").format(
                folder=change.closed_folder
            )
        )
    else:
        lines.append(
            _("  2024-2025 周期尚不能关闭：{why}").format(why=_("；").join(change.still_open))
        )
    cases = _("，").join(f"{case_id} {state}" for case_id, state in change.new_cases) or _("无")
    lines.append(_("  按新版本办理的案件：{cases}").format(cases=cases))
    for line in lines:
        console.print(line, markup=False, highlight=False)


def _by_article(item: tuple[str, int]) -> tuple[int, ...]:
    """ "A6.2 rule" before "A21.1 rule": articles in their numeric order."""
    article = item[0].split(" ", 1)[0]
    return tuple(int(part) for part in article.removeprefix("A").split("."))
