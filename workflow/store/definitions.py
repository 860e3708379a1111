"""Reads and writes of the stored definition versions (A21.1, 第二十一条): the versions an
office publishes, the day a version is cut short, and how many cases run on each.

The ``definitions`` table holds every text a case ever ran on: the bundled files the engine
stored on first use (no publisher) and the versions officers published (``published_by``,
``published_at``). `DefinitionRegistry` re-reads the published ones when their `mark` changes,
which is how a node sees a version another node published without a restart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from workflow.errors import DatabaseNotReadyError
from workflow.i18n import _
from workflow.store.admin_log import Author, append_entry
from workflow.store.errors import integrity
from workflow.store.schema import cases, definitions

Transaction = Callable[..., AbstractContextManager[sa.Connection]]

ENTITY = "definition"  # admin log entries about a definition version (workflow.audit.admin)


@dataclass(frozen=True)
class StoredVersion:
    """One stored definition version, with what an office needs to know about it."""

    id: int
    name: str
    version: int
    content_hash: str
    source_name: str
    source_text: str
    effective_from: date
    effective_until: date | None
    ends_early_on: date | None
    published_by: str | None
    published_at: datetime | None
    stored_at: datetime

    @property
    def published(self) -> bool:
        return self.published_at is not None


@contextmanager
def definition_store(
    transaction: Transaction,
    *,
    write: bool = False,
    author: Author | None = None,
    now: datetime | None = None,
) -> Iterator[DefinitionStore]:
    """One transaction on the stored versions; ``write=True`` takes SQLite's write lock first,
    so the overlap check and the insert it allows see the same rows."""
    with transaction(write=write) as connection:
        yield DefinitionStore(connection, author, now)


def publication_mark(connection: sa.Connection) -> tuple[tuple[int, date | None], ...]:
    """What changes whenever a version is published or cut short: the ids and cut-short days of
    the rows that differ from the bundled files. One small read, made every few seconds."""
    rows = connection.execute(
        sa.select(definitions.c.id, definitions.c.ends_early_on)
        .where(_differs_from_files())
        .order_by(definitions.c.id)
    )
    return tuple((int(r.id), r.ends_early_on) for r in rows)


def differing_versions(connection: sa.Connection) -> list[StoredVersion]:
    """The published versions and the versions cut short, oldest first."""
    rows = connection.execute(
        sa.select(definitions).where(_differs_from_files()).order_by(definitions.c.id)
    )
    return [_version(r._mapping) for r in rows]


class SqlPublishedVersions:
    """`workflow.ports.PublishedVersions` on the engine's database: each read its own short
    transaction, or the host's when a step runs ``within`` one (a host whose pool holds a
    single connection must not wait for a second)."""

    def __init__(self, transaction: Transaction) -> None:
        self._transaction = transaction

    def mark(self, within: Any = None) -> object | None:
        try:
            with self._transaction(within, single_read=True) as connection:
                return publication_mark(connection)
        except (DatabaseNotReadyError, sa.exc.OperationalError, sa.exc.ProgrammingError):
            return None  # the registry keeps to the files and asks again next time

    def versions(self, within: Any = None) -> list[StoredVersion]:
        with self._transaction(within, single_read=True) as connection:
            return differing_versions(connection)


def _differs_from_files() -> sa.ColumnElement[bool]:
    return sa.or_(definitions.c.published_at.is_not(None), definitions.c.ends_early_on.is_not(None))


class DefinitionStore:
    """The stored versions' statements on one connection; never commits. Every write appends
    to the admin log's chain with its author (A19.1)."""

    def __init__(
        self, connection: sa.Connection, author: Author | None, now: datetime | None
    ) -> None:
        self.connection = connection
        self.author = author
        self.now = now

    def versions(self, name: str | None = None) -> list[StoredVersion]:
        statement = sa.select(definitions).order_by(definitions.c.name, definitions.c.version)
        if name is not None:
            statement = statement.where(definitions.c.name == name)
        return [_version(r._mapping) for r in self.connection.execute(statement)]

    def find(self, name: str, version: int) -> StoredVersion | None:
        row = self.connection.execute(
            sa.select(definitions).where(
                definitions.c.name == name, definitions.c.version == version
            )
        ).first()
        return None if row is None else _version(row._mapping)

    def case_counts(self, terminal: Mapping[int, frozenset[str]]) -> dict[int, tuple[int, int]]:
        """Per stored version id: (open cases, all cases). ``terminal`` gives each version's
        final states, which only its text knows."""
        rows = self.connection.execute(
            sa.select(cases.c.definition_id, cases.c.state, sa.func.count().label("n")).group_by(
                cases.c.definition_id, cases.c.state
            )
        )
        counts: dict[int, tuple[int, int]] = {}
        for row in rows:
            open_, total = counts.get(row.definition_id, (0, 0))
            finished = row.state in terminal.get(row.definition_id, frozenset())
            counts[row.definition_id] = (open_ + (0 if finished else row.n), total + row.n)
        return counts

    def open_cases(self, definition_id: int, finished: frozenset[str]) -> list[tuple[int, str]]:
        """(case id, state) of the cases on a version that are not in one of its final states."""
        rows = self.connection.execute(
            sa.select(cases.c.id, cases.c.state)
            .where(cases.c.definition_id == definition_id, cases.c.state.not_in(finished))
            .order_by(cases.c.id)
        )
        return [(int(r.id), str(r.state)) for r in rows]

    def publish(self, values: Mapping[str, Any], summary: Mapping[str, Any]) -> int:
        """Store a published version and log it; ``summary`` is what the log entry keeps (the
        text itself is pinned by its content hash)."""
        with integrity({"version": _("该流程定义的这一版本号已存入数据库")}):
            definition_id = int(
                self.connection.execute(
                    sa.insert(definitions).values(**values).returning(definitions.c.id)
                ).scalar_one()
            )
        self._log(definition_id, "publish", summary, None)
        return definition_id

    def store_file_version(self, values: Mapping[str, Any]) -> int:
        """The row of a bundled version, stored now if no case has stored it yet (it must exist
        before it can be cut short)."""
        found = self.find(values["name"], values["version"])
        if found is not None:
            return found.id
        with integrity({"version": _("该流程定义的这一版本号已存入数据库")}):
            return int(
                self.connection.execute(
                    sa.insert(definitions).values(**values).returning(definitions.c.id)
                ).scalar_one()
            )

    def cut_short(
        self, definition_id: int, last_day: date, summary: Mapping[str, Any], reason: str
    ) -> None:
        """Record that a version is in force only until ``last_day`` (A21.1), and why."""
        self.connection.execute(
            sa.update(definitions)
            .where(definitions.c.id == definition_id)
            .values(ends_early_on=last_day)
        )
        self._log(definition_id, "cut_short", summary, reason)

    def _log(
        self, definition_id: int, action: str, summary: Mapping[str, Any], reason: str | None
    ) -> None:
        if self.author is None:
            raise ValueError("a definition is published or cut short by someone (A19.1)")
        append_entry(
            self.connection,
            author=self.author,
            now=self.now,
            entity=ENTITY,
            key=definition_id,
            action=action,
            row=summary,
            reason=reason,
        )


def _version(row: Mapping[str, Any] | sa.RowMapping) -> StoredVersion:
    return StoredVersion(
        id=int(row["id"]),
        name=str(row["name"]),
        version=int(row["version"]),
        content_hash=str(row["content_hash"]),
        source_name=str(row["source_name"]),
        source_text=str(row["source_text"]),
        effective_from=row["effective_from"],
        effective_until=row["effective_until"],
        ends_early_on=row["ends_early_on"],
        published_by=row["published_by"],
        published_at=row["published_at"],
        stored_at=row["stored_at"],
    )
