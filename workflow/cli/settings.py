"""The command line's global options (``--db``, ``--now``, ``--holidays``, ``--lang``), kept on
``ctx.obj``.

Kept apart from `workflow.cli.db` so that reading them costs nothing: the database layer and the
holiday data load only when a command asks for the URL or the calendar.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from workflow.clock import Clock, SimulatedClock, SystemClock

if TYPE_CHECKING:
    from workflow.calendar import WorkingCalendar

HOLIDAYS_VAR = "CONVALESCENCE_HOLIDAYS"  # the same name workflow.calendar documents


@dataclass
class Settings:
    """The group's global options, kept on ``ctx.obj`` for every subcommand."""

    db: str | None = None
    now: datetime | None = None
    holidays: Path | None = None  # --holidays / $CONVALESCENCE_HOLIDAYS: next years' notices
    lang: str = "zh"  # --lang, else the locale variables (workflow.i18n); messages are in it
    _calendar: WorkingCalendar | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        from workflow.store.database import resolve_url  # noqa: PLC0415 (loads SQLAlchemy)

        return resolve_url(self.db)

    def calendar(self) -> WorkingCalendar:
        """The built-in holiday notices with the office's file laid over them, read once per
        command (a bad file is refused with every problem, exit 2, before anything runs)."""
        if self._calendar is None:
            from workflow.calendar import default_calendar  # noqa: PLC0415

            self._calendar = default_calendar(self.holidays)
        return self._calendar

    def clock(self) -> Clock:
        return SimulatedClock(self.now) if self.now is not None else SystemClock()
