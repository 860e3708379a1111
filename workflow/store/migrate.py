"""Run and inspect Alembic migrations on an engine (or a connection) the caller owns.

Only `upgrade` needs Alembic (with Mako and Pygments, ~60 ms to import), so it is imported
there: the schema check every engine makes before its first step reads the revision files and
the ``alembic_version`` row itself, and a host that never migrates never loads Alembic.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from workflow.store.database import WRITE

if TYPE_CHECKING:
    from alembic.config import Config

VERSIONS = Path(__file__).with_name("migrations") / "versions"
VERSION_TABLE = "alembic_version"  # Alembic's default, which env.py keeps
_REVISION = re.compile(r"^(down_revision|revision)\s*=\s*(None|\"[^\"]*\"|'[^']*')\s*$", re.M)


def _config() -> Config:
    from alembic.config import Config  # noqa: PLC0415

    config = Config()
    config.set_main_option("script_location", "workflow.store:migrations")
    return config


@cache
def head_revision() -> str | None:
    """The newest revision: the one no other revision names as its ``down_revision`` (the
    chain is linear; tests/test_migrations.py checks this agrees with Alembic's own)."""
    revisions: dict[str, str | None] = {}
    for path in VERSIONS.glob("[0-9]*.py"):
        found = dict(_REVISION.findall(path.read_text(encoding="utf-8")))
        revision = found["revision"].strip("\"'")
        down = found.get("down_revision", "None")
        revisions[revision] = None if down == "None" else down.strip("\"'")
    heads = set(revisions) - set(revisions.values())
    if len(heads) != 1:  # a branch: two files named the same down_revision
        raise RuntimeError(f"the migrations have {len(heads)} heads: {sorted(heads)}")
    return heads.pop()


def alembic_head_revision() -> str | None:
    """Alembic's own reading of the head, for the test that `head_revision` agrees with it."""
    from alembic.script import ScriptDirectory  # noqa: PLC0415

    return ScriptDirectory.from_config(_config()).get_current_head()


def current_revision(db: sa.Engine | sa.Connection) -> str | None:
    """The revision stored in the database, None if it has none. On a connection (a host's,
    inside its transaction) it checks the table exists first, so nothing fails and aborts
    that transaction."""
    if isinstance(db, sa.Engine):
        with db.connect() as connection:
            return current_revision(connection)
    if not sa.inspect(db).has_table(VERSION_TABLE):
        return None
    table = sa.table(VERSION_TABLE, sa.column("version_num"))
    return db.execute(sa.select(table.c.version_num)).scalar()


def upgrade(engine: sa.Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Bring the schema to ``revision`` in one transaction; returns (before, after)."""
    from alembic import command  # noqa: PLC0415

    before = current_revision(engine)
    with engine.connect().execution_options(**{WRITE: True}) as connection, connection.begin():
        config = _config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    return before, current_revision(engine)
