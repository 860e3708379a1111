"""Rendering for the command line: JSON for scripts, rich tables for officers, errors for both.

Data goes to stdout and messages for people go to stderr, so ``--json`` output can be piped
into another program while the officer still sees what went wrong. Engine messages are printed
as plain ``Text``, never as rich markup: a message such as ``guards: [x]`` must not be read as a
style tag.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from workflow.errors import (
    DefinitionError,
    WorkflowError,
)

_JSON_KEY = "convalescence.json"  # in click's ctx.meta, shared by every context of one run


def _remember_json(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    """The error boundary runs in the top-level group, so the flag must be visible from there."""
    if value:
        ctx.meta[_JSON_KEY] = True
    return value


json_option = click.option(
    "--json",
    "as_json",
    is_flag=True,
    callback=_remember_json,
    help="Print JSON on stdout instead of tables; errors too, as an object with 'error'.",
)


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
        return Text("是 yes" if value else "否 no")
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
    stderr().print(Text(f"警告 warning: {message}", style="yellow"))


# -- errors -------------------------------------------------------------------------------


def print_error(error: WorkflowError) -> None:
    """The officer's message in red on stderr; a definition error lists each located problem."""
    console = stderr()
    if isinstance(error, DefinitionError):
        for problem in error.problems:
            console.print(Text(str(problem), style="red"))
        return
    console.print(Text(f"错误 error: {error.message}", style="red"))


def print_database_error(url: str, reason: str) -> None:
    stderr().print(Text(f"错误 error: cannot use the database {url}: {reason}", style="red"))


def database_error_json(url: str, reason: str) -> dict[str, Any]:
    return {"error": "database_unreachable", "message": reason, "url": url}


def iso_date(_ctx: click.Context, _param: click.Parameter, value: str | None) -> date | None:
    """Click callback for a DATE option: a bad date is a usage error naming the option (exit 2)."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date such as 2024-06-03") from None
