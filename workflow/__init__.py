"""Workflow engine for veterans-affairs back offices; first workflow: honorary convalescence.

A host system needs one import line: ``from workflow import Engine, Actor, SimulatedClock``.
"""

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
    TransitionNotAllowed,
    WorkflowError,
)
from workflow.machine import Actor
from workflow.records import CaseView, HistoryEntry, NextStep

__all__ = [
    "SHANGHAI",
    "Actor",
    "CaseView",
    "Clock",
    "ConflictError",
    "DatabaseNotReadyError",
    "DefinitionError",
    "Engine",
    "HistoryEntry",
    "InputError",
    "NextStep",
    "NotFoundError",
    "Problem",
    "Refusal",
    "RuleRefused",
    "SimulatedClock",
    "SystemClock",
    "TransitionNotAllowed",
    "WorkflowError",
]
