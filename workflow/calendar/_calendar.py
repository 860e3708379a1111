"""Working-day arithmetic on the Chinese official calendar, for deadlines counted in 工作日.

The scheduler's timers (A7.1 step reminders, A9.3 condolence-visit follow-ups) count working
days the way officers do: Saturdays and Sundays are rest days unless the State Council's notice
makes them make-up working days (调休上班), and statutory holidays are rest days even on
weekdays. The calendar only knows the years it has a notice for; asking about any other year
raises ``CalendarDataError`` rather than guessing.

Everything is precomputed when the calendar is built (a sorted list of working days and a running
count per day), so ``add`` and ``working_days_between`` are two list look-ups, whatever the amount.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Literal, get_args

from workflow.calendar._errors import CalendarDataError, CalendarFileError
from workflow.calendar._notice import SATURDAY, YearNotice
from workflow.calendar._override import read_override
from workflow.errors import InputError, Problem
from workflow.i18n import _

Unit = Literal["calendar_days", "working_days"]
WARN_FROM_MONTH = 11  # from 1 November, next year's notice is due: warn while it is missing
UNITS: tuple[str, ...] = get_args(Unit)


@dataclass(frozen=True)
class WorkingCalendar:
    """An immutable working-day calendar covering the whole years ``first_year``..``last_year``.

    ``holidays`` are the statutory rest days, ``workdays`` the make-up working days; both come
    from the yearly notices. Build one with ``default_calendar()`` (the ``chinese-calendar``
    package's notices, optionally extended by an office's override file) rather than by hand.
    """

    first_year: int
    last_year: int
    holidays: frozenset[date] = field(repr=False)
    workdays: frozenset[date] = field(repr=False)
    # ordinal of 1 January of first_year; _through[i] = working days on or before _base + i
    _base: int = field(init=False, repr=False, compare=False)
    _through: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _working: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        problems: list[str] = []
        if self.first_year > self.last_year:
            problems.append(
                _("节假日数据的年份范围无效：{first}–{last}").format(
                    first=self.first_year, last=self.last_year
                )
            )
        problems += [
            _("节假日数据中的 {day} 不在 {first}–{last} 年范围内").format(
                day=day, first=self.first_year, last=self.last_year
            )
            for day in sorted(self.holidays | self.workdays)
            if not self.first_year <= day.year <= self.last_year
        ]
        problems += [
            _("节假日数据有误：{day} 既是放假日又是调休上班日").format(day=day)
            for day in sorted(self.holidays & self.workdays)
        ]
        problems += [
            _("节假日数据有误：调休上班日 {day} 不是周六或周日").format(day=day)
            for day in sorted(self.workdays)
            if day.weekday() < SATURDAY
        ]
        if problems:
            raise CalendarFileError([Problem("<notices>", 1, 1, p) for p in problems])
        base = date(self.first_year, 1, 1).toordinal()
        end = date(self.last_year, 12, 31).toordinal()
        through: list[int] = []
        working: list[int] = []
        for ordinal in range(base, end + 1):
            day = date.fromordinal(ordinal)
            if day in self.workdays or (day.weekday() < SATURDAY and day not in self.holidays):
                working.append(ordinal)
            through.append(len(working))
        object.__setattr__(self, "_base", base)
        object.__setattr__(self, "_through", tuple(through))
        object.__setattr__(self, "_working", tuple(working))

    @classmethod
    def from_notices(cls, notices: Mapping[int, YearNotice]) -> WorkingCalendar:
        """A calendar of exactly these years; they must follow one another with no gap.

        Notices are applied in year order, so a notice's restatement of the previous December
        (see `YearNotice`) overrides that year's own notice for those days. A restated December
        of a year before the first is dropped: this calendar answers nothing about that year.
        """
        if not notices:
            raise CalendarFileError(
                [Problem("<notices>", 1, 1, "节假日数据为空：至少需要一年的放假安排")]
            )
        first, last = min(notices), max(notices)
        for year in range(first, last + 1):
            if year not in notices:
                raise CalendarDataError.no_data(year, first, last)
        holidays: set[date] = set()
        workdays: set[date] = set()
        for year in sorted(notices):
            notice = notices[year]
            for day in notice.holidays:
                if day.year >= first:
                    workdays.discard(day)
                    holidays.add(day)
            for day in notice.workdays:
                if day.year >= first:
                    holidays.discard(day)
                    workdays.add(day)
        return cls(
            first_year=first,
            last_year=last,
            holidays=frozenset(holidays),
            workdays=frozenset(workdays),
        )

    @classmethod
    def from_yaml(cls, path: str | Path, *, base: WorkingCalendar | None = None) -> WorkingCalendar:
        """The years of an override file, laid over ``base`` (or alone if there is none).

        A year in the file replaces that year of ``base`` entirely (see ``YearNotice``); the
        result must still be a run of years without a gap.
        """
        notices = read_override(path, base)
        return base.with_notices(notices) if base is not None else cls.from_notices(notices)

    def notice(self, year: int) -> YearNotice:
        """The notice for ``year``, so calendars can be merged year by year."""
        self._require(date(year, 1, 1))
        return YearNotice(
            frozenset(d for d in self.holidays if d.year == year),
            frozenset(d for d in self.workdays if d.year == year),
        )

    def missing_next_year(self, today: date) -> int | None:
        """The year after ``today``'s when its notice is missing and it is time to ask for it:
        from 1 November (the State Council publishes next year's notice in November or early
        December, and 20-working-day deadlines reach into January from early December)."""
        if today.month >= WARN_FROM_MONTH and today.year == self.last_year:
            return today.year + 1
        return None

    def with_notices(self, notices: Mapping[int, YearNotice]) -> WorkingCalendar:
        """This calendar with the given years added or replaced whole."""
        merged = {year: self.notice(year) for year in range(self.first_year, self.last_year + 1)}
        merged.update(notices)
        return WorkingCalendar.from_notices(merged)

    def covers(self, day: date) -> bool:
        return self.first_year <= day.year <= self.last_year

    def deadline(self, start: date, amount: int, unit: Unit) -> date | None:
        """As `add`, but ``None`` for a deadline that falls after the last covered year.

        Such a deadline is certainly later than every covered day, so "is it due yet?" asked on
        a covered day has an answer, no: the scheduler keeps running past the end of the data
        and only the day itself needs the next year's notice. ``start`` must still be covered.
        """
        self._require(start)
        try:
            return self.add(start, amount, unit)
        except CalendarDataError as error:
            if error.year == self.last_year + 1:
                return None
            raise

    def is_due(self, start: date, amount: int, unit: Unit, today: date) -> bool:
        """Whether the deadline ``amount`` units after ``start`` has come by ``today``.

        Calendar days need no data. For working days ``today`` must be covered (else
        `CalendarDataError` names its year); a deadline beyond the data is not due yet.
        """
        if unit == "calendar_days":
            return self.add(start, amount, unit) <= today
        self._require(today)
        deadline = self.deadline(start, amount, unit)
        return deadline is not None and deadline <= today

    def last_start_within(self, amount: int, unit: Unit) -> date | None:
        """The last day whose deadline ``amount`` units later is still inside the data: from the
        day after, such deadlines need the next year's notice. ``None`` for calendar days."""
        if unit == "calendar_days" or amount == 0:
            return None
        if amount > len(self._working):
            return date(self.first_year, 1, 1)
        # the day before the amount-th working day from the end starts the last full count
        return date.fromordinal(self._working[len(self._working) - amount] - 1)

    def is_working_day(self, day: date) -> bool:
        index = self._index(day)
        return self._through[index] != (self._through[index - 1] if index else 0)

    def add(self, start: date, amount: int, unit: Unit) -> date:
        """The deadline ``amount`` units after ``start``.

        ``calendar_days``: ``start + amount`` days; needs no holiday data, so it never raises
        ``CalendarDataError``.

        ``working_days``: the date of the ``amount``-th working day strictly after ``start``;
        ``start`` itself is never counted, whether or not it is a working day (a request filed on
        a Friday afternoon or during the Spring Festival gets its first working day the next
        working day). The result is therefore always a working day, except for ``amount`` 0,
        which returns ``start`` unchanged ("due now"). ``start`` and the result must lie in the
        covered years, else ``CalendarDataError`` names the first year without data.

        A negative ``amount`` is refused: deadlines lie ahead, and counting backwards would
        silently hide a mistyped sign in a definition.
        """
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise InputError(
                _("期限须为整数，收到 {amount!r}").format(amount=amount), field="amount"
            )
        if amount < 0:
            raise InputError(
                _("期限不能为负数（{amount}）：期限只能向后计算").format(amount=amount),
                field="amount",
            )
        if unit == "calendar_days":
            _check_date(start)
            try:
                return start + timedelta(days=amount)
            except OverflowError:
                raise InputError(
                    _("{start} 之后 {amount} 天超出日期范围").format(start=start, amount=amount),
                    field="amount",
                ) from None
        if unit != "working_days":
            raise InputError(
                _("期限单位须为 {units} 之一，收到 {unit!r}").format(
                    units=_("、").join(UNITS), unit=unit
                ),
                field="unit",
            )
        index = self._index(start)
        if amount == 0:
            return start
        position = self._through[index] + amount - 1
        if position >= len(self._working):
            raise CalendarDataError.no_data(self.last_year + 1, self.first_year, self.last_year)
        return date.fromordinal(self._working[position])

    def working_days_between(self, a: date, b: date) -> int:
        """How many working days lie in ``(a, b]``; negative, with the same size, if ``b < a``.

        The same counting as ``add``: ``working_days_between(d, add(d, n, "working_days")) == n``,
        so "how many working days has this been pending" and "when is it due" always agree.
        """
        return self._through[self._index(b)] - self._through[self._index(a)]

    def _index(self, day: date) -> int:
        _check_date(day)
        if not self.covers(day):
            raise CalendarDataError.no_data(day.year, self.first_year, self.last_year)
        return day.toordinal() - self._base

    def _require(self, day: date) -> None:
        self._index(day)


def _check_date(day: object) -> None:
    # A datetime is a date too, but its day depends on its time zone: callers convert first
    # (workflow.clock.shanghai_date), so a UTC timestamp cannot shift a deadline by a day.
    if isinstance(day, datetime) or not isinstance(day, date):
        raise InputError(
            _(
                "须传入上海时区的日期（date），收到 {day!r}；"
                "请先用 workflow.clock.shanghai_date 转换"
            ).format(day=day),
            field="date",
        )
