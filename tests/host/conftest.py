"""Fixtures of the host suite: the host's own SQLAlchemy engine on a SQLite file, on PostgreSQL,
and on PostgreSQL through PgBouncer in transaction mode.

The engine the host builds is its own (``sqlalchemy.create_engine``), not the workflow's
factory, as a back office that already has a database layer would. Behind PgBouncer the host
turns psycopg's automatic prepared statements off itself (``prepare_threshold=None``), which is
what the README tells it to do.

PgBouncer: the one `.ci/run` started (``CONVALESCENCE_TEST_PGBOUNCER``), else one this run
starts when Debian's ``pgbouncer`` is installed. Without it the PgBouncer cases skip saying so,
except in CI (``CI=true``), where they fail: the suite must run there.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest
import sqlalchemy as sa
from host import pgbouncer
from host.app import BackOffice, metadata
from pg_server import DatabaseFactory
from plans_setup import seed_plans

from workflow import Engine, SimulatedClock

BACKENDS = [
    "sqlite",
    pytest.param("postgresql", marks=pytest.mark.postgres),
    pytest.param("pgbouncer", marks=pytest.mark.postgres),
]


@pytest.fixture(scope="session")
def bouncer() -> Iterator[pgbouncer.Bouncer]:
    found = pgbouncer.running()
    if found is not None:
        yield found
        return
    if pgbouncer.executable() is None:
        missing_pgbouncer(os.environ)
    # xdist workers each start their own: on a port the system picks, not both on 6432
    worker = "PYTEST_XDIST_WORKER" in os.environ
    started = pgbouncer.start(pgbouncer.free_port(0) if worker else None)
    try:
        yield started
    finally:
        started.stop()


def missing_pgbouncer(environ: Mapping[str, str]) -> NoReturn:
    """Skip saying why, except in CI, where the PgBouncer cases must run: fail there."""
    reason = (
        "pgbouncer is not installed here (`apt-get install pgbouncer`; .ci/run installs "
        "it), so the PgBouncer transaction-mode cases cannot run"
    )
    if environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true: {reason}", pytrace=False)
    pytest.skip(reason)


@dataclass
class HostDatabase:
    kind: str  # sqlite | postgresql | pgbouncer
    url: str  # as the host connects
    engine_kwargs: dict[str, Any]

    def create_engine(self, **kwargs: Any) -> sa.Engine:
        """The host's own engine, built with SQLAlchemy as the host would build it."""
        return sa.create_engine(self.url, **{**self.engine_kwargs, **kwargs})


@pytest.fixture(params=BACKENDS)
def host_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[HostDatabase]:
    if request.param == "sqlite":
        yield HostDatabase("sqlite", f"sqlite:///{tmp_path / 'backoffice.db'}", {})
        return
    empty: DatabaseFactory = request.getfixturevalue("empty_postgresql")  # made ahead
    with empty.database() as direct:
        url = make_psycopg(direct)
        if request.param == "postgresql":
            yield HostDatabase("postgresql", url, {})
        else:
            through = request.getfixturevalue("bouncer").url(url)
            yield HostDatabase("pgbouncer", through, {"connect_args": {"prepare_threshold": None}})


def make_psycopg(url: str) -> str:
    return sa.make_url(url).set(drivername="postgresql+psycopg").render_as_string(False)


@pytest.fixture
def host_engine(host_db: HostDatabase) -> Iterator[sa.Engine]:
    built = host_db.create_engine()
    metadata.create_all(built)
    yield built
    built.dispose()


@pytest.fixture
def workflow_engine(host_engine: sa.Engine, clock: SimulatedClock) -> Iterator[Engine]:
    """The workflow engine on the host's engine: migrated, with the year's annual plans a
    registration names (A3.2), never disposing what it was given."""
    with Engine(host_engine, clock=clock) as built:
        built.upgrade_schema()
        seed_plans(built)
        yield built


@pytest.fixture
def office(host_engine: sa.Engine, workflow_engine: Engine) -> BackOffice:
    return BackOffice(host_engine, workflow_engine)
