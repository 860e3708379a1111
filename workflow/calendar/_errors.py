"""The one error the working-day calendar raises: its holiday data cannot answer the question.

Working-day deadlines (the A7.1 step reminders, the A9.3 condolence-visit follow-ups) depend on
the State Council's yearly holiday notice. Guessing a year that has no notice yet (treating it as
plain Monday-to-Friday) would move deadlines silently by a week around the Spring Festival, so
the calendar refuses instead and the message tells the office how to supply the notice.
"""

from __future__ import annotations

from collections.abc import Sequence

from workflow.errors import InputError, Problem

OVERRIDE_EXAMPLE = "years: {YEAR: {holidays: [YEAR-01-01, ...], workdays: [YEAR-02-07, ...]}}"


class CalendarDataError(InputError):
    """The holiday data has no notice for a year asked about, or an override file is invalid.

    ``year`` is the year without data (``None`` for a bad file); ``problems`` lists every problem
    found in an override file, each with file, line and column, so all can be fixed in one pass.
    """

    def __init__(
        self, message: str, *, year: int | None = None, problems: Sequence[Problem] = ()
    ) -> None:
        super().__init__(message, field="date" if year is not None else None)
        self.year = year
        self.problems = tuple(problems)

    @classmethod
    def no_data(cls, year: int, first_year: int, last_year: int) -> CalendarDataError:
        example = OVERRIDE_EXAMPLE.replace("YEAR", str(year))
        return cls(
            f"没有 {year} 年的法定节假日和调休安排数据（现有 {first_year}–{last_year} 年），"
            f"无法计算工作日。请按国务院办公厅公布的 {year} 年部分节假日安排通知，"
            f"在节假日覆盖文件（YAML）中写明该年的全部放假日期和调休上班日期，格式："
            f"{example}",
            year=year,
        )

    @classmethod
    def bad_file(cls, problems: Sequence[Problem]) -> CalendarDataError:
        return cls(
            "节假日覆盖文件有误：\n" + "\n".join(str(p) for p in problems), problems=problems
        )
