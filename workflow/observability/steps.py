"""The hook where a step ends: `Engine` runs every step inside `StepObservers.step`.

Steps end in the facade (`workflow.engine.Engine`) whoever asked for them: the API, the CLI,
the scheduler's timers and visits, a bulk run, a host system. Observing them there counts every
step once, in the process that ran it, without touching the step runner itself. The hook knows
nothing of Prometheus or logging: an observer is any callable taking a `StepEnded`
(`workflow.observability.metrics.Metrics.step_ended` is the one the API installs).

A step that ends in an error still ends: the observer hears how (refused, conflict, ...), then
the error goes on to the caller unchanged. An observer that fails is logged and ignored: the
step is already committed, and a counter must never turn it into an error.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from workflow.errors import (
    ConflictError,
    DatabaseNotReadyError,
    InputError,
    NotFoundError,
    RuleRefused,
)

log = logging.getLogger(__name__)

# how a step can end; the metrics' ``outcome`` label takes exactly these values
OUTCOMES = ("done", "refused", "conflict", "bad_input", "not_found", "unavailable", "error")


@dataclass(frozen=True)
class StepEnded:
    """One step, over: which trigger (``open`` for a registration, ``grant_exception``,
    ``rebook``, ``correct``), how it ended, how long it took, and the articles that refused it.
    """

    trigger: str
    outcome: str
    seconds: float
    articles: tuple[str, ...] = ()


StepObserver = Callable[[StepEnded], None]


def outcome_of(error: BaseException) -> str:
    """The outcome label for a step that raised ``error`` (the error class decides, as it
    decides the CLI's exit code and the API's status)."""
    if isinstance(error, RuleRefused):
        return "refused"
    if isinstance(error, ConflictError):
        return "conflict"
    if isinstance(error, NotFoundError):
        return "not_found"
    if isinstance(error, DatabaseNotReadyError):
        return "unavailable"
    if isinstance(error, InputError):
        return "bad_input"
    return "error"


class StepObservers:
    """The observers of one engine. Empty (the default), a step pays one list test."""

    def __init__(self) -> None:
        self._observers: list[StepObserver] = []

    def add(self, observer: StepObserver) -> None:
        self._observers.append(observer)

    def remove(self, observer: StepObserver) -> None:
        self._observers.remove(observer)

    @contextmanager
    def step(self, trigger: str) -> Iterator[None]:
        """Run the block as the step ``trigger``; tell every observer how it ended."""
        if not self._observers:
            yield
            return
        started = time.perf_counter()
        try:
            yield
        except BaseException as error:
            articles = error.articles if isinstance(error, RuleRefused) else ()
            self._tell(StepEnded(trigger, outcome_of(error), _since(started), articles))
            raise
        self._tell(StepEnded(trigger, "done", _since(started)))

    def _tell(self, ended: StepEnded) -> None:
        for observer in list(self._observers):
            try:
                observer(ended)
            except Exception:
                log.exception("step observer %r failed on %s", observer, ended)


def _since(started: float) -> float:
    return time.perf_counter() - started
