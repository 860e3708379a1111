"""The minimum a cadre record needs before a case can be opened for it.

Full roster validation (ID-card check digits, enumerations, CSV/XLSX) belongs to the roster
importer; the engine itself only insists on what it files cases under and what its rules read.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from workflow.errors import InputError
from workflow.i18n import _

REQUIRED_TEXT = ("id", "name", "county", "agency")


def cadre_row(record: Mapping[str, Any]) -> dict[str, Any]:
    """Columns for the cadres table; the whole record is kept as JSON for the rules."""
    problems: list[tuple[str, str]] = []  # (field, what is wrong with it)
    for key in REQUIRED_TEXT:
        value = record.get(key)
        if not isinstance(value, str) or not value.strip():
            problems.append((key, _("“{field}”应为非空文本").format(field=key)))
    birth: date | None = None
    try:
        birth = date.fromisoformat(str(record.get("birth_date")))
    except ValueError:
        value = repr(record.get("birth_date"))
        problems.append(
            ("birth_date", _("“birth_date” {value} 不是 YYYY-MM-DD 格式的日期").format(value=value))
        )
    if problems or birth is None:
        listed = _("；").join(problem for _field, problem in problems)
        raise InputError(
            _("军休干部 {who}：{problems}").format(who=record.get("id", "?"), problems=listed),
            field=problems[0][0],
        )
    return {
        "id": record["id"].strip(),
        "name": record["name"].strip(),
        "county": record["county"].strip(),
        "agency": record["agency"].strip(),
        "birth_date": birth,
        "record": dict(record),
    }
