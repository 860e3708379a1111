"""The statements of a step's hot path, compiled once per dialect and run on the driver's cursor.

A plain step is one SELECT, one INSERT and one UPDATE in one transaction. Run through
SQLAlchemy's execution layer each costs several times what the database spends on it (about
25 µs against 5 µs on SQLite: an execution context, parameter processing, a result object,
event dispatch), and on the step's path that layer was the largest single cost
(benchmarks/transitions.py). `Prepared` keeps what SQLAlchemy is good at — building the
statement, rendering it for the dialect, the column types' conversions — and does once what the
execution layer redoes on every call: the SQL text, the order of its parameters and each
parameter's conversion are worked out on first use per dialect; a call converts the values,
runs the text on the driver connection of the caller's `sa.Connection` (inside the caller's
transaction, which `workflow.store.database` has begun), or of the engine's own write
transaction run on the driver (`DriverTransaction`), and converts the result columns back.

Nothing a host relies on is lost. When anyone listens for ``before_cursor_execute`` or
``after_cursor_execute`` (tracing, statement counts, the tests), the same converted text goes
through SQLAlchemy's ``exec_driver_sql``, so listeners get their execution context, ``retval``
and ``handle_error`` as usual; only an unobserved call skips the layer. A driver error is raised
as SQLAlchemy's own exception class (`sqlalchemy.exc.IntegrityError`, ...) so
`workflow.store.errors` translates it as any other, and a lost connection is invalidated so the
pool does not hand it out again.
"""

from __future__ import annotations

import functools
import weakref
from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.compiler import SQLCompiler

from workflow.store.database import DriverTransaction

Processor = Callable[[Any], Any] | None
# where a statement runs: a SQLAlchemy connection in a transaction, or the engine's own write
# transaction on the driver (`workflow.store.database.DriverTransaction`)
On = sa.Connection | DriverTransaction


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]  # parameter names in the order the text wants them
    positional: bool
    processors: tuple[Processor, ...]  # per name, the column type's conversion to the driver
    row: type | None  # a named tuple of the result columns, None when there are none
    results: tuple[Processor, ...]  # per result column, the conversion from the driver


class Prepared:
    """One statement, run many times with different values on the caller's connection."""

    __slots__ = ("_by_dialect", "column_keys", "statement")

    def __init__(self, statement: sa.ClauseElement, column_keys: Sequence[str] = ()) -> None:
        """``column_keys``: the columns an INSERT is given values for (the rest take their
        defaults), as SQLAlchemy would learn them from the first call's parameters."""
        self.statement = statement
        self.column_keys = list(column_keys)
        # per dialect object, not name: two engines of one backend may convert differently
        # (a host's JSON serializer); weak, so an engine disposed of takes its entry along
        self._by_dialect: weakref.WeakKeyDictionary[Dialect, _Compiled] = (
            weakref.WeakKeyDictionary()
        )

    def rows(self, on: On, values: Mapping[str, Any]) -> list[Any]:
        """The result rows (named tuples, values converted as SQLAlchemy would)."""
        compiled, fetched, _count = self._run(on, values, fetch=True)
        if compiled.row is None or not fetched:
            return []
        make, results = compiled.row, compiled.results
        return [
            make(*[value if p is None else p(value) for p, value in zip(results, raw, strict=True)])
            for raw in fetched
        ]

    def first(self, on: On, values: Mapping[str, Any]) -> Any | None:
        found = self.rows(on, values)
        return found[0] if found else None

    def count(self, on: On, values: Mapping[str, Any]) -> int:
        """The number of rows the statement changed."""
        return self._run(on, values, fetch=False)[2]

    # -- one call ---------------------------------------------------------------------------

    def _run(
        self, on: On, values: Mapping[str, Any], *, fetch: bool
    ) -> tuple[_Compiled, Sequence[Any], int]:
        dialect = on.dialect
        compiled = self._by_dialect.get(dialect) or self._compile(dialect)
        converted = [
            values[name] if p is None else p(values[name])
            for name, p in zip(compiled.names, compiled.processors, strict=True)
        ]
        parameters: Any = (
            tuple(converted)
            if compiled.positional
            else dict(zip(compiled.names, converted, strict=True))
        )
        sql = compiled.sql
        if type(on) is DriverTransaction:
            # nobody listens (`Database.driver_write` made sure): straight to the driver
            driver = on.driver
        else:
            connection: sa.Connection = on  # type: ignore[assignment]
            if listened(connection):
                # through SQLAlchemy's execution layer, so listeners get everything they expect
                # (an execution context, retval listeners, handle_error, echo); the values are
                # converted already and the text is the dialect's, as a driver-level call
                # sends it
                result = connection.exec_driver_sql(sql, parameters)
                fetched = result.fetchall() if fetch and result.returns_rows else ()
                return compiled, fetched, result.rowcount
            driver = connection.connection.driver_connection
        cursor = driver.cursor()
        try:
            cursor.execute(sql, parameters)
            fetched = cursor.fetchall() if fetch and cursor.description is not None else ()
            count = cursor.rowcount
        except dialect.loaded_dbapi.Error as error:
            if dialect.is_disconnect(error, driver, cursor):
                on.invalidate(error)
            raise DBAPIError.instance(
                sql, parameters, error, dialect.loaded_dbapi.Error, dialect=dialect
            ) from error
        finally:
            cursor.close()
        return compiled, fetched, count

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled = self.statement.compile(dialect=dialect, column_keys=self.column_keys or None)
        assert isinstance(compiled, SQLCompiler)  # a statement's, not DDL's
        positional = bool(compiled.positional)
        names = tuple(compiled.positiontup or ()) if positional else tuple(compiled.binds)
        processors = tuple(_bind_processor(compiled.binds[name].type, dialect) for name in names)
        # a SELECT's columns, or what an INSERT/UPDATE returns (empty without RETURNING)
        columns = list(getattr(self.statement, "exported_columns", ()))
        row = namedtuple("Row", [c.name for c in columns]) if columns else None
        results = tuple(
            c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns
        )
        made = _Compiled(compiled.string, names, positional, processors, row, results)
        self._by_dialect[dialect] = made
        return made


_INSTANTS = (sa.DateTime, sa.Date, sa.Time)
_NOTHING = object()


def listened(connection: sa.Connection) -> bool:
    """Whether anyone listens for this connection's statements (the engine's listeners and the
    connection's own: tracing, counting): then a statement goes through SQLAlchemy's execution
    layer, which they need, instead of straight to the driver."""
    dispatch = connection.dispatch
    return bool(dispatch.before_cursor_execute or dispatch.after_cursor_execute)


def _bind_processor(type_: sa.types.TypeEngine[Any], dialect: Dialect) -> Processor:
    """The column type's conversion to the driver; for an instant, remembering its last value.

    A step writes its one ``now`` into several columns (the case's ``updated_at``, the history
    row's ``at``, each notice's ``created_at`` and ``next_attempt_at``: seven at an opening),
    and each conversion (to UTC, then to SQLite's text) costs more than the INSERT's share of
    the database's time. An instant is immutable, so the same object converts to the same value:
    the last one (a tuple, replaced whole, so threads sharing the statement never see half of
    it) is answered without converting again."""
    process = type_.dialect_impl(dialect).bind_processor(dialect)
    plain = type_.impl_instance if isinstance(type_, sa.TypeDecorator) else type_
    if process is None or not isinstance(plain, _INSTANTS):
        return process
    last: tuple[Any, Any] = (_NOTHING, None)

    def remembering(value: Any) -> Any:
        nonlocal last
        seen = last
        if seen[0] is value:
            return seen[1]
        converted = process(value)
        last = (value, converted)
        return converted

    return remembering


@functools.cache
def insert_of(table: sa.Table, keys: tuple[str, ...], returning: str | None = None) -> Prepared:
    """An INSERT of one row with values for ``keys`` (the rest take their defaults), returning
    column ``returning`` if given: one `Prepared` per table and set of keys."""
    statement: sa.ClauseElement = sa.insert(table)
    if returning is not None:
        statement = sa.insert(table).returning(table.c[returning])
    return Prepared(statement, keys)
