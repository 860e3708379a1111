"""The command line's global options (``--db``, ``--now``, ``--holidays``, ``--admin-list``,
``--lang``), kept on ``ctx.obj``.

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
    from workflow.roster.vocabulary import AdminList

HOLIDAYS_VAR = "CONVALESCENCE_HOLIDAYS"  # the same name workflow.calendar documents
ADMIN_LIST_VAR = "CONVALESCENCE_ADMIN_LIST"  # the same name workflow.roster.admin_list documents


@dataclass
class Settings:
    """The group's global options, kept on ``ctx.obj`` for every subcommand."""

    db: str | None = None
    now: datetime | None = None
    holidays: Path | None = None  # --holidays / $CONVALESCENCE_HOLIDAYS: next years' notices
    lang: str = "zh"  # --lang, else the locale variables (workflow.i18n); messages are in it
    # --admin-list / $CONVALESCENCE_ADMIN_LIST: the office's counties and agencies
    admin_list_file: Path | None = None
    _calendar: WorkingCalendar | None = field(default=None, repr=False)
    _admin_list: AdminList | None = field(default=None, repr=False)

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

    def admin_list(self) -> AdminList:
        """The administrative list cadre records are checked against: the shipped one, or the
        office's file, read once per command (a bad file is exit 2 naming file:line)."""
        if self._admin_list is None:
            from workflow.roster.admin_list import admin_list  # noqa: PLC0415

            self._admin_list = admin_list(self.admin_list_file)
        return self._admin_list

    def clock(self) -> Clock:
        return SimulatedClock(self.now) if self.now is not None else SystemClock()
