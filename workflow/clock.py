"""Injected time: the engine never calls ``datetime.now()`` itself.

Every date the policy talks about (age on the batch's first day, effective windows, deadlines)
is a calendar date in Asia/Shanghai, so clocks hand out aware datetimes in that zone and the
engine derives dates from them. A simulated clock lets tests and the demo run a two-year cycle in
seconds.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


class Clock(Protocol):
    def now(self) -> datetime:
        """An aware datetime in Asia/Shanghai."""
        ...


class SystemClock:
    """The wall clock, converted to Asia/Shanghai."""

    def now(self) -> datetime:
        return datetime.now(SHANGHAI)


class SimulatedClock:
    """A clock that only moves when told to; for tests, the demo and `scheduler --now`."""

    def __init__(self, start: datetime) -> None:
        self._now = as_shanghai(start)

    def now(self) -> datetime:
        return self._now

    def set(self, moment: datetime) -> None:
        self._now = as_shanghai(moment)

    def advance(self, delta: timedelta) -> datetime:
        self._now = self._now + delta
        return self._now


def as_shanghai(moment: datetime) -> datetime:
    """Naive datetimes are taken to be Shanghai wall time, which is what officers type."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=SHANGHAI)
    return moment.astimezone(SHANGHAI)


def shanghai_date(moment: datetime) -> date:
    return as_shanghai(moment).date()
