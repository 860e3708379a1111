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
    problems: list[str] = []
    values: dict[str, Any] = {}
    for key in raw:
        if key not in by_name:
            expected = ", ".join(by_name) or "none"
            problems.append(f"field '{key}' is not recorded by step '{step}' (fields: {expected})")
    for spec in specs:
        value = raw.get(spec.name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if spec.required:
                problems.append(f"field '{spec.name}' ({spec.label}) is required")
            continue
        try:
            values[spec.name] = _coerce(spec, value)
        except ValueError as exc:
            problems.append(f"field '{spec.name}' ({spec.label}): {exc}")
    if problems:
        first = next((p.split("'")[1] for p in problems if "'" in p), None)
        raise InputError(f"step '{step}': " + "; ".join(problems), field=first)
    return values


def _coerce(spec: FieldSpec, value: Any) -> Any:
    match spec.type:
        case "string" | "text":
            if not isinstance(value, str):
                raise ValueError(f"expected text, got {_shown(value)}")
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
                raise ValueError(f"{_shown(value)} is not a date in the form YYYY-MM-DD") from None
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
                raise ValueError(f"{_shown(value)} is not a number") from None
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
            raise ValueError(f"{_shown(value)} is not yes/no (true/false, 是/否)")
        case "choice":
            if value not in spec.choices:
                raise ValueError(f"{_shown(value)} is not one of {', '.join(spec.choices)}")
            return value
    raise ValueError(f"unknown field type {spec.type}")  # pragma: no cover - schema forbids it


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
        raise ValueError(f"{_shown(value)} is not a whole number")
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
        raise ValueError(f"{_shown(value)} is not a whole number") from None


def _bounded(spec: FieldSpec, number: float) -> Any:
    if spec.minimum is not None and number < spec.minimum:
        raise ValueError(f"{number:g} is below the minimum {spec.minimum:g}")
    if spec.maximum is not None and number > spec.maximum:
        raise ValueError(f"{number:g} is above the maximum {spec.maximum:g}")
    return number
