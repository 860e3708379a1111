"""Run and inspect Alembic migrations on an engine the caller owns."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from workflow.store.database import WRITE


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", "workflow.store:migrations")
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_config()).get_current_head()


def current_revision(engine: sa.Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: sa.Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Bring the schema to ``revision`` in one transaction; returns (before, after)."""
    before = current_revision(engine)
    with engine.connect().execution_options(**{WRITE: True}) as connection, connection.begin():
        config = _config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    return before, current_revision(engine)
