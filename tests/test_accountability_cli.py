"""Issue 17: the plans, contractors and batches commands take a checked ``--as`` (A5.2), and
what they write carries that actor in the admin log (A19.1); an evaluation's evaluator and an
exception's approver are that actor, never a typed name. Both databases."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from workflow.cli.main import main
from workflow.store.database import create_engine
from workflow.store.schema import admin_log, contractor_evaluations

CITY = ("--as", "city_officer:赵敏")
COUNTY = ("--as", "county_officer:李娜@东昌府区")
PLAN = ("plans", "create", "--year", "2024", "--level", "county", "--county", "东昌府区")
PLAN_TAIL = ("--budget", "60000", "--cycle", "2024-2025")


def run(url: str, *args: str, now: str = "2024-05-06T09:30") -> Result:
    return CliRunner().invoke(main, ["--db", url, "--now", now, *args])


def ok(url: str, *args: str, now: str = "2024-05-06T09:30") -> Any:
    result = run(url, *args, "--json", now=now)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def log(url: str) -> list[dict[str, Any]]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            query = sa.select(admin_log).order_by(admin_log.c.seq)
            return [dict(r) for r in connection.execute(query).mappings()]
    finally:
        engine.dispose()


@pytest.fixture
def url(db_url: str) -> str:
    assert run(db_url, "db", "upgrade").exit_code == 0
    return db_url


@pytest.mark.parametrize(
    "args",
    [
        (*PLAN, *PLAN_TAIL),
        ("plans", "list"),
        ("contractors", "create", "--name", "某疗养院", "--kind", "own_resource"),
        ("contractors", "list"),
        ("batches", "list"),
    ],
    ids=["plans-create", "plans-list", "contractors-create", "contractors-list", "batches-list"],
)
def test_plans_commands_without_as_are_refused_A5_2(url: str, args: tuple[str, ...]) -> None:
    """Before issue 17 these ran as 'the database's operator', unchecked and unrecorded."""
    result = run(url, *args)
    assert result.exit_code == 2, result.output
    assert "--as" in result.stderr
    assert log(url) == []


def _batch(url: str) -> tuple[int, int]:
    plan = ok(url, *PLAN, *PLAN_TAIL, *COUNTY)
    contractor = ok(url, "contractors", "create", "--name", "东昌湖疗养院",
                    "--kind", "own_resource", *CITY)  # fmt: skip
    cid = str(contractor["id"])
    ok(url, "contractors", "qualify", cid, "--name", "医疗机构执业许可证",
       "--from", "2024-01-01", "--until", "2026-12-31", *CITY)  # fmt: skip
    ok(url, "contractors", "agree", cid, "--plan", str(plan["id"]), "--no", "XY-1",
       "--signed", "2024-03-01", "--from", "2024-03-01", "--until", "2024-12-31",
       *COUNTY)  # fmt: skip
    batch = ok(url, "batches", "add", "--plan", str(plan["id"]), "--contractor", cid,
               "--place", "东昌湖", "--start", "2024-06-03", "--end", "2024-06-09",
               "--capacity", "10", "--staff", "2", *COUNTY)  # fmt: skip
    return int(batch["id"]), int(contractor["id"])


def test_cli_writes_carry_the_as_actor_in_the_admin_log_A19_1(url: str) -> None:
    batch_id, _ = _batch(url)
    entries = log(url)
    assert [(e["entity"], e["role"], e["actor"], e["scope"]) for e in entries] == [
        ("plan", "county_officer", "李娜", "东昌府区"),
        ("contractor", "city_officer", "赵敏", None),
        ("qualification", "city_officer", "赵敏", None),
        ("agreement", "county_officer", "李娜", "东昌府区"),
        ("batch", "county_officer", "李娜", "东昌府区"),
    ]
    assert entries[-1]["entity_id"] == batch_id
    assert run(url, "audit", "verify").exit_code == 0


def test_an_evaluation_is_by_the_checked_actor_not_a_typed_name_A18_3(url: str) -> None:
    batch_id, _ = _batch(url)
    after = "2024-06-10T09:00"
    typed = run(url, "batches", "evaluate", str(batch_id), "--score", "90",
                "--by", "市局领导", *COUNTY, now=after)  # fmt: skip
    assert typed.exit_code == 2  # no --by: the evaluator is --as
    outside = run(url, "batches", "evaluate", str(batch_id), "--score", "90",
                  "--as", "county_officer:张三@茌平区", now=after)  # fmt: skip
    assert outside.exit_code == 1
    assert "A5.2" in outside.stderr
    row = ok(url, "batches", "evaluate", str(batch_id), "--score", "90", *COUNTY, now=after)
    assert row["by"] == "county_officer:李娜@东昌府区"
    entry = log(url)[-1]
    assert (entry["entity"], entry["action"], entry["actor"]) == ("evaluation", "evaluate", "李娜")
    assert entry["data"]["score"] == 90
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            count = connection.execute(sa.select(sa.func.count()).select_from(
                contractor_evaluations)).scalar_one()  # fmt: skip
    finally:
        engine.dispose()
    assert count == 1


def test_an_exception_approver_is_the_actor_A6_2(url: str) -> None:
    """--approver let anyone name the city officer as approver; it is gone."""
    batch_id, _ = _batch(url)
    named = run(url, "batches", "exception", str(batch_id), "--rule", "over_50",
                "--reason", "名额紧张", "--approver", "city_officer:赵敏", *COUNTY)  # fmt: skip
    assert named.exit_code == 2
    county = run(url, "batches", "exception", str(batch_id), "--rule", "over_50",
                 "--reason", "名额紧张", *COUNTY)  # fmt: skip
    assert county.exit_code == 1  # the definition names the city officer as approver (A5.2)
    city = ok(url, "batches", "exception", str(batch_id), "--rule", "over_50",
              "--reason", "名额紧张", *CITY)  # fmt: skip
    assert (city["approver_role"], city["approver_name"]) == ("city_officer", "赵敏")
