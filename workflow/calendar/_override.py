"""Read an office's override file: the holiday notices of years the package does not know yet.

The State Council publishes next year's notice in November or December; the ``chinese-calendar``
package follows some weeks later. An office types the notice into a small YAML file meanwhile::

    years:
      2027:
        holidays: [2027-01-01, 2027-02-06, ...]   # every rest day the notice lists
        workdays: [2027-02-14, ...]               # every make-up working day (调休上班)

A notice may also restate days of the previous December (the 2019 notice moved 2018-12-29 to a
working Saturday and gave 2018-12-30/31 off for New Year): list those dates under the new year;
they replace what the previous year's notice said of those days.

Every problem is reported at once, with file, line and column, as the definition loader does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from pathlib import Path as FsPath
from typing import TYPE_CHECKING, Any

from workflow.calendar._errors import CalendarFileError
from workflow.calendar._notice import YearNotice
from workflow.definition.yaml_source import Located, Path, parse_yaml
from workflow.errors import Problem
from workflow.i18n import _

_YEAR = re.compile(r"[0-9]{4}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_LISTS = ("holidays", "workdays")

if TYPE_CHECKING:  # _calendar imports this module to read override files
    from workflow.calendar._calendar import WorkingCalendar


def read_override(path: str | FsPath, base: WorkingCalendar | None) -> dict[int, YearNotice]:
    file = FsPath(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CalendarFileError(
            [Problem(str(file), 1, 1, _("无法读取文件：{reason}").format(reason=exc))]
        ) from exc
    located = parse_yaml(text, str(file))
    notices = {} if located.problems else _notices(located)
    if not located.problems:
        _check_no_gap(located, notices, base)
    if located.problems:
        raise CalendarFileError(located.problems)
    return notices


def _notices(located: Located) -> dict[int, YearNotice]:
    data = located.data
    if not isinstance(data, dict) or "years" not in data:
        located.problems.append(
            located.problem(
                (),
                _("文件须是只有一个键 years 的映射"),
            )
        )
        return {}
    for key in data.keys() - {"years"}:
        located.problems.append(
            located.problem(
                (key,),
                _("未知的键 {key}（只能是 years）").format(key=key),
                key=True,
            )
        )
    years = data["years"]
    if not isinstance(years, dict) or not years:
        located.problems.append(
            located.problem(
                ("years",),
                _("years 须为每一年列出 holidays 和 workdays"),
            )
        )
        return {}
    notices: dict[int, YearNotice] = {}
    for key, body in years.items():
        if not _YEAR.fullmatch(str(key)):
            located.problems.append(
                located.problem(("years", key), _("{key} 不是年份").format(key=key), key=True)
            )
            continue
        notice = _notice(located, int(key), ("years", key), body)
        if notice is not None:
            notices[int(key)] = notice
    return notices


def _notice(located: Located, year: int, path: Path, body: Any) -> YearNotice | None:
    if not isinstance(body, dict):
        located.problems.append(
            located.problem(
                path,
                _("{year} 年须有 holidays 和 workdays 两个列表").format(year=year),
            )
        )
        return None
    ok = True
    for key in body.keys() - set(_LISTS):
        located.problems.append(
            located.problem(
                (*path, key),
                _("未知的键 {key}（只能是 {allowed}）").format(key=key, allowed="、".join(_LISTS)),
                key=True,
            )
        )
        ok = False
    where: dict[date, Path] = {}
    lists: dict[str, frozenset[date]] = {}
    for name in _LISTS:
        if name not in body:
            # a year is taken whole, so an omitted list is more likely forgotten than empty
            located.problems.append(
                located.problem(
                    path,
                    _("{year} 年缺少 {name} 列表（没有就写 []）").format(year=year, name=name),
                    key=True,
                )
            )
            ok = False
            continue
        days, whole = _dates(located, (*path, name), body[name], where)
        ok = ok and whole
        lists[name] = days
    # the checks below also run on what could be read, so every problem shows in one pass
    notice = YearNotice(lists.get("holidays", frozenset()), lists.get("workdays", frozenset()))
    if "holidays" in lists and not notice.holidays and ok:
        located.problems.append(
            located.problem(
                (*path, "holidays"),
                _("{year} 年没有列出任何放假日期；每年的通知至少有元旦").format(year=year),
            )
        )
        return None
    problems = notice.problems(year)
    for day, message in problems:
        located.problems.append(located.problem(where[day], message))
    return notice if ok and not problems else None


def _dates(
    located: Located, path: Path, value: Any, where: dict[date, Path]
) -> tuple[frozenset[date], bool]:
    """The dates that could be read, and whether every item could."""
    if not isinstance(value, list):
        located.problems.append(located.problem(path, _("须为日期列表（YYYY-MM-DD）")))
        return frozenset(), False
    days: set[date] = set()
    ok = True
    for index, item in enumerate(value):
        item_path = (*path, index)
        day = _date(item)
        if day is None:
            located.problems.append(
                located.problem(
                    item_path,
                    _("{item} 不是日期（请写成 YYYY-MM-DD）").format(item=item),
                )
            )
            ok = False
        elif day in days:
            located.problems.append(located.problem(item_path, _("{day} 重复列出").format(day=day)))
            ok = False
        else:
            days.add(day)
            where[day] = item_path  # for a date in both lists, point at the later one
    return frozenset(days), ok


def _date(item: Any) -> date | None:
    if not isinstance(item, str) or not _DATE.fullmatch(item):
        return None
    try:
        return date.fromisoformat(item)
    except ValueError:
        return None


def _check_no_gap(
    located: Located, notices: Mapping[int, YearNotice], base: WorkingCalendar | None
) -> None:
    years = set(notices)
    if base is not None:
        years |= set(range(base.first_year, base.last_year + 1))
    if not years:
        return
    missing = [y for y in range(min(years), max(years) + 1) if y not in years]
    if missing:
        have = f"{base.first_year}–{base.last_year}" if base is not None else _("无")
        located.problems.append(
            located.problem(
                ("years",),
                _("缺少 {missing} 年的数据（内置 {have} 年），年份必须连续，请一并补上").format(
                    missing=_("、").join(map(str, missing)), have=have
                ),
                key=True,
            )
        )
