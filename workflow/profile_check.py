"""Is a cadre profile complete enough for the art. 4 evaluator to give a true answer?

Shared by `eligibility explain` on the command line and `POST /eligibility/explain` in the API:
a missing or malformed fact must be bad input naming the key, never a silently negative
explanation (A4.2). The full roster checks belong to the roster importer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Any

from workflow.definition.policy_rules import PolicyRules
from workflow.i18n import _
from workflow.roster.record import KEY_ORDER
from workflow.roster.vocabulary import (
    HEALTH_KEYS,
    HONOUR_KINDS,
    HONOUR_LEVELS,
    MERIT_CLASSES,
    RECOMMENDERS,
)

# docs/roster-formats.md: every key a record may carry; any other is a typo
PROFILE_KEYS = frozenset(KEY_ORDER)
# what the evaluator reads and the format gives no default for
EVALUATED_KEYS = ("birth_date", "category", "placed_on", "merits", "honours")


def profile_problems(record: Mapping[str, Any], rules: PolicyRules) -> list[tuple[str, str]]:
    """(key, reason) for everything that would make the explanation wrong rather than merely
    negative: a missing or malformed fact the rules read, or a key the format does not know.

    Only what the evaluator reads is checked here; the full roster checks (ID-card digits,
    phone numbers, plausibility) belong to the roster importer. Positions in lists count from
    1, as an officer counts.
    """
    problems = [(key, _("未知的键（见名册格式）")) for key in record if key not in PROFILE_KEYS]
    problems += [(key, _("缺失")) for key in EVALUATED_KEYS if key not in record]
    for key in ("birth_date", "placed_on"):
        if key in record and not _is_iso_date(record[key]):
            problems.append((key, _("{value!r} 不是日期 YYYY-MM-DD").format(value=record[key])))
    if "category" in record and not _is_text(record["category"]):
        problems.append(
            (
                "category",
                _("应为文本，取以下之一：{options}").format(options="、".join(rules.categories)),
            )
        )
    if "merits" in record:
        problems += _list_problems("merits", record["merits"], _merit_problems)
    if "honours" in record:
        problems += _list_problems("honours", record["honours"], _honour_problems)
    problems += _recommendation_problems(record.get("recommendation"))
    problems += _health_problems(record.get("health"))
    return problems


def _list_problems(
    key: str, items: Any, check: Callable[[Mapping[str, Any]], list[tuple[str, str]]]
) -> list[tuple[str, str]]:
    if not isinstance(items, list):
        return [(key, _("应为列表（没有则为空列表）"))]
    problems: list[tuple[str, str]] = []
    for position, item in enumerate(items, start=1):
        where = f"{key}[{position}]"
        if not isinstance(item, dict):
            problems.append((where, _("应为对象")))
            continue
        problems += [(f"{where}.{name}", reason) for name, reason in check(item)]
    return problems


def _merit_problems(merit: Mapping[str, Any]) -> list[tuple[str, str]]:
    problems = _unknown(merit, ("class", "wartime", "year"))
    if merit.get("class") not in MERIT_CLASSES or isinstance(merit.get("class"), bool):
        problems.append(("class", _("应为 1、2 或 3（一/二/三等功）")))
    if "wartime" in merit and not isinstance(merit["wartime"], bool):
        problems.append(("wartime", _("应为 true 或 false")))
    if not _is_year(merit.get("year")):
        problems.append(("year", _("应为年份，如 1979")))
    return problems


def _honour_problems(honour: Mapping[str, Any]) -> list[tuple[str, str]]:
    problems = _unknown(honour, ("kind", "level", "year"))
    if honour.get("kind") not in HONOUR_KINDS:
        problems.append(("kind", _one_of(HONOUR_KINDS)))
    if honour.get("level") not in HONOUR_LEVELS:
        problems.append(("level", _one_of(HONOUR_LEVELS)))
    if not _is_year(honour.get("year")):
        problems.append(("year", _("应为年份，如 2021（第四条只计安置后的）")))
    return problems


def _recommendation_problems(recommendation: Any) -> list[tuple[str, str]]:
    """A4.3: a missing reason is a fact the explanation reports; a wrong shape is a typo."""
    if recommendation is None:
        return []
    if not isinstance(recommendation, dict):
        return [("recommendation", _("应为 null 或含 by、reason、date 的对象"))]
    problems = [
        (f"recommendation.{name}", reason)
        for name, reason in _unknown(recommendation, ("by", "reason", "date"))
    ]
    if recommendation.get("by") not in RECOMMENDERS:
        problems.append(("recommendation.by", _one_of(RECOMMENDERS)))
    if not isinstance(recommendation.get("reason", ""), str):
        problems.append(("recommendation.reason", _("应为文本")))
    if "date" in recommendation and not _is_iso_date(recommendation["date"]):
        problems.append(("recommendation.date", _("应为日期 YYYY-MM-DD")))
    return problems


def _health_problems(health: Any) -> list[tuple[str, str]]:
    if health is None:
        return []
    if not isinstance(health, dict):
        return [
            (
                "health",
                _("应为由 true/false 组成的对象：{keys}").format(keys=", ".join(HEALTH_KEYS)),
            )
        ]
    problems = [(f"health.{name}", reason) for name, reason in _unknown(health, HEALTH_KEYS)]
    problems += [
        (f"health.{name}", _("应为 true 或 false"))
        for name in HEALTH_KEYS
        if name in health and not isinstance(health[name], bool)
    ]
    return problems


def _unknown(item: Mapping[str, Any], known: Sequence[str]) -> list[tuple[str, str]]:
    return [(key, _("未知的键")) for key in item if key not in known]


def _one_of(options: Sequence[str]) -> str:
    return _("应为以下之一：{options}").format(options=", ".join(options))


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _is_iso_date(value: Any) -> bool:
    if not isinstance(value, str) or len(value) != len("YYYY-MM-DD"):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _is_year(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1900 <= value <= 9999
