"""Check and normalise the evidence a step records (A7.2) against its declared field types.

Values arrive as text from the CLI and as JSON from hosts; both end up as JSON-ready values
(dates as ISO strings) so the history row stores exactly what the rules saw.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from workflow.definition.model import FieldSpec
from workflow.errors import InputError

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
                raise ValueError(f"expected text, got {value!r}")
            return value.strip()
        case "date":
            if isinstance(value, date):
                return value.isoformat()
            try:
                return date.fromisoformat(str(value).strip()).isoformat()
            except ValueError:
                raise ValueError(f"{value!r} is not a date in the form YYYY-MM-DD") from None
        case "integer":
            number: float = _integer(value)
            return _bounded(spec, number)
        case "number":
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise ValueError(f"{value!r} is not a number") from None
            return _bounded(spec, number)
        case "boolean":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in _TRUE:
                return True
            if text in _FALSE:
                return False
            raise ValueError(f"{value!r} is not yes/no (true/false, 是/否)")
        case "choice":
            if value not in spec.choices:
                raise ValueError(f"{value!r} is not one of {', '.join(spec.choices)}")
            return value
    raise ValueError(f"unknown field type {spec.type}")  # pragma: no cover - schema forbids it


def _integer(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a whole number")
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        raise ValueError(f"{value!r} is not a whole number") from None


def _bounded(spec: FieldSpec, number: float) -> Any:
    if spec.minimum is not None and number < spec.minimum:
        raise ValueError(f"{number:g} is below the minimum {spec.minimum:g}")
    if spec.maximum is not None and number > spec.maximum:
        raise ValueError(f"{number:g} is above the maximum {spec.maximum:g}")
    return number
