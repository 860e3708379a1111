"""The engine's exception hierarchy: one root, one subclass per way a request can fail.

Each error keeps the values that caused it as attributes (article, rule, case id, field) so a
host system can act on them, and builds one message an officer can act on. The CLI maps
``exit_code`` to its documented exit status, so the class decides the exit code, not the caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from workflow.i18n import N_, _


class WorkflowError(Exception):
    """Root of every error the engine raises on purpose; anything else is a bug."""

    exit_code = 70  # EX_SOFTWARE: only reached by subclasses that forgot to set their own

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file, located so an editor can jump to it."""

    file: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


class InputError(WorkflowError):
    """The request itself is malformed: a missing field, a bad date, an unknown trigger."""

    exit_code = 2

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class DefinitionError(InputError):
    """A workflow definition file is invalid; carries every problem found, not just the first."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class DatabaseNotReadyError(InputError):
    """The database has no schema, or an older one, and this caller may not migrate it."""


@dataclass(frozen=True)
class Refusal:
    """Why a rule said no: the article that decided, the rule's name and a sentence to read out."""

    article: str
    rule: str
    message: str

    def __str__(self) -> str:
        return _("{message}（依据{article}，规则 {rule}）").format(
            message=self.message, article=self.article, rule=self.rule
        )


class RuleRefused(WorkflowError):
    """A policy rule refused the request; every refusal cites its article (A19.1 accountability)."""

    exit_code = 1

    def __init__(self, refusals: Sequence[Refusal], *, case_id: int | None = None) -> None:
        self.refusals = tuple(refusals)
        self.case_id = case_id
        prefix = _("案件 {case_id}：").format(case_id=case_id) if case_id is not None else ""
        super().__init__(prefix + _("；").join(str(r) for r in self.refusals))

    @property
    def articles(self) -> tuple[str, ...]:
        return tuple(r.article for r in self.refusals)


class TransitionNotAllowed(RuleRefused):
    """The trigger does not apply to the case's current state (art. 7 fixes the order of steps)."""

    def __init__(self, *, case_id: int | None, trigger: str, state: str, allowed: Sequence[str]):
        self.trigger = trigger
        self.state = state
        self.allowed = tuple(allowed)
        options = _("、").join(self.allowed) if self.allowed else _("无（已结案）")
        refusal = Refusal(
            article="A7.1",
            rule="step_order",
            message=_("当前状态“{state}”下不能执行“{trigger}”；可执行的操作：{options}").format(
                state=state, trigger=trigger, options=options
            ),
        )
        super().__init__([refusal], case_id=case_id)


class ConflictError(WorkflowError):
    """Someone else changed the case between reading and writing; nothing of this request was
    written. Reload the case and decide again."""

    exit_code = 3

    def __init__(
        self,
        *,
        case_id: int,
        expected_version: int | None,  # None: the caller did not say (a seat race, store)
        actual_version: int | None,
        changed: str | None = None,
    ):
        self.case_id = case_id
        self.expected_version = expected_version
        self.actual_version = actual_version
        what = changed or _(
            "案件 {case_id} 已被他人修改（期望版本 {expected}，当前版本 {actual}）"
        ).format(case_id=case_id, expected=expected_version, actual=actual_version)
        super().__init__(_("{what}：本次操作未写入，请刷新后重试。").format(what=what))


# the kinds of thing the engine looks up, marked for the catalogue: `NotFoundError` translates
# the kind it is given, which its callers pass as a variable
NOT_FOUND_KINDS = (
    N_("案件"),
    N_("军休干部"),
    N_("工作流定义"),
    N_("工作流定义版本"),
    N_("批次"),
    N_("批次名额"),
    N_("计划"),
    N_("承办单位"),
    N_("协议"),
    N_("资质"),
    N_("批次例外"),
    N_("评价"),
    N_("事件"),
)


class NotFoundError(WorkflowError):
    """A case, cadre or definition named in the request does not exist."""

    exit_code = 4

    def __init__(self, kind: str, key: object) -> None:
        self.kind = kind
        self.key = key
        super().__init__(_("找不到{kind}：{key}").format(kind=_(kind), key=key))


class TamperedError(WorkflowError):
    """An append-only audit record was changed, removed or forged behind the engine's back
    (A19.1): the hash chain no longer holds. Names the first broken record, so an auditor knows
    where to start comparing with a backup."""

    exit_code = 6

    def __init__(
        self, *, table: str, key: int, seq: int | None, problem: str, message: str
    ) -> None:
        self.table = table  # history | case_exceptions | batch_exceptions
        self.key = key  # the case id, or the batch id for batch_exceptions
        self.seq = seq  # history seq or exception row id; None when the record is the case row
        self.problem = problem  # edited | relinked | missing | missing_tail | ahead | unmatched
        super().__init__(message)


def error_json(error: WorkflowError) -> dict[str, Any]:
    """The machine-readable twin of the message: what kind of failure and the facts behind it."""
    if isinstance(error, RuleRefused):
        result: dict[str, Any] = {
            "error": "refused",
            "message": error.message,
            "refusals": [
                {"article": r.article, "rule": r.rule, "message": r.message} for r in error.refusals
            ],
            "case_id": error.case_id,
        }
        if isinstance(error, TransitionNotAllowed):
            result |= {
                "trigger": error.trigger,
                "state": error.state,
                "allowed": list(error.allowed),
            }
        return result
    if isinstance(error, ConflictError):
        return {
            "error": "conflict",
            "message": error.message,
            "case_id": error.case_id,
            "expected_version": error.expected_version,
            "actual_version": error.actual_version,
        }
    if isinstance(error, NotFoundError):
        return {
            "error": "not_found",
            "message": error.message,
            "kind": error.kind,
            "key": error.key,
        }
    if isinstance(error, DefinitionError):
        problems = [problem_json(p) for p in error.problems]
        return {"error": "invalid_definition", "message": error.message, "problems": problems}
    if isinstance(error, DatabaseNotReadyError):
        return {"error": "database_not_ready", "message": error.message}
    if isinstance(error, InputError):
        return {"error": "bad_input", "message": error.message, "field": error.field}
    if isinstance(error, TamperedError):
        return {
            "error": "tampered",
            "message": error.message,
            "table": error.table,
            "key": error.key,
            "seq": error.seq,
            "problem": error.problem,
        }
    return {"error": "failed", "message": error.message}


def problem_json(problem: Problem) -> dict[str, Any]:
    return {
        "file": problem.file,
        "line": problem.line,
        "column": problem.column,
        "message": problem.message,
    }
