"""The suite's PostgreSQL databases, against the real server: copies made ahead hold the
template's tables, every database a factory made is gone once it closes, and a killed run's
leftovers are dropped by the next run while a live run's are kept."""

from __future__ import annotations

import subprocess
import sys
import uuid

import psycopg
import pytest
from pg_server import (
    ADMIN_URL,
    NAMESPACE,
    DatabaseFactory,
    Dropper,
    create_database,
    drop_abandoned,
    url_of,
)
from psycopg import sql
from sqlalchemy.engine import make_url

pytestmark = pytest.mark.postgres


def _exists(name: str) -> bool:
    with psycopg.connect(ADMIN_URL) as admin:
        found = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        return found.fetchone() is not None


@pytest.mark.slow  # waits for the drops' checkpoint: a second alone, a minute on a busy server
def test_a_factory_hands_out_copies_of_its_template_and_drops_them_all_when_closed() -> None:
    template = create_database("cv_probe")
    with psycopg.connect(url_of(template), autocommit=True) as connection:
        connection.execute("CREATE TABLE marker (id integer)")
    made: list[str] = []
    # a dropper that waits however long the checkpoint takes: the test looks right after it
    with (
        Dropper(close_wait=300) as dropper,
        DatabaseFactory(dropper, template, ahead=1, batch=1) as factory,
    ):
        factory.adopt(template)
        for _ in range(2):  # the first dropped on the way, the second (and one ahead) at close
            with factory.database() as url:
                made.append(str(make_url(url).database))
                with psycopg.connect(url) as copy:
                    rows = copy.execute("SELECT count(*) FROM marker").fetchone()
                assert rows == (0,)
    assert dropper.errors == []
    assert len(set(made)) == 2
    assert [name for name in [*made, template] if _exists(name)] == []


def _dead_pid() -> int:
    """The pid of a process that has ended (and was reaped): nothing answers to it now."""
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(done.stdout)


def test_a_killed_runs_databases_are_dropped_and_a_live_runs_are_kept() -> None:
    suffix = uuid.uuid4().hex[:8]
    dead = f"cv_probe_{NAMESPACE}x{_dead_pid()}_{suffix}"
    alive = f"cv_probe_{NAMESPACE}x{1}_{suffix}"  # pid 1 runs as long as the machine does
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        for name in (dead, alive):
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            dropped = drop_abandoned()
            assert dead in dropped
            assert alive not in dropped
            assert (_exists(dead), _exists(alive)) == (False, True)
        finally:
            for name in (dead, alive):
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
