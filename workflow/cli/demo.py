"""`convalescence demo`: run the main job and print what happened, for an officer to read."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from workflow.cli.db import Settings
from workflow.demo.run import DemoSummary, run_demo


@click.command()
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("demo"),
    show_default=True,
    help="Directory for the demo's fresh SQLite database (replaced if it exists).",
)
@click.option(
    "--cadres",
    type=click.IntRange(1, 200_000),
    default=500,
    show_default=True,
    help="How many cadres the generated roster holds.",
)
@click.option(
    "--seed",
    type=int,
    default=2023,
    show_default=True,
    help="Seed of the roster and the scenario; the same seed gives the same run.",
)
@click.pass_context
def demo(ctx: click.Context, directory: Path, cadres: int, seed: int) -> None:
    """Simulate a whole 2024–2025 convalescence cycle on a generated roster."""
    calendar = ctx.ensure_object(Settings).calendar()  # --holidays counts here too
    console = Console()
    with Progress(
        TextColumn("[bold]模拟疗养周期"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} 天"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task("cycle", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        summary = run_demo(
            directory, cadres=cadres, seed=seed, on_progress=advance, calendar=calendar
        )
    _print_summary(console, summary)


def _print_summary(console: Console, summary: DemoSummary) -> None:
    states = Table(title="案件最终状态 (cases per final state)")
    states.add_column("状态 state")
    states.add_column("说明 label")
    states.add_column("案件数 cases", justify="right")
    for state, (label, count) in summary.final_states.items():
        states.add_row(state, label, str(count))
    states.add_row("", "合计 total", str(summary.cases), end_section=True)
    console.print(states)

    tiers = Table(title="花名册资格层级 (roster by art. 4 tier)")
    tiers.add_column("层级 tier")
    tiers.add_column("人数 cadres", justify="right")
    for tier, label in (("city", "市级"), ("county", "县级"), ("none", "无（不符合第四条）")):
        tiers.add_row(f"{tier} {label}", str(summary.tiers.get(tier, 0)))
    console.print(tiers)

    refusals = Table(title="规则拒绝次数 (refusals by article)")
    refusals.add_column("条款 article")
    refusals.add_column("规则 rule")
    refusals.add_column("次数 times", justify="right")
    for key, count in sorted(summary.refusals.items(), key=_by_article):
        article, rule = key.split(" ", 1)
        refusals.add_row(article, rule, str(count))
    console.print(refusals)
    granted = "，".join(f"{a} {n} 件" for a, n in sorted(summary.exceptions.items())) or "无"
    console.print(
        f"例外审批（原则上条款）：{granted}；机构代家属录入纸质同意书：{summary.on_behalf} 件。"
    )
    dropped = "、".join(summary.contractors_dropped) or "无"
    console.print(
        f"年度计划 {summary.plans} 个，疗养批次 {summary.batches} 个，承办单位评价 "
        f"{summary.evaluations} 次；因评价低于退出线不再承接新批次（A18.3）：{dropped}。"
    )
    console.print(
        f"花名册 {summary.cadres} 名军休干部，{summary.cases} 个案件，"
        f"{summary.transitions} 次状态变更；模拟 {summary.simulated_from} 至 "
        f"{summary.simulated_until}。\n数据库: {summary.database}"
    )
    visits = "，".join(f"{k} {v}" for k, v in sorted(summary.visits.items())) or "无"
    console.print(f"定时任务（提醒、督办、重点走访慰问 A9.3）：{visits}")
    console.print(f"通知 {summary.notices} 份已写入: {summary.notices_dir}")
    console.print(f"2024 年度绩效报告（A18.2）: {summary.report}")
    if summary.audit is not None:
        audit = summary.audit
        verdict = "完好 intact" if audit.intact else f"已损坏 broken: {audit.broken}"
        console.print(
            f"审计链（A19.1，convalescence audit verify）：{verdict}，{audit.records} 条记录，"
            f"{audit.cases} 个案件，{audit.batches} 个批次"
        )


def _by_article(item: tuple[str, int]) -> tuple[int, ...]:
    """ "A6.2 rule" before "A21.1 rule": articles in their numeric order."""
    article = item[0].split(" ", 1)[0]
    return tuple(int(part) for part in article.removeprefix("A").split("."))
