"""The scheduler's tables: job runs, timer marks and the due-case search, condolence-visit keys.

Every function runs on a connection the caller owns, so the scheduler decides where a sweep's
transaction begins and ends: a timer mark lands with its task and outbox row, a visit key with
its visit case, or none of them. The lease row lives in `workflow.store.lease`; tasks in
`workflow.store.tasks`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from sqlalchemy.dialects import postgresql, sqlite

from workflow.store import keyset
from workflow.store.schema import (
    cadres,
    cases,
    definitions,
    history,
    scheduler_runs,
    tasks,
    timer_marks,
    visit_keys,
)
from workflow.store.unable import of_definitions

STALE_CLAIM = timedelta(minutes=15)  # a run unfinished this long was killed: take it over


def job_store(db: sa.Engine) -> SQLAlchemyJobStore:
    """APScheduler's job table in our database (created by revision 0005)."""
    return SQLAlchemyJobStore(engine=db)


# -- job runs ---------------------------------------------------------------------------------


def claim_run(
    connection: sa.Connection, job: str, slot: datetime, holder: str, now: datetime
) -> int | None:
    """Insert the (job, slot) row; its id if this caller is the one to run it, else None.

    A claim whose run never finished (its node was killed mid-sweep) is taken over once it is
    older than `STALE_CLAIM`: the slot is not lost, and every effect is keyed, so finishing a
    half-done run creates nothing twice. A run that ended incomplete (its result is stored but
    it is not finished, see `finish_run`) is taken over at once, by one caller: taking it over
    clears the result."""
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(scheduler_runs).values(
        job=job, slot=slot, holder=holder, started_at=now
    )
    row = connection.execute(
        statement.on_conflict_do_update(
            index_elements=[scheduler_runs.c.job, scheduler_runs.c.slot],
            set_={"holder": holder, "started_at": now, "result": sa.null()},
            where=sa.and_(
                scheduler_runs.c.finished_at.is_(None),
                sa.or_(
                    scheduler_runs.c.started_at < now - STALE_CLAIM,
                    scheduler_runs.c.result.is_not(None),
                ),
            ),
        ).returning(scheduler_runs.c.id)
    ).first()
    return None if row is None else int(row.id)


def release_run(connection: sa.Connection, run_id: int) -> None:
    """Give a failed run's slot back, so the next attempt for that moment runs it."""
    connection.execute(
        sa.delete(scheduler_runs).where(
            scheduler_runs.c.id == run_id, scheduler_runs.c.finished_at.is_(None)
        )
    )


def finish_run(
    connection: sa.Connection, run_id: int, result: Mapping[str, Any], finished: datetime | None
) -> None:
    """Store the run's result; ``finished`` None leaves it incomplete (its slot may run again)."""
    connection.execute(
        sa.update(scheduler_runs)
        .where(scheduler_runs.c.id == run_id)
        .values(finished_at=finished, result=dict(result))
    )


def last_runs(connection: sa.Connection) -> dict[str, Any]:
    """Each job's latest run row, by job name."""
    rows = connection.execute(sa.select(scheduler_runs).order_by(scheduler_runs.c.started_at))
    return {row.job: row for row in rows}


def read_last_runs(db: sa.Engine) -> dict[str, Any]:
    """`last_runs` in a read transaction of its own (``scheduler status``)."""
    with db.connect() as connection, connection.begin():
        return last_runs(connection)


# -- timers ---------------------------------------------------------------------------------


def stored_definition_rows(connection: sa.Connection) -> Sequence[Any]:
    """(id, name, version) of every definition version cases were opened under."""
    return connection.execute(
        sa.select(definitions.c.id, definitions.c.name, definitions.c.version)
    ).all()


def entry_seq(case_table: sa.Table = cases) -> sa.ScalarSelect[Any]:
    """The seq of the history row that moved the case into its current state."""
    entry = history.alias("entry")
    return (
        sa.select(sa.func.max(entry.c.seq))
        .where(
            entry.c.case_id == case_table.c.id,
            entry.c.to_state == case_table.c.state,
            sa.or_(entry.c.from_state.is_(None), entry.c.from_state != entry.c.to_state),
        )
        .correlate(case_table)
        .scalar_subquery()
    )


def due_timer_cases(
    connection: sa.Connection, *, today: date, after: tuple[date, int] | None, limit: int
) -> Sequence[Any]:
    """One page of open cases whose sweep day has come (``sweep_on`` <= ``today``), in
    (sweep_on, id) order after ``after``: a range of ix_cases_sweep_on, so a sweep reads the
    work there is, not the table. Each row carries what a timer's task, notice or step needs:
    the history row that began the stay (``entry_seq``, ``entered_at``) and the cadre's record."""
    query = (
        sa.select(
            cases.c.id,
            cases.c.version,
            cases.c.definition_id,
            cases.c.cadre_id,
            cases.c.county,
            cases.c.agency,
            cases.c.state,
            cases.c.cycle,
            cases.c.tier,
            cases.c.evidence,
            cases.c.sweep_on,
            history.c.seq.label("entry_seq"),
            history.c.at.label("entered_at"),
            cadres.c.record,
        )
        .select_from(cases)
        .join(history, sa.and_(history.c.case_id == cases.c.id, history.c.seq == entry_seq()))
        .join(cadres, cadres.c.id == cases.c.cadre_id)
        .where(cases.c.terminal == sa.false(), cases.c.sweep_on <= today)
    )
    order = [cases.c.sweep_on, cases.c.id]
    return connection.execute(keyset.page_after(query, order, after, limit=limit)).all()


def stay_marks(connection: sa.Connection, stays: Sequence[tuple[int, int]]) -> set[tuple[int, int]]:
    """The (case id, timer index) marked for each (case id, entry seq) stay of ``stays``."""
    if not stays:
        return set()
    wanted = set(stays)
    rows = connection.execute(
        sa.select(timer_marks.c.case_id, timer_marks.c.entry_seq, timer_marks.c.timer_index).where(
            timer_marks.c.case_id.in_(sorted({case_id for case_id, _ in stays}))
        )
    )
    return {(r.case_id, r.timer_index) for r in rows if (r.case_id, r.entry_seq) in wanted}


def set_sweep_days(connection: sa.Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Set each case's ``sweep_on`` (``{"id", "version", "sweep_on"}``) unless the case moved
    since the sweep read it (its step wrote the new stay's day). In id order, so two sweeps
    at once take the rows' locks in the same order."""
    if not rows:
        return
    statement = (
        sa.update(cases)
        .where(cases.c.id == sa.bindparam("b_id"), cases.c.version == sa.bindparam("b_version"))
        .values(sweep_on=sa.bindparam("b_sweep_on", type_=sa.Date))
    )
    connection.execute(
        statement,
        [
            {"b_id": r["id"], "b_version": r["version"], "b_sweep_on": r["sweep_on"]}
            for r in sorted(rows, key=lambda r: int(r["id"]))
        ],
    )


def ended_cases(
    connection: sa.Connection, *, after: tuple[date, int] | None, limit: int
) -> Sequence[Any]:
    """One page of ended cases with a sweep day (the condolence sweep's to look at once, A9.3),
    in (sweep_on, id) order after ``after``; a range of ix_cases_sweep_on."""
    query = sa.select(
        cases.c.id,
        cases.c.version,
        cases.c.definition_id,
        cases.c.cadre_id,
        cases.c.cycle,
        cases.c.state,
        cases.c.sweep_on,
    ).where(cases.c.terminal == sa.true(), cases.c.sweep_on.is_not(None))
    order = [cases.c.sweep_on, cases.c.id]
    return connection.execute(keyset.page_after(query, order, after, limit=limit)).all()


def insert_marks(connection: sa.Connection, rows: list[dict[str, Any]]) -> set[int]:
    """Insert marks first; the case ids whose mark this transaction inserted."""
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(timer_marks)
        .on_conflict_do_nothing(
            index_elements=[
                timer_marks.c.case_id,
                timer_marks.c.entry_seq,
                timer_marks.c.timer_index,
            ]
        )
        .returning(timer_marks.c.case_id)
    )
    return {row.case_id for row in connection.execute(statement, rows)}


# -- condolence visits (A9.3) -----------------------------------------------------------------

ATTENDED_STATES = ("attended", "evaluated")  # the cadre took part in the cycle


OPEN_VISIT_STATES = ("flagged", "assigned")  # a visit not yet recorded
COULD_NOT_ATTEND = ("unable_to_attend", "withdrawn")  # withdrawn counts when for health


def _attended(source_ids: Sequence[int], cadre: Any, cycle: Any) -> sa.Exists:
    other = cases.alias("attended")
    return (
        sa.select(other.c.id)
        .where(
            other.c.cadre_id == cadre,
            other.c.cycle == cycle,
            of_definitions(other.c.definition_id, source_ids),
            other.c.state.in_(ATTENDED_STATES),
        )
        .exists()
    )


def visit_candidates(
    connection: sa.Connection,
    source_ids: Sequence[int],
    cycle: str,
    after: str,
    limit: int,
    *,
    cadre_id: str | None = None,
) -> Sequence[Any]:
    """One page of (cadre, first such case) that need a visit in ``cycle`` and have none;
    with ``cadre_id``, only that cadre's (what one ended case asks, through ix_cases_cadre_id)."""
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
            of_definitions(cases.c.definition_id, source_ids),
            cases.c.cycle == cycle,
            cases.c.state.in_(COULD_NOT_ATTEND),
            could_not,
            cases.c.cadre_id > after,
            ~keyed,
            ~_attended(source_ids, cases.c.cadre_id, cycle),
            *(() if cadre_id is None else (cases.c.cadre_id == cadre_id,)),
        )
        .group_by(cases.c.cadre_id)
        .order_by(cases.c.cadre_id)
        .limit(limit)
    )
    return connection.execute(query).all()


def insert_visit_key(connection: sa.Connection, values: dict[str, Any]) -> bool:
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(visit_keys)
        .values(**values)
        .on_conflict_do_nothing(index_elements=[visit_keys.c.cadre_id, visit_keys.c.cycle])
        .returning(visit_keys.c.id)
    )
    return connection.execute(statement).first() is not None


def source_evidence(connection: sa.Connection, case_id: int) -> dict[str, Any]:
    """The evidence of the case a visit is opened for (its recorded cause, if any)."""
    value = connection.execute(sa.select(cases.c.evidence).where(cases.c.id == case_id)).scalar()
    return dict(value or {})


def link_visit(connection: sa.Connection, cadre_id: str, cycle: str, visit_id: int) -> None:
    """Point the (cadre, cycle) key at the visit case opened for it."""
    connection.execute(
        sa.update(visit_keys)
        .where(visit_keys.c.cadre_id == cadre_id, visit_keys.c.cycle == cycle)
        .values(case_id=visit_id)
    )


def unneeded_visits(
    connection: sa.Connection,
    source_ids: Sequence[int],
    visit_ids: Sequence[int],
    after: int,
    limit: int,
) -> Sequence[Any]:
    """One page of open visits whose cadre attended in the visit's cycle after all."""
    return connection.execute(
        sa.select(cases.c.id, cases.c.version, visit_keys.c.cycle)
        .join(visit_keys, visit_keys.c.case_id == cases.c.id)
        .where(
            of_definitions(cases.c.definition_id, visit_ids),
            cases.c.state.in_(OPEN_VISIT_STATES),
            cases.c.id > after,
            _attended(source_ids, visit_keys.c.cadre_id, visit_keys.c.cycle),
        )
        .order_by(cases.c.id)
        .limit(limit)
    ).all()


def ensure_visit_tasks(
    connection: sa.Connection, visit_ids: Sequence[int], cycle_ends: Mapping[str, date], now: Any
) -> int:
    """One INSERT … SELECT: a task for the agency per open visit and state, due at cycle end."""
    if not cycle_ends:
        return 0
    key = sa.literal("visit:") + sa.cast(cases.c.id, sa.String) + sa.literal(":") + cases.c.state
    due = sa.case(
        *(
            (visit_keys.c.cycle == cycle, sa.literal(end, sa.Date))
            for cycle, end in cycle_ends.items()
        ),
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
            of_definitions(cases.c.definition_id, visit_ids),
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
