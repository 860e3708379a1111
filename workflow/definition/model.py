"""Frozen data classes for a loaded workflow definition.

They are built only after a definition file passed every schema and graph check, so code that
holds a ``Definition`` may assume it is consistent (every state named exists, every guard is
registered, every non-terminal state can reach an end).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from workflow.definition.policy_rules import PolicyRules

FieldType = Literal["string", "text", "date", "integer", "number", "boolean", "choice"]
TimerAction = Literal["remind", "escalate", "fire"]


@dataclass(frozen=True)
class FieldSpec:
    """A piece of evidence a step must record (A7.2), with the type it is checked against."""

    name: str
    type: FieldType
    label: str
    required: bool = True
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    max_length: int | None = None  # characters of a string/text field; None: fields.py default


@dataclass(frozen=True)
class PolicyInfo:
    """The document a definition implements (A1.1) and its effective window (A21.1)."""

    title: str
    document: str
    issued_on: date | None
    effective_from: date
    effective_until: date | None

    def in_force_on(self, day: date) -> bool:
        if day < self.effective_from:
            return False
        return self.effective_until is None or day <= self.effective_until


@dataclass(frozen=True)
class TimerSpec:
    """A deadline on a state; declared and validated here, run by the scheduler."""

    after: int
    unit: Literal["calendar_days", "working_days"]
    action: TimerAction
    role: str | None = None
    trigger: str | None = None
    template: str | None = None


@dataclass(frozen=True)
class StateSpec:
    name: str
    label: str
    terminal: bool = False
    timers: tuple[TimerSpec, ...] = ()


@dataclass(frozen=True)
class NoticeSpec:
    """A notice a step sends: which template, to which role (rendered into the outbox in the
    step's own transaction)."""

    template: str
    to: str


@dataclass(frozen=True, kw_only=True)
class StepSpec:
    """What any move needs: who may make it, which named rules must pass, what it records."""

    label: str
    roles: tuple[str, ...]
    guards: tuple[str, ...] = ()
    fields: tuple[FieldSpec, ...] = ()
    article: str | None = None
    notify: tuple[NoticeSpec, ...] = ()


@dataclass(frozen=True, kw_only=True)
class TransitionSpec(StepSpec):
    trigger: str
    sources: tuple[str, ...]
    dest: str
    batch: Literal["take", "release"] | None = None  # seat in a batch (A6.2), see engine


@dataclass(frozen=True)
class MigrationMap:
    """Which open cases of an earlier version may move onto this one, and into which state
    (A21.1): the successor says so itself, so carrying cases over is part of the policy text an
    office publishes, not a decision taken case by case. A state the map leaves out refuses."""

    version: int
    states: dict[str, str]


@dataclass(frozen=True)
class CorrectionSpec:
    """Who may correct a case's record without moving it, in which states, and what (issue 13):
    ``rebook`` moves its seat to another batch of the same plan (A6.2), ``correct`` amends
    evidence a step recorded (A7.2); either is a history row of its own with a reason (A19.1).
    ``fields`` names the recorded fields it may amend; ``guards`` are checked besides the rules
    of the steps whose record it changes (`workflow.corrections`)."""

    label: str
    roles: tuple[str, ...]
    states: tuple[str, ...]
    article: str
    fields: tuple[str, ...] = ()
    guards: tuple[str, ...] = ()


@dataclass(frozen=True)
class Corrections:
    """The definition's ``corrections:`` block; a kind it leaves out is refused."""

    rebook: CorrectionSpec | None = None
    correct: CorrectionSpec | None = None


@dataclass(frozen=True)
class Definition:
    name: str
    version: int
    title: str
    policy: PolicyInfo
    roles: dict[str, str]
    initial: str
    open: StepSpec
    states: tuple[StateSpec, ...]
    transitions: tuple[TransitionSpec, ...]
    source_name: str
    source_text: str = field(repr=False)
    content_hash: str
    rules: PolicyRules | None = None
    # A5.2: role -> what its scope names (county, agency, cadre, contractor); absent = all cases
    scopes: dict[str, str] = field(default_factory=dict)
    migrates_from: MigrationMap | None = None
    corrections: Corrections = field(default_factory=Corrections)  # rebook, correct (issue 13)

    def state(self, name: str) -> StateSpec:
        for spec in self.states:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def transition(self, trigger: str, source: str) -> TransitionSpec | None:
        for spec in self.transitions:
            if spec.trigger == trigger and source in spec.sources:
                return spec
        return None

    def transitions_from(self, source: str) -> tuple[TransitionSpec, ...]:
        return tuple(t for t in self.transitions if source in t.sources)

    @property
    def triggers(self) -> frozenset[str]:
        return frozenset(t.trigger for t in self.transitions)

    def summary(self) -> dict[str, Any]:
        """A JSON-ready description, for `definitions show --json` and the API."""
        return {
            "name": self.name,
            "version": self.version,
            "title": self.title,
            "content_hash": self.content_hash,
            "source": self.source_name,
            "policy": {
                "title": self.policy.title,
                "document": self.policy.document,
                "issued_on": _iso(self.policy.issued_on),
                "effective_from": _iso(self.policy.effective_from),
                "effective_until": _iso(self.policy.effective_until),
            },
            "roles": dict(self.roles),
            "scopes": dict(self.scopes),
            "initial": self.initial,
            "open": _step_summary(self.open),
            "states": [
                {
                    "name": s.name,
                    "label": s.label,
                    "terminal": s.terminal,
                    "timers": [t.__dict__ for t in s.timers],
                }
                for s in self.states
            ],
            "transitions": [
                {"trigger": t.trigger, "sources": list(t.sources), "dest": t.dest}
                | _step_summary(t)
                for t in self.transitions
            ],
        }


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def _step_summary(step: StepSpec) -> dict[str, Any]:
    return {
        "label": step.label,
        "roles": list(step.roles),
        "guards": list(step.guards),
        "article": step.article,
        "notify": [{"template": n.template, "to": n.to} for n in step.notify],
        "fields": [
            {
                "name": f.name,
                "type": f.type,
                "label": f.label,
                "required": f.required,
                **({"choices": list(f.choices)} if f.choices else {}),
                **({"minimum": f.minimum} if f.minimum is not None else {}),
                **({"maximum": f.maximum} if f.maximum is not None else {}),
            }
            for f in step.fields
        ],
    }
