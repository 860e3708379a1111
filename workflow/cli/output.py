"""Rendering for the command line: JSON for scripts, rich tables for officers, errors for both.

Data goes to stdout and messages for people go to stderr, so ``--json`` output can be piped
into another program while the officer still sees what went wrong. Engine messages are printed
as plain ``Text``, never as rich markup: a message such as ``guards: [x]`` must not be read as a
style tag.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from workflow.errors import (
    DefinitionError,
    WorkflowError,
)
from workflow.i18n import _

F = TypeVar("F", bound=Callable[..., Any])

_JSON_KEY = "convalescence.json"  # in click's ctx.meta, shared by every context of one run


def _remember_json(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    """The error boundary runs in the top-level group, so the flag must be visible from there."""
    if value:
        ctx.meta[_JSON_KEY] = True
    return value


def json_option(command: F) -> F:
    """``--json`` for a command: built when the command's module loads, so its help is in the
    language ``--lang`` chose (this module itself loads before the option is read)."""
    option = click.option(
        "--json",
        "as_json",
        is_flag=True,
        callback=_remember_json,
        help=_("在标准输出打印 JSON 而非表格；出错时也是，为带 error 键的对象。"),
    )
    return option(command)


def examples(*lines: str) -> str:
    """A help epilog of command lines to copy, kept as written (click's ``\\b`` stops the
    rewrapping); tests/test_cli_help_examples.py runs the examples of every command it lists, so
    each must work as written."""
    return "\b\n" + _("示例：") + "\n" + "\n".join(f"  {line}" for line in lines)


def wants_json(ctx: click.Context) -> bool:
    return bool(ctx.meta.get(_JSON_KEY, False))


PIPE_WIDTH = 200  # tables written to a file or pipe are read whole, not on an 80-column screen


def stdout() -> Console:
    """A console bound to the current stdout; built per call so click's test runner sees it."""
    return _sized(Console(highlight=False, soft_wrap=True))


def stderr() -> Console:
    """Messages are never hard-wrapped, so a refusal stays one greppable line in a log."""
    return _sized(Console(stderr=True, highlight=False, soft_wrap=True))


def _sized(console: Console) -> Console:
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = PIPE_WIDTH
    return console


def print_json(value: Any) -> None:
    """Chinese stays readable (no ``\\u`` escapes); dates and other scalars become strings."""
    click.echo(json.dumps(value, ensure_ascii=False, indent=2, default=str))


def cell(value: Any) -> Text:
    """A table cell that rich will not parse for markup; None shows as an empty cell."""
    if value is None:
        return Text("")
    if isinstance(value, bool):
        return Text(_("是") if value else _("否"))
    if isinstance(value, Mapping | list | tuple):
        return Text(json.dumps(value, ensure_ascii=False, default=str))
    return Text(str(value))


def table(
    title: str, columns: Iterable[str], rows: Iterable[Iterable[Any]], *, header: bool = True
) -> Table:
    """One table shape for every listing, so all commands look alike."""
    result = Table(title=title, title_justify="left", show_header=header)
    for column in columns:
        result.add_column(column)
    for row in rows:
        result.add_row(*(cell(value) for value in row))
    return result


def say(message: str, *, style: str | None = None) -> None:
    stdout().print(Text(message, style=style or ""))


def warn(message: str) -> None:
    """A warning on stderr, in yellow: the command went on, but someone should act."""
    stderr().print(Text(_("警告：{message}").format(message=message), style="yellow"))


# -- errors -------------------------------------------------------------------------------


def print_error(error: WorkflowError) -> None:
    """The officer's message in red on stderr; a definition error lists each located problem."""
    console = stderr()
    if isinstance(error, DefinitionError):
        for problem in error.problems:
            console.print(Text(str(problem), style="red"))
        return
    console.print(Text(_("错误：{message}").format(message=error.message), style="red"))


def print_database_error(url: str, reason: str) -> None:
    text = _("错误：无法使用数据库 {url}：{reason}").format(url=url, reason=reason)
    stderr().print(Text(text, style="red"))


def database_error_json(url: str, reason: str) -> dict[str, Any]:
    return {"error": "database_unreachable", "message": reason, "url": url}


def iso_date(_ctx: click.Context, _param: click.Parameter, value: str | None) -> date | None:
    """Click callback for a DATE option: a bad date is a usage error naming the option (exit 2)."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            _("{value!r} 不是日期，应形如 2024-06-03").format(value=value)
        ) from None
