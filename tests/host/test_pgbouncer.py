"""PostgreSQL behind PgBouncer in transaction mode (issue 16 item 5).

PgBouncer (Debian's 1.18 here; before 1.21 it has no prepared-statement support at all) hands
every transaction to whichever server connection is free, so psycopg's automatic prepared
statements (after 5 runs of one statement) break: ``DuplicatePreparedStatement "_pg3_0"`` when
a new client meets a server connection where an earlier client prepared that name, ``prepared
statement "_pg3_3" does not exist`` when the next transaction lands elsewhere. With
``?prepare=off`` on the URL or ``CONVALESCENCE_PG_PREPARE=off`` the engine never prepares.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from factories import CONSENT, REGISTRATION, cadre
from host.conftest import missing_pgbouncer
from host.pgbouncer import Bouncer
from pg_server import DatabaseFactory
from plans_setup import seed_plans

from workflow import Engine, InputError, SimulatedClock
from workflow.store.database import PREPARE_VAR, create_engine

pytestmark = pytest.mark.postgres
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CLI = str(Path(sys.executable).with_name("convalescence"))


@pytest.fixture
def bounced_url(bouncer: Bouncer, empty_postgresql: DatabaseFactory) -> Iterator[str]:
    with empty_postgresql.database() as direct:  # made ahead, dropped behind
        yield bouncer.url(direct)


def steps(url: str, prefix: str, clock: SimulatedClock) -> None:
    """A process's worth of steps: each statement runs more than psycopg's 5 before preparing."""
    with Engine(url, clock=clock) as engine:
        ids = [f"{prefix}-{n}" for n in range(8)]
        engine.put_cadres([cadre(cadre_id) for cadre_id in ids])
        for cadre_id in ids:
            case = engine.open_case(cadre_id, actor=f"cadre:张建国@{cadre_id}", data=REGISTRATION)
            engine.fire(case.id, "consent", actor=f"family:张丽@{cadre_id}", data=CONSENT)
            assert engine.case(case.id).state == "family_consented"


def test_engines_one_after_another_through_transaction_pooling(
    bounced_url: str, clock: SimulatedClock
) -> None:
    """Each Engine is a new client; the second one meets the server connections the first
    used (before: DuplicatePreparedStatement on the second)."""
    url = f"{bounced_url}?prepare=off"
    with Engine(url, clock=clock) as engine:
        engine.upgrade_schema()
        seed_plans(engine)  # the year's plans a registration names (A3.2)
    for prefix in ("A", "B", "C"):
        steps(url, prefix, clock)


@pytest.mark.slow  # fourteen CLI processes, ~10 s
def test_the_command_line_through_transaction_pooling(bounced_url: str, tmp_path: Path) -> None:
    """`cadres import`, `cases open` and `scheduler run --once`, each a new process and so a
    new client, all exit 0 with CONVALESCENCE_PG_PREPARE=off (before: exit 1)."""
    env = {**os.environ, PREPARE_VAR: "off", "CONVALESCENCE_NOTICES_DIR": str(tmp_path)}

    def run(*args: str) -> str:
        done = subprocess.run(
            [CLI, "--db", bounced_url, *args],
            check=False,
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
        )
        assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
        return done.stdout

    example = json.loads((EXAMPLES / "roster.json").read_text(encoding="utf-8"))[0]
    roster = [{**example, "id": f"P-{n}", "id_card": None} for n in range(4)]
    (tmp_path / "roster.json").write_text(json.dumps(roster, ensure_ascii=False), "utf-8")
    run("db", "upgrade")
    plan = ("plans", "create", "--year", "2024", "--level", "city", "--budget", "500000")
    run("--now", "2024-05-06T09:30", *plan, "--cycle", "2024-2025", "--as", "city_officer:赵敏")
    for _ in range(2):
        run("cadres", "import", str(tmp_path / "roster.json"))
    for record in roster:
        run("--now", "2024-05-06T09:30", "cases", "list")
        run(
            "--now",
            "2024-05-06T09:30",
            "cases",
            "open",
            "--cadre",
            record["id"],
            "--as",
            f"cadre:{record['name']}@{record['id']}",
            "--data",
            "plan_level=city",
        )
    for day in ("2024-05-07", "2024-05-08"):
        run("--now", f"{day}T09:30", "scheduler", "run", "--once")


@pytest.mark.parametrize("where", ["url", "environment"])
def test_a_prepare_setting_other_than_on_or_off_is_bad_input(
    where: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = "postgresql://postgres@127.0.0.1:5432/postgres"
    if where == "url":
        url += "?prepare=sometimes"
    else:
        monkeypatch.setenv(PREPARE_VAR, "sometimes")
    with pytest.raises(InputError, match="sometimes"):
        create_engine(url)


def test_prepare_off_reaches_psycopg(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "postgresql://postgres@127.0.0.1:5432/postgres"
    on, off = create_engine(url), create_engine(f"{url}?prepare=off")
    monkeypatch.setenv(PREPARE_VAR, "off")
    by_env = create_engine(url)
    try:
        with on.connect() as a, off.connect() as b, by_env.connect() as c:
            threshold = [x.connection.driver_connection.prepare_threshold for x in (a, b, c)]  # type: ignore[union-attr]
        assert threshold == [5, None, None]
    finally:
        for engine in (on, off, by_env):
            engine.dispose()


@pytest.mark.parametrize(("ci", "outcome"), [("true", "Failed"), ("", "Skipped")])
def test_a_missing_pgbouncer_skips_except_in_ci(ci: str, outcome: str) -> None:
    with pytest.raises(BaseException) as raised:  # noqa: PT011 (pytest's own outcomes)
        missing_pgbouncer({"CI": ci})
    assert type(raised.value).__name__ == outcome
    assert "apt-get install pgbouncer" in str(raised.value)
