"""Bulk actions (issue 13, item 6): one step fired on a cohort of cases, with a report of what
happened to each.

An office moves many cases the same way at once (every registration of a county rejected when a
plan is withdrawn, a batch's cadres marked attended). Doing it case by case through
``cases fire`` leaves no record of the whole and no way to pick up after a crash; doing it in one
transaction would let one refusal undo every other case. So a run goes in three moves:

1. **Choose** the cohort by its filters (state, county, agency, definition name@version,
   cycle), narrowed to the actor's own scope (A5.2) exactly as a case listing is: a county
   officer's cohort holds only the county's cases.
2. **Record** the run (who, when, which step, filters, evidence, reason) and its cases, each with
   the version it had when chosen, in one transaction, before anything is fired. A request the
   step would refuse for every case alike (evidence the step does not take, a role that may not
   take the step) is tried first on one case in a transaction that is rolled back, and refused
   then with nothing written (exit 2, or 1 citing A5.2).
3. **Fire** each case in a transaction of its own: the item is claimed, the engine's own
   single-case step (`Engine.fire`, with the chosen version as ``expected_version``) joins that
   transaction with ``within=``, and the item's outcome is written in it too. A case therefore
   never moves without its item saying "succeeded", nor is it recorded as moved without having
   moved: a crash anywhere leaves each case either moved and recorded or untouched and pending,
   and ``--resume`` fires only the pending ones. A case someone else moved since it was chosen
   is a conflict (its newest history row says who, and which run, if a run did it), never fired
   on a state the officer did not choose.

The outcome of each case: succeeded (the new state and version), refused (the refusing rule and
its article), conflict, not_found, bad_input. The run's exit code is the highest of its cases'
(0 succeeded, 1 refused, 2 bad input, 3 conflict, 4 not found): a conflict outranks a refusal
because the report then no longer describes the cases as they are.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from workflow.access import list_filter, missing_scope
from workflow.errors import (
    ConflictError,
    InputError,
    NotFoundError,
    Refusal,
    RuleRefused,
    WorkflowError,
    error_json,
)
from workflow.i18n import N_, _
from workflow.machine import Actor
from workflow.store import bulk as store

if TYPE_CHECKING:
    from workflow.engine import Engine

# outcome -> exit code; the run exits with the highest among its cases (see the docstring)
EXIT_CODES: dict[str, int] = {
    "succeeded": 0,
    "refused": 1,
    "bad_input": 2,
    "conflict": 3,
    "not_found": 4,
}
PENDING = "pending"  # how a report names an item not fired yet (NULL in the table)
OUTCOME_LABELS = {
    "succeeded": N_("已办理"),
    "refused": N_("被拒绝"),
    "bad_input": N_("输入有误"),
    "conflict": N_("冲突"),
    "not_found": N_("找不到"),
    PENDING: N_("待办理"),
}
RUN_KIND = N_("批量运行")  # `NotFoundError`'s kind for an unknown run id
WHERE_KEYS = ("state", "county", "agency", "definition", "cycle")
MAX_COHORT = 100_000  # a cohort larger than this is narrowed first (one run, one report)
ROLE_REFUSALS = frozenset({"role_may_fire"})  # the actor's role may not take the step at all


# -- choosing the cohort (pure) ----------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """What the officer asked for: a state, and optionally county, agency, definition
    (``NAME`` or ``NAME@VERSION``) and cycle."""

    state: str
    county: str | None = None
    agency: str | None = None
    definition: str | None = None
    definition_version: int | None = None
    cycle: str | None = None

    @classmethod
    def parse(cls, where: Mapping[str, str]) -> Filters:
        """``--where KEY=VALUE`` pairs (already split); a state is required, since a step
        applies to some states only and a run on "every case" is a mistake waiting to happen."""
        unknown = sorted(set(where) - set(WHERE_KEYS))
        if unknown:
            raise InputError(
                _("--where 不认识 {keys}；可用的键：{known}").format(
                    keys=", ".join(unknown), known=", ".join(WHERE_KEYS)
                ),
                field="where",
            )
        values = {key: value.strip() for key, value in where.items()}
        empty = [key for key, value in values.items() if not value]
        if empty:
            raise InputError(_("--where {key}= 须给出一个值").format(key=empty[0]), field="where")
        state = values.get("state")
        if state is None:
            raise InputError(
                _("须用 --where state=STATE 指明对哪一状态的案件办理（如 state=registered）"),
                field="where",
            )
        name, version = _definition(values.get("definition"))
        return cls(
            state=state,
            county=values.get("county"),
            agency=values.get("agency"),
            definition=name,
            definition_version=version,
            cycle=values.get("cycle"),
        )

    def to_json(self) -> dict[str, Any]:
        """The filters as recorded with the run (only those given)."""
        given = {
            "state": self.state,
            "county": self.county,
            "agency": self.agency,
            "definition": self.definition,
            "definition_version": self.definition_version,
            "cycle": self.cycle,
        }
        return {key: value for key, value in given.items() if value is not None}

    def describe(self) -> str:
        """``state=registered county=东昌府区 definition=honor_convalescence@1``."""
        shown = self.to_json()
        version = shown.pop("definition_version", None)
        if version is not None:
            shown["definition"] = f"{shown['definition']}@{version}"
        return " ".join(f"{key}={value}" for key, value in shown.items())


def _definition(text: str | None) -> tuple[str | None, int | None]:
    if text is None:
        return None, None
    name, at, version = text.partition("@")
    if not at:
        return name, None
    if not version.isdigit() or int(version) < 1 or not name:
        raise InputError(
            _("definition={text} 应形如 NAME 或 NAME@VERSION，如 honor_convalescence@1").format(
                text=text
            ),
            field="where",
        )
    return name, int(version)


def scoped_filters(
    filters: Filters, actor: Actor, scopes: Mapping[str, str]
) -> dict[str, Any] | None:
    """The filters the store applies: the officer's and the actor's own scope (A5.2), as a case
    listing narrows them. None when a filter names another scope than the actor's (nothing is
    visible to it); a scoped role without its scope is refused citing A5.2."""
    unscoped = missing_scope(actor, scopes, {})
    if unscoped is not None:
        raise RuleRefused([unscoped])
    narrowed: dict[str, Any] = filters.to_json()
    for column, value in list_filter(actor, scopes).items():
        if narrowed.get(column) not in (None, value):
            return None
        narrowed[column] = value
    return narrowed


def check_names(trigger: str, filters: Filters, triggers: set[str], states: set[str]) -> None:
    """A misspelt step or state must not select nothing and report success: both are names the
    loaded definitions know, else bad input naming what they do know."""
    if trigger not in triggers:
        raise InputError(
            _("“{trigger}”不是任何流程的步骤（步骤有：{steps}）").format(
                trigger=trigger, steps=", ".join(sorted(triggers))
            ),
            field="trigger",
        )
    if filters.state not in states:
        raise InputError(
            _("state={state} 不是任何流程的状态（状态有：{states}）").format(
                state=filters.state, states=", ".join(sorted(states))
            ),
            field="where",
        )


# -- the report (pure) -------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """A case of the cohort as chosen (what ``--dry-run`` lists)."""

    case_id: int
    version: int
    state: str
    cadre_id: str
    county: str
    agency: str
    definition: str
    definition_version: int
    cycle: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "case_id": self.case_id,
            "version": self.version,
            "state": self.state,
            "cadre_id": self.cadre_id,
            "county": self.county,
            "agency": self.agency,
            "definition": self.definition,
            "definition_version": self.definition_version,
            "cycle": self.cycle,
        }


@dataclass(frozen=True)
class Item:
    """One case of a run and what happened to it (``outcome`` "pending" until fired)."""

    position: int
    case_id: int
    expected_version: int
    outcome: str
    new_state: str | None = None
    new_version: int | None = None
    article: str | None = None
    rule: str | None = None
    message: str | None = None
    detail: Mapping[str, Any] | None = None
    finished_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "case_id": self.case_id,
            "expected_version": self.expected_version,
            "outcome": self.outcome,
            "new_state": self.new_state,
            "new_version": self.new_version,
            "article": self.article,
            "rule": self.rule,
            "message": self.message,
            "detail": dict(self.detail) if self.detail is not None else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
        }


@dataclass(frozen=True)
class Report:
    """A run as recorded: who fired which step on which filters, and each case's outcome."""

    id: int | None  # None: the cohort was empty and nothing was recorded
    trigger: str
    actor: Actor
    filters: Mapping[str, Any]
    data: Mapping[str, Any]
    reason: str | None
    created_at: datetime
    finished_at: datetime | None
    items: tuple[Item, ...] = field(default=())

    @property
    def counts(self) -> dict[str, int]:
        """Every outcome with its count (zeros included, so a script reads one shape)."""
        found = dict.fromkeys((*EXIT_CODES, PENDING), 0)
        for item in self.items:
            found[item.outcome] += 1
        return found

    @property
    def exit_code(self) -> int:
        """The highest exit code among the recorded outcomes (0 if every case succeeded)."""
        return max((EXIT_CODES.get(item.outcome, 0) for item in self.items), default=0)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "trigger": self.trigger,
            "actor": str(self.actor),
            "filters": dict(self.filters),
            "data": dict(self.data),
            "reason": self.reason,
            "created_at": self.created_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "total": len(self.items),
            "counts": self.counts,
            "exit_code": self.exit_code,
            "items": [item.to_json() for item in self.items],
        }


def outcome_of(error: WorkflowError) -> dict[str, Any]:
    """An item's columns for a step that failed: the kind, the first refusal's rule and article
    (every refusal is in ``detail``), the message as the officer reads it."""
    detail = error_json(error)
    if isinstance(error, RuleRefused):
        first = error.refusals[0] if error.refusals else Refusal("", "", error.message)
        return {
            "outcome": "refused",
            "article": first.article or None,
            "rule": first.rule or None,
            "message": error.message,
            "detail": detail,
        }
    if isinstance(error, ConflictError):
        kind = "conflict"
    elif isinstance(error, NotFoundError):
        kind = "not_found"
    else:
        kind = "bad_input"  # InputError, and anything else the engine refuses on purpose
    return {"outcome": kind, "message": error.message, "detail": detail}


# -- running (the engine's own step, one transaction per case) ---------------------------------


Progress = Callable[[Item, int], None]  # each item as recorded, and how many the run holds


class _Rollback(Exception):
    """Ends the trial transaction without committing (never leaves this module)."""


def choose(
    engine: Engine, *, trigger: str, filters: Filters, actor: Actor, limit: int = MAX_COHORT
) -> list[Candidate]:
    """The cohort, in case id order, as the actor may see it; nothing is written."""
    triggers = {t for d in engine.catalog for t in d.triggers}
    states = {s.name for d in engine.catalog for s in d.states}
    check_names(trigger, filters, triggers, states)
    narrowed = scoped_filters(filters, actor, listing_scopes(engine))
    if narrowed is None:
        return []
    with engine.transaction() as connection:
        rows = store.cohort(connection, narrowed, limit + 1)
    if len(rows) > limit:
        raise InputError(
            _("符合条件的案件超过 {limit} 件：请用 --where 缩小范围后分批办理").format(limit=limit),
            field="where",
        )
    return [Candidate(**row._asdict()) for row in rows]


def start(
    engine: Engine,
    *,
    trigger: str,
    filters: Filters,
    actor: Actor,
    data: Mapping[str, Any],
    reason: str | None,
    limit: int = MAX_COHORT,
) -> Report:
    """Record the run and its cohort (nothing fired yet); an empty cohort records nothing and
    returns a report without an id. A request the step refuses for any case alike is refused here
    with nothing written (see the module docstring)."""
    cohort = choose(engine, trigger=trigger, filters=filters, actor=actor, limit=limit)
    now = engine.clock.now()
    if not cohort:
        return Report(None, trigger, actor, filters.to_json(), dict(data), reason, now, now)
    _trial(engine, cohort[0], trigger=trigger, actor=actor, data=data, reason=reason)
    values = {
        "trigger": trigger,
        "actor": actor.name,
        "role": actor.role,
        "scope": actor.scope,
        "filters": filters.to_json(),
        "data": dict(data),
        "reason": reason,
        "total": len(cohort),
        "created_at": now,
    }
    chosen = [{"case_id": c.case_id, "expected_version": c.version} for c in cohort]
    with engine.transaction(write=True) as connection:
        run_id = store.insert_run(connection, values, chosen)
    return report(engine, run_id)


def _trial(
    engine: Engine,
    case: Candidate,
    *,
    trigger: str,
    actor: Actor,
    data: Mapping[str, Any],
    reason: str | None,
) -> None:
    """Fire the first case in a transaction that is always rolled back: evidence the step does
    not take, or a role that may not take it, would fail every case alike, so the request is
    refused now, before a run is recorded."""
    failure: WorkflowError | None = None
    try:
        with engine.transaction(write=True) as connection:
            try:
                engine.fire(
                    case.case_id,
                    trigger,
                    actor=actor,
                    data=data,
                    reason=reason,
                    expected_version=case.version,
                    within=connection,
                )
            except WorkflowError as error:  # the case's own outcome, or the request's (below)
                failure = error
            raise _Rollback
    except _Rollback:
        pass
    if isinstance(failure, RuleRefused):
        if failure.refusals and all(r.rule in ROLE_REFUSALS for r in failure.refusals):
            raise RuleRefused(failure.refusals)  # the role, not this case: no case id
    elif isinstance(failure, InputError):
        raise failure


def resume(engine: Engine, run_id: int, *, actor: Actor) -> Report:
    """The run, checked to be the actor's own: only who started a run continues it, so every
    step of the run is fired by the one officer its record names (A19.1)."""
    found = report(engine, run_id)
    if found.actor != actor:
        raise RuleRefused(
            [
                Refusal(
                    article="A5.2",
                    rule="bulk_run_owner",
                    message=_(
                        "批量运行 {run_id} 由 {owner} 发起，只能由其本人继续（{actor} 可另起一次）"
                    ).format(run_id=run_id, owner=found.actor, actor=actor),
                )
            ]
        )
    return found


def fire_pending(engine: Engine, run_id: int, *, progress: Progress | None = None) -> Report:
    """Fire every pending item of the run, each case in its own transaction, and return the
    report as recorded. Items already recorded (by this process, an earlier one that crashed,
    or another resuming the same run) are never fired again."""
    started = report(engine, run_id)
    with engine.transaction() as connection:
        todo = store.pending(connection, run_id)
    total = len(started.items)
    for position, case_id, expected_version in todo:
        item = _fire_one(
            engine,
            run_id,
            position=position,
            case_id=case_id,
            expected_version=expected_version,
            trigger=started.trigger,
            actor=started.actor,
            data=started.data,
            reason=started.reason,
        )
        if item is not None and progress is not None:
            progress(item, total)
    with engine.transaction(write=True) as connection:
        store.finish(connection, run_id, engine.clock.now())
    return report(engine, run_id)


def _fire_one(
    engine: Engine,
    run_id: int,
    *,
    position: int,
    case_id: int,
    expected_version: int,
    trigger: str,
    actor: Actor,
    data: Mapping[str, Any],
    reason: str | None,
) -> Item | None:
    """One case: claim its item, fire, record the outcome, all in one transaction. None if
    the item was recorded by someone else meanwhile."""
    with engine.transaction(write=True) as connection:
        if not store.claim(connection, run_id, case_id):
            return None
        values: dict[str, Any]
        try:
            moved = engine.fire(
                case_id,
                trigger,
                actor=actor,
                data=data,
                reason=reason,
                expected_version=expected_version,
                within=connection,  # the step's savepoint: a failure leaves only the item
            )
        except WorkflowError as error:
            values = outcome_of(error)
            if isinstance(error, ConflictError):
                values["detail"] = {
                    **values["detail"],
                    "moved_by": store.last_move(connection, case_id),
                }
        else:
            values = {
                "outcome": "succeeded",
                "new_state": moved.state,
                "new_version": moved.version,
            }
        values["finished_at"] = engine.clock.now()
        store.record(connection, run_id, case_id, values)
    return Item(position=position, case_id=case_id, expected_version=expected_version, **values)


def report(engine: Engine, run_id: int) -> Report:
    """The run as recorded, every item in order; `NotFoundError` for an unknown id."""
    with engine.transaction() as connection:
        row = store.run(connection, run_id)
        rows = store.items(connection, run_id) if row is not None else ()
    if row is None:
        raise NotFoundError(RUN_KIND, run_id)
    return Report(
        id=row.id,
        trigger=row.trigger,
        actor=Actor(role=row.role, name=row.actor, scope=row.scope),
        filters=dict(row.filters),
        data=dict(row.data),
        reason=row.reason,
        created_at=row.created_at,
        finished_at=row.finished_at,
        items=tuple(_item(r) for r in rows),
    )


def visible(found: Report, viewer: Actor, scopes: Mapping[str, str]) -> bool:
    """Who may read a run: the officer who started it, and the roles without a scope (the city
    officer, the auditor, A5.1) who see every case anyway."""
    return found.actor == viewer or viewer.role not in scopes


def _item(row: Any) -> Item:
    return Item(
        position=row.position,
        case_id=row.case_id,
        expected_version=row.expected_version,
        outcome=row.outcome or PENDING,
        new_state=row.new_state,
        new_version=row.new_version,
        article=row.article,
        rule=row.rule,
        message=row.message,
        detail=row.detail,
        finished_at=row.finished_at,
    )


def listing_scopes(engine: Engine) -> dict[str, str]:
    """Role → scope kind over every loaded definition (as case listings use them)."""
    merged: dict[str, str] = {}
    for definition in engine.catalog:
        for role, kind in definition.scopes.items():
            merged.setdefault(role, kind)
    return merged
