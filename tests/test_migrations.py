"""The Alembic revisions build exactly the schema the code declares, on both databases."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from workflow.store.database import create_engine
from workflow.store.migrate import current_revision, head_revision, upgrade
from workflow.store.schema import metadata


def test_upgrade_from_empty_matches_the_declared_tables(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        assert upgrade(engine) == (None, head_revision())
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
    finally:
        engine.dispose()


def test_upgrade_twice_changes_nothing(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        upgrade(engine)
        tables = sa.inspect(engine).get_table_names()
        assert upgrade(engine) == (head_revision(), head_revision())
        assert sa.inspect(engine).get_table_names() == tables
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path: object) -> None:
    engine = create_engine(f"sqlite:///{tmp_path}/wal.db")
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    finally:
        engine.dispose()
