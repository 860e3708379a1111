"""Unable-to-attend reports (A9.3, 第九条): the rows an officer writes when a cadre cannot take
part in a cycle, and the sweep's search for reports that still need their condolence visit.

Every function runs on a connection the caller owns (the sweep writes a visit key, its visit
case and nothing else in one transaction). Reports are append-only: the table's triggers
(revision 0009) refuse UPDATE and DELETE.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from workflow.store.schema import cadres, cases, unable_report_queue, unable_reports, visit_keys

ATTENDED_STATES = ("attended", "evaluated")  # as in workflow.store.scheduler


def of_definitions(
    definition_id: sa.ColumnElement[Any], ids: Sequence[int]
) -> sa.ColumnElement[bool]:
    """``definition_id IN ids``, written so that no index can serve it: a definition holds
    nearly every case, and SQLite, without statistics, would rather walk all of them through
    ix_cases_definition_id_opened_at than the few rows of one cadre or state (``+ 0`` makes
    the column an expression; PostgreSQL plans by its statistics either way)."""
    return (definition_id + 0).in_(list(ids))


def cadre_filing(connection: sa.Connection, cadre_id: str) -> Any | None:
    """The cadre's id, name, county, agency and record, or None."""
    return connection.execute(
        sa.select(
            cadres.c.id, cadres.c.name, cadres.c.county, cadres.c.agency, cadres.c.record
        ).where(cadres.c.id == cadre_id)
    ).first()


def insert_report(connection: sa.Connection, values: Mapping[str, Any]) -> int | None:
    """The new report's id; None if the cadre already has one for the cycle (unique key)."""
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(unable_reports)
        .values(**values)
        .on_conflict_do_nothing(index_elements=[unable_reports.c.cadre_id, unable_reports.c.cycle])
        .returning(unable_reports.c.id)
    )
    row = connection.execute(statement).first()
    if row is None:
        return None
    # the condolence sweep settles the report's visit from the queue (revision 0021)
    connection.execute(sa.insert(unable_report_queue).values(report_id=row.id))
    return int(row.id)


def queued_reports(connection: sa.Connection, *, after: int, limit: int) -> Sequence[Any]:
    """One page of the queued reports (`insert_report`) after report id ``after``."""
    return connection.execute(
        sa.select(unable_reports.c.id, unable_reports.c.cadre_id, unable_reports.c.cycle)
        .join(unable_report_queue, unable_report_queue.c.report_id == unable_reports.c.id)
        .where(unable_report_queue.c.report_id > after)
        .order_by(unable_report_queue.c.report_id)
        .limit(limit)
    ).all()


def dequeue_reports(connection: sa.Connection, report_ids: Sequence[int]) -> None:
    """The reports whose visit is settled (opened, or not needed) leave the queue."""
    if report_ids:
        connection.execute(
            sa.delete(unable_report_queue).where(
                unable_report_queue.c.report_id.in_(list(report_ids))
            )
        )


def report(connection: sa.Connection, report_id: int) -> Any | None:
    return connection.execute(
        sa.select(unable_reports).where(unable_reports.c.id == report_id)
    ).first()


def report_for(connection: sa.Connection, cadre_id: str, cycle: str) -> Any | None:
    return connection.execute(
        sa.select(unable_reports).where(
            unable_reports.c.cadre_id == cadre_id, unable_reports.c.cycle == cycle
        )
    ).first()


def reports(
    connection: sa.Connection,
    *,
    cadre_id: str | None = None,
    cycle: str | None = None,
    county: str | None = None,
    agency: str | None = None,
) -> Sequence[Any]:
    """Reports with the visit opened for each (if any), by cycle and cadre."""
    query = (
        sa.select(
            unable_reports,
            cadres.c.name,
            cadres.c.county,
            cadres.c.agency,
            visit_keys.c.case_id.label("visit_case_id"),
            visit_keys.c.late.label("visit_late"),
        )
        .join(cadres, cadres.c.id == unable_reports.c.cadre_id)
        .outerjoin(
            visit_keys,
            sa.and_(
                visit_keys.c.cadre_id == unable_reports.c.cadre_id,
                visit_keys.c.cycle == unable_reports.c.cycle,
            ),
        )
        .order_by(unable_reports.c.cycle, unable_reports.c.cadre_id)
    )
    if cadre_id is not None:
        query = query.where(unable_reports.c.cadre_id == cadre_id)
    if cycle is not None:
        query = query.where(unable_reports.c.cycle == cycle)
    if county is not None:
        query = query.where(cadres.c.county == county)
    if agency is not None:
        query = query.where(cadres.c.agency == agency)
    return connection.execute(query).all()


def report_candidates(
    connection: sa.Connection,
    source_ids: Sequence[int],
    cycle: str,
    after: str,
    limit: int,
    *,
    cadre_id: str | None = None,
) -> Sequence[Any]:
    """One page of reports in ``cycle`` whose cadre has no visit for it yet and did not take
    part in it after all, by cadre id; with ``cadre_id``, only that cadre's."""
    keyed = (
        sa.select(visit_keys.c.id)
        .where(
            visit_keys.c.cadre_id == unable_reports.c.cadre_id,
            visit_keys.c.cycle == unable_reports.c.cycle,
        )
        .exists()
    )
    attended = (
        sa.select(cases.c.id)
        .where(
            cases.c.cadre_id == unable_reports.c.cadre_id,
            cases.c.cycle == unable_reports.c.cycle,
            of_definitions(cases.c.definition_id, source_ids),
            cases.c.state.in_(ATTENDED_STATES),
        )
        .exists()
    )
    query = (
        sa.select(
            unable_reports.c.id,
            unable_reports.c.cadre_id,
            unable_reports.c.reason,
            unable_reports.c.occurred_on,
            unable_reports.c.reporter_role,
            unable_reports.c.reporter_name,
        )
        .where(
            unable_reports.c.cycle == cycle,
            unable_reports.c.cadre_id > after,
            ~keyed,
            ~attended,
            *(() if cadre_id is None else (unable_reports.c.cadre_id == cadre_id,)),
        )
        .order_by(unable_reports.c.cadre_id)
        .limit(limit)
    )
    return connection.execute(query).all()
