"""Bad input gets a clean refusal over HTTP and on the command line (issue 17): ids past the
database's INTEGER, a duplicated batch exception, oversized evidence and bodies, cases outside
the caller's scope (answered as missing ones), a database that cannot be read or written (its
own exit code, 7). Every refusal is a 4xx or a documented exit code, nothing is written, no
traceback; on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from factories import CONSENT, REGISTRATION, cadre
from fastapi.testclient import TestClient
from plans_setup import seed_batch, seed_plans

from workflow import Engine, InputError, SimulatedClock
from workflow.api import TokenRegistry, create_app
from workflow.api.limits import MAX_BODY_BYTES
from workflow.cli.main import main
from workflow.definition.model import FieldSpec
from workflow.fields import DEFAULT_MAX_LENGTH, INT_MAX, coerce_fields
from workflow.store.connectivity import is_storage_failure
from workflow.store.schema import history

TOKENS = {
    "t-agency": "agency_officer:王芳@东昌府区军休所",
    "t-other-agency": "agency_officer:孙莉@茌平区军休所",
    "t-family": "family:张丽@LC-DCF-0001",
    "t-city": "city_officer:赵敏",
}


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    engine.put_cadres([cadre()])
    seed_batch(engine)
    app = create_app(engine, TokenRegistry.from_tokens(TOKENS))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def consented_case(client: TestClient) -> int:
    opened = client.post(
        "/cases", json={"cadre_id": "LC-DCF-0001", "data": REGISTRATION}, headers=auth("t-agency")
    )
    assert opened.status_code == 201, opened.text
    case_id = int(opened.json()["id"])
    consent = client.post(
        f"/cases/{case_id}/steps/consent", json={"data": CONSENT}, headers=auth("t-family")
    )
    assert consent.status_code == 200, consent.text
    return case_id


def history_rows(engine: Engine) -> int:
    with engine.transaction() as connection:
        return int(connection.execute(sa.select(sa.func.count()).select_from(history)).scalar_one())


# -- integers past the database's INTEGER --------------------------------------------------


@pytest.mark.parametrize("batch_id", [INT_MAX + 1, 10**30, "9" * 5000])
def test_an_approval_naming_batch_2147483648_is_422_not_500(
    client: TestClient, engine: Engine, batch_id: Any
) -> None:
    case_id = consented_case(client)
    before = history_rows(engine)
    answer = client.post(
        f"/cases/{case_id}/steps/approve",
        json={"data": {"batch_id": batch_id}},
        headers=auth("t-agency"),
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == "batch_id"
    assert history_rows(engine) == before


@pytest.mark.parametrize(
    "args",
    [
        ["cases", "show", "2147483648"],
        ["cases", "history", "99999999999999999999"],
        ["batches", "show", "99999999999999999999", "--as", "city_officer:赵敏"],  # the last resort
    ],
)
def test_cli_ids_out_of_range_exit_2_without_a_traceback(db_url: str, args: list[str]) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["--db", db_url, "db", "upgrade"]).exit_code == 0
    result = runner.invoke(main, ["--db", db_url, "--lang", "zh", *args])
    assert result.exit_code == 2, (result.output, result.exception)
    assert "Traceback" not in result.output
    assert "2147483647" in result.output


def test_cli_fire_with_batch_id_out_of_range_exits_2(db_url: str, clock: SimulatedClock) -> None:
    with Engine(db_url, clock=clock) as engine:
        engine.upgrade_schema()
        engine.put_cadres([cadre()])
        seed_plans(engine)  # the year's plan the registration names (A3.2)
        case = engine.open_case("LC-DCF-0001", actor="cadre:张建国@LC-DCF-0001", data=REGISTRATION)
        engine.fire(case.id, "consent", actor="family:张丽@LC-DCF-0001", data=CONSENT)
    fired = CliRunner().invoke(
        main,
        ["--db", db_url, "--now", "2024-05-06T09:30", "cases", "fire", str(case.id), "approve",
         "--as", "agency_officer:王芳@东昌府区军休所", "--data", "batch_id=2147483648"],
    )  # fmt: skip
    assert fired.exit_code == 2, fired.output
    assert "batch_id" in fired.output


# -- a batch with the same exception twice ------------------------------------------------


def test_post_batches_with_the_same_exception_twice_is_422(client: TestClient) -> None:
    seeded = client.get("/batches/1", headers=auth("t-city")).json()
    body = {
        "plan_id": seeded["plan_id"],  # the seeded batch's plan and contractor
        "contractor_id": seeded["contractor_id"],
        "province": "山东",
        "place": "威海市荣成",
        "start_date": "2024-07-01",
        "end_date": "2024-07-05",
        "capacity": 60,
        "staff_count": 6,
        "exceptions": [{"rule": "over_50", "reason": "扩容"}] * 2,
    }
    before = client.get("/batches", headers=auth("t-city")).json()
    answer = client.post("/batches", json=body, headers=auth("t-city"))
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"] == "bad_input"
    assert client.get("/batches", headers=auth("t-city")).json() == before


# -- out of scope answers like missing ------------------------------------------------------


def test_a5_2_a_case_outside_the_scope_answers_exactly_like_a_missing_one(
    client: TestClient,
) -> None:
    case_id = consented_case(client)
    missing_id = case_id + 1000
    for method, suffix, body in [
        ("GET", "", None),
        ("GET", "/history", None),
        ("POST", "/steps/approve", {"data": {"batch_id": 1}}),
    ]:
        outside = client.request(
            method, f"/cases/{case_id}{suffix}", json=body, headers=auth("t-other-agency")
        )
        missing = client.request(
            method, f"/cases/{missing_id}{suffix}", json=body, headers=auth("t-other-agency")
        )
        assert outside.status_code == missing.status_code == 404, (suffix, outside.text)
        shape = outside.json()
        shape["key"], shape["message"] = None, shape["message"].replace(str(case_id), "N")
        other = missing.json()
        other["key"], other["message"] = None, other["message"].replace(str(missing_id), "N")
        assert shape == other


# -- oversized evidence and bodies ----------------------------------------------------------


def test_evidence_longer_than_the_field_allows_is_refused_before_the_history(
    engine: Engine,
) -> None:
    """A 50 MB family_member went into the append-only history; now the field's length from
    the definition (or the default) refuses it, nothing written."""
    engine.put_cadres([cadre()])
    case = engine.open_case("LC-DCF-0001", actor="cadre:张建国@LC-DCF-0001", data=REGISTRATION)
    before = history_rows(engine)
    with pytest.raises(InputError) as refused:
        engine.fire(
            case.id,
            "consent",
            actor="family:张丽@LC-DCF-0001",
            data={"family_member": "张" * 5_000_000, "relation": "女儿"},
        )
    assert refused.value.field == "family_member"
    assert len(refused.value.message) < 500
    assert history_rows(engine) == before


def test_field_lengths_come_from_the_definition_with_a_default() -> None:
    short = FieldSpec(name="ref", type="string", label="编号", max_length=5)
    assert coerce_fields((short,), {"ref": "12345"}, step="s") == {"ref": "12345"}
    with pytest.raises(InputError, match="5"):
        coerce_fields((short,), {"ref": "123456"}, step="s")
    text = FieldSpec(name="note", type="text", label="说明")
    limit = DEFAULT_MAX_LENGTH["text"]
    assert coerce_fields((text,), {"note": "x" * limit}, step="s")["note"] == "x" * limit
    with pytest.raises(InputError):
        coerce_fields((text,), {"note": "x" * (limit + 1)}, step="s")
    number = FieldSpec(name="score", type="number", label="分")
    for bad in ("nan", "inf", "1e999"):
        with pytest.raises(InputError):
            coerce_fields((number,), {"score": bad}, step="s")


def test_a_request_body_over_the_cap_is_413_and_nothing_is_written(
    client: TestClient, engine: Engine
) -> None:
    case_id = consented_case(client)
    before = history_rows(engine)
    big = {"data": {"batch_id": 1, "note": "x" * (MAX_BODY_BYTES + 1)}}
    declared = client.post(f"/cases/{case_id}/steps/approve", json=big, headers=auth("t-agency"))
    assert declared.status_code == 413, declared.text
    assert declared.json()["error"] == "too_large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"data": {"batch_id": 1, "note": "'
        for _ in range(MAX_BODY_BYTES // 65536 + 2):
            yield b"x" * 65536
        yield b'"}}'

    chunked = client.post(
        f"/cases/{case_id}/steps/approve",
        content=chunks(),
        headers={**auth("t-agency"), "Content-Type": "application/json"},
    )
    assert chunked.status_code == 413, chunked.text
    assert history_rows(engine) == before


# -- a database that cannot be read or written: exit 7 ------------------------------------


def test_a_file_that_is_not_a_database_exits_7(tmp_path: Path) -> None:
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"this is not an SQLite database" * 200)
    result = CliRunner().invoke(main, ["--db", f"sqlite:///{broken}", "cases", "list"])
    assert result.exit_code == 7, (result.output, result.exception)
    assert "Traceback" not in result.output


def test_an_unreachable_server_exits_7() -> None:
    url = "postgresql://postgres@127.0.0.1:1/nowhere"  # nothing listens on port 1
    result = CliRunner().invoke(main, ["--db", url, "cases", "list"])
    assert result.exit_code == 7, (result.output, result.exception)


def test_a_full_disk_is_a_storage_failure(tmp_path: Path, clock: SimulatedClock) -> None:
    """SQLite's "database or disk is full" (SQLITE_FULL), made real with max_page_count: it is
    classed with the unreachable database (exit 7), not with bad input (2)."""
    url = f"sqlite:///{tmp_path / 'full.db'}"
    with Engine(url, clock=clock) as engine:
        engine.upgrade_schema()
    connection = sqlite3.connect(tmp_path / "full.db")
    pages = connection.execute("PRAGMA page_count").fetchone()[0]
    connection.close()
    db = sa.create_engine(url)

    @sa.event.listens_for(db, "connect")
    def cap(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")

    with Engine(db, clock=clock) as engine, pytest.raises(Exception) as full:  # noqa: PT011
        engine.put_cadres([cadre(f"LC-DCF-{n:04d}", name="张" * 50) for n in range(1, 2000)])
    db.dispose()
    assert "full" in str(full.value)
    assert is_storage_failure(full.value)
