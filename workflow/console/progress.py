"""The steps of art. 7 as a path through a definition, and how far a case has come along it.

A definition lists its states in the order of art. 7 first, then the exits (withdrawn, refused
…). The path is that list's longest prefix in which each state is reached from the one before
by a transition: for the honorary convalescence, the seven steps from 个人报名 to 满意度评价;
for another definition, its own main line. Nothing here knows the state names.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise

from workflow.definition.model import Definition


@dataclass(frozen=True)
class PathStep:
    state: str  # the state the step leads into
    label: str  # the step's own label (个人报名, 家属同意, …)
    article: str | None
    trigger: str | None  # None for the registration that opens the case


@dataclass(frozen=True)
class Progress:
    steps: tuple[PathStep, ...]
    done: tuple[bool, ...]
    current: int | None  # index of the step to take next; None once the case is closed
    exit_label: str | None  # the exit the case took (本人撤回 …), if it left the path


def main_path(definition: Definition) -> tuple[PathStep, ...]:
    names = [state.name for state in definition.states]
    start = names.index(definition.initial)
    path = [PathStep(definition.initial, definition.open.label, definition.open.article, None)]
    here = definition.initial
    for name in names[start + 1 :]:
        step = next((t for t in definition.transitions_from(here) if t.dest == name), None)
        if step is None:
            break
        path.append(PathStep(name, step.label, step.article, step.trigger))
        here = name
    return tuple(path)


def progress(definition: Definition, state: str, reached: Iterable[str]) -> Progress:
    """Where a case in ``state`` stands, given the states its history reached."""
    steps = main_path(definition)
    seen = set(reached) | {state}
    names = [step.state for step in steps]
    at = names.index(state) if state in names else None
    # every step up to the case's state is done; the one after it is the step to take now,
    # unless the case is closed (at the path's end, or on an exit such as 本人撤回)
    done = tuple(step.state in seen and (at is None or i <= at) for i, step in enumerate(steps))
    closed = definition.state(state).terminal
    current = None if at is None or closed or at + 1 >= len(steps) else at + 1
    exit_label = None if at is not None else definition.state(state).label
    return Progress(steps, done, current, exit_label)


def forward_states(definition: Definition, role: str) -> dict[str, str]:
    """State → the label of the step along the path that ``role`` may take from it: the
    cases in these states wait for this role (the inbox)."""
    waiting: dict[str, str] = {}
    steps = main_path(definition)
    for before, step in pairwise(steps):
        spec = definition.transition(step.trigger or "", before.state)
        if spec is not None and role in spec.roles:
            waiting[before.state] = step.label
    return waiting
