"""Shared fixtures: every database test runs on a real SQLite file and a real PostgreSQL.

PostgreSQL tests get a database of their own, created for the test and dropped after it, so no
run ever sees another's rows. The server is the machine's (127.0.0.1:5432, trust auth) unless
CONVALESCENCE_TEST_PG names another admin URL. If it cannot be reached the tests fail rather
than skip: both backends must pass the same suite.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from plans_setup import seed_batch

from workflow import Engine, SimulatedClock
from workflow.clock import SHANGHAI

PG_ADMIN_URL = os.environ.get("CONVALESCENCE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
RUN_TOKEN = uuid.uuid4().hex[:8]
_counter = iter(range(1_000_000))


def _admin() -> psycopg.Connection[Any]:
    try:
        return psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL at {PG_ADMIN_URL} is not reachable ({exc}); start it with "
            "`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`",
            pytrace=False,
        )


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A brand-new, empty PostgreSQL database for one test."""
    name = f"cv_test_{RUN_TOKEN}_{next(_counter)}"
    with _admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with _admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'cases.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(datetime(2024, 5, 6, 9, 30, tzinfo=SHANGHAI))


@pytest.fixture
def engine(db_url: str, clock: SimulatedClock, request: pytest.FixtureRequest) -> Iterator[Engine]:
    """A migrated database; modules that set ``SEED_BATCH = True`` also get the batch
    `factories.APPROVAL` names (approval takes a seat in it, A6.2)."""
    with Engine(db_url, clock=clock) as built:
        built.upgrade_schema()
        if getattr(request.module, "SEED_BATCH", False):
            seed_batch(built)
        yield built
