"""The registry of named guard rules and the context they read.

Definitions name guards as strings; only functions registered here can be named, so a YAML file
can never make the engine call arbitrary code (the reason we do not use `MarkupMachine`). Rules
are pure: they read a frozen context and return a refusal or None, which keeps them fast to test
table-driven and lets the engine evaluate them outside any database transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from workflow.definition.model import PolicyInfo
from workflow.errors import Refusal


@dataclass(frozen=True)
class GuardContext:
    """Everything a rule may look at when a step is attempted.

    ``evidence`` is what the case has recorded so far, with this step's fields merged over it,
    so a rule at the insurance step can compare against the batch dates recorded at approval.
    """

    today: date
    policy: PolicyInfo
    cadre: Mapping[str, Any]
    evidence: Mapping[str, Any] = field(default_factory=dict)


Check = Callable[[GuardContext], str | None]


@dataclass(frozen=True)
class Rule:
    name: str
    article: str
    summary: str
    check: Check

    def __call__(self, context: GuardContext) -> Refusal | None:
        message = self.check(context)
        if message is None:
            return None
        return Refusal(article=self.article, rule=self.name, message=message)


RULES: dict[str, Rule] = {}


def rule(name: str, *, article: str, summary: str) -> Callable[[Check], Rule]:
    """Register ``check`` under ``name``; it returns the refusal sentence or None to allow."""

    def register(check: Check) -> Rule:
        if name in RULES:
            raise ValueError(f"rule {name!r} registered twice")
        registered = Rule(name=name, article=article, summary=summary, check=check)
        RULES[name] = registered
        return registered

    return register


def evaluate(names: Iterable[str], context: GuardContext) -> list[Refusal]:
    """Every refusal of the named rules, not just the first: an officer fixes all at once."""
    refusals = []
    for name in names:
        refusal = RULES[name](context)
        if refusal is not None:
            refusals.append(refusal)
    return refusals
