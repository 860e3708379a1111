"""Read an office's administrative list: the counties and agencies a roster may name.

The shipped list (`workflow.roster.vocabulary.ADMIN_LIST`: Liaocheng's counties, each with its
军休所) is the default. An office whose counties or agencies change (a new district, a second
agency in a county) names a YAML file with ``--admin-list FILE`` or $CONVALESCENCE_ADMIN_LIST,
no release needed::

    counties:
      东昌府区: [东昌府区军休所, 东昌府区第二军休所]
      聊城经济技术开发区: [开发区军休所]
    replace: false   # optional; true: this file is the whole list, not an extension

Extending (the default) adds the file's counties and agencies to the shipped ones. Names are
compared as the roster compares them (NFKC-normalised; an invisible character is refused), an
agency serves exactly one county. Every problem is reported at once with file, line and column,
and a bad file is bad input (exit 2), as the holiday file is.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from pathlib import Path

from workflow.definition.yaml_source import Located, parse_yaml
from workflow.errors import InputError, Problem
from workflow.i18n import _
from workflow.roster.record import MAX_AGENCY, MAX_COUNTY, invisible_character
from workflow.roster.vocabulary import ADMIN_LIST, AdminList

ADMIN_LIST_VAR = "CONVALESCENCE_ADMIN_LIST"
_KEYS = ("counties", "replace")


class AdminListFileError(InputError):
    """An administrative list file is invalid; ``problems`` names each with file, line and
    column (exit 2, bad input)."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__(
            _("行政区划名单文件有误：") + "\n" + "\n".join(str(p) for p in self.problems),
            field="admin_list",
        )


def admin_list(path: str | Path | None) -> AdminList:
    """The shipped list, or the one file ``path`` declares (read on every call)."""
    return ADMIN_LIST if path is None else read_admin_list(path)


def read_admin_list(path: str | Path, base: AdminList = ADMIN_LIST) -> AdminList:
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AdminListFileError(
            [Problem(str(file), 1, 1, _("无法读取文件：{reason}").format(reason=exc))]
        ) from exc
    located = parse_yaml(text, str(file))
    listed = None if located.problems else _counties(located, base)
    if located.problems or listed is None:
        raise AdminListFileError(located.problems)
    return AdminList(listed, source=str(file))


def _name(located: Located, path: tuple[str | int, ...], value: object, limit: int) -> str | None:
    """A county or agency name as the roster's check compares it, or None after a problem."""
    key = len(path) == 2  # a county is a key of the mapping, an agency an item of a list
    if not isinstance(value, str) or not value.strip():
        located.problems.append(located.problem(path, _("名称须为非空文本"), key=key))
        return None
    found = invisible_character(value)
    if found is not None:
        located.problems.append(located.problem(path, found, key=key))
        return None
    name = unicodedata.normalize("NFKC", value).strip()
    if len(name) > limit:
        message = _("过长：{length}个字符，最多{limit}").format(length=len(name), limit=limit)
        located.problems.append(located.problem(path, message, key=key))
        return None
    return name


def _counties(located: Located, base: AdminList) -> dict[str, tuple[str, ...]] | None:
    data = located.data
    if not isinstance(data, dict) or "counties" not in data:
        located.problems.append(
            located.problem((), _("文件须是含 counties 键的映射：每个县名下列出它的机构名"))
        )
        return None
    for key in data.keys() - set(_KEYS):
        message = _("未知的键 {key}（只能是 {allowed}）").format(key=key, allowed="、".join(_KEYS))
        located.problems.append(located.problem((key,), message, key=True))
    replace = data.get("replace", False)
    if not isinstance(replace, bool):
        located.problems.append(located.problem(("replace",), _("replace 须为 true 或 false")))
    counties = data["counties"]
    if not isinstance(counties, dict) or not counties:
        located.problems.append(
            located.problem(("counties",), _("counties 须列出至少一个县及其机构"))
        )
        return None
    listed: dict[str, list[str]] = (
        {} if replace is True else {c: list(a) for c, a in base.counties.items()}
    )
    served = {} if replace is True else dict(base.agencies)
    for raw_county, agencies in counties.items():
        at = ("counties", raw_county)
        county = _name(located, at, raw_county, MAX_COUNTY)
        if not isinstance(agencies, list) or not agencies:
            located.problems.append(located.problem(at, _("须列出该县的机构（至少一个）")))
            continue
        if county is None:
            continue
        names = listed.setdefault(county, [])
        for index, raw_agency in enumerate(agencies):
            agency = _name(located, (*at, index), raw_agency, MAX_AGENCY)
            if agency is None:
                continue
            other = served.get(agency)
            if other is not None and other != county:
                message = _("{agency}已列在{county}下：一个机构只服务一个县").format(
                    agency=agency, county=other
                )
                located.problems.append(located.problem((*at, index), message))
                continue
            served[agency] = county
            if agency not in names:
                names.append(agency)
    return {county: tuple(names) for county, names in listed.items()}
