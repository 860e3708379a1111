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
from typing import TYPE_CHECKING, Any

import click

from workflow.cli import output
from workflow.cli.settings import HOLIDAYS_VAR, Settings
from workflow.clock import as_shanghai
from workflow.errors import WorkflowError, error_json

if TYPE_CHECKING:
    from sqlalchemy.exc import OperationalError

# command -> (module:attribute, one-line help shown by --help without importing the module)
COMMANDS: dict[str, tuple[str, str]] = {
    "db": ("workflow.cli.db:db", "建库与迁移 / create or migrate the schema"),
    "definitions": (
        "workflow.cli.definitions:definitions",
        "流程定义：校验、查看、状态图 / validate, show, diagram",
    ),
    "cadres": ("workflow.cli.cadres:cadres", "军休干部名册导入 / import the roster"),
    "eligibility": (
        "workflow.cli.eligibility:eligibility",
        "资格说明（第四、八条） / explain eligibility (art. 4, 8)",
    ),
    "cases": ("workflow.cli.cases:cases", "案件：报名、办理、查看 / open, step and read cases"),
    "plans": ("workflow.cli.plans:plans", "年度计划（第三条） / annual plans (art. 3)"),
    "contractors": (
        "workflow.cli.plans:contractors",
        "承办单位（第十条） / contractors (art. 10)",
    ),
    "batches": ("workflow.cli.plans:batches", "疗养批次（第六条） / batches (art. 6)"),
    "tasks": ("workflow.cli.tasks:tasks", "待办任务 / follow-up tasks"),
    "notifications": (
        "workflow.cli.notifications:notifications",
        "通知：发送、查看、重试 / dispatch, list, retry notices",
    ),
    "scheduler": (
        "workflow.cli.scheduler:scheduler",
        "定时任务：期限、走访、通知（第九条） / timers, visits, delivery (art. 9)",
    ),
    "calendar": (
        "workflow.cli.calendar:calendar",
        "工作日数据：年份、节假日 / working-day data: years, holidays",
    ),
    "report": ("workflow.cli.report:report", "报表（第十八条） / reports (art. 18)"),
    "audit": ("workflow.cli.audit:audit", "审计链校验（A19.1） / verify the audit chain"),
    "serve": ("workflow.cli.serve:serve", "启动 REST API 服务 / serve the REST API"),
    "tokens": ("workflow.cli.serve:tokens", "API 令牌 / API tokens"),
    "demo": ("workflow.cli.demo:demo", "演示：模拟一个疗养周期 / simulate a whole cycle"),
}
# global options that may also be written after the command; each takes one value
GLOBAL_OPTIONS = ("--db", "--now", "--holidays")

EXIT_CODES = """\b
Exit codes:
  0  ok
  1  refused by a rule (message cites the article)
  2  bad input or usage
  3  conflict (someone changed the case first; nothing was written)
  4  not found
  5  calendar data missing: no holiday notice for today's year (add it with --holidays)
  6  audit chain broken (names the first tampered record, A19.1)
"""
BAD_INPUT = 2


def parse_moment(
    _ctx: click.Context, _param: click.Parameter, value: str | None
) -> datetime | None:
    """``--now``: an ISO date-time, read as Shanghai wall time when it names no zone."""
    if value is None:
        return None
    try:
        return as_shanghai(datetime.fromisoformat(value))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date-time such as 2024-05-01T09:00") from None


def hoist_global_options(args: list[str]) -> list[str]:
    """Move global options written after the command to the front, where click expects them:
    ``cases list --db URL`` means ``--db URL cases list``. (``scheduler run --now`` has the
    same meaning either way.) Nothing after a ``--`` is touched."""
    if not args or args[0].startswith("-"):
        return args
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
        rows = [(name, text) for name, (_, text) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, hoist_global_options(args))

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except WorkflowError as error:
            output.print_error(error)
            if output.wants_json(ctx):
                output.print_json(error_json(error))
            ctx.exit(error.exit_code)
        except Exception as error:
            # the database layer is loaded by then if this is its error; importing it here keeps
            # it out of commands that never touch a database
            from workflow.store.connectivity import DatabaseUnreachable  # noqa: PLC0415

            if not isinstance(error, DatabaseUnreachable):
                raise
            _report_unreachable(ctx, error)
            ctx.exit(BAD_INPUT)


def _report_unreachable(ctx: click.Context, error: OperationalError) -> None:
    """One line naming the database and the driver's reason; the password never shows."""
    from workflow.store.connectivity import masked_url, unreachable_reason  # noqa: PLC0415

    url = ctx.ensure_object(Settings).url
    reason, shown = unreachable_reason(url, error), masked_url(url)
    output.print_database_error(shown, reason)
    if output.wants_json(ctx):
        output.print_json(output.database_error_json(shown, reason))


@click.group(cls=LazyGroup, epilog=EXIT_CODES)
@click.option(
    "--db",
    "db_url",
    metavar="URL",
    help="Database URL; default $CONVALESCENCE_DB, else sqlite:///convalescence.db here.",
)
@click.option(
    "--now",
    metavar="DATETIME",
    callback=parse_moment,
    help="Act as if it were this moment (ISO, Asia/Shanghai if no zone); default the clock.",
)
@click.option(
    "--holidays",
    metavar="FILE",
    envvar=HOLIDAYS_VAR,
    type=click.Path(path_type=Path, dir_okay=False),
    help=f'Holiday notices for years the built-in data lacks (YAML; README "Working days"); '
    f"default ${HOLIDAYS_VAR}.",
)
@click.pass_context
def main(
    ctx: click.Context, db_url: str | None, now: datetime | None, holidays: Path | None
) -> None:
    """Honorary convalescence (荣誉疗养) of retired military cadres: cases, steps, definitions."""
    # the CLI prints what an officer needs itself; library warnings reach a log only where one
    # is configured (the scheduler service configures one), never Python's bare stderr fallback
    for name in ("workflow", "notifications"):
        logging.getLogger(name).addHandler(logging.NullHandler())
    ctx.obj = Settings(db=db_url, now=now, holidays=holidays)
    if holidays is not None:
        ctx.obj.calendar()  # a bad file stops every command at once, naming each problem
