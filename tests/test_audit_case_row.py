"""The audit covers the case row itself (A19.1, issue 17), on both databases: `audit verify`
compares each case's state, terminal flag and evidence with what its history chain says, and
the database refuses a change to a case that no history row accounts for.

Tampering runs as a DBA would: the triggers are dropped (SQLite) or disabled (PostgreSQL) first,
since a trigger alone proves nothing against the database's owner; the chain is what catches
that."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from click.testing import CliRunner
from factories import AS_CADRE, HAPPY_PATH, REGISTRATION, cadre
from plans_setup import walk
from tampering import tamper

from workflow import Engine, steps
from workflow.audit import Break, verify_database
from workflow.audit.chain import EXCEPTIONS_APPLIED
from workflow.cli.main import main
from workflow.store.database import WRITE
from workflow.store.migrate import head_revision, upgrade
from workflow.store.schema import cases, history

SEED_BATCH = True  # approval takes a seat in batch 1 (conftest.engine)
DAY = timedelta(days=1)
GUARDED = ("cases", "history", "case_exceptions", "batch_exceptions")


@pytest.fixture
def walked(engine: Engine) -> tuple[Engine, int]:
    """A case taken along the whole of art. 7 (seven history rows, batch facts included)."""
    engine.put_cadres([cadre()])
    case = engine.open_case("LC-DCF-0001", actor=AS_CADRE, data=REGISTRATION)
    return engine, walk(engine, case.id, HAPPY_PATH).id  # the batch starts first (A13.1)


def case_row(engine: Engine, case_id: int) -> Any:
    with engine.db.connect() as connection:
        return connection.execute(sa.select(cases).where(cases.c.id == case_id)).one()


def url(engine: Engine) -> str:
    return engine.db.url.render_as_string(hide_password=False)


def test_the_steps_evidence_is_what_the_chain_accumulates(walked: tuple[Engine, int]) -> None:
    engine, case_id = walked
    assert verify_database(engine.db, chunk=2).intact
    evidence = case_row(engine, case_id).evidence
    assert (evidence["satisfaction"], evidence["batch_id"]) == (5, 1)
    # the key a step records the exceptions it relied on under is left out of the evidence
    assert EXCEPTIONS_APPLIED == steps.EXCEPTIONS_APPLIED


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("state", "withdrawn"),
        ("terminal", False),
        ("evidence", {"plan_level": "city", "satisfaction": 1}),
    ],
)
def test_a_case_row_changed_behind_the_engine_is_named_A19_1(
    walked: tuple[Engine, int], field: str, value: Any
) -> None:
    """Issue 17: ``UPDATE cases SET state=…`` (or terminal, evidence) passed `audit verify`
    with the digest unchanged."""
    engine, case_id = walked
    tamper(engine, sa.update(cases).where(cases.c.id == case_id).values({field: value}))
    assert verify_database(engine.db, chunk=3).broken == Break("cases", case_id, None, field)

    result = CliRunner().invoke(main, ["--db", url(engine), "audit", "verify", "--json"])
    assert result.exit_code == 6, result.output
    body = json.loads(result.stdout or result.stderr)
    assert (body["table"], body["key"], body["problem"]) == ("cases", case_id, field)
    result = CliRunner().invoke(main, ["--db", url(engine), "audit", "verify"])
    assert result.exit_code == 6
    assert f"案件行（cases）案件 {case_id}：" in result.stderr
    assert f"（{field}）" in result.stderr


def test_an_evidence_value_spelled_differently_is_not_a_change(
    walked: tuple[Engine, int],
) -> None:
    """The comparison is on content: 5.0 stored for 5 (PostgreSQL JSONB's numeric) is the same
    evidence."""
    engine, case_id = walked
    evidence = {**case_row(engine, case_id).evidence, "satisfaction": 5.0}
    tamper(engine, sa.update(cases).where(cases.c.id == case_id).values(evidence=evidence))
    assert verify_database(engine.db).intact


def _refused_statements(case_id: int, head: Any) -> dict[str, sa.Executable]:
    where = cases.c.id == case_id
    return {
        "state": sa.update(cases).where(where).values(state="withdrawn"),
        "evidence": sa.update(cases).where(where).values(evidence={"satisfaction": 1}),
        "terminal": sa.update(cases).where(where).values(terminal=False),
        "version": sa.update(cases).where(where).values(version=cases.c.version + 1),
        "chain_head": sa.update(cases).where(where).values(chain_head="0" * 64),
        "updated_at": sa.update(cases).where(where).values(updated_at=head.updated_at + DAY),
        "opened_at": sa.update(cases).where(where).values(opened_at=head.opened_at - DAY),
        "county": sa.update(cases).where(where).values(county="冠县"),
        "eligibility": sa.update(cases).where(where).values(eligibility={"tier": "city"}),
        "delete": sa.delete(cases).where(where),
    }


CHANGES = ["state", "evidence", "terminal", "version", "chain_head", "updated_at", "opened_at"]


@pytest.mark.parametrize("change", [*CHANGES, "county", "eligibility", "delete"])
def test_the_database_refuses_a_case_change_without_its_history_row_A19_1(
    walked: tuple[Engine, int], change: str
) -> None:
    """Issue 17: the case row moves only with the history row of its new version (revision
    0011); a case is never deleted."""
    engine, case_id = walked
    before = case_row(engine, case_id)
    statement = _refused_statements(case_id, before)[change]
    refuses(engine, statement)
    assert case_row(engine, case_id) == before
    assert verify_database(engine.db).intact


def test_winding_a_case_back_to_an_earlier_history_row_is_refused_A19_1(
    walked: tuple[Engine, int],
) -> None:
    """The row the case is wound back to exists, but the version only ever goes up by one."""
    engine, case_id = walked
    with engine.db.connect() as connection:
        sixth = connection.execute(
            sa.select(history).where(history.c.case_id == case_id, history.c.seq == 6)
        ).one()
    statement = (
        sa.update(cases)
        .where(cases.c.id == case_id)
        .values(version=6, state=sixth.to_state, chain_head=sixth.hash, terminal=False)
    )
    refuses(engine, statement)


def test_a_row_that_only_looks_like_a_step_is_refused_A19_1(walked: tuple[Engine, int]) -> None:
    """A version bump naming the current head, or a new head with no history row behind it."""
    engine, case_id = walked
    row = case_row(engine, case_id)
    where = cases.c.id == case_id
    for values in (
        {"version": row.version + 1},
        {"version": row.version + 1, "chain_head": "f" * 64},
    ):
        refuses(engine, sa.update(cases).where(where).values(values))


def test_a_downgrade_drops_the_guard_and_an_upgrade_restores_it(
    walked: tuple[Engine, int],
) -> None:
    engine, case_id = walked
    statement = sa.update(cases).where(cases.c.id == case_id).values(state="withdrawn")
    _migrate(engine, "downgrade", "0010")
    with engine.db.begin() as connection:
        connection.execute(statement.values(state="evaluated"))  # allowed without the guard
    assert upgrade(engine.db) == ("0010", head_revision())
    with pytest.raises(sa.exc.DBAPIError, match="cases: "), engine.db.begin() as connection:
        connection.execute(statement)


def refuses(engine: Engine, statement: sa.Executable) -> None:
    """``statement`` fails on the case row's trigger, naming the table and A19.1."""
    with (
        pytest.raises(sa.exc.DBAPIError, match=r"cases: .*\(A19\.1\)"),
        engine.db.begin() as connection,
    ):
        connection.execute(statement)


def _migrate(engine: Engine, direction: str, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", "workflow.store:migrations")
    with engine.db.connect().execution_options(**{WRITE: True}) as connection, connection.begin():
        config.attributes["connection"] = connection
        getattr(command, direction)(config, revision)
