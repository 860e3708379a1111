"""The minimum a cadre record needs before a case can be opened for it.

Full roster validation (ID-card check digits, enumerations, CSV/XLSX) belongs to the roster
importer; the engine itself only insists on what it files cases under and what its rules read.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from workflow.errors import InputError

REQUIRED_TEXT = ("id", "name", "county", "agency")


def cadre_row(record: Mapping[str, Any]) -> dict[str, Any]:
    """Columns for the cadres table; the whole record is kept as JSON for the rules."""
    problems = []
    for key in REQUIRED_TEXT:
        value = record.get(key)
        if not isinstance(value, str) or not value.strip():
            problems.append(f"'{key}' must be non-empty text")
    birth: date | None = None
    try:
        birth = date.fromisoformat(str(record.get("birth_date")))
    except ValueError:
        problems.append(f"'birth_date' {record.get('birth_date')!r} is not a date YYYY-MM-DD")
    if problems or birth is None:
        who = record.get("id", "?")
        raise InputError(f"cadre {who}: " + "; ".join(problems), field=problems[0].split("'")[1])
    return {
        "id": record["id"].strip(),
        "name": record["name"].strip(),
        "county": record["county"].strip(),
        "agency": record["agency"].strip(),
        "birth_date": birth,
        "record": dict(record),
    }
