"""Create SQLAlchemy engines with the settings each backend needs to be safe.

SQLite: the pysqlite driver's own transaction handling sends no BEGIN before reads, so we turn
it off and issue BEGIN ourselves; writers use BEGIN IMMEDIATE so a read-then-write transaction
waits for the lock instead of failing with SQLITE_BUSY; WAL lets readers run beside the writer;
``synchronous=FULL`` because a case must survive a power cut. A host's own SQLite engine gets the
same transaction handling and foreign keys on first use (`adopt_sqlite`). PostgreSQL goes through
psycopg 3; behind PgBouncer in transaction mode its automatic prepared statements are turned off
(``?prepare=off`` on the URL or ``CONVALESCENCE_PG_PREPARE=off``), since the pooler hands each
transaction to any server connection and a statement prepared on one is missing (or already
there) on the next.
"""

from __future__ import annotations

import os
import sqlite3
import warnings
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.pool import PoolProxiedConnection

from workflow.errors import DatabaseNotReadyError, InputError
from workflow.i18n import _
from workflow.store.connectivity import schema_not_current
from workflow.store.schema import json_dumps

DEFAULT_URL = "sqlite:///convalescence.db"
ENV_VAR = "CONVALESCENCE_DB"
WRITE = "convalescence_write"  # execution option: this transaction will write
SINGLE_READ = "convalescence_single_read"  # execution option: one SELECT, no BEGIN needed
BEGUN = "convalescence_begun"  # execution option: the driver's transaction is begun already
SQLITE_BUSY_TIMEOUT_MS = 30_000
PREPARE_VAR = "CONVALESCENCE_PG_PREPARE"  # "off": no server-side prepared statements (PgBouncer)
PREPARE_OPTION = "prepare"  # the same as a URL query option: postgresql://…/db?prepare=off
_CONFIGURED = "convalescence_configured"  # pool record info: this DBAPI connection is set up


def resolve_url(url: str | None) -> str:
    """`--db`, then $CONVALESCENCE_DB, then a SQLite file in the working directory."""
    return url or os.environ.get(ENV_VAR) or DEFAULT_URL


def create_engine(url: str, *, sqlite_synchronous: str = "FULL", **kwargs: Any) -> sa.Engine:
    try:
        parsed = make_url(url)
    except ArgumentError:
        # The text may hold a password, so it is not repeated; only its shape is described.
        raise InputError(
            _(
                "数据库 URL 无效：应形如 sqlite:///FILE 或 "
                "postgresql://USER[:PASSWORD]@HOST[:PORT]/DB"
            ),
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
        parsed, prepare = _prepare_setting(parsed)
        if not prepare:
            # psycopg prepares a statement run 5 times on that server connection; PgBouncer in
            # transaction mode gives the next transaction another one (DuplicatePreparedStatement
            # or "prepared statement does not exist"). None: never prepare.
            kwargs["connect_args"] = {"prepare_threshold": None, **kwargs.get("connect_args", {})}
        return sa.create_engine(parsed, json_serializer=json_dumps, **kwargs)
    raise InputError(
        _("不支持数据库 {backend!r}：请用 sqlite:///FILE 或 postgresql://USER@HOST/DB").format(
            backend=parsed.get_backend_name()
        ),
        field="db",
    )


def _prepare_setting(url: sa.URL) -> tuple[sa.URL, bool]:
    """Whether psycopg may prepare statements: ``?prepare=off`` on the URL (taken off it, libpq
    knows no such option) or ``CONVALESCENCE_PG_PREPARE=off``; on by default."""
    values = {"on": True, "off": False}
    given = url.query.get(PREPARE_OPTION)
    if given is not None:
        url = url.difference_update_query([PREPARE_OPTION])
        where = f"?{PREPARE_OPTION}="
    else:
        given, where = os.environ.get(PREPARE_VAR, "on"), f"{PREPARE_VAR}="
    text = given if isinstance(given, str) else given[-1]
    if text.strip().lower() not in values:
        raise InputError(
            _("{where}{value} 无效：只能是 on 或 off").format(where=where, value=text), field="db"
        )
    return url, values[text.strip().lower()]


_SQLITE_ENGINES: weakref.WeakSet[sa.pool.Pool] = weakref.WeakSet()  # pools we configured


def _configure_sqlite(engine: sa.Engine, synchronous: str) -> None:
    _SQLITE_ENGINES.add(engine.pool)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, record: Any) -> None:
        _take_over_transactions(dbapi_connection)
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute(f"PRAGMA synchronous = {synchronous}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()
        record.info[_CONFIGURED] = True

    event.listen(engine, "begin", _on_begin)


def _take_over_transactions(dbapi_connection: Any) -> None:
    """pysqlite's own transaction handling off: `_on_begin` sends BEGIN. A connection opened
    with Python 3.12's ``autocommit=False`` already begins every transaction itself, and then
    neither BEGIN IMMEDIATE for writers nor a second BEGIN is possible: refused."""
    legacy = getattr(sqlite3, "LEGACY_TRANSACTION_CONTROL", -1)
    if getattr(dbapi_connection, "autocommit", legacy) != legacy:
        raise InputError(
            _(
                "这个 SQLite 引擎的驱动自行管理事务（autocommit={value}），工作流引擎无法用 "
                "BEGIN IMMEDIATE 开始写事务：请用 workflow.create_engine(url) 建立引擎"
            ).format(value=dbapi_connection.autocommit),
            field="db",
        )
    dbapi_connection.isolation_level = None  # we send BEGIN ourselves, in _on_begin


def _on_begin(connection: sa.Connection) -> None:
    options = connection.get_execution_options()
    if options.get(SINGLE_READ, False) or options.get(BEGUN, False):
        # one SELECT is atomic on its own; skip the BEGIN/COMMIT round trips. BEGUN: a
        # `DriverTransaction` sent BEGIN IMMEDIATE itself before this connection existed
        return
    # Straight to the driver: this runs before every transaction, and SQLAlchemy's statement
    # machinery would cost more than the BEGIN itself (benchmarks/transitions.py).
    driver = connection.connection.driver_connection
    assert driver is not None
    driver.execute("BEGIN IMMEDIATE" if options.get(WRITE, False) else "BEGIN")


def adopt_sqlite(engine: sa.Engine) -> None:
    """Give a host's own SQLite engine (``sqlalchemy.create_engine("sqlite:///…")``) what the
    engine's steps rely on, from its next connection on: pysqlite's transaction handling
    replaced by a real BEGIN (so reads are consistent and a SAVEPOINT nests inside the host's
    transaction instead of committing on release), BEGIN IMMEDIATE for writers (`begin_write`),
    foreign keys on and a busy timeout. Journal mode and ``synchronous`` stay the host's choice.

    Connections already in the pool are set up when next checked out; one the host holds
    right now is not, so build the `Engine` before handing out sessions (or use
    `create_engine`, which sets all of this from the start, WAL included)."""
    if engine.pool in _SQLITE_ENGINES:
        return
    _SQLITE_ENGINES.add(engine.pool)

    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if record.info.get(_CONFIGURED):
            return
        _take_over_transactions(dbapi_connection)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        if cursor.execute("PRAGMA busy_timeout").fetchone()[0] == 0:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()
        record.info[_CONFIGURED] = True

    event.listen(engine.pool, "checkout", _on_checkout)
    event.listen(engine, "begin", _on_begin)


def begin_write(host: Session | sa.Connection) -> sa.Connection:
    """Begin the host's transaction as a writer and return its connection: on SQLite with
    ``BEGIN IMMEDIATE``, so a transaction that reads before the engine's step writes waits for
    the write lock (busy timeout) instead of failing at once with "database is locked" when
    another writer got in between. Call it first, before the session or connection has run
    anything; on PostgreSQL it only begins the transaction.

    ``with Session(db) as session, session.begin(): begin_write(session); …, within=session``
    """
    if isinstance(host, Session):
        with warnings.catch_warnings():  # "already established" is answered below, in words
            warnings.simplefilter("ignore", sa.exc.SAWarning)
            connection = host.connection(execution_options={WRITE: True})
    else:
        connection = host
        if not connection.in_transaction():
            connection.execution_options(**{WRITE: True})
            connection.begin()
    if connection.dialect.name == "sqlite" and not connection.get_execution_options().get(WRITE):
        raise InputError(
            _(
                "begin_write 必须在事务执行任何语句之前调用：这个事务已经以读事务开始，"
                "SQLite 无法再把它升级为写事务"
            ),
            field="within",
        )
    return connection


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
            if db.dialect.name == "sqlite":
                adopt_sqlite(db)
        else:
            self.engine, self._owns = create_engine(resolve_url(db)), True
        self._auto_upgrade = auto_upgrade
        self._schema_checked = False
        # the pool's connections with the options a transaction declares, set up once rather
        # than on every connection (which costs an event dispatch per transaction)
        self._writer = self.engine.execution_options(**{WRITE: True})
        self._single_reader = self.engine.execution_options(**{SINGLE_READ: True})
        self._begun = self.engine.execution_options(**{WRITE: True, BEGUN: True})

    def close(self) -> None:
        if self._owns:
            self.engine.dispose()

    def upgrade_schema(self) -> tuple[str | None, str | None]:
        # Alembic only when migrating; migrate imports this module, so not at the top
        from workflow.store.migrate import upgrade  # noqa: PLC0415

        result = upgrade(self.engine)
        self._schema_checked = True
        return result

    def ensure_schema(self, within: Within = None) -> None:
        """Once per process: refuse (or, with ``auto_upgrade``, migrate) a schema that is not
        this engine's. With ``within`` it reads the revision on the host's own connection, so a
        host pool of one connection does not wait for a second."""
        if self._schema_checked:
            return
        from workflow.store.migrate import current_revision, head_revision  # noqa: PLC0415

        on = within.connection() if isinstance(within, Session) else within
        current, head = current_revision(on or self.engine), head_revision()
        if current != head:
            if not self._auto_upgrade:
                raise DatabaseNotReadyError(schema_not_current(current, head))
            self.upgrade_schema()
        self._schema_checked = True

    @contextmanager
    def transaction(
        self, within: Within = None, *, write: bool = False, single_read: bool = False
    ) -> Iterator[sa.Connection]:
        """A connection in a transaction on a migrated schema: the host's own when ``within``
        is given (never committed here; begun if the host had not begun it yet), else a new one
        committed on success. A write inside the host's transaction runs in a savepoint: a step
        that fails (a refusal, a conflict) leaves nothing behind even if the host goes on and
        commits. ``write=True``
        takes SQLite's write lock up front (BEGIN IMMEDIATE) so read-then-write cannot fail;
        ``single_read=True`` promises one SELECT, which SQLite runs atomically without BEGIN."""
        self.ensure_schema(within)
        if isinstance(within, Session):
            if write:  # all of the step or none of it, whatever the host does after an error
                with within.begin_nested():
                    yield within.connection()
            else:
                yield within.connection()
        elif within is not None:
            if not within.in_transaction():
                # what SQLAlchemy's autobegin would do on the first statement: the step's
                # statements run on the driver's cursor (workflow.store.prepared), which does
                # not autobegin, and must not run outside the host's transaction
                within.begin()
            if write:
                with within.begin_nested():
                    yield within
            else:
                yield within
        else:
            source = self._writer if write else self._single_reader if single_read else self.engine
            with source.connect() as connection, connection.begin():
                yield connection

    def driver_write(self) -> DriverTransaction | None:
        """A write transaction of the engine's own begun on the pool's driver connection (see
        `DriverTransaction`); None when someone listens to the engine's statements or
        transactions, who must then see them all: the caller uses `transaction` instead."""
        if self._observed():
            return None
        self.ensure_schema()
        engine = self.engine
        dialect = engine.dialect
        try:
            fairy = engine.pool.connect()
        except dialect.loaded_dbapi.Error as error:
            raise DBAPIError.instance(
                None, None, error, dialect.loaded_dbapi.Error, dialect=dialect
            ) from error
        try:
            return DriverTransaction(self._begun, fairy)
        except BaseException:
            fairy.close()
            raise

    def _observed(self) -> bool:
        """Whether anyone but this module listens to the engine: a tracer, a statement
        counter (the tests), SQL echo. The engine's own BEGIN listener does not count."""
        engine = self.engine
        events = engine.dispatch
        return bool(
            engine.echo
            or events.before_cursor_execute
            or events.after_cursor_execute
            or events.before_execute
            or events.after_execute
            or events.engine_connect
            or events.commit
            or events.rollback
            or any(listener is not _on_begin for listener in events.begin)
            or engine.dialect.dispatch.handle_error
            or engine.dialect.dispatch.do_execute
        )


class DriverTransaction:
    """A write transaction of the engine's own, begun and committed on the driver.

    A plain step is three statements; wrapped in SQLAlchemy's `Connection` and its root
    transaction (connect, begin, commit and close, each with its event dispatch and
    bookkeeping) the wrapping cost a step about as much as the three statements together
    (benchmarks/transitions.py). This one checks a connection out of the pool, sends BEGIN
    IMMEDIATE on SQLite (psycopg begins by itself on the first statement) and commits or rolls
    back on the driver. `workflow.store.prepared` runs its statements on ``driver``; anything
    else asks for `connection`, a SQLAlchemy connection made on first use around the same
    driver connection, in the same transaction (its own begin sends nothing: `BEGUN`).

    `Database.driver_write` hands one out only when nobody listens to the engine, so a tracer
    or a statement counter still sees every statement and transaction through SQLAlchemy."""

    __slots__ = ("_begun", "_connection", "_fairy", "dialect", "driver")

    def __init__(self, begun: sa.Engine, fairy: PoolProxiedConnection) -> None:
        self._begun = begun
        self._fairy = fairy
        self._connection: sa.Connection | None = None
        self.dialect = begun.dialect
        driver: Any = fairy.driver_connection
        self.driver = driver
        if self.dialect.name == "sqlite":
            self._call(driver.execute, "BEGIN IMMEDIATE")

    @property
    def connection(self) -> sa.Connection:
        """A SQLAlchemy connection inside this transaction, for statements not prepared."""
        if self._connection is None:
            self._connection = sa.Connection(self._begun, connection=self._fairy)
        return self._connection

    def invalidate(self, error: BaseException) -> None:
        """The driver connection is lost: the pool must not hand it out again."""
        self._fairy.invalidate(error)

    def __enter__(self) -> DriverTransaction:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        connection = self._connection
        try:
            if kind is None:
                if connection is not None and connection.in_transaction():
                    connection.commit()
                else:
                    self._call(self.driver.commit, None)
            elif connection is not None and connection.in_transaction():
                connection.rollback()
            elif self._fairy.is_valid:
                self._call(self.driver.rollback, None)
        finally:
            if connection is not None:
                connection.close()  # returns the driver connection to the pool
            else:
                self._fairy.close()

    def _call(self, method: Any, sql: str | None) -> None:
        """A driver call, its error raised as SQLAlchemy's class (as a statement's would be:
        `workflow.store.errors` maps those), a lost connection invalidated."""
        dialect = self.dialect
        try:
            if sql is None:
                method()
            else:
                method(sql)
        except dialect.loaded_dbapi.Error as error:
            if dialect.is_disconnect(error, self.driver, None):
                self.invalidate(error)
            raise DBAPIError.instance(
                sql, None, error, dialect.loaded_dbapi.Error, dialect=dialect
            ) from error
