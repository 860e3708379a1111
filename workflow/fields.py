"""Check and normalise the evidence a step records (A7.2) against its declared field types.

Values arrive as text from the CLI and as JSON from hosts; both end up as JSON-ready values
(dates as ISO strings) so the history row stores exactly what the rules saw.

The history is append-only, so nothing oversized may reach it: a text is at most the field's
``max_length`` from the definition (default 200 characters for ``string``, 4,000 for ``text``),
a whole number fits the database's 32-bit integer columns, and a number is finite.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date
from typing import Any

from workflow.definition.model import FieldSpec
from workflow.errors import InputError
from workflow.i18n import _

DEFAULT_MAX_LENGTH = {"string": 200, "text": 4000}
# the database's INTEGER: an id or a count beyond it is bad input, not a driver's overflow
INT_MIN, INT_MAX = -(2**31), 2**31 - 1


def max_length(spec: FieldSpec) -> int:
    """The most characters a string or text field may hold (the definition's or the default)."""
    return spec.max_length or DEFAULT_MAX_LENGTH.get(spec.type, DEFAULT_MAX_LENGTH["text"])


_TRUE = {"true", "yes", "y", "1", "是", "对"}
_FALSE = {"false", "no", "n", "0", "否", "不"}


def coerce_fields(
    specs: tuple[FieldSpec, ...], raw: Mapping[str, Any], *, step: str
) -> dict[str, Any]:
    """Every problem at once in one InputError; unknown keys are refused, not dropped."""
    by_name = {spec.name: spec for spec in specs}
    problems: list[tuple[str, str]] = []  # (field, message)
    values: dict[str, Any] = {}
    for key in raw:
        if key not in by_name:
            expected = ", ".join(by_name) or _("无")
            problems.append(
                (
                    key,
                    _("步骤 '{step}' 不记录字段 '{key}'（可记录的字段：{expected}）").format(
                        step=step, key=key, expected=expected
                    ),
                )
            )
    for spec in specs:
        value = raw.get(spec.name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if spec.required:
                problems.append(
                    (
                        spec.name,
                        _("字段 '{name}'（{label}）必填").format(name=spec.name, label=spec.label),
                    )
                )
            continue
        try:
            values[spec.name] = _coerce(spec, value)
        except ValueError as exc:
            problems.append(
                (
                    spec.name,
                    _("字段 '{name}'（{label}）：{problem}").format(
                        name=spec.name, label=spec.label, problem=exc
                    ),
                )
            )
    if problems:
        listed = _("；").join(message for _field, message in problems)
        raise InputError(
            _("步骤 '{step}'：{problems}").format(step=step, problems=listed),
            field=problems[0][0],
        )
    return values


def _coerce(spec: FieldSpec, value: Any) -> Any:
    match spec.type:
        case "string" | "text":
            if not isinstance(value, str):
                raise ValueError(_("应为文本，实为 {value}").format(value=_shown(value)))
            text = value.strip()
            limit = max_length(spec)
            if len(text) > limit:
                raise ValueError(
                    _("文本过长：{length} 个字符，最多 {limit} 个").format(
                        length=len(text), limit=limit
                    )
                )
            return text
        case "date":
            if isinstance(value, date):
                return value.isoformat()
            try:
                return date.fromisoformat(str(value).strip()).isoformat()
            except ValueError:
                raise ValueError(
                    _("{value} 不是日期，应形如 YYYY-MM-DD").format(value=_shown(value))
                ) from None
        case "integer":
            whole = _integer(value)
            if not INT_MIN <= whole <= INT_MAX:
                raise ValueError(
                    _("{value} 超出整数范围（{low} 至 {high}）").format(
                        value=_shown(whole), low=INT_MIN, high=INT_MAX
                    )
                )
            number: float = whole
            return _bounded(spec, number)
        case "number":
            try:
                number = float(value)
            except (TypeError, ValueError, OverflowError):
                raise ValueError(_("{value} 不是数").format(value=_shown(value))) from None
            if not math.isfinite(number):
                raise ValueError(_("{value} 不是有限的数").format(value=_shown(value)))
            return _bounded(spec, number)
        case "boolean":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in _TRUE:
                return True
            if text in _FALSE:
                return False
            raise ValueError(
                _("{value} 不是“是”或“否”（可写 是/否、true/false）").format(value=_shown(value))
            )
        case "choice":
            if value not in spec.choices:
                raise ValueError(
                    _("{value} 不是以下之一：{choices}").format(
                        value=_shown(value), choices=_("、").join(spec.choices)
                    )
                )
            return value
    # the definition schema forbids any other type
    raise ValueError(_("未知的字段类型：{type}").format(type=spec.type))  # pragma: no cover


def _shown(value: Any) -> str:
    """A value as a message may quote it: never megabytes, never a 4,300-digit number."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**20:
        return _("{digits} 位的数").format(digits=int(value.bit_length() * 0.30103) + 1)
    if isinstance(value, str) and len(value) > 60:
        return repr(value[:57]) + "…"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "…"


def _integer(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(_("{value} 不是整数").format(value=_shown(value)))
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if len(text) > 20:  # int() of a long text is quadratic; nothing that long fits INT_MAX
        raise ValueError(
            _("{value} 超出整数范围（{low} 至 {high}）").format(
                value=_shown(text), low=INT_MIN, high=INT_MAX
            )
        )
    try:
        return int(text)
    except ValueError:
        raise ValueError(_("{value} 不是整数").format(value=_shown(value))) from None


def _bounded(spec: FieldSpec, number: float) -> Any:
    if spec.minimum is not None and number < spec.minimum:
        raise ValueError(
            _("{number} 低于下限 {minimum}").format(
                number=f"{number:g}", minimum=f"{spec.minimum:g}"
            )
        )
    if spec.maximum is not None and number > spec.maximum:
        raise ValueError(
            _("{number} 超过上限 {maximum}").format(
                number=f"{number:g}", maximum=f"{spec.maximum:g}"
            )
        )
    return number
