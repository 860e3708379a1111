"""The ``convalescence`` group: global options, the command groups, and the one error boundary.

Every failure the engine raises on purpose is a `WorkflowError` whose class carries its exit
code, so the boundary below is the only place that turns errors into exit statuses: commands
never catch, print and exit on their own, and no traceback reaches an officer.

Command groups load on first use (`LazyGroup`): ``convalescence --help`` lists them from the
table below without importing the engine, the database layer or FastAPI, and a command imports
only its own module. Global options may also follow the command (``cases list --db URL``).
"""

from __future__ import annotations

import logging
from datetime import datetime
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, cast

import click

from workflow.cli import output
from workflow.cli.settings import ADMIN_LIST_VAR, HOLIDAYS_VAR, Settings
from workflow.clock import as_shanghai
from workflow.errors import WorkflowError, error_json
from workflow.i18n import LANGUAGES, N_, _, set_language, speak_for_click

if TYPE_CHECKING:
    from workflow.store.connectivity import StorageFailure

# click's own words (Usage:, Options, Error: Missing option …) follow --lang too, Chinese by
# default, in every command below this group
speak_for_click()

# command -> (module:attribute, one-line help shown by --help without importing the module)
COMMANDS: dict[str, tuple[str, str]] = {
    "db": ("workflow.cli.db:db", N_("建库与迁移")),
    "definitions": ("workflow.cli.definitions:definitions", N_("流程定义：校验、查看、状态图")),
    "policy": ("workflow.cli.policy:policy", N_("政策修订：发布前试算草案")),
    "cadres": ("workflow.cli.cadres:cadres", N_("军休干部名册导入")),
    "eligibility": ("workflow.cli.eligibility:eligibility", N_("资格说明（第四、八条）")),
    "cases": ("workflow.cli.cases:cases", N_("案件：报名、办理、查看")),
    "plans": ("workflow.cli.plans:plans", N_("年度计划（第三条）")),
    "contractors": ("workflow.cli.plans:contractors", N_("承办单位（第十条）")),
    "batches": ("workflow.cli.plans:batches", N_("疗养批次（第六条）")),
    "tasks": ("workflow.cli.tasks:tasks", N_("待办任务")),
    "notifications": ("workflow.cli.notifications:notifications", N_("通知：发送、查看、重试")),
    "scheduler": ("workflow.cli.scheduler:scheduler", N_("定时任务：期限、走访、通知（第九条）")),
    "calendar": ("workflow.cli.calendar:calendar", N_("工作日数据：年份、节假日")),
    "report": ("workflow.cli.report:report", N_("报表（第十八条）")),
    "audit": ("workflow.cli.audit:audit", N_("审计链校验（A19.1）")),
    "backup": ("workflow.cli.backup:backup", N_("备份数据库（SQLite 在线备份、pg_dump）")),
    "cycles": ("workflow.cli.cycles:cycles", N_("疗养周期：关闭与归档（第九、十八条）")),
    "serve": ("workflow.cli.serve:serve", N_("启动 REST API 服务")),
    "tokens": ("workflow.cli.serve:tokens", N_("API 令牌")),
    "demo": ("workflow.cli.demo:demo", N_("演示：模拟一个疗养周期")),
}
# global options that may also be written after the command; each takes one value
GLOBAL_OPTIONS = ("--db", "--now", "--holidays", "--admin-list", "--lang")

EXIT_CODES = N_("""退出状态：
  0  成功
  1  被规则拒绝（消息引用条款）
  2  输入或用法有误
  3  冲突（案件已被他人先行修改，本次未写入）
  4  找不到
  5  缺少工作日数据：没有今年的节假日通知（用 --holidays 补充）
  6  审计链损坏（指出第一条被篡改的记录，A19.1）
  7  数据库不可用：无法连接、读取或写入（服务器未启动、磁盘已满、文件只读或损坏）
""")
DATABASE_UNAVAILABLE = 7


def parse_moment(
    _ctx: click.Context, _param: click.Parameter, value: str | None
) -> datetime | None:
    """``--now``: an ISO date-time, read as Shanghai wall time when it names no zone."""
    if value is None:
        return None
    try:
        return as_shanghai(datetime.fromisoformat(value))
    except ValueError:
        raise click.BadParameter(
            _("{value!r} 不是日期时间，应形如 2024-05-01T09:00").format(value=value)
        ) from None


def language_in(args: list[str]) -> str | None:
    """The ``--lang`` given anywhere before a ``--`` (the last one wins, as click would have
    it), read before click parses anything: help texts are translated when a command module
    loads, and click loads the subcommand before the group's own callback runs."""
    found: str | None = None
    for index, arg in enumerate(args):
        if arg == "--":
            break
        if arg == "--lang" and index + 1 < len(args):
            found = args[index + 1]
        elif arg.startswith("--lang="):
            found = arg.split("=", 1)[1]
    return found if found in LANGUAGES else None


def hoist_global_options(args: list[str]) -> list[str]:
    """Move global options written after the command to the front, where click expects them:
    ``cases list --db URL`` means ``--db URL cases list``. (``scheduler run --now`` has the
    same meaning either way; ``--db URL audit verify --lang en`` mixes both.) Nothing after a
    ``--`` is touched."""
    front: list[str] = []
    rest: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--":
            rest.extend(args[index:])
            break
        name = arg.split("=", 1)[0]
        if name in GLOBAL_OPTIONS:
            takes_next = "=" not in arg and index + 1 < len(args)
            front.extend(args[index : index + 2] if takes_next else [arg])
            index += 2 if takes_next else 1
            continue
        rest.append(arg)
        index += 1
    return front + rest


class LazyGroup(click.Group):
    """The top-level group: loads each command on first use and turns the engine's errors and
    an unreachable database into a message and an exit code."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module, attribute = COMMANDS[cmd_name][0].split(":")
        command = getattr(import_module(module), attribute)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, _(text)) for name, (_module, text) in COMMANDS.items()]
        with formatter.section(_("命令")):
            formatter.write_dl(rows)

    def format_help_text(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        if self.help:
            formatter.write_paragraph()
            with formatter.indentation():
                formatter.write_text(_(self.help))

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """This module is imported before ``--lang`` is read, so the group's own option help
        (marked with `N_`) is translated here, when shown."""
        rows = []
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is not None:
                rows.append((record[0], _(record[1])))
        if rows:
            with formatter.section(_("选项")):
                formatter.write_dl(rows)
        self.format_commands(ctx, formatter)

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write_paragraph()
        formatter.write_text("\b\n" + _(EXIT_CODES))  # \b: click keeps the lines as they are

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        set_language(language_in(args))  # None: the environment decides (LANG=en_US… is English)
        return super().parse_args(ctx, hoist_global_options(args))

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except WorkflowError as error:
            _report(ctx, error)
        except Exception as error:
            # the database layer is loaded by then if this is its error; importing it here keeps
            # it out of commands that never touch a database
            from workflow.store.connectivity import is_storage_failure  # noqa: PLC0415
            from workflow.store.errors import (  # noqa: PLC0415
                ConstraintViolation,
                out_of_range,
                translate,
            )

            if isinstance(error, ConstraintViolation):  # one no store mapped: still no traceback
                _report(ctx, translate(error))
            value_error = out_of_range(error)  # 2147483648 as an id: bad input, exit 2
            if value_error is not None:
                _report(ctx, value_error)
            if not is_storage_failure(error):
                raise
            _report_unreachable(ctx, cast("StorageFailure", error))
            ctx.exit(DATABASE_UNAVAILABLE)


def _report(ctx: click.Context, error: WorkflowError) -> NoReturn:
    output.print_error(error)
    if output.wants_json(ctx):
        output.print_json(error_json(error))
    ctx.exit(error.exit_code)


def _report_unreachable(ctx: click.Context, error: StorageFailure) -> None:
    """One line naming the database and the driver's reason; the password never shows."""
    from workflow.store.connectivity import masked_url, unreachable_reason  # noqa: PLC0415

    url = ctx.ensure_object(Settings).url
    reason, shown = unreachable_reason(url, error), masked_url(url)
    output.print_database_error(shown, reason)
    if output.wants_json(ctx):
        output.print_json(output.database_error_json(shown, reason))


@click.group(cls=LazyGroup, help=N_("军休干部荣誉疗养：案件、办理步骤、流程定义。"))
@click.option(
    "--db",
    "db_url",
    metavar="URL",
    help=N_(
        "数据库 URL；默认取 $CONVALESCENCE_DB，否则为当前目录下的 sqlite:///convalescence.db。"
    ),
)
@click.option(
    "--now",
    metavar="DATETIME",
    callback=parse_moment,
    help=N_("按此时刻办理（ISO 格式，未写时区即北京时间）；默认取系统时钟。"),
)
@click.option(
    "--holidays",
    metavar="FILE",
    envvar=HOLIDAYS_VAR,
    type=click.Path(path_type=Path, dir_okay=False),
    help=N_(
        "内置数据未含年份的节假日通知（YAML，见 README“Working days”）；"
        "默认取 $CONVALESCENCE_HOLIDAYS。"
    ),
)
@click.option(
    "--admin-list",
    "admin_list",
    metavar="FILE",
    envvar=ADMIN_LIST_VAR,
    type=click.Path(path_type=Path, dir_okay=False),
    help=N_(
        "行政区划名单（YAML：counties 下每个县名列出其机构名），扩充或替换内置的县和军休机构名单，"
        "导入名册时据此核对 county/agency；默认取 $CONVALESCENCE_ADMIN_LIST。"
    ),
)
@click.option(
    "--lang",
    type=click.Choice(LANGUAGES),
    help=N_("消息与帮助的语言：zh（默认）或 en；未给出时 LANG/LC_ALL/LANGUAGE 为 en* 即英文。"),
)
@click.help_option(help=N_("显示本帮助并退出。"))
@click.pass_context
def main(
    ctx: click.Context,
    *,
    db_url: str | None,
    now: datetime | None,
    holidays: Path | None,
    admin_list: Path | None,
    lang: str | None,
) -> None:
    """The group: keeps the global options on ``ctx.obj`` (help text above, via the catalogue)."""
    # the CLI prints what an officer needs itself; library warnings reach a log only where one
    # is configured (the scheduler service configures one), never Python's bare stderr fallback
    for name in ("workflow", "notifications"):
        logging.getLogger(name).addHandler(logging.NullHandler())
    ctx.obj = Settings(
        db=db_url,
        now=now,
        holidays=holidays,
        lang=set_language(lang),
        admin_list_file=admin_list,
    )
    if holidays is not None:
        ctx.obj.calendar()  # a bad file stops every command at once, naming each problem
    if admin_list is not None:
        ctx.obj.admin_list()  # the same for the administrative list
