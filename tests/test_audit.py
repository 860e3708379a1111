"""Tamper-evident history (A19.1), on both databases: a chain written by the engine verifies, and
each way of changing it behind the engine's back is named, first broken record first. The
tampering runs as an attacker with DBA rights would: the append-only triggers are dropped or
disabled first, since a trigger alone proves nothing against the database's owner."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from click.testing import CliRunner
from factories import APPROVAL, AS_AGENCY, AS_CADRE, AS_COUNTY, HAPPY_PATH, REGISTRATION, cadre
from plans_setup import walk
from tampering import tamper

from workflow import Engine
from workflow.audit import Break, verify_database
from workflow.audit.chain import GENESIS, case_exception_hash, history_hash
from workflow.cli.main import main
from workflow.clock import SHANGHAI
from workflow.i18n import set_language
from workflow.plans import service
from workflow.store.database import WRITE
from workflow.store.migrate import head_revision, upgrade
from workflow.store.schema import batch_exceptions, case_exceptions, cases, history

SEED_BATCH = True  # approval takes a seat in batch 1 (conftest.engine)

OLD = "1943-06-03"  # 81 on the batch's first day: approval needs an A8.2 exception
AGE_RULE = "under_age_limit_on_first_day"


def walked(engine: Engine, cadre_id: str = "LC-DCF-0001") -> int:
    """A case taken along the whole of art. 7: seven history rows."""
    case = engine.open_case(cadre_id, actor=AS_CADRE, data=REGISTRATION)
    return walk(engine, case.id, HAPPY_PATH).id  # the batch starts before attend (A13.1)


def excepted(engine: Engine) -> int:
    """An 80-year-old's case: registered, consented, exception granted at seq 3, approved."""
    engine.put_cadres([cadre("LC-DCF-0002", birth_date=OLD)])
    actor = AS_CADRE.replace("0001", "0002")
    case = engine.open_case("LC-DCF-0002", actor=actor, data=REGISTRATION)
    trigger, _, consent = HAPPY_PATH[0]
    case = engine.fire(case.id, trigger, actor="family:张丽@LC-DCF-0002", data=consent)
    engine.grant_exception(case.id, AGE_RULE, actor=AS_COUNTY, reason="体检合格，家属陪同")
    engine.fire(case.id, "approve", actor=AS_AGENCY, data=APPROVAL)
    return case.id


@pytest.fixture
def populated(engine: Engine) -> tuple[Engine, int, int]:
    engine.put_cadres([cadre()])
    return engine, walked(engine), excepted(engine)


def broken(engine: Engine) -> Break | None:
    return verify_database(engine.db, chunk=3).broken  # small pages: the paging is exercised


def row_of(case_id: int, seq: int) -> sa.ColumnElement[bool]:
    return sa.and_(history.c.case_id == case_id, history.c.seq == seq)


def test_the_engine_writes_an_intact_chain(populated: tuple[Engine, int, int]) -> None:
    engine, walked_id, excepted_id = populated
    service.record_exception(
        engine, 1, service.ExceptionGrant("over_50", "city_officer", "钱处长", "经市局研究同意")
    )
    report = verify_database(engine.db, chunk=2)
    assert report.intact, report.broken
    # 7 + 4 history rows, one case exception, one batch exception
    assert (report.records, report.cases, report.batches) == (13, 2, 1)
    with engine.db.connect() as connection:
        rows = connection.execute(sa.select(history).order_by(history.c.id)).all()
    assert rows[0].prev_hash == GENESIS
    assert rows[1].prev_hash == rows[0].hash == history_hash(GENESIS, rows[0]._asdict())
    assert {walked_id, excepted_id} == {r.case_id for r in rows}

    result = CliRunner().invoke(main, ["--db", engine_url(engine), "audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "审计链完好：2 个案件、1 个批次共 13 条记录。" in result.stdout
    args = ["--lang", "en", "--db", engine_url(engine), "audit", "verify"]
    english = CliRunner().invoke(main, args)
    set_language(None)  # the next test speaks as the environment says
    assert "chain intact: 13 records; cases: 2, batches: 1" in english.stdout, english.output
    result = CliRunner().invoke(main, ["--db", engine_url(engine), "audit", "verify", "--json"])
    assert result.exit_code == 0, result.output
    assert f'"digest": "{report.digest}"' in result.stdout


def engine_url(engine: Engine) -> str:
    return engine.db.url.render_as_string(hide_password=False)


def test_an_edited_history_row_is_named(populated: tuple[Engine, int, int]) -> None:
    engine, case_id, _ = populated
    tamper(engine, sa.update(history).where(row_of(case_id, 3)).values(reason="改过"))
    assert broken(engine) == Break("history", case_id, 3, "edited")

    result = CliRunner().invoke(main, ["--db", engine_url(engine), "audit", "verify"])
    assert result.exit_code == 6
    assert f"历史（history）案件 {case_id} seq 3：内容与其哈希不符" in result.stderr
    args = ["--lang", "en", "--db", engine_url(engine), "audit", "verify"]
    english = CliRunner().invoke(main, args)
    set_language(None)  # the next test speaks as the environment says
    assert f"(history) case {case_id} seq 3: content does not match its hash" in english.stderr
    result = CliRunner().invoke(main, ["--db", engine_url(engine), "audit", "verify", "--json"])
    assert result.exit_code == 6
    body = json.loads(result.stdout or result.stderr)
    assert (body["error"], body["table"], body["key"], body["seq"], body["problem"]) == (
        "tampered",
        "history",
        case_id,
        3,
        "edited",
    )


def test_a_row_rewritten_with_a_fresh_hash_breaks_the_next_link(
    populated: tuple[Engine, int, int],
) -> None:
    """An attacker who knows the algorithm re-hashes the edited row; its successor's prev_hash
    still names the original."""
    engine, case_id, _ = populated
    with engine.db.connect() as connection:
        row = connection.execute(sa.select(history).where(row_of(case_id, 4))).one()
    forged = {**row._mapping, "actor": "冒名者"}
    new_hash = history_hash(row.prev_hash, forged)
    tamper(
        engine, sa.update(history).where(row_of(case_id, 4)).values(actor="冒名者", hash=new_hash)
    )
    assert broken(engine) == Break("history", case_id, 5, "relinked")


def test_a_deleted_middle_row_is_a_gap(populated: tuple[Engine, int, int]) -> None:
    engine, case_id, _ = populated
    tamper(engine, sa.delete(history).where(row_of(case_id, 4)))
    assert broken(engine) == Break("history", case_id, 4, "missing")


def test_deleted_last_rows_are_caught_by_the_case_version(
    populated: tuple[Engine, int, int],
) -> None:
    engine, case_id, _ = populated
    tamper(engine, sa.delete(history).where(row_of(case_id, 7)))
    assert broken(engine) == Break("history", case_id, 7, "missing_tail")


def test_deleted_last_rows_with_the_version_wound_back_are_caught_by_the_chain_head(
    populated: tuple[Engine, int, int],
) -> None:
    """The case row keeps its last history hash (revision 0007): winding back the version and
    state after deleting the last row still leaves a head that matches no record."""
    engine, case_id, _ = populated
    tamper(
        engine,
        sa.delete(history).where(row_of(case_id, 7)),
        sa.update(cases).where(cases.c.id == case_id).values(version=6, state="attended"),
    )
    assert broken(engine) == Break("history", case_id, 6, "head")


def test_each_step_moves_the_chain_head_to_its_history_row(
    populated: tuple[Engine, int, int],
) -> None:
    engine, case_id, _ = populated
    with engine.db.connect() as connection:
        head = connection.execute(
            sa.select(cases.c.chain_head).where(cases.c.id == case_id)
        ).scalar_one()
        last = connection.execute(sa.select(history.c.hash).where(row_of(case_id, 7))).scalar_one()
    assert head == last


def test_an_edited_case_exception_is_named(populated: tuple[Engine, int, int]) -> None:
    engine, _, case_id = populated
    where = case_exceptions.c.case_id == case_id
    tamper(engine, sa.update(case_exceptions).where(where).values(reason="无需理由"))
    assert broken(engine) == Break("case_exceptions", case_id, 3, "edited")


def test_a_rehashed_case_exception_no_longer_matches_its_grant(
    populated: tuple[Engine, int, int],
) -> None:
    engine, _, case_id = populated
    with engine.db.connect() as connection:
        row = connection.execute(
            sa.select(case_exceptions).where(case_exceptions.c.case_id == case_id)
        ).one()
    forged = {**row._mapping, "approver_name": "市长"}
    tamper(
        engine,
        sa.update(case_exceptions)
        .where(case_exceptions.c.id == row.id)
        .values(approver_name="市长", hash=case_exception_hash(forged)),
    )
    assert broken(engine) == Break("case_exceptions", case_id, 3, "unmatched")


def test_a_deleted_case_exception_leaves_its_grant_unmatched(
    populated: tuple[Engine, int, int],
) -> None:
    engine, _, case_id = populated
    tamper(engine, sa.delete(case_exceptions).where(case_exceptions.c.case_id == case_id))
    assert broken(engine) == Break("history", case_id, 3, "ungranted")


def test_an_edited_batch_exception_is_named(engine: Engine) -> None:
    for rule in ("over_50", "out_of_province"):
        service.record_exception(
            engine, 1, service.ExceptionGrant(rule, "city_officer", "钱处长", "经市局研究同意")
        )
    with engine.db.connect() as connection:
        first = connection.execute(sa.select(sa.func.min(batch_exceptions.c.id))).scalar_one()
    tamper(
        engine,
        sa.update(batch_exceptions)
        .where(batch_exceptions.c.id == first)
        .values(at=datetime(2020, 1, 1, tzinfo=UTC)),
    )
    assert broken(engine) == Break("batch_exceptions", 1, first, "edited")


@pytest.mark.parametrize(
    "table", [history, case_exceptions, batch_exceptions], ids=lambda t: t.name
)
def test_the_database_refuses_updates_and_deletes(
    populated: tuple[Engine, int, int], table: sa.Table
) -> None:
    engine, _, _ = populated
    service.record_exception(
        engine, 1, service.ExceptionGrant("over_50", "city_officer", "钱处长", "经市局研究同意")
    )
    for statement in (sa.update(table).values(reason="改过"), sa.delete(table)):
        refused = pytest.raises(sa.exc.DBAPIError, match=f"{table.name} is append-only")
        with refused, engine.db.begin() as connection:
            connection.execute(statement)
    assert verify_database(engine.db).intact


def test_upgrading_hashes_the_rows_already_written(populated: tuple[Engine, int, int]) -> None:
    """Back to 0005 (the hash columns go), forward again: the backfill computes exactly the
    hashes the engine wrote, and the upgraded database verifies."""
    engine, _, _ = populated
    service.record_exception(
        engine, 1, service.ExceptionGrant("over_50", "city_officer", "钱处长", "经市局研究同意")
    )
    columns = (history.c.hash, case_exceptions.c.hash, batch_exceptions.c.hash)
    before = [_hashes(engine, column) for column in columns]
    config = Config()
    config.set_main_option("script_location", "workflow.store:migrations")
    with engine.db.connect().execution_options(**{WRITE: True}) as connection, connection.begin():
        config.attributes["connection"] = connection
        command.downgrade(config, "0005")
    assert "hash" not in {c["name"] for c in sa.inspect(engine.db).get_columns("history")}
    assert upgrade(engine.db) == ("0005", head_revision())
    assert [_hashes(engine, column) for column in columns] == before
    assert verify_database(engine.db).intact
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.db.begin() as connection:
        connection.execute(sa.delete(history))


def _hashes(engine: Engine, column: sa.Column[str]) -> list[str]:
    with engine.db.connect() as connection:
        table = column.table
        return list(connection.execute(sa.select(column).order_by(table.c.id)).scalars())


def test_the_hash_does_not_depend_on_the_zone_or_on_json_number_spelling() -> None:
    moment = datetime(2024, 5, 6, 9, 30, tzinfo=SHANGHAI)
    row = {"case_id": 1, "seq": 1, "at": moment, "data": {"score": 5.0}}
    same = {"case_id": 1, "seq": 1, "at": moment.astimezone(UTC), "data": {"score": 5}}
    assert history_hash(GENESIS, row) == history_hash(GENESIS, same)
    assert history_hash(GENESIS, row) != history_hash("1" * 64, row)
