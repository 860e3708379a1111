"""A cadre record on its way into the cadres table, however it comes in.

`Engine.put_cadres` validates exactly as ``cadres import`` validates a roster row (issue 17:
one validation for every way in): the roster record check (`workflow.roster.record`) with its
enumerations, ID-number check digit, merit years, administrative list and NFKC-normalised keys,
and the record is stored in the roster format's normal form, as the importer stores it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from workflow.clock import SystemClock, shanghai_date
from workflow.errors import InputError
from workflow.i18n import _
from workflow.roster.record import InvalidRecord, parse_record
from workflow.roster.vocabulary import ADMIN_LIST, AdminList


def cadre_row(
    record: Mapping[str, Any], *, today: date | None = None, admin: AdminList = ADMIN_LIST
) -> dict[str, Any]:
    """Columns for the cadres table, or an `InputError` naming every problem of ``record``
    (the first as its field). ``today`` bounds dates as the importer's clock does; without it,
    today in Asia/Shanghai. County and agency must be on ``admin``, the administrative list."""
    day = today if today is not None else shanghai_date(SystemClock().now())
    try:
        parsed = parse_record(record, today=day, admin=admin)
    except InvalidRecord as invalid:
        who = record.get("id", "?") if isinstance(record, Mapping) else "?"
        raise InputError(
            _("军休干部 {who}：{problems}").format(who=who, problems=invalid.message),
            field=invalid.field,
        ) from None
    return parsed.columns()
