"""The database side of the CLI: the global settings, the one place an `Engine` is built, and
``convalescence db upgrade``.

SQLite is the zero-set-up default, so an officer's first command creates the file and its schema
(``auto_upgrade``). PostgreSQL is shared by many nodes and officers: there the schema changes only
when someone runs ``db upgrade`` on purpose, and every other command says so until then.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import click

from workflow.calendar import WorkingCalendar, default_calendar
from workflow.cli import output
from workflow.clock import Clock, SimulatedClock, SystemClock
from workflow.engine import Engine
from workflow.store.connectivity import is_sqlite_url as is_sqlite
from workflow.store.connectivity import masked_url as masked
from workflow.store.database import resolve_url


@dataclass
class Settings:
    """The group's global options, kept on ``ctx.obj`` for every subcommand."""

    db: str | None = None
    now: datetime | None = None
    holidays: Path | None = None  # --holidays / $CONVALESCENCE_HOLIDAYS: next years' notices
    _calendar: WorkingCalendar | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return resolve_url(self.db)

    def calendar(self) -> WorkingCalendar:
        """The built-in holiday notices with the office's file laid over them, read once per
        command (a bad file is refused with every problem, exit 2, before anything runs)."""
        if self._calendar is None:
            self._calendar = default_calendar(self.holidays)
        return self._calendar

    def clock(self) -> Clock:
        return SimulatedClock(self.now) if self.now is not None else SystemClock()


def open_engine() -> Engine:
    """An engine for the running command, closed by click when the command ends."""
    ctx = click.get_current_context()
    settings = ctx.ensure_object(Settings)
    url = settings.url
    engine = Engine(url, clock=settings.clock(), auto_upgrade=is_sqlite(url))
    return ctx.with_resource(engine)


@click.group()
def db() -> None:
    """Create or migrate the database schema."""


@db.command()
@output.json_option
def upgrade(as_json: bool) -> None:
    """Create the schema, or migrate it to the revision this version of the engine needs.

    Safe to run again: an up-to-date database is left as it is.
    """
    engine = open_engine()
    before, after = engine.upgrade_schema()
    url = masked(click.get_current_context().ensure_object(Settings).url)
    if as_json:
        output.print_json(
            {"url": url, "before": before, "after": after, "changed": before != after}
        )
        return
    if before == after:
        output.say(f"{url}: schema already at revision {after}")
    else:
        output.say(f"{url}: schema {before or 'none'} → {after}", style="green")
