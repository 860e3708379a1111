"""The statements of carrying a case over to a successor definition (A21.1, ``cases migrate``).

One move per transaction: the case row is read under a row lock (PostgreSQL; SQLite's
BEGIN IMMEDIATE already holds the write lock), the history row of the new version is appended
to the case's hash chain, then the case row is compare-and-set on its version with the new
definition, cycle and state (migration 0016 lets those columns change only with that row), and
the case's participation (A9.2) follows it into the new cycle. A participation the new cycle
already holds for the cadre refuses the move, naming A9.2; nothing is written then.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from workflow.audit.chain import GENESIS
from workflow.clock import shanghai_date
from workflow.errors import ConflictError, Refusal, RuleRefused
from workflow.i18n import _
from workflow.store.cases import chained
from workflow.store.schema import cadres, cases, history, participations


@dataclass(frozen=True)
class CaseToMove:
    """The columns of a case that a carry-over reads and rewrites."""

    id: int
    definition_id: int
    state: str
    version: int
    chain_head: str | None
    evidence: Mapping[str, Any]
    cycle: str | None


def cohort(
    connection: sa.Connection,
    definition_id: int,
    *,
    open_states: frozenset[str],
    states: frozenset[str] | None,
    county: str | None,
) -> list[int]:
    """Ids of the cases on ``definition_id`` in one of its ``open_states`` (narrowed to
    ``states`` and ``county`` when given), oldest first."""
    wanted = open_states if states is None else open_states & states
    statement = (
        sa.select(cases.c.id)
        .where(cases.c.definition_id == definition_id, cases.c.state.in_(sorted(wanted)))
        .order_by(cases.c.id)
    )
    if county is not None:
        statement = statement.where(cases.c.county == county)
    return [int(case_id) for case_id in connection.execute(statement).scalars()]


def case_to_move(connection: sa.Connection, case_id: int) -> CaseToMove | None:
    statement = sa.select(
        cases.c.id,
        cases.c.definition_id,
        cases.c.state,
        cases.c.version,
        cases.c.chain_head,
        cases.c.evidence,
        cases.c.cycle,
    ).where(cases.c.id == case_id)
    if connection.dialect.name == "postgresql":
        statement = statement.with_for_update()
    row = connection.execute(statement).first()
    if row is None:
        return None
    return CaseToMove(
        id=int(row.id),
        definition_id=int(row.definition_id),
        state=str(row.state),
        version=int(row.version),
        chain_head=row.chain_head,
        evidence=dict(row.evidence or {}),
        cycle=row.cycle,
    )


def move_to_successor(
    connection: sa.Connection,
    case: CaseToMove,
    *,
    definition_id: int,
    cycle: str | None,
    state: str,
    terminal: bool,
    history_row: Mapping[str, Any],
) -> str:
    """Append the carry-over's history row, then compare-and-set the case; returns the new
    chain head. `ConflictError` if the case moved since it was read, `RuleRefused` (A9.2) if the
    cadre already takes part in the new cycle; nothing written either way."""
    prev_hash = case.chain_head or _previous_hash(connection, case.id, case.version)
    row = chained(history_row, prev_hash)
    try:
        with connection.begin_nested():
            connection.execute(sa.insert(history).values(**row))
            moved = connection.execute(
                sa.update(cases)
                .where(cases.c.id == case.id, cases.c.version == case.version)
                .values(
                    definition_id=definition_id,
                    cycle=cycle,
                    state=state,
                    terminal=terminal,
                    version=case.version + 1,
                    updated_at=row["at"],
                    chain_head=row["hash"],
                    # under the successor the sweeps look at the case afresh (revision 0021)
                    sweep_on=shanghai_date(row["at"]),
                )
            ).rowcount
            if moved != 1:
                raise _moved_meanwhile(case)
            connection.execute(
                sa.update(participations)
                .where(participations.c.case_id == case.id)
                .values(cycle=cycle)
            )
    except IntegrityError as error:
        if "participations" not in str(error.orig) and "uq_participations" not in str(error.orig):
            raise _moved_meanwhile(case) from error
        raise RuleRefused(
            [
                Refusal(
                    article="A9.2",
                    rule="once_per_cycle",
                    message=_(
                        "该军休干部在周期 {cycle} 已有参加疗养的案件：本案件不能转入该周期"
                    ).format(cycle=cycle),
                )
            ],
            case_id=case.id,
        ) from error
    return str(row["hash"])


def _moved_meanwhile(case: CaseToMove) -> ConflictError:
    return ConflictError(case_id=case.id, expected_version=case.version, actual_version=None)


def _previous_hash(connection: sa.Connection, case_id: int, seq: int) -> str:
    if seq == 0:
        return GENESIS
    found = connection.execute(
        sa.select(history.c.hash).where(history.c.case_id == case_id, history.c.seq == seq)
    ).scalar_one()
    return str(found)


def cadre_records(
    connection: sa.Connection, cadre_ids: set[str]
) -> dict[str, tuple[str, dict[str, Any]]]:
    """Cadre id -> (name, record) for the cadres of the cases to carry over."""
    if not cadre_ids:
        return {}
    rows = connection.execute(
        sa.select(cadres.c.id, cadres.c.name, cadres.c.record).where(
            cadres.c.id.in_(sorted(cadre_ids))
        )
    )
    return {str(row.id): (str(row.name), dict(row.record or {})) for row in rows}
