"""Issue 17: every write on plans, contractors, their papers, batches, contractor evaluations
and incidents carries its actor in the admin log's hash chain, and `audit verify` names a row
changed, added or deleted behind the engine's back (A19.1; evaluations decide A18.3 exits).
Both databases."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from plans_setup import batch

from workflow import Engine
from workflow.audit import verify_database
from workflow.clock import SimulatedClock
from workflow.machine import Actor
from workflow.plans import service
from workflow.store.schema import (
    admin_log,
    batches,
    contractor_evaluations,
    contractor_qualifications,
    contractors,
    incidents,
    plans,
)

SEED_PLANS = False  # the tests make and count their own plans (conftest `engine`)
CITY = Actor("city_officer", "赵敏")
COUNTY = Actor("county_officer", "李娜", "东昌府区")


def _evaluated(engine: Engine, clock: SimulatedClock) -> dict[str, object]:
    """A batch run and scored by the city officer, after its last day."""
    made = batch(engine)
    clock.advance(timedelta(days=40))  # past 2024-06-09, so the score judges a trip taken
    return service.evaluate_contractor(engine, made["id"], score=85, actor=CITY)


def _entries(engine: Engine) -> list[dict[str, Any]]:
    with engine.db.connect() as connection:
        rows = connection.execute(sa.select(admin_log).order_by(admin_log.c.seq)).mappings()
        return [dict(r) for r in rows]


def test_every_plans_write_is_logged_with_its_actor_A19_1(
    engine: Engine, clock: SimulatedClock
) -> None:
    plan = service.create_plan(
        engine,
        year=2024,
        organiser_level="county",
        county="东昌府区",
        budget=Decimal("60000.00"),
        cycle="2024-2025",
        actor=COUNTY,
    )
    contractor = service.create_contractor(
        engine, name="东昌湖疗养院", kind="own_resource", actor=CITY
    )
    evaluation = _evaluated(engine, clock)
    entries = _entries(engine)
    mine = [(e["entity"], e["entity_id"], e["role"], e["actor"], e["scope"]) for e in entries]
    assert mine[0] == ("plan", plan["id"], "county_officer", "李娜", "东昌府区")
    assert mine[1] == ("contractor", contractor["id"], "city_officer", "赵敏", None)
    assert mine[-1] == ("evaluation", evaluation["id"], "city_officer", "赵敏", None)
    assert evaluation["by"] == "city_officer:赵敏"
    assert entries[0]["data"]["budget"] == "60000.00"
    # the plans setup calls the service as a host program: logged as such, never blank
    assert {e["role"] for e in entries} == {"county_officer", "city_officer", "host"}
    assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))
    report = verify_database(engine.db)
    assert report.intact, report.broken
    assert report.admin_records == len(entries) + len(entries)  # each entry, each row once


@pytest.mark.parametrize("table", [contractor_evaluations, incidents, admin_log])
def test_evaluations_incidents_and_the_log_are_append_only_A18_3(
    engine: Engine, clock: SimulatedClock, table: sa.Table
) -> None:
    evaluated = _evaluated(engine, clock)
    service.record_incident(
        engine, int(str(evaluated["batch_id"])), description="晕车", reported_by="王芳", actor=CITY
    )
    column = {"contractor_evaluations": "score", "incidents": "description"}.get(
        table.name, "actor"
    )
    value = 100 if column == "score" else "某人"
    for statement in (sa.update(table).values({column: value}), sa.delete(table)):
        with (
            pytest.raises(sa.exc.DatabaseError, match="append-only"),
            engine.db.begin() as connection,
        ):
            connection.execute(statement)
    assert verify_database(engine.db).intact


def _broken(engine: Engine, statement: sa.Executable) -> tuple[str, int, str]:
    with engine.db.begin() as connection:
        connection.execute(statement)
    report = verify_database(engine.db)
    assert report.broken is not None
    return report.broken.table, report.broken.key, report.broken.problem


def test_a_contractor_threshold_changed_behind_the_engine_is_named_A18_3(
    engine: Engine, clock: SimulatedClock
) -> None:
    """Lowering a contractor's exit threshold would keep it out of A18.3's exit."""
    evaluated = _evaluated(engine, clock)
    key = int(str(evaluated["contractor_id"]))
    statement = (
        sa.update(contractors)
        .where(contractors.c.id == key)
        .values(exit_threshold_override=Decimal("10"))
    )
    assert _broken(engine, statement) == ("contractors", key, "unlogged")
    broken = verify_database(engine.db).broken
    assert broken is not None
    assert "contractors" in broken.message


@pytest.mark.parametrize(
    ("table", "values"),
    [
        (batches, {"capacity": 80}),
        (batches, {"start_date": date(2024, 6, 1)}),
        (plans, {"budget": Decimal("1.00")}),
        (contractor_qualifications, {"valid_until": date(2030, 1, 1)}),
    ],
    ids=["capacity", "dates", "budget", "qualification"],
)
def test_an_admin_row_changed_behind_the_engine_is_named_A19_1(
    engine: Engine, table: sa.Table, values: dict[str, object]
) -> None:
    batch(engine)
    statement = sa.update(table).where(table.c.id == 1).values(values)
    assert _broken(engine, statement) == (table.name, 1, "unlogged")


def test_a_row_inserted_or_deleted_behind_the_engine_is_named_A19_1(engine: Engine) -> None:
    made = batch(engine)
    with engine.db.begin() as connection:
        connection.execute(
            sa.insert(contractor_qualifications).values(
                contractor_id=made["contractor_id"],
                name="伪造资质",
                valid_from=date(2024, 1, 1),
                valid_until=date(2030, 1, 1),
            )
        )
    broken = verify_database(engine.db).broken
    assert broken is not None
    assert (broken.table, broken.key, broken.problem) == (
        "contractor_qualifications",
        2,
        "unrecorded",
    )
    with engine.db.begin() as connection:
        connection.execute(sa.delete(contractor_qualifications))
    broken = verify_database(engine.db).broken
    assert broken is not None
    assert (broken.table, broken.key, broken.problem) == (
        "contractor_qualifications",
        1,
        "vanished",
    )


def test_the_batch_seat_counter_moves_with_cases_without_breaking_the_log(
    engine: Engine,
) -> None:
    """Seats are the cases' chains' business (approval steps), not an admin write."""
    made = batch(engine)
    with engine.db.begin() as connection:
        connection.execute(
            sa.update(batches)
            .where(batches.c.id == made["id"])
            .values(seats_taken=1, version=batches.c.version + 1)
        )
    assert verify_database(engine.db).intact
