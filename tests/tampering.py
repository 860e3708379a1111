"""Changing the database behind the engine's back, as a DBA could: with the audit triggers out of
the way (A19.1), so a test can show that `audit verify` or the engine notices."""

from __future__ import annotations

import sqlalchemy as sa

from workflow import Engine
from workflow.store.database import WRITE


def tamper(engine: Engine, *statements: sa.Executable) -> None:
    """Run ``statements`` in one transaction with every user trigger disabled (PostgreSQL) or
    dropped (SQLite: the database is the test's own and thrown away after it)."""
    with engine.db.connect().execution_options(**{WRITE: True}) as connection, connection.begin():
        if connection.dialect.name == "postgresql":
            tables = connection.exec_driver_sql(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
            ).scalars()
            for table in list(tables):
                connection.exec_driver_sql(f'ALTER TABLE "{table}" DISABLE TRIGGER USER')
        else:
            names = connection.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type = 'trigger'"
            ).scalars()
            for name in list(names):
                connection.exec_driver_sql(f'DROP TRIGGER "{name}"')
        for statement in statements:
            connection.execute(statement)
