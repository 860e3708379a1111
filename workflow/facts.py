"""Facts about a cadre record that several rules need: age in full years and health problems.

Kept apart from the rules so the eligibility evaluator and the guards can share them without
importing each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

_HEALTH_PROBLEMS = {
    "infectious": "患有传染病",
    "mental": "患有精神疾病",
    "critical": "患有危急重症",
}


def age_in_full_years(birth: date, on: date) -> int:
    """Full years (周岁) on ``on``; a birthday on 29 February counts from 1 March in other years."""
    years = on.year - birth.year
    if (on.month, on.day) < (birth.month, birth.day):
        years -= 1
    return years


def reaches_age_limit(age: int, limit: int) -> bool:
    """Whether ``age`` in full years on the first day is over the A8.2 limit, so the cadre
    needs an exception. 80周岁以下 includes 80: by Chinese drafting convention 以上/以下 include
    the stated number (民法典 art. 1259, as art. 4's 三等功及以上 includes 三等功), so a cadre of
    exactly 80 full years is admitted and the limit is passed on the 81st birthday. The limit
    itself is the definition's (``rules.limits.age_limit``, read through `workflow.policy`); this
    is the one place that compares against it, for the guard and the explainer alike."""
    return age > limit


def health_problems(cadre: Mapping[str, Any]) -> list[str]:
    """What in the art. 8 health declaration rules the cadre out; a missing declaration
    takes the roster format's defaults (self-caring, no illness)."""
    health = cadre.get("health") or {}
    found = []
    if health.get("self_care", True) is not True:
        found.append("生活不能自理")
    found += [text for key, text in _HEALTH_PROBLEMS.items() if health.get(key, False)]
    return found


def as_date(value: Any) -> date | None:
    """An ISO date string or a date; anything else is None so rules can explain the gap."""
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None
