"""Create SQLAlchemy engines with the settings each backend needs to be safe.

SQLite: the pysqlite driver's own transaction handling sends no BEGIN before reads, so we turn
it off and issue BEGIN ourselves; writers use BEGIN IMMEDIATE so a read-then-write transaction
waits for the lock instead of failing with SQLITE_BUSY; WAL lets readers run beside the writer;
``synchronous=FULL`` because a case must survive a power cut. PostgreSQL goes through psycopg 3.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session

from workflow.errors import DatabaseNotReadyError, InputError
from workflow.store.schema import json_dumps

DEFAULT_URL = "sqlite:///convalescence.db"
ENV_VAR = "CONVALESCENCE_DB"
WRITE = "convalescence_write"  # execution option: this transaction will write
SINGLE_READ = "convalescence_single_read"  # execution option: one SELECT, no BEGIN needed
SQLITE_BUSY_TIMEOUT_MS = 30_000


def resolve_url(url: str | None) -> str:
    """`--db`, then $CONVALESCENCE_DB, then a SQLite file in the working directory."""
    return url or os.environ.get(ENV_VAR) or DEFAULT_URL


def create_engine(url: str, *, sqlite_synchronous: str = "FULL", **kwargs: Any) -> sa.Engine:
    try:
        parsed = make_url(url)
    except ArgumentError:
        # The text may hold a password, so it is not repeated; only its shape is described.
        raise InputError(
            "the database URL is not valid: expected sqlite:///FILE or "
            "postgresql://USER[:PASSWORD]@HOST[:PORT]/DB",
            field="db",
        ) from None
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite":
        # Every use is a `with connection.begin()` block that commits or rolls back itself,
        # so the pool's extra ROLLBACK on each check-in is only cost (measured: benchmarks/).
        kwargs.setdefault("pool_reset_on_return", None)
        engine = sa.create_engine(parsed, json_serializer=json_dumps, **kwargs)
        _configure_sqlite(engine, sqlite_synchronous)
        return engine
    if parsed.get_backend_name() == "postgresql":
        # No ping on every checkout (pool_pre_ping): it was one more round trip per step. A
        # connection the server dropped fails its statement, the step rolls back and the pool
        # replaces it; connections older than half an hour are renewed before they go stale.
        kwargs.setdefault("pool_recycle", 1800)
        return sa.create_engine(parsed, json_serializer=json_dumps, **kwargs)
    raise InputError(
        f"database {parsed.get_backend_name()!r} is not supported: use sqlite:///FILE "
        "or postgresql://USER@HOST/DB",
        field="db",
    )


def _configure_sqlite(engine: sa.Engine, synchronous: str) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we send BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute(f"PRAGMA synchronous = {synchronous}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        options = connection.get_execution_options()
        if options.get(SINGLE_READ, False):
            return  # one SELECT is atomic on its own; skip the BEGIN/COMMIT round trips
        # Straight to the driver: this runs before every transaction, and SQLAlchemy's statement
        # machinery would cost more than the BEGIN itself (benchmarks/transitions.py).
        driver = connection.connection.driver_connection
        assert driver is not None
        driver.execute("BEGIN IMMEDIATE" if options.get(WRITE, False) else "BEGIN")


Within = sa.Connection | Session | None  # a host's own transaction, or None for ours
# the names the engine's signatures use for what a host passes in and what `transaction` yields,
# so the facade types them without importing SQLAlchemy itself
HostEngine = sa.Engine
Connection = sa.Connection


class Database:
    """The engine's way into the database: the pool (its own, or a host's), the schema check,
    and transactions that join a host's own when ``within`` is given.

    ``db`` is a URL or the host's SQLAlchemy engine; an engine passed in is never disposed here
    (a host's resources stay the host's)."""

    def __init__(self, db: sa.Engine | str | None, *, auto_upgrade: bool = False) -> None:
        if isinstance(db, sa.Engine):
            self.engine, self._owns = db, False
        else:
            self.engine, self._owns = create_engine(resolve_url(db)), True
        self._auto_upgrade = auto_upgrade
        self._schema_checked = False

    def close(self) -> None:
        if self._owns:
            self.engine.dispose()

    def upgrade_schema(self) -> tuple[str | None, str | None]:
        # Alembic only when migrating; migrate imports this module, so not at the top
        from workflow.store.migrate import upgrade  # noqa: PLC0415

        result = upgrade(self.engine)
        self._schema_checked = True
        return result

    def ensure_schema(self) -> None:
        if self._schema_checked:
            return
        from workflow.store.migrate import current_revision, head_revision  # noqa: PLC0415

        current, head = current_revision(self.engine), head_revision()
        if current != head:
            if not self._auto_upgrade:
                raise DatabaseNotReadyError(
                    f"数据库结构版本为 {current or '无'}，需要 {head}：请先运行 "
                    f"`convalescence db upgrade`（the database is at schema revision "
                    f"{current or 'none'}, the engine needs {head}: run "
                    "`convalescence db upgrade` first）"
                )
            self.upgrade_schema()
        self._schema_checked = True

    @contextmanager
    def transaction(
        self, within: Within = None, *, write: bool = False, single_read: bool = False
    ) -> Iterator[sa.Connection]:
        """A connection in a transaction on a migrated schema: the host's own when ``within``
        is given (never committed here), else a new one committed on success. ``write=True``
        takes SQLite's write lock up front (BEGIN IMMEDIATE) so read-then-write cannot fail;
        ``single_read=True`` promises one SELECT, which SQLite runs atomically without BEGIN."""
        self.ensure_schema()
        if isinstance(within, Session):
            yield within.connection()
        elif within is not None:
            yield within
        else:
            with self.engine.connect() as connection:
                if write or single_read:
                    connection.execution_options(
                        **{WRITE: write, SINGLE_READ: single_read and not write}
                    )
                with connection.begin():
                    yield connection
