"""Workflow engine for veterans-affairs back offices; first workflow: honorary convalescence.

A host system needs one import line: ``from workflow import Engine, Actor, SimulatedClock``
(and, for its own SQLite engine and sessions, ``create_engine`` and ``begin_write``).

The names are loaded on first use (PEP 562), so ``import workflow`` and the pure modules under
it (``workflow.facts``, ``workflow.rules``, ``workflow.eligibility``) load no SQLAlchemy, Jinja2
or FastAPI: only ``workflow.Engine`` brings in the database layer.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workflow.clock import SHANGHAI, Clock, SimulatedClock, SystemClock
    from workflow.engine import Engine
    from workflow.errors import (
        ConflictError,
        DatabaseNotReadyError,
        DefinitionError,
        InputError,
        NotFoundError,
        Problem,
        Refusal,
        RuleRefused,
        TamperedError,
        TransitionNotAllowed,
        WorkflowError,
    )
    from workflow.machine import Actor
    from workflow.store.database import begin_write, create_engine
    from workflow.views import CaseView, ExceptionView, HistoryEntry, NextStep

# public name -> the module that defines it
_EXPORTS = {
    "SHANGHAI": "workflow.clock",
    "Clock": "workflow.clock",
    "SimulatedClock": "workflow.clock",
    "SystemClock": "workflow.clock",
    "Engine": "workflow.engine",
    "ConflictError": "workflow.errors",
    "DatabaseNotReadyError": "workflow.errors",
    "DefinitionError": "workflow.errors",
    "InputError": "workflow.errors",
    "NotFoundError": "workflow.errors",
    "Problem": "workflow.errors",
    "Refusal": "workflow.errors",
    "RuleRefused": "workflow.errors",
    "TransitionNotAllowed": "workflow.errors",
    "WorkflowError": "workflow.errors",
    "TamperedError": "workflow.errors",
    "Actor": "workflow.machine",
    "CaseView": "workflow.views",
    "ExceptionView": "workflow.views",
    "HistoryEntry": "workflow.views",
    "NextStep": "workflow.views",
    "begin_write": "workflow.store.database",
    "create_engine": "workflow.store.database",
}

__all__ = [
    "SHANGHAI",
    "Actor",
    "CaseView",
    "Clock",
    "ConflictError",
    "DatabaseNotReadyError",
    "DefinitionError",
    "Engine",
    "ExceptionView",
    "HistoryEntry",
    "InputError",
    "NextStep",
    "NotFoundError",
    "Problem",
    "Refusal",
    "RuleRefused",
    "SimulatedClock",
    "SystemClock",
    "TamperedError",
    "TransitionNotAllowed",
    "WorkflowError",
    "begin_write",
    "create_engine",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'workflow' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
