"""What the command line and the API need to know about a database without speaking SQLAlchemy:
whether a URL names SQLite, how to print it, why it cannot be reached, whether it is ready.

Callers outside `workflow.store` catch `DatabaseUnreachable` (the driver's "cannot connect"
error, as SQLAlchemy raises it) and turn it into a message with `unreachable_reason`.
"""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError

DatabaseUnreachable = OperationalError


def is_sqlite_url(url: str) -> bool:
    try:
        return make_url(url).get_backend_name() == "sqlite"
    except ArgumentError:
        return False  # the Engine refuses the URL itself, with a message naming it


def masked_url(url: str) -> str:
    """The URL as it may be printed: a password never reaches a terminal or a log."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def unreachable_reason(url: str, error: OperationalError) -> str:
    """The driver's first line of reason, with the URL's password (if any) masked."""
    lines = str(error.orig).strip().splitlines() or [type(error.orig).__name__]
    reason = lines[0]
    try:
        password = make_url(url).password
    except ArgumentError:
        password = None
    return reason.replace(str(password), "***") if password else reason


def readiness(db: Engine) -> tuple[str | None, list[str]]:
    """The schema revision and what keeps the database from serving (empty when ready)."""
    # Alembic loads here, not with the module: the CLI imports this module for every command
    from workflow.store.migrate import current_revision, head_revision  # noqa: PLC0415

    try:
        revision = current_revision(db)
    except DBAPIError as error:
        return None, [f"数据库无法连接 / database unreachable: {type(error.orig).__name__}"]
    head = head_revision()
    if revision != head:
        return revision, [
            f"数据库结构版本为 {revision or '无'}，需要 {head}：请先运行 convalescence db upgrade"
            " / schema not current"
        ]
    return revision, []
