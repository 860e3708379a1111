"""Backups at the storage level: SQLite's online backup API, and for PostgreSQL an exported
snapshot that ``pg_dump`` and the audit check share (`workflow.backup` puts them together).

Both give a copy of one moment while the engine keeps writing. SQLite copies the whole file in
one backup step, i.e. inside one read transaction: in WAL mode writers go on beside it, and the
copy is the database as of the step's start (a stepped backup would restart whenever another
connection writes, and might never finish under a busy writer). PostgreSQL exports the snapshot
of a REPEATABLE READ transaction (``pg_export_snapshot``); ``pg_dump --snapshot`` dumps exactly
that snapshot, and the audit rows are read in the same transaction, so the digest printed is the
digest of the dump.

Driver errors (``sqlite3.Error``, ``OSError``) are left to the caller, which says what failed.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from workflow.store.audit import AuditRows
from workflow.store.connectivity import readiness
from workflow.store.database import SQLITE_BUSY_TIMEOUT_MS

Db = sa.Engine  # named here so `workflow.backup` never imports SQLAlchemy


def sqlite_file(db: Db) -> Path | None:
    """The file of a SQLite database; None for PostgreSQL (or an in-memory database)."""
    if db.dialect.name != "sqlite":
        return None
    name = db.url.database
    return Path(name) if name and name != ":memory:" else None


def is_postgresql(db: Db) -> bool:
    return db.dialect.name == "postgresql"


def schema_problem(db: Db) -> str | None:
    """Why the audit check cannot read this database (its schema is not this engine's), or
    None. A backup is still taken then: before ``db upgrade`` is when one is wanted most."""
    _revision, problems = readiness(db)
    return problems[0] if problems else None


def sqlite_copy(source: Path, target: Path) -> None:
    """Copy the SQLite database ``source`` into the (empty) file ``target`` with the online
    backup API, in one step; the copy is a plain file (rollback journal, not WAL) that passes
    ``PRAGMA quick_check``. ``mode=rw``: a missing source is an error, not a new empty file."""
    uri = source.resolve().as_uri() + "?mode=rw"
    timeout = SQLITE_BUSY_TIMEOUT_MS / 1000
    with (
        closing(sqlite3.connect(uri, uri=True, timeout=timeout)) as src,
        closing(sqlite3.connect(target)) as dst,
    ):
        src.backup(dst)  # pages=-1: the whole database in one step, one read snapshot
        dst.execute("PRAGMA journal_mode = DELETE")
        (status,) = dst.execute("PRAGMA quick_check").fetchone()
        if status != "ok":
            raise sqlite3.DatabaseError(f"quick_check: {status}")


@contextmanager
def sqlite_reader(path: Path) -> Iterator[Db]:
    """A read-only engine on a backup file, for the audit check: reading it changes nothing,
    not even its journal mode."""
    url = f"sqlite:///file:{path.resolve()}?mode=ro&uri=true"
    reader = sa.create_engine(url, poolclass=NullPool)
    try:
        yield reader
    finally:
        reader.dispose()


@contextmanager
def postgresql_snapshot(db: Db, *, chunk: int) -> Iterator[tuple[str, AuditRows]]:
    """A read-only REPEATABLE READ transaction whose snapshot is exported for ``pg_dump
    --snapshot``: its id, and the audit rows as of that snapshot. The snapshot lives as long
    as the ``with`` block, which must outlast the dump."""
    options = {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
    with db.connect().execution_options(**options) as connection, connection.begin():
        snapshot = connection.execute(sa.text("SELECT pg_export_snapshot()")).scalar_one()
        yield str(snapshot), AuditRows(connection, chunk)


def libpq_target(db: Db) -> tuple[str, dict[str, str]]:
    """The database as ``pg_dump --dbname`` takes it (a libpq URI, without SQLAlchemy's driver
    name), and the environment that carries the password: never on a command line, where any
    user of the machine could read it in the process list."""
    url = db.url.set(drivername="postgresql")
    environment = {"PGPASSWORD": url.password} if url.password else {}
    return url.set(password=None).render_as_string(hide_password=False), environment
