"""The Alembic revisions build exactly the schema the code declares, on both databases."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from workflow.clock import SHANGHAI
from workflow.store.database import create_engine
from workflow.store.migrate import current_revision, head_revision, upgrade
from workflow.store.schema import cadres, cases, definitions, metadata


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


def test_upgrading_a_database_with_cases_keeps_them(db_url: str) -> None:
    """0001 → head on a database that already holds a case and its history."""
    engine = create_engine(db_url)
    try:
        upgrade(engine, "0001")
        now = datetime(2024, 5, 6, 9, 0, tzinfo=SHANGHAI)
        old_cases = sa.table(
            "cases",
            *(
                sa.column(c)
                for c in (
                    "id",
                    "definition_id",
                    "cadre_id",
                    "county",
                    "agency",
                    "state",
                    "terminal",
                    "version",
                    "evidence",
                    "opened_at",
                    "updated_at",
                )
            ),
        )
        with engine.begin() as connection:
            connection.execute(
                sa.insert(definitions).values(
                    id=1,
                    name="honor_convalescence",
                    version=1,
                    content_hash="h" * 64,
                    source_name="x.yaml",
                    source_text="x",
                    effective_from=date(2023, 3, 23),
                    effective_until=date(2025, 12, 31),
                    stored_at=now,
                )
            )
            connection.execute(
                sa.insert(cadres).values(
                    id="C1",
                    name="张",
                    county="冠县",
                    agency="冠县军休所",
                    birth_date=date(1950, 1, 1),
                    record={"id": "C1"},
                    updated_at=now,
                )
            )
            connection.execute(
                sa.insert(old_cases).values(
                    id=7,
                    definition_id=1,
                    cadre_id="C1",
                    county="冠县",
                    agency="冠县军休所",
                    state="registered",
                    terminal=False,
                    version=1,
                    evidence="{}",
                    opened_at=now.replace(tzinfo=None),
                    updated_at=now.replace(tzinfo=None),
                )
            )
        upgrade(engine)
        with engine.connect() as connection:
            row = connection.execute(sa.select(cases).where(cases.c.id == 7)).one()
        assert (row.state, row.version, row.cycle, row.eligibility) == ("registered", 1, None, None)
    finally:
        engine.dispose()
