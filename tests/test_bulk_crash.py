"""A bulk run killed mid-way (issue 13, item 6): the installed ``convalescence`` in a real
process, killed with SIGKILL (no handler, no cleanup), then resumed: no case is fired twice and
none is left half-moved, on SQLite and PostgreSQL.

The first test kills the process after a few cases have been reported, wherever it happens to be
then (between two cases or inside one's transaction). The second makes the worst moment
certain on PostgreSQL: a row lock held by the test stops the process inside a step, after the
case's history row is written and before the case row moves, and the process is killed there.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from test_bulk import COUNTY_OFFICER, NOW, REJECT, registered_cases, steps_of

from workflow import Engine, bulk
from workflow.cli.main import main
from workflow.store.database import create_engine

SEED_BATCH = True  # as in test_bulk, whose helpers these tests share
SCRIPT = Path(sys.executable).parent / "convalescence"
WAIT_SECONDS = 60


def start_run(db_url: str, cwd: Path) -> subprocess.Popen[str]:
    """``cases fire-many`` in a process of its own, its progress lines readable as they come."""
    command = [
        str(SCRIPT),
        "--db",
        db_url,
        "--now",
        NOW,
        "cases",
        "fire-many",
        *REJECT,
        "--where",
        "state=registered",
        "--as",
        COUNTY_OFFICER,
    ]
    return subprocess.Popen(
        command,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "CONVALESCENCE_NOTICES_DIR": str(cwd)},
    )


def kill(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=WAIT_SECONDS)
    assert process.returncode == -signal.SIGKILL


def resume_and_check(engine: Engine, db_url: str, cases: list[int]) -> None:
    """Resume run 1 and check every case was fired exactly once, its chain intact."""
    resumed = CliRunner().invoke(
        main,
        [
            "--db",
            db_url,
            "--now",
            NOW,
            "cases",
            "fire-many",
            "--resume",
            "1",
            "--as",
            COUNTY_OFFICER,
        ],
        catch_exceptions=False,
    )
    assert resumed.exit_code == 0, resumed.output
    report = bulk.report(engine, 1)
    assert report.counts["succeeded"] == len(cases)
    assert report.finished_at is not None
    assert [steps_of(engine, case_id, "reject") for case_id in cases] == [1] * len(cases)
    assert [engine.case(case_id).version for case_id in cases] == [2] * len(cases)
    verified = CliRunner().invoke(main, ["--db", db_url, "audit", "verify"])
    assert verified.exit_code == 0, verified.output


def test_a_killed_run_resumes_without_firing_any_case_twice(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    cases = registered_cases(engine, 60)
    process = start_run(db_url, tmp_path)
    assert process.stderr is not None
    reported = 0
    for line in process.stderr:
        reported += line.startswith("[")
        if reported == 5:
            break
    kill(process)

    report = bulk.report(engine, 1)
    assert len(report.items) == 60  # the whole cohort was recorded before the first step
    done = {i.case_id for i in report.items if i.outcome == "succeeded"}
    assert 5 <= len(done) < 60, "the process was to be killed half way"
    assert {i.outcome for i in report.items} == {"succeeded", "pending"}
    for case_id in cases:  # each case moved exactly when its item says so, never half
        moved = case_id in done
        assert steps_of(engine, case_id, "reject") == int(moved)
        assert engine.case(case_id).version == 1 + moved

    resume_and_check(engine, db_url, cases)


@pytest.mark.parametrize(
    "db_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_a_run_killed_inside_a_step_leaves_that_case_as_it_was(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    cases = registered_cases(engine, 4)
    held = cases[2]
    watcher = create_engine(db_url)
    try:
        with watcher.connect() as lock, watcher.connect() as look:
            lock.begin()
            # FOR NO KEY UPDATE lets the step append its history row (its foreign key only
            # shares the key) and stops it at the compare-and-set of the case row
            lock.execute(
                sa.text("SELECT id FROM cases WHERE id = :id FOR NO KEY UPDATE"), {"id": held}
            )
            process = start_run(db_url, tmp_path)
            pid = _waiting_backend(look)
            kill(process)
            lock.rollback()
            _gone(look, pid)
    finally:
        watcher.dispose()

    report = bulk.report(engine, 1)
    outcomes = {i.case_id: i.outcome for i in report.items}
    assert outcomes == dict(
        zip(cases, ["succeeded", "succeeded", "pending", "pending"], strict=True)
    )
    assert engine.case(held).version == 1  # its appended history row went with the process
    assert [entry.trigger for entry in engine.history(held)] == ["open"]

    resume_and_check(engine, db_url, cases)


def _waiting_backend(look: sa.Connection) -> int:
    """The server process of the run, once it waits for the test's row lock."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        found = look.execute(
            sa.text(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'"
            )
        ).scalar()
        look.rollback()
        if found is not None:
            return int(found)
        time.sleep(0.05)
    raise AssertionError("the run never reached the locked case")


def _gone(look: sa.Connection, pid: int) -> None:
    """Wait until the killed client's server process has rolled back and left."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        left = look.execute(
            sa.text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
        ).scalar()
        look.rollback()
        if not left:
            return
        time.sleep(0.05)
    raise AssertionError(f"server process {pid} of the killed run is still there")
