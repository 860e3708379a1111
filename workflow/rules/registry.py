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
from workflow.definition.policy_rules import PolicyRules
from workflow.errors import Refusal


@dataclass(frozen=True)
class GuardContext:
    """Everything a rule may look at when a step is attempted.

    ``evidence`` is what the case has recorded so far, with this step's fields merged over it,
    so a rule at the insurance step can compare against the batch dates recorded at approval.
    ``facts`` are what the engine looked up for the rules that need the database (other cases
    of the cadre in the cycle, A9.2), so the rules themselves stay pure. ``waived`` names the
    rules an exception record lets pass (A8.2, A9.2).
    """

    today: date
    policy: PolicyInfo
    cadre: Mapping[str, Any]
    evidence: Mapping[str, Any] = field(default_factory=dict)
    rules: PolicyRules | None = None
    facts: Mapping[str, Any] = field(default_factory=dict)
    waived: frozenset[str] = frozenset()


Check = Callable[[GuardContext], str | None]


@dataclass(frozen=True)
class Rule:
    name: str
    article: str
    summary: str
    check: Check
    needs: tuple[str, ...] = ()  # facts the engine must look up for it (GuardContext.facts)

    def __call__(self, context: GuardContext) -> Refusal | None:
        message = self.check(context)
        if message is None:
            return None
        return Refusal(article=self.article, rule=self.name, message=message)


RULES: dict[str, Rule] = {}


def rule(
    name: str, *, article: str, summary: str, needs: tuple[str, ...] = ()
) -> Callable[[Check], Rule]:
    """Register ``check`` under ``name``; it returns the refusal sentence or None to allow."""

    def register(check: Check) -> Rule:
        if name in RULES:
            raise ValueError(f"rule {name!r} registered twice")
        registered = Rule(name=name, article=article, summary=summary, check=check, needs=needs)
        RULES[name] = registered
        return registered

    return register


@dataclass(frozen=True)
class Verdict:
    """What the named rules said: the refusals that stand, and those an exception waived
    (kept, because the history must show that an exception was used, A19.1)."""

    refusals: tuple[Refusal, ...] = ()
    waived: tuple[Refusal, ...] = ()


def evaluate(names: Iterable[str], context: GuardContext) -> Verdict:
    """Every refusal of the named rules, not just the first: an officer fixes all at once."""
    standing: list[Refusal] = []
    waived: list[Refusal] = []
    for name in names:
        refusal = RULES[name](context)
        if refusal is None:
            continue
        (waived if name in context.waived else standing).append(refusal)
    return Verdict(tuple(standing), tuple(waived))
