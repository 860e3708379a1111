"""``convalescence backup FILE``: copy the database while the engine keeps writing, and print
the copy's size and audit digest (`workflow.backup`; restoring: docs/operations.md "Backups").

A read of the database, not a write: nothing in it changes, so no actor is named. The schema is
neither checked nor migrated first: a backup is what one takes before ``db upgrade``.
"""

from __future__ import annotations

from pathlib import Path

import click

from workflow.backup import back_up
from workflow.cli import output
from workflow.cli.db import open_engine
from workflow.i18n import _


@click.command(
    "backup",
    help=_(
        "把数据库备份到 FILE，打印其大小与审计链摘要。SQLite 用在线备份，引擎照常写入时也是"
        "同一时刻的完整副本；PostgreSQL 调用 pg_dump（未安装时说明手工步骤）。"
        "FILE 已存在时不覆盖，除非加 --force。"
    ),
    epilog=output.examples(
        "convalescence backup office-2024-05-06.db",
        "convalescence backup office-2024-05-06.db --force --json",
        "convalescence --db postgresql://officer@db.example/convalescence backup office.dump",
    ),
)
@click.argument("file", type=click.Path(path_type=Path), metavar="FILE")
@click.option("--force", is_flag=True, help=_("覆盖已有的 FILE。"))
@output.json_option
def backup(*, file: Path, force: bool, as_json: bool) -> None:
    """A broken audit chain in the copy is exit 6, after the copy is in place (it is evidence)."""
    engine = open_engine()
    done = back_up(engine.db, file, force=force)
    report = done.audit
    if as_json:
        if report is None or report.broken is None:  # else the error is the one document
            output.print_json(done.to_json())
    else:
        click.echo(
            _("已备份到 {file}：{size}（{bytes} 字节，{format}）。").format(
                file=done.file,
                size=_human(done.size),
                bytes=f"{done.size:,}",
                format=_("SQLite 在线备份") if done.format == "sqlite" else "pg_dump -Fc",
            )
        )
    if report is None:
        output.warn(_("未校验审计链：{reason}").format(reason=done.unchecked or ""))
        return
    if report.broken is not None:
        raise report.broken.error()
    if not as_json:
        click.echo(
            _("审计链完好：{cases} 个案件、{batches} 个批次共 {records} 条记录。").format(
                cases=report.cases, batches=report.batches, records=report.records
            )
        )
        click.echo(_("摘要 {digest}").format(digest=report.digest))
        click.echo(_("恢复后运行 convalescence audit verify，摘要应与此相同。"))


def _human(size: int) -> str:
    """1.2 MB, 340 KB, 512 B: the size an officer compares with the free disk space."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"
