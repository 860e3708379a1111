"""The reads of ``policy what-if`` (issue 13): the whole roster, the open cases of a workflow and
what their next steps' guards read, each in a handful of set-based statements.

A what-if runs 100,000 cadres through two versions of the policy, so nothing here reads one row
per cadre or per case: the roster streams in partitions (a server-side cursor on PostgreSQL), and
the open cases, their exceptions, their seats and the cadres' other cases in the cycle are one
statement each over the whole set. All of them run on the caller's connection, in one read
transaction, so the figures come from one consistent view. No row is written.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from workflow.store.schema import (
    batch_seats,
    batches,
    cadres,
    case_exceptions,
    cases,
    definitions,
)

ROSTER_PARTITION = 2000  # cadres per fetch: bounded memory, few round trips


@dataclass(frozen=True)
class StoredVersion:
    """A definition version as the database holds it: the bundled files stored on first use and
    the versions an office published (``published_at`` set), with the day one was cut short."""

    id: int
    version: int
    source_name: str
    source_text: str
    ends_early_on: date | None
    published_at: datetime | None


@dataclass(frozen=True)
class RosterRow:
    cadre_id: str
    name: str
    county: str
    agency: str
    record: Mapping[str, Any]


@dataclass(frozen=True)
class OpenCaseRow:
    """An open case with what its next steps are decided on beside its evidence: its seat's
    batch and when that batch started (A13.1)."""

    id: int
    definition_id: int
    cadre_id: str
    county: str
    agency: str
    state: str
    evidence: Mapping[str, Any]
    cycle: str | None
    seat_batch: int | None
    seat_batch_started_at: datetime | None


@dataclass(frozen=True)
class CycleCase:
    """Another case of a cadre with an open case, in a cycle (for once-per-cycle, A9.2)."""

    id: int
    cadre_id: str
    cycle: str
    state: str


def stored_versions(connection: sa.Connection, name: str) -> list[StoredVersion]:
    """Every stored version of ``name``, lowest first."""
    query = (
        sa.select(
            definitions.c.id,
            definitions.c.version,
            definitions.c.source_name,
            definitions.c.source_text,
            definitions.c.ends_early_on,
            definitions.c.published_at,
        )
        .where(definitions.c.name == name)
        .order_by(definitions.c.version)
    )
    return [StoredVersion(*row) for row in connection.execute(query)]


def definition_texts(connection: sa.Connection, ids: set[int]) -> dict[int, tuple[str, str]]:
    """Stored id -> (source text, source name), for the versions open cases run on."""
    if not ids:
        return {}
    query = sa.select(definitions.c.id, definitions.c.source_text, definitions.c.source_name).where(
        definitions.c.id.in_(sorted(ids))
    )
    return {row.id: (row.source_text, row.source_name) for row in connection.execute(query)}


def roster(connection: sa.Connection, size: int = ROSTER_PARTITION) -> Iterator[list[RosterRow]]:
    """The cadres table in id order, ``size`` rows at a time (streamed, never all in memory)."""
    query = sa.select(
        cadres.c.id, cadres.c.name, cadres.c.county, cadres.c.agency, cadres.c.record
    ).order_by(cadres.c.id)
    result = connection.execution_options(yield_per=size).execute(query)
    for partition in result.partitions():
        yield [RosterRow(*row) for row in partition]


def _open_of(name: str) -> sa.ColumnElement[bool]:
    ids = sa.select(definitions.c.id).where(definitions.c.name == name)
    return sa.and_(cases.c.terminal == sa.false(), cases.c.definition_id.in_(ids))


def open_cases(connection: sa.Connection, name: str) -> list[OpenCaseRow]:
    """The open cases of the workflow ``name`` (any version), with their seats, in id order."""
    query = (
        sa.select(
            cases.c.id,
            cases.c.definition_id,
            cases.c.cadre_id,
            cases.c.county,
            cases.c.agency,
            cases.c.state,
            cases.c.evidence,
            cases.c.cycle,
            batch_seats.c.batch_id,
            batches.c.started_at,
        )
        .select_from(
            cases.outerjoin(batch_seats, batch_seats.c.case_id == cases.c.id).outerjoin(
                batches, batches.c.id == batch_seats.c.batch_id
            )
        )
        .where(_open_of(name))
        .order_by(cases.c.id)
    )
    return [
        OpenCaseRow(
            id=row.id,
            definition_id=row.definition_id,
            cadre_id=row.cadre_id,
            county=row.county,
            agency=row.agency,
            state=row.state,
            evidence=row.evidence,
            cycle=row.cycle,
            seat_batch=row.batch_id,
            seat_batch_started_at=row.started_at,
        )
        for row in connection.execute(query)
    ]


def granted_exceptions(connection: sa.Connection, name: str) -> dict[int, frozenset[str]]:
    """Case id -> the rules an exception was granted for (A8.2, A9.2), for the open cases."""
    query = (
        sa.select(case_exceptions.c.case_id, case_exceptions.c.rule)
        .select_from(case_exceptions.join(cases, cases.c.id == case_exceptions.c.case_id))
        .where(_open_of(name))
    )
    found: dict[int, set[str]] = {}
    for case_id, rule in connection.execute(query):
        found.setdefault(case_id, set()).add(rule)
    return {case_id: frozenset(rules) for case_id, rules in found.items()}


def cycle_cases(connection: sa.Connection, name: str) -> list[CycleCase]:
    """Every case filed under a cycle of a cadre who has an open case of ``name``: the
    candidates of once-per-cycle (A9.2); the caller keeps those in the participating states."""
    holders = sa.select(cases.c.cadre_id).where(_open_of(name))
    query = sa.select(cases.c.id, cases.c.cadre_id, cases.c.cycle, cases.c.state).where(
        cases.c.cycle.is_not(None), cases.c.cadre_id.in_(holders)
    )
    return [CycleCase(*row) for row in connection.execute(query)]
