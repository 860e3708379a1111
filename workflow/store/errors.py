"""Database integrity errors turned into the engine's own errors, in one place.

A uniqueness, reference or check constraint the database enforces is the last line behind a
rule the code checks first; when it fires anyway (two officers typing the same contractor name,
a race the read before the write could not see) the officer must read which field or key
clashed, in Chinese, and the command line must exit with the class's code, never print a
driver's traceback. Both drivers describe a violation differently (PostgreSQL: SQLSTATE and
constraint name; SQLite: a sentence naming ``table.column``), so `violation` reads both into one
shape and `integrity` maps it with the caller's sentences.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

from sqlalchemy.exc import DataError, IntegrityError

from workflow.errors import InputError, WorkflowError
from workflow.i18n import N_, _
from workflow.store.schema import metadata

# the driver's constraint error as SQLAlchemy raises it, for callers outside the store that
# catch it (the API's last-resort handler) without importing SQLAlchemy themselves
ConstraintViolation = IntegrityError
# a value the column cannot hold (PostgreSQL: 2147483648 in an INTEGER, SQLSTATE 22003, or a
# text it cannot convert); SQLite's driver raises a plain OverflowError past 64 bits instead
ValueOutOfRange = DataError

Kind = Literal["unique", "foreign_key", "check", "not_null", "other"]

_SQLSTATE: dict[str, Kind] = {
    "23505": "unique",
    "23503": "foreign_key",
    "23514": "check",
    "23502": "not_null",
}
_SQLITE_PREFIX: dict[str, Kind] = {
    "UNIQUE constraint failed": "unique",
    "FOREIGN KEY constraint failed": "foreign_key",
    "CHECK constraint failed": "check",
    "NOT NULL constraint failed": "not_null",
}
_GENERIC: dict[Kind, str] = {  # translated with `_` when the error is made
    "unique": N_("已有相同{what}的记录"),
    "foreign_key": N_("{what}引用的记录不存在"),
    "check": N_("{what}超出允许的范围"),
    "not_null": N_("{what}不能为空"),
    "other": N_("数据不符合数据库约束（{what}）"),
}


@dataclass(frozen=True)
class Violation:
    """Which constraint a write broke: its kind, table and columns (empty when the driver does
    not say, as SQLite does not for a foreign key)."""

    kind: Kind
    table: str | None = None
    columns: tuple[str, ...] = ()
    constraint: str | None = None


def violation(error: IntegrityError) -> Violation:
    """Read a driver's integrity error into a `Violation`."""
    original = error.orig
    sqlstate = getattr(original, "sqlstate", None)
    if sqlstate is not None:  # psycopg
        diag = getattr(original, "diag", None)
        constraint = getattr(diag, "constraint_name", None)
        table = getattr(diag, "table_name", None)
        column = getattr(diag, "column_name", None)
        kind = _SQLSTATE.get(str(sqlstate), "other")
        if kind == "check":
            return _check(constraint)
        columns = _constraint_columns(table, constraint) or ((column,) if column else ())
        return Violation(kind, table, columns, constraint)
    text = str(original)
    for prefix, kind in _SQLITE_PREFIX.items():
        if text.startswith(prefix):
            detail = text[len(prefix) :].lstrip(": ").strip()
            if kind == "check":  # SQLite names the check constraint, not its columns
                return _check(detail or None)
            names = [part.strip() for part in detail.split(",") if part.strip()]
            tables = {name.partition(".")[0] for name in names if "." in name}
            columns = tuple(name.partition(".")[2] for name in names if "." in name)
            return Violation(kind, tables.pop() if len(tables) == 1 else None, columns)
    return Violation("other")


def _check(constraint: str | None) -> Violation:
    """A check constraint by its short name: ``ck_contractor_evaluations_score`` (the naming
    convention's prefix, applied once or, by older migrations, twice) is the ``score`` check of
    ``contractor_evaluations``; our checks are named after what they guard."""
    name, table = constraint or "", None
    for candidate in metadata.tables:
        prefix = f"ck_{candidate}_"
        while name.startswith(prefix):
            name, table = name[len(prefix) :], candidate
    return Violation("check", table, (name,) if name else (), constraint)


def _constraint_columns(table: str | None, constraint: str | None) -> tuple[str, ...]:
    """The columns of a named constraint, from our own schema (PostgreSQL names only it)."""
    found = metadata.tables.get(table or "")
    if found is None or constraint is None:
        return ()
    for item in found.constraints:
        if item.name == constraint:
            return tuple(c.name for c in getattr(item, "columns", ()))
    return ()


def translate(
    error: IntegrityError,
    messages: Mapping[str, str] | None = None,
    *,
    labels: Mapping[str, str] | None = None,
    foreign_key: str | None = None,
) -> WorkflowError:
    """The engine's error for ``error``: an `InputError` naming the field.

    ``messages`` maps a column (the last column of a composite unique key, e.g. ``agreement_no``
    for contractor, plan and number) or a constraint name to the sentence the officer reads;
    ``labels`` names columns for the generic sentence. ``foreign_key`` is the field a failed
    reference is blamed on when the driver does not say which (SQLite).
    """
    found = violation(error)
    messages = messages or {}
    columns = found.columns or ((foreign_key,) if foreign_key else ())
    field = columns[-1] if columns else found.constraint
    for key in (*reversed(columns), found.constraint or ""):
        if key in messages:
            return InputError(
                _("{message}（{field}）").format(message=messages[key], field=field), field=field
            )
    names = labels or {}
    what = _("、").join(names.get(c, c) for c in columns) or (found.constraint or "")
    message = _(_GENERIC[found.kind]).format(what=what)
    return InputError(_("{message}（{field}）").format(message=message, field=field), field=field)


@contextmanager
def integrity(
    messages: Mapping[str, str] | None = None,
    *,
    labels: Mapping[str, str] | None = None,
    foreign_key: str | None = None,
) -> Iterator[None]:
    """Run a write; a constraint violation becomes `translate`'s error (see there)."""
    try:
        yield
    except IntegrityError as error:
        raise translate(error, messages, labels=labels, foreign_key=foreign_key) from error


def out_of_range(error: BaseException) -> InputError | None:
    """The engine's error for a value no column can hold (an id like 2147483648 typed or sent
    by a caller), or None when ``error`` is something else. The edges check ids first; this is
    the last resort that keeps the driver's text and a traceback from the officer."""
    too_large = _("数值超出数据库允许的范围（整数最大为 2147483647）")
    if isinstance(error, OverflowError) and "SQLite INTEGER" in str(error):
        return InputError(too_large)
    if not isinstance(error, DataError):
        return None
    sqlstate = str(getattr(error.orig, "sqlstate", "") or "")
    if sqlstate == "22001":
        return InputError(_("文本超出该项允许的长度"))
    if sqlstate in {"22003", ""}:
        return InputError(too_large)
    return InputError(_("数据库不接受该值（SQLSTATE {sqlstate}）").format(sqlstate=sqlstate))
