"""The condolence sweep (A9.3, 第九条): one focused visit per cadre who could not attend.

A cadre "eligible in a cycle but could not attend" has a case of a cycle-keeping definition
(``rules.cycles``, i.e. honor_convalescence) filed in that cycle that ended ``unable_to_attend``,
or ``withdrawn`` with ``for_health`` recorded true, and no case in that cycle that reached
``attended`` or ``evaluated``. For each such (cadre, cycle) whose cycle is running, the sweep
inserts a ``visit_keys`` row first (unique per cadre and cycle) and opens the
``condolence_visit`` case for the cadre's agency in the same transaction, so a sweep that runs
twice, or on two nodes, opens one visit. A cadre who attends later in the same cycle has an open
visit (``flagged`` or ``assigned``) moved to ``not_needed``. Each open visit has a task for the
agency, due on the cycle's last day; the visit's own timers remind the agency and escalate to the
county until the visit is recorded.

Finding is set-based (one grouped query per running cycle, paged by cadre id); only the cadres
found get per-case work, through the engine.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from workflow.definition.model import Definition
from workflow.definition.policy_rules import Cycle
from workflow.engine import Engine
from workflow.errors import WorkflowError
from workflow.scheduler.timers import DEFAULT_CHUNK, SCHEDULER, stored_definitions
from workflow.store.schema import cadres, cases, tasks, visit_keys
from workflow.tasks import close_left_tasks

log = logging.getLogger(__name__)

VISIT_DEFINITION = "condolence_visit"
ATTENDED_STATES = ("attended", "evaluated")  # the cadre took part in the cycle
OPEN_VISIT_STATES = ("flagged", "assigned")  # a visit not yet recorded
HEALTH_CAUSE = "身体健康原因"


@dataclass(frozen=True)
class CondolenceReport:
    opened: int = 0
    not_needed: int = 0
    tasks_created: int = 0
    refused: int = 0

    def to_json(self) -> dict[str, int]:
        return dict(self.__dict__)


def running_cycles(sources: Sequence[tuple[int, Definition]], today: date) -> list[Cycle]:
    found: dict[str, Cycle] = {}
    for _, definition in sources:
        if definition.rules is not None:
            for cycle in definition.rules.cycles:
                if cycle.contains(today):
                    found.setdefault(cycle.id, cycle)
    return list(found.values())


def all_cycles(sources: Sequence[tuple[int, Definition]]) -> dict[str, Cycle]:
    return {
        cycle.id: cycle
        for _, definition in sources
        if definition.rules is not None
        for cycle in definition.rules.cycles
    }


def sweep_condolence(engine: Engine, *, chunk: int = DEFAULT_CHUNK) -> CondolenceReport:
    """Open missing visits, close unneeded ones, give every open visit its task; idempotent."""
    now = engine.clock.now()
    today = now.date()
    stored = stored_definitions(engine)
    sources = [(i, d) for i, d in stored if d.rules is not None and d.rules.cycles]
    source_ids = [i for i, _ in sources]
    visit_ids = [i for i, d in stored if d.name == VISIT_DEFINITION]
    opened = refused = 0
    if source_ids:
        for cycle in running_cycles(sources, today):
            o, r = _open_visits(engine, source_ids, cycle, chunk)
            opened, refused = opened + o, refused + r
    if opened and not visit_ids:  # the first visit stored the visit definition
        visit_ids = [i for i, d in stored_definitions(engine) if d.name == VISIT_DEFINITION]
    not_needed = 0
    if source_ids and visit_ids:
        n, r = _close_unneeded(engine, source_ids, visit_ids, chunk)
        not_needed, refused = not_needed + n, refused + r
    created = 0
    if visit_ids:
        with engine.transaction(write=True) as connection:
            close_left_tasks(connection, now)
            created = _ensure_visit_tasks(connection, visit_ids, all_cycles(sources), now)
    return CondolenceReport(
        opened=opened, not_needed=not_needed, tasks_created=created, refused=refused
    )


def _attended(source_ids: Sequence[int], cadre: Any, cycle: Any) -> sa.Exists:
    other = cases.alias("attended")
    return (
        sa.select(other.c.id)
        .where(
            other.c.cadre_id == cadre,
            other.c.cycle == cycle,
            other.c.definition_id.in_(source_ids),
            other.c.state.in_(ATTENDED_STATES),
        )
        .exists()
    )


def candidates(
    connection: sa.Connection, source_ids: Sequence[int], cycle: str, after: str, limit: int
) -> Sequence[Any]:
    """One page of (cadre, first such case) that need a visit in ``cycle`` and have none."""
    could_not = sa.or_(
        cases.c.state == "unable_to_attend",
        sa.and_(cases.c.state == "withdrawn", cases.c.evidence["for_health"].as_boolean()),
    )
    keyed = (
        sa.select(visit_keys.c.id)
        .where(visit_keys.c.cadre_id == cases.c.cadre_id, visit_keys.c.cycle == cycle)
        .exists()
    )
    query = (
        sa.select(cases.c.cadre_id, sa.func.min(cases.c.id).label("source_id"))
        .where(
            cases.c.definition_id.in_(source_ids),
            cases.c.cycle == cycle,
            cases.c.state.in_(("unable_to_attend", "withdrawn")),
            could_not,
            cases.c.cadre_id > after,
            ~keyed,
            ~_attended(source_ids, cases.c.cadre_id, cycle),
        )
        .group_by(cases.c.cadre_id)
        .order_by(cases.c.cadre_id)
        .limit(limit)
    )
    return connection.execute(query).all()


def _insert_key(connection: sa.Connection, values: dict[str, Any]) -> bool:
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(visit_keys)
        .values(**values)
        .on_conflict_do_nothing(index_elements=[visit_keys.c.cadre_id, visit_keys.c.cycle])
        .returning(visit_keys.c.id)
    )
    return connection.execute(statement).first() is not None


def _open_visits(
    engine: Engine, source_ids: Sequence[int], cycle: Cycle, chunk: int
) -> tuple[int, int]:
    opened = refused = 0
    after = ""
    while True:
        with engine.transaction() as connection:
            page = candidates(connection, source_ids, cycle.id, after, chunk)
        for row in page:
            try:
                if open_visit(engine, row.cadre_id, cycle.id, row.source_id):
                    opened += 1
            except WorkflowError as error:
                refused += 1
                log.warning("no condolence visit for %s in %s: %s", row.cadre_id, cycle.id, error)
        if len(page) < chunk:
            return opened, refused
        after = page[-1].cadre_id


def open_visit(engine: Engine, cadre_id: str, cycle: str, source_id: int) -> bool:
    """The key row, then the visit case, in one transaction; False if the key existed."""
    now = engine.clock.now()
    with engine.transaction(write=True) as connection:
        if not _insert_key(
            connection,
            {"cadre_id": cadre_id, "cycle": cycle, "source_case_id": source_id, "created_at": now},
        ):
            return False
        evidence = connection.execute(
            sa.select(cases.c.evidence, cases.c.state).where(cases.c.id == source_id)
        ).one()
        cause = (evidence.evidence or {}).get("cause") or HEALTH_CAUSE
        visit = engine.open_case(
            cadre_id,
            actor=SCHEDULER,
            definition=VISIT_DEFINITION,
            data={"cycle": cycle, "source_case_id": source_id, "cause": cause},
            reason=f"第九条：案件 {source_id} 未能参加 {cycle} 周期疗养，列入重点走访慰问",
            within=connection,
        )
        # The visit definition keeps no cycles of its own; file the case under the cycle it
        # serves, so reports count visits per cycle like every other case.
        connection.execute(sa.update(cases).where(cases.c.id == visit.id).values(cycle=cycle))
        connection.execute(
            sa.update(visit_keys)
            .where(visit_keys.c.cadre_id == cadre_id, visit_keys.c.cycle == cycle)
            .values(case_id=visit.id)
        )
    return True


def _close_unneeded(
    engine: Engine, source_ids: Sequence[int], visit_ids: Sequence[int], chunk: int
) -> tuple[int, int]:
    closed = refused = 0
    after = 0
    while True:
        with engine.transaction() as connection:
            page = connection.execute(
                sa.select(cases.c.id, cases.c.version, visit_keys.c.cycle)
                .join(visit_keys, visit_keys.c.case_id == cases.c.id)
                .where(
                    cases.c.definition_id.in_(visit_ids),
                    cases.c.state.in_(OPEN_VISIT_STATES),
                    cases.c.id > after,
                    _attended(source_ids, visit_keys.c.cadre_id, visit_keys.c.cycle),
                )
                .order_by(cases.c.id)
                .limit(chunk)
            ).all()
        for row in page:
            try:
                engine.fire(
                    row.id,
                    "no_longer_needed",
                    actor=SCHEDULER,
                    expected_version=row.version,
                    reason=f"军休干部已于 {row.cycle} 周期参加疗养，无需重点走访慰问",
                )
                closed += 1
            except WorkflowError as error:  # moved by an officer meanwhile: next sweep decides
                refused += 1
                log.warning("visit %s not closed: %s", row.id, error)
        if len(page) < chunk:
            return closed, refused
        after = page[-1].id


def _ensure_visit_tasks(
    connection: sa.Connection, visit_ids: Sequence[int], cycles: dict[str, Cycle], now: Any
) -> int:
    """One INSERT … SELECT: a task for the agency per open visit and state, due at cycle end."""
    if not cycles:
        return 0
    key = sa.literal("visit:") + sa.cast(cases.c.id, sa.String) + sa.literal(":") + cases.c.state
    due = sa.case(
        *((visit_keys.c.cycle == c.id, sa.literal(c.end, sa.Date)) for c in cycles.values()),
        else_=sa.literal(now.date(), sa.Date),
    )
    title = (
        sa.literal("重点走访慰问（第九条）：")
        + cadres.c.name
        + sa.literal("，")
        + visit_keys.c.cycle
        + sa.literal(" 周期内未能参加疗养，请在周期结束前走访慰问并记录")
    )
    exists = sa.select(tasks.c.id).where(tasks.c.key == key).exists()
    select = (
        sa.select(
            key,
            sa.literal("condolence_visit"),
            cases.c.id,
            cases.c.state,
            sa.literal("agency_officer"),
            cases.c.county,
            cases.c.agency,
            title,
            sa.literal("A9.3"),
            due,
            sa.literal(now, tasks.c.created_at.type),
        )
        .join(visit_keys, visit_keys.c.case_id == cases.c.id)
        .join(cadres, cadres.c.id == cases.c.cadre_id)
        .where(
            cases.c.definition_id.in_(visit_ids),
            cases.c.state.in_(OPEN_VISIT_STATES),
            ~exists,
        )
    )
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(tasks)
        .from_select(
            [
                "key",
                "kind",
                "case_id",
                "state",
                "assignee_role",
                "county",
                "agency",
                "title",
                "article",
                "due_on",
                "created_at",
            ],
            select,
        )
        .on_conflict_do_nothing(index_elements=[tasks.c.key])
        .returning(tasks.c.id)
    )
    return len(connection.execute(statement).all())
