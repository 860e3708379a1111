"""The calendar's two errors: its data cannot answer a question, or an office's file is invalid.

Working-day deadlines (the A7.1 step reminders, the A9.3 condolence-visit follow-ups) depend on
the State Council's yearly holiday notice. Guessing a year that has no notice yet (treating it as
plain Monday-to-Friday) would move deadlines silently by a week around the Spring Festival, so
the calendar refuses instead and the message tells the office how to supply the notice.

The two are different failures for an operator: a missing year is not bad input (the command was
right, the data is not there yet) and has its own exit code, 5; a broken override file is bad
input (exit 2) and names every problem with file, line and column.
"""

from __future__ import annotations

from collections.abc import Sequence

from workflow.errors import InputError, Problem, WorkflowError
from workflow.i18n import _

HOLIDAYS_VAR = "CONVALESCENCE_HOLIDAYS"
OVERRIDE_EXAMPLE = "years: {YEAR: {holidays: [YEAR-01-01, ...], workdays: [YEAR-02-07, ...]}}"


class CalendarDataError(WorkflowError):
    """The holiday data has no notice for ``year``: exit 5, "calendar data missing"."""

    exit_code = 5

    def __init__(self, message: str, *, year: int) -> None:
        super().__init__(message)
        self.year = year

    @classmethod
    def no_data(cls, year: int, first_year: int, last_year: int) -> CalendarDataError:
        example = OVERRIDE_EXAMPLE.replace("YEAR", str(year))
        text = _(
            "没有 {year} 年的法定节假日和调休安排数据（现有 {first}–{last} 年），无法计算工作日。"
            "请按国务院办公厅公布的 {year} 年部分节假日安排通知，在节假日覆盖文件（YAML）中写明"
            "该年的全部放假日期和调休上班日期，格式：{example}；再用全局选项 --holidays FILE 或"
            "环境变量 {variable} 指定该文件（见 README“Working days”一节）。"
        )
        return cls(
            text.format(
                year=year, first=first_year, last=last_year, example=example, variable=HOLIDAYS_VAR
            ),
            year=year,
        )


class CalendarFileError(InputError):
    """An override file is invalid; ``problems`` lists every problem with file, line and column,
    so all can be fixed in one pass (exit 2, bad input)."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__(
            _("节假日覆盖文件有误：") + "\n" + "\n".join(str(p) for p in self.problems),
            field="holidays",
        )
