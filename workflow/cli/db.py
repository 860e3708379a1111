"""The database side of the CLI: the one place an `Engine` is built, and ``convalescence db
upgrade``. (`Settings`, the global options, live in `workflow.cli.settings`.)

SQLite is the zero-set-up default: ``db upgrade`` (or the demo) creates the file and its schema,
and an existing file is brought to the current schema by any command (``auto_upgrade``). No
other command creates a database: a mistyped ``--db sqlite:///nonexist.db`` is refused saying
the file is missing, instead of answering "0 cases" from a new empty file. PostgreSQL is shared
by many nodes and officers: there the schema changes only when someone runs ``db upgrade`` on
purpose, and every other command says so until then.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from workflow.cli import output
from workflow.cli.settings import Settings
from workflow.errors import DatabaseNotReadyError
from workflow.i18n import _
from workflow.store.connectivity import is_sqlite_url as is_sqlite
from workflow.store.connectivity import masked_url as masked
from workflow.store.connectivity import sqlite_file

if TYPE_CHECKING:
    from workflow.engine import Engine

__all__ = ["Settings", "db", "is_sqlite", "masked", "open_engine"]


def open_engine(*, create: bool = False) -> Engine:
    """An engine for the running command, closed by click when the command ends; only
    ``create`` (``db upgrade``) may bring a SQLite file into being."""
    from workflow.engine import Engine  # noqa: PLC0415 (a command's --help needs no engine)

    ctx = click.get_current_context()
    settings = ctx.ensure_object(Settings)
    url = settings.url
    file = sqlite_file(url)
    if create and file is not None and not Path(file).parent.is_dir():
        raise DatabaseNotReadyError(
            _("数据库 {url} 所在的目录不存在：请检查 --db（不会自动建目录）").format(
                url=masked(url)
            )
        )
    if not create and file is not None and not Path(file).exists():
        raise DatabaseNotReadyError(
            _(
                "数据库 {url} 不存在：只有 convalescence db upgrade（或 demo）会新建数据库；"
                "请检查 --db / $CONVALESCENCE_DB，或先运行 db upgrade"
            ).format(url=masked(url))
        )
    engine = Engine(
        url,
        clock=settings.clock(),
        auto_upgrade=is_sqlite(url),
        admin_list=settings.admin_list(),
    )
    return ctx.with_resource(engine)


@click.group(help=_("建立或迁移数据库结构。"))
def db() -> None:
    """The schema commands (help above, through the catalogue)."""


@db.command(
    help=_(
        "建立数据库结构，或迁移到本版引擎所需的修订版本。\n\n可重复运行：已是最新的数据库保持不变。"
    ),
    epilog=output.examples(
        "convalescence --db sqlite:///office.db db upgrade",
        "convalescence --db postgresql://officer@db.example/convalescence db upgrade",
    ),
)
@output.json_option
def upgrade(as_json: bool) -> None:
    """PostgreSQL changes schema only through this command (SQLite upgrades itself)."""
    engine = open_engine(create=True)
    before, after = engine.upgrade_schema()
    url = masked(click.get_current_context().ensure_object(Settings).url)
    if as_json:
        output.print_json(
            {"url": url, "before": before, "after": after, "changed": before != after}
        )
        return
    if before == after:
        output.say(_("{url}：库结构已是修订版本 {after}").format(url=url, after=after))
    else:
        text = _("{url}：库结构 {before} → {after}").format(
            url=url, before=before or _("无"), after=after
        )
        output.say(text, style="green")
