"""Closing a policy cycle (A9.1, A18.2; issue 13 item 5): what is still open in it, and the
closing that freezes it once nothing is.

A cycle (``rules.cycles`` of the definitions, A9.1) is closed by a city officer when its work is
done: every case filed under it in a final state (or carried over to a successor version, which
files it under the successor's cycle), every batch of its plans that took place evaluated
(A18.3), every cadre who could not take part visited (A9.3: no visit left open or still to be
opened), and no follow-up task of its cases still waiting. Until then the closing is refused,
one refusal per kind citing its article, each listing what is open (`CycleStillOpen`).

The closing writes the archive folder first, aside (`workflow.cycle_archive`: the A18.2 reports
of the cycle's years, the visit list, the ``audit verify`` result and checkpoint, a manifest),
then records the closing in one write transaction that checks again what is open: a row in
``cycle_closures`` (who, when, the audit digest, the manifest's SHA-256) and an admin-log entry
(A19.1). Only then is the folder put in place; a refused or lost closing leaves nothing behind.
From then on the cycle is frozen: no step moves or opens a case filed under it
(`workflow.steps`), and no plan or batch of it is created or changed (`refuse_frozen`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from workflow.clock import shanghai_date
from workflow.definition.policy_rules import Cycle
from workflow.engine import DEFAULT_DEFINITION, Engine
from workflow.errors import NotFoundError, Refusal, RuleRefused
from workflow.i18n import N_, _
from workflow.machine import Actor
from workflow.store import cycles as store
from workflow.store.admin_log import Author
from workflow.store.database import Connection

CLOSER_ROLE = "city_officer"  # A5.2: the cycle spans every organiser; the city closes it
LIST_LIMIT = 20  # items named per kind; the count is always the whole
VISIT = "condolence_visit"  # the A9.3 workflow: its open cases are visits still to make
CYCLE_KIND = N_("疗养周期")  # what NotFoundError names


@dataclass(frozen=True)
class Closure:
    """Who closed a cycle and when, with the digests that tie the archive to the database."""

    cycle: str
    closed_by: str
    role: str
    scope: str | None
    closed_at: datetime
    audit_digest: str
    archive_digest: str

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> Closure:
        return cls(**{name: row[name] for name in cls.__dataclass_fields__})

    @property
    def actor(self) -> str:
        return str(Actor(self.role, self.closed_by, self.scope))

    def to_json(self) -> dict[str, Any]:
        return {
            "cycle": self.cycle,
            "closed_by": self.actor,
            "closed_at": self.closed_at.isoformat(),
            "audit_digest": self.audit_digest,
            "archive_digest": self.archive_digest,
        }


@dataclass(frozen=True)
class OpenKind:
    """One kind of thing still open in a cycle: how many, the first few, and why it matters."""

    kind: str  # cases | visits | visits_to_open | batches | tasks
    article: str
    total: int
    items: tuple[Mapping[str, Any], ...]  # the first LIST_LIMIT, as columns
    lines: tuple[str, ...]  # the same, one line each, as an officer reads them

    def refusal(self) -> Refusal:
        listed = _("、").join(self.lines)
        if self.total > len(self.lines):
            listed += _(" 等共 {count} 项").format(count=self.total)
        return Refusal(
            self.article,
            f"cycle_{self.kind}_open",
            _(_WHAT[self.kind]).format(count=self.total, items=listed),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "article": self.article,
            "total": self.total,
            "items": [_plain(item) for item in self.items],
            "lines": list(self.lines),
        }


_WHAT: Mapping[str, str] = {  # translated with `_` when shown
    "cases": N_(
        "尚有 {count} 个案件未结案：{items}；办结或迁移到后续版本（cases migrate）后再关闭"
    ),
    "visits": N_("尚有 {count} 个重点走访慰问案件未办结：{items}"),
    "visits_to_open": N_(
        "尚有 {count} 名军休干部须重点走访慰问而尚未立案：{items}；先运行定时任务（scheduler run）"
    ),
    "batches": N_("尚有 {count} 个批次未评价承办单位：{items}；用 batches evaluate 评价"),
    "tasks": N_("尚有 {count} 项待办任务：{items}"),
}


@dataclass(frozen=True)
class CycleStatus:
    """A cycle's window, its closing if closed, and what is still open in it."""

    cycle: Cycle
    today: date
    closure: Closure | None
    open: tuple[OpenKind, ...]

    @property
    def closable(self) -> bool:
        return self.closure is None and not self.open

    @property
    def state(self) -> str:
        """closed | running | ended (ended: past its last day, not closed yet)."""
        if self.closure is not None:
            return "closed"
        return "running" if self.today <= self.cycle.end else "ended"

    def to_json(self) -> dict[str, Any]:
        return {
            "cycle": self.cycle.id,
            "start": self.cycle.start.isoformat(),
            "end": self.cycle.end.isoformat(),
            "state": self.state,
            "closure": None if self.closure is None else self.closure.to_json(),
            "closable": self.closable,
            "open": [kind.to_json() for kind in self.open],
        }


class CycleStillOpen(RuleRefused):
    """The closing is refused: one refusal per kind still open, each citing its article."""

    def __init__(self, cycle: str, kinds: Sequence[OpenKind]) -> None:
        super().__init__([kind.refusal() for kind in kinds])
        self.cycle = cycle
        head = _(
            "{cycle} 疗养周期尚不能关闭（A9.1、A18.2），以下事项须先办结或转入后续版本："
        ).format(cycle=cycle)
        self.message = "\n".join([head, *(f"- {r}" for r in self.refusals)])
        self.args = (self.message,)


@dataclass(frozen=True)
class Closed:
    """A closing as made: the row, the folder the office archives, and its files."""

    closure: Closure
    folder: Path
    files: tuple[Mapping[str, Any], ...]  # name, sha256, bytes

    def to_json(self) -> dict[str, Any]:
        return {**self.closure.to_json(), "folder": str(self.folder), "files": list(self.files)}


# -- which cycles there are -----------------------------------------------------------------


def known_cycles(engine: Engine) -> dict[str, Cycle]:
    """Every cycle any version of any definition declares (A9.1), by start; a later version's
    dates win for an id declared twice."""
    found: dict[str, Cycle] = {}
    for definition in sorted(engine.catalog, key=lambda d: (d.name, d.version)):
        for cycle in definition.rules.cycles if definition.rules else ():
            found[cycle.id] = cycle
    return dict(sorted(found.items(), key=lambda item: (item[1].start, item[0])))


def find_cycle(engine: Engine, cycle_id: str) -> Cycle:
    """The cycle named ``cycle_id``; `NotFoundError` (exit 4) naming the known ones."""
    known = known_cycles(engine)
    if cycle_id in known:
        return known[cycle_id]
    names = _("、").join(known) or _("无")
    raise NotFoundError(
        CYCLE_KIND, _("{cycle}（已知的周期：{known}）").format(cycle=cycle_id, known=names)
    )


# -- what is open ---------------------------------------------------------------------------


def cycle_status(engine: Engine, cycle_id: str, *, limit: int = LIST_LIMIT) -> CycleStatus:
    """The cycle's closing, or what still keeps it from closing; read in one transaction."""
    cycle = find_cycle(engine, cycle_id)
    engine.ensure_schema()
    with engine.transaction() as connection:
        return _status(engine, connection, cycle, limit)


def cycle_statuses(engine: Engine) -> list[CycleStatus]:
    """Every known cycle's status, earliest first (counts, and the first few of each kind)."""
    engine.ensure_schema()
    with engine.transaction() as connection:
        return [_status(engine, connection, c, LIST_LIMIT) for c in known_cycles(engine).values()]


def _status(engine: Engine, connection: Connection, cycle: Cycle, limit: int) -> CycleStatus:
    today = shanghai_date(engine.clock.now())
    row = store.closure(connection, cycle.id)
    if row is not None:  # frozen: nothing can have opened since
        return CycleStatus(cycle, today, Closure.of(row), ())
    labels = _state_labels(engine)
    kinds: list[OpenKind] = []
    by_definition = store.open_cases(connection, cycle.id, limit)
    cases = [(name, found) for name, found in sorted(by_definition.items()) if name != VISIT]
    if cases:
        total = sum(found.total for _name, found in cases)
        items = [dict(r, workflow=name) for name, found in cases for r in found.rows][:limit]
        lines = [
            _("案件 {id}（{cadre}，{county}，{state}）").format(
                id=r["id"],
                cadre=r["cadre_id"],
                county=r["county"],
                state=labels.get((r["workflow"], r["state"]), r["state"]),
            )
            for r in items
        ]
        kinds.append(OpenKind("cases", "A9.1", total, tuple(items), tuple(lines)))
    visits = by_definition.get(VISIT)
    if visits is not None:
        lines = [
            _("走访案件 {id}（{cadre}，{agency}，{state}{note}）").format(
                id=r["id"],
                cadre=r["cadre_id"],
                agency=r["agency"],
                state=labels.get((VISIT, r["state"]), r["state"]),
                note=_visit_note(r, today, cycle),
            )
            for r in visits.rows
        ]
        kinds.append(OpenKind("visits", "A9.3", visits.total, tuple(visits.rows), tuple(lines)))
    pending = store.visits_to_open(connection, cycle.id, _cycle_keepers(engine), limit)
    if pending.total:
        lines = [
            _("军休干部 {cadre}（{source}）").format(cadre=r["cadre_id"], source=_source(r))
            for r in pending.rows
        ]
        kinds.append(
            OpenKind("visits_to_open", "A9.3", pending.total, tuple(pending.rows), tuple(lines))
        )
    batches = store.unevaluated_batches(connection, cycle.id, limit)
    if batches.total:
        lines = [
            _("批次 {id}（{place}，{start} 至 {end}，{contractor}）").format(
                id=r["id"],
                place=r["place"],
                start=r["start_date"].isoformat(),
                end=r["end_date"].isoformat(),
                contractor=r["contractor"],
            )
            for r in batches.rows
        ]
        kinds.append(OpenKind("batches", "A18.3", batches.total, tuple(batches.rows), tuple(lines)))
    waiting = store.waiting_tasks(connection, cycle.id, limit)
    if waiting.total:
        lines = [
            _("任务 {id}（案件 {case}，{agency}，{due} 到期）").format(
                id=r["id"], case=r["case_id"], agency=r["agency"], due=r["due_on"].isoformat()
            )
            for r in waiting.rows
        ]
        article = str(waiting.rows[0]["article"] or "A9.1") if waiting.rows else "A9.1"
        kinds.append(OpenKind("tasks", article, waiting.total, tuple(waiting.rows), tuple(lines)))
    return CycleStatus(cycle, today, None, tuple(kinds))


def _visit_note(row: Mapping[str, Any], today: date, cycle: Cycle) -> str:
    """A visit made waits only to be closed; one not made is overdue after the cycle's end,
    when it was due (A9.3)."""
    if row["visited_on"]:
        return _("，{day} 已走访，待办结").format(day=row["visited_on"])
    return _("，已逾期") if today > cycle.end else ""


def _source(row: Mapping[str, Any]) -> str:
    if row.get("case_id") is not None:
        return _("案件 {id} 未能参加").format(id=row["case_id"])
    return _("无法参加登记 {id}").format(id=row["report_id"])


def _state_labels(engine: Engine) -> dict[tuple[str, str], str]:
    return {(d.name, s.name): s.label for d in engine.catalog for s in d.states}


def _cycle_keepers(engine: Engine) -> set[str]:
    """The definitions that keep cycles (their cases are what a visit follows up, A9.3)."""
    return {d.name for d in engine.catalog if d.rules is not None and d.rules.cycles}


# -- closing --------------------------------------------------------------------------------


def close_cycle(engine: Engine, cycle_id: str, *, actor: Actor, out: Path | None = None) -> Closed:
    """Close the cycle as ``actor`` (a city officer, A5.2) and write its archive folder to
    ``out`` (default ``./cycle-ID``; refused if it exists and is not empty). Refused (exit 1)
    while anything is open, naming it; a second closing names the first."""
    # the archive's writers load Jinja2 and openpyxl: only a closing needs them, not the plans
    # service asking `refuse_frozen`
    from workflow import cycle_archive  # noqa: PLC0415

    cycle = find_cycle(engine, cycle_id)
    _check_closer(engine, actor)
    _refuse_unless_closable(engine, cycle_status(engine, cycle.id))
    folder = cycle_archive.target_folder(out, cycle.id)
    at = engine.clock.now()
    author = Author(actor.role, actor.name, actor.scope)
    built = cycle_archive.build(engine, cycle, closed_by=str(actor), at=at, folder=folder)
    try:
        with engine.transaction(write=True) as connection:
            store.lock_for_closing(connection)
            _refuse_unless_closable(engine, _status(engine, connection, cycle, LIST_LIMIT))
            row = store.record_closure(
                connection,
                cycle=cycle.id,
                author=author,
                at=at,
                audit_digest=built.audit_digest,
                archive_digest=built.manifest_digest,
            )
            if row is None:  # another closing went in first: it is committed, read it
                winner = store.closure(connection, cycle.id)
                assert winner is not None
                raise _already_closed(engine, Closure.of(winner))
    except BaseException:
        built.discard()
        raise
    return Closed(Closure.of(row), built.publish(), built.files)


def _check_closer(engine: Engine, actor: Actor) -> None:
    if actor.role == CLOSER_ROLE:
        return
    roles = engine.catalog.get(DEFAULT_DEFINITION).roles
    message = _("只有{role}可以关闭疗养周期（{actor} 的角色是 {actual}）").format(
        role=roles.get(CLOSER_ROLE, CLOSER_ROLE), actor=str(actor), actual=actor.role
    )
    raise RuleRefused([Refusal("A5.2", "cycle_closer", message)])


def _refuse_unless_closable(engine: Engine, status: CycleStatus) -> None:
    if status.closure is not None:
        raise _already_closed(engine, status.closure)
    if status.open:
        raise CycleStillOpen(status.cycle.id, status.open)


def _already_closed(engine: Engine, closure: Closure) -> RuleRefused:
    message = _("{cycle} 疗养周期已由 {by} 于 {at} 关闭").format(
        cycle=closure.cycle, by=closure.actor, at=closure.closed_at.strftime("%Y-%m-%d %H:%M")
    )
    return RuleRefused([Refusal("A9.1", "cycle_closed", message)])


# -- the freeze on plans and batches -------------------------------------------------------


def refuse_frozen(
    connection: Connection,
    *,
    cycle: str | None = None,
    plan_id: int | None = None,
    batch_id: int | None = None,
) -> None:
    """No plan of a closed cycle and no batch of such a plan is created or changed (A9.1,
    A18.2: the cycle's final report is archived). Name the cycle, the plan or the batch. Call
    inside the write's transaction after its first write or locked read, so that on PostgreSQL
    the write and a closing take turns (`workflow.store.cycles.lock_for_closing`)."""
    if cycle is None and plan_id is not None:
        cycle = store.plan_cycle(connection, plan_id)
    elif cycle is None and batch_id is not None:
        cycle = store.batch_cycle(connection, batch_id)
    row = None if cycle is None else store.closure(connection, cycle)
    if row is None:
        return
    closure = Closure.of(row)
    message = _(
        "{cycle} 疗养周期已由 {by} 于 {at} 关闭，终期报告已归档（A18.2），"
        "其计划和批次不能再新建或更改"
    ).format(cycle=closure.cycle, by=closure.actor, at=closure.closed_at.strftime("%Y-%m-%d %H:%M"))
    raise RuleRefused([Refusal("A9.1", "cycle_closed", message)])


def _plain(item: Mapping[str, Any]) -> dict[str, Any]:
    """Columns as JSON values (dates as ISO text)."""
    return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in item.items()}
