"""What the command line and the API need to know about a database without speaking SQLAlchemy:
whether a URL names SQLite, how to print it, why it cannot be reached, whether it is ready.

Callers outside `workflow.store` catch `DatabaseUnreachable` (the driver's "cannot connect"
error, as SQLAlchemy raises it) and turn it into a message with `unreachable_reason`.
"""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, DBAPIError, OperationalError

from workflow.i18n import _

DatabaseUnreachable = OperationalError
# the driver's errors the caller cannot fix by changing the request: the server is down, the
# disk is full, the file is read-only, unreadable or not a database at all. The command line
# exits with its own code for them (7), the API answers 503.
StorageFailure = DatabaseError


def is_storage_failure(error: BaseException) -> bool:
    """Whether ``error`` says the database cannot be reached, read or written (as opposed to a
    constraint or a value the request brought, which are the request's fault)."""
    return isinstance(error, OperationalError) or type(error) is DatabaseError


def is_sqlite_url(url: str) -> bool:
    try:
        return make_url(url).get_backend_name() == "sqlite"
    except ArgumentError:
        return False  # the Engine refuses the URL itself, with a message naming it


def sqlite_file(url: str) -> str | None:
    """The file a SQLite URL names, or None (another database, or SQLite in memory)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if database in {"", ":memory:"} or database.startswith("file:") or parsed.query.get("mode"):
        return None
    return database


def masked_url(url: str) -> str:
    """The URL as it may be printed: a password never reaches a terminal or a log."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def unreachable_reason(url: str, error: DBAPIError) -> str:
    """The driver's first line of reason, with the URL's password (if any) masked."""
    lines = str(error.orig).strip().splitlines() or [type(error.orig).__name__]
    reason = lines[0]
    try:
        password = make_url(url).password
    except ArgumentError:
        password = None
    return reason.replace(str(password), "***") if password else reason


def schema_not_current(revision: str | None, head: str | None) -> str:
    """Why a database at ``revision`` cannot serve an engine that needs ``head``, and what to
    run: the one message of the API's ``/ready``, the engine and the command line."""
    return _(
        "数据库结构版本为 {revision}，本程序需要 {head}：请先运行 convalescence db upgrade"
    ).format(revision=revision or _("无"), head=head or _("无"))


def readiness(db: Engine) -> tuple[str | None, list[str]]:
    """The schema revision and what keeps the database from serving (empty when ready)."""
    # Alembic loads here, not with the module: the CLI imports this module for every command
    from workflow.store.migrate import current_revision, head_revision  # noqa: PLC0415

    try:
        revision = current_revision(db)
    except DBAPIError as error:
        return None, [_("数据库无法连接：{reason}").format(reason=type(error.orig).__name__)]
    head = head_revision()
    if revision != head:
        return revision, [schema_not_current(revision, head)]
    return revision, []
