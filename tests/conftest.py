"""Shared fixtures: every database test runs on a real SQLite file and a real PostgreSQL.

PostgreSQL tests get a database of their own, created through the server's maintenance database
ahead of the test and dropped behind it (`pg_server.DatabaseFactory`: creating and dropping one
cost 0.36 s a test in waiting), so no run ever sees another's rows and nothing but a role that
may create databases has to exist on the server. If the server cannot
be reached, or a role or database it needs is missing, the tests fail saying which: both
backends must pass the same suite.

The suite runs in parallel (README: ``pytest -n 2``, pytest-xdist): each worker is a process of
its own with its own tmp folder, its own migrated templates (below) and database names that
carry its pid, so workers share nothing but the server; the templates are dropped when the
worker ends, and what a killed run left on the server is dropped when the next run starts.

Tests write only under their tmp paths: `repository_root_unchanged` fails the run when a test
leaves a new file or folder in the repository root (a ``notices/`` folder from the file
channel's default, a database file from a default ``--db``).
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from pg_server import DatabaseFactory, Dropper, create_database, drop_abandoned, url_of
from plans_setup import seed_batch, seed_plans

from workflow import Engine, SimulatedClock
from workflow.clock import SHANGHAI
from workflow.definition.validated import CACHE_VAR

ROOT = Path(__file__).resolve().parents[1]
# what the tools themselves leave in the root of a fresh clone (all in .gitignore)
TOOL_DIRECTORIES = {
    ".pytest_cache",
    ".hypothesis",  # hypothesis's example database, in the working directory by design
    ".mypy_cache",
    ".ruff_cache",
    "__pycache__",
    "convalescence_workflow.egg-info",  # pip install -e (test_packaging builds from a copy)
}


def pytest_sessionstart(session: pytest.Session) -> None:
    """Once per run, in the main process (not in each xdist worker): drop the databases a run
    killed before its clean-up left on this machine's server.

    And in every process: take back the terminal size GNU readline writes into the C
    environment when something imports it (``COLUMNS=80``, ``LINES``), unseen by ``os.environ``
    but inherited by every child: xdist's workers and the tests' subprocesses would print the
    CLI's tables 80 columns wide, where a pipe gets them whole. A size the user set stays."""
    for name in ("COLUMNS", "LINES"):
        if name not in os.environ:
            os.unsetenv(name)
    if not hasattr(session.config, "workerinput"):
        # beside the run, not before it: each drop waits for a checkpoint
        threading.Thread(target=drop_abandoned, name="cv-drop-abandoned", daemon=True).start()


@pytest.fixture(scope="session", autouse=True)
def repository_root_unchanged() -> Iterator[None]:
    """Fail the run if the tests left anything new in the repository root."""
    before = {entry.name for entry in ROOT.iterdir()}
    yield
    left = sorted({entry.name for entry in ROOT.iterdir()} - before - TOOL_DIRECTORIES)
    if left:
        pytest.fail(
            f"the tests left {', '.join(left)} in the repository root ({ROOT}); a test must "
            "write only under tmp_path (pass --db, --dir, CONVALESCENCE_NOTICES_DIR ...)",
            pytrace=False,
        )


@pytest.fixture(scope="session", autouse=True)
def definition_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Markers of validated definitions go under the run's tmp folder, not the user's cache
    (subprocesses inherit it through the environment)."""
    previous = os.environ.get(CACHE_VAR)
    os.environ[CACHE_VAR] = str(tmp_path_factory.mktemp("definition-cache"))
    yield
    if previous is None:
        os.environ.pop(CACHE_VAR, None)
    else:
        os.environ[CACHE_VAR] = previous


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to the head revision once per run: the `engine` fixture's
    databases start as copies of it (running the migrations for every test cost ~0.25 s)."""
    path = tmp_path_factory.mktemp("migrated") / "template.db"
    with Engine(f"sqlite:///{path}") as built:
        built.upgrade_schema()
    return path  # closed: the WAL is checkpointed into the file, which is whole on its own


@pytest.fixture(scope="session")
def pg_dropper() -> Iterator[Dropper]:
    """Drops the run's PostgreSQL databases behind the tests, all waiting at once; set up
    before the factories that use it, so it closes after them and drops what they leave."""
    with Dropper() as dropper:
        yield dropper


@pytest.fixture(scope="session")
def migrated_postgresql(pg_dropper: Dropper) -> Iterator[DatabaseFactory]:
    """A PostgreSQL database migrated once per run (per xdist worker: a template may not be
    copied while another session is connected to it), and copies of it for the `engine`
    fixture, made ahead and dropped behind (`DatabaseFactory`); all dropped when the run ends."""
    template = create_database("cv_template")
    with DatabaseFactory(pg_dropper, template) as copies:
        copies.adopt(template)
        with Engine(url_of(template)) as built:
            built.upgrade_schema()
        yield copies


@pytest.fixture(scope="session")
def empty_postgresql(pg_dropper: Dropper) -> Iterator[DatabaseFactory]:
    """Brand-new, empty PostgreSQL databases, made ahead and dropped behind."""
    with DatabaseFactory(pg_dropper) as empty:
        yield empty


@pytest.fixture
def pg_url(empty_postgresql: DatabaseFactory) -> Iterator[str]:
    """A brand-new, empty PostgreSQL database for one test."""
    with empty_postgresql.database() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """One test's database, empty; already migrated when the test uses the `engine` fixture,
    which would migrate it first anyway (a copy of a migrated template instead)."""
    migrated = "engine" in request.fixturenames
    if request.param == "sqlite":
        path = tmp_path / "cases.db"
        if migrated:
            shutil.copyfile(request.getfixturevalue("migrated_sqlite"), path)
        yield f"sqlite:///{path}"
    elif migrated:
        copies: DatabaseFactory = request.getfixturevalue("migrated_postgresql")
        with copies.database() as url:
            yield url
    else:
        yield str(request.getfixturevalue("pg_url"))


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(datetime(2024, 5, 6, 9, 30, tzinfo=SHANGHAI))


@pytest.fixture
def engine(db_url: str, clock: SimulatedClock, request: pytest.FixtureRequest) -> Iterator[Engine]:
    """A migrated database holding the annual plans of the clock's year a registration names
    (A3.2: a city plan and the default cadre's county plan, `plans_setup.seed_plans`) unless
    the module sets ``SEED_PLANS = False``; modules that set ``SEED_BATCH = True`` also get the
    batch `factories.APPROVAL` names (approval takes a seat in it, A6.2)."""
    with Engine(db_url, clock=clock) as built:
        built.ensure_schema()  # db_url is a copy of the migrated template: only checked here
        if getattr(request.module, "SEED_BATCH", False):
            seed_batch(built)
        elif getattr(request.module, "SEED_PLANS", True):
            seed_plans(built)
        yield built
