"""The store's contract for the plans aggregate and seats, run over SQLite and PostgreSQL.

`workflow.store.plans.PlanStore` and `workflow.store.seats` are called directly, in a
transaction of the test's own, so what is pinned here is the store's promise whatever service
sits above it: rows come back as stored, a missing row is `NotFoundError` naming its kind, a
broken constraint is the engine's `InputError` naming the field on both drivers (never a
driver's `IntegrityError`), a seat race is a `ConflictError`, and a refused write leaves
nothing behind.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from plans_setup import batch, open_cases, plan_and_contractor
from sqlalchemy.exc import IntegrityError

from workflow import Engine, SimulatedClock
from workflow.audit.chain import GENESIS
from workflow.clock import SHANGHAI
from workflow.errors import ConflictError, InputError, NotFoundError, RuleRefused
from workflow.store import seats
from workflow.store.errors import violation
from workflow.store.plans import PlanStore, plan_store
from workflow.store.schema import contractors

SEED_PLANS = False  # the tests make and count their own plans (conftest `engine`)
NOW = datetime(2024, 5, 6, 9, 30, tzinfo=SHANGHAI)


def _plan_values(**changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "year": 2024,
        "organiser_level": "county",
        "county": "东昌府区",
        "budget": Decimal("1234.50"),
        "cycle": "2024-2025",
        "created_at": NOW,
    }
    return values | changes


@pytest.fixture
def writer(engine: Engine) -> Iterator[PlanStore]:
    """A store in one write transaction, rolled back when it raised."""
    with plan_store(engine.transaction, write=True) as store:
        yield store


def _in_new(engine: Engine) -> Any:
    return plan_store(engine.transaction, write=True)


# -- rows as stored, missing rows named ----------------------------------------------------------


def test_a_plan_comes_back_as_stored_and_lists_by_year(engine: Engine) -> None:
    with _in_new(engine) as store:
        made = store.insert_plan(_plan_values())
        store.insert_plan(_plan_values(year=2025, organiser_level="city", county=None))
    assert (made["county"], made["budget"], made["cycle"]) == (
        "东昌府区",
        Decimal("1234.50"),
        "2024-2025",
    )
    with plan_store(engine.transaction) as store:
        assert store.plan(made["id"]) == made
        assert [p["year"] for p in store.plans()] == [2024, 2025]
        assert [p["year"] for p in store.plans(year=2025)] == [2025]


@pytest.mark.parametrize(
    ("read", "kind"),
    [
        pytest.param(lambda s: s.plan(99), "计划", id="plan"),
        pytest.param(lambda s: s.contractor(99), "承办单位", id="contractor"),
        pytest.param(lambda s: s.batch(99), "批次", id="batch"),
    ],
)
def test_a_missing_row_is_not_found_naming_its_kind(engine: Engine, read: Any, kind: str) -> None:
    with plan_store(engine.transaction) as store, pytest.raises(NotFoundError) as missing:
        read(store)
    assert (missing.value.kind, missing.value.key) == (kind, 99)


# -- constraints: the engine's errors, naming the field, on both drivers -------------------------


def test_a_duplicate_contractor_name_is_an_input_error_naming_it(engine: Engine) -> None:
    values = {"name": "荣成疗养院", "kind": "own_resource"}
    with _in_new(engine) as store:
        store.insert_contractor(values)
    with pytest.raises(InputError) as duplicate, _in_new(engine) as store:
        store.insert_contractor(values)
    assert duplicate.value.field == "name"
    assert "已有同名承办单位“荣成疗养院”" in duplicate.value.message
    assert isinstance(duplicate.value.__cause__, IntegrityError)  # kept for the log, not shown
    with plan_store(engine.transaction) as store:
        assert [c["name"] for c in store.contractors()] == ["荣成疗养院"]


def test_a_duplicate_agreement_number_names_the_number(engine: Engine) -> None:
    plan_id, contractor_id = plan_and_contractor(engine)  # agreement XY-2024-01 on the plan
    values = {
        "contractor_id": contractor_id,
        "plan_id": plan_id,
        "agreement_no": "XY-2024-01",
        "signed_on": date(2024, 3, 1),
        "valid_from": date(2024, 3, 1),
        "valid_until": date(2024, 12, 31),
    }
    with pytest.raises(InputError) as duplicate, _in_new(engine) as store:
        store.insert_agreement(values)
    assert duplicate.value.field == "agreement_no"
    assert "XY-2024-01" in duplicate.value.message
    with _in_new(engine) as store:  # the same number under another plan is another agreement
        other = store.insert_plan(_plan_values())
        assert store.insert_agreement(values | {"plan_id": other["id"]})["plan_id"] == other["id"]


def test_an_incident_naming_no_case_is_an_input_error_on_case_id(engine: Engine) -> None:
    made = batch(engine)
    values = {
        "batch_id": made["id"],
        "case_id": 4242,
        "at": NOW,
        "description": "晕车",
        "reported_by": "李强",
    }
    with pytest.raises(InputError) as missing, _in_new(engine) as store:
        store.insert_incident(values)
    assert missing.value.field == "case_id"
    assert "4242" in missing.value.message
    with plan_store(engine.transaction) as store:
        assert store.incidents(made["id"]) == []


def test_a_second_evaluation_and_a_score_out_of_range_are_input_errors(engine: Engine) -> None:
    made = batch(engine)
    values = {
        "contractor_id": made["contractor_id"],
        "batch_id": made["id"],
        "score": 80,
        "by": "市局",
        "at": NOW,
    }
    with _in_new(engine) as store:
        assert store.insert_evaluation(values)["score"] == 80
    with pytest.raises(InputError) as again, _in_new(engine) as store:
        store.insert_evaluation(values)
    assert again.value.field == "batch_id"
    assert "已评价过" in again.value.message
    other = batch(engine, plan_id=made["plan_id"], contractor_id=made["contractor_id"])
    with pytest.raises(InputError) as out_of_range, _in_new(engine) as store:
        store.insert_evaluation(values | {"batch_id": other["id"], "score": 101})
    assert out_of_range.value.field == "score", out_of_range.value.message
    with plan_store(engine.transaction) as store:
        assert store.scores(made["contractor_id"]) == [80]


def test_violation_reads_both_drivers_alike(engine: Engine) -> None:
    """The same unique index, described by psycopg (SQLSTATE, constraint) or by SQLite (a
    sentence): one `Violation` with table and columns."""
    with engine.db.connect() as connection, connection.begin():
        connection.execute(sa.insert(contractors).values(name="甲", kind="own_resource"))
        with pytest.raises(IntegrityError) as raised:
            connection.execute(sa.insert(contractors).values(name="甲", kind="own_resource"))
    found = violation(raised.value)
    assert (found.kind, found.table, found.columns) == ("unique", "contractors", ("name",))


# -- batch exceptions: a hash chain per batch (A19.1) -----------------------------------------


def test_batch_exceptions_chain_and_a_rule_is_recorded_once(engine: Engine) -> None:
    made = batch(engine)
    grant = {
        "article": "A6.2",
        "approver_role": "city_officer",
        "approver_name": "赵敏",
        "reason": "专列",
        "at": NOW,
    }
    with _in_new(engine) as store:
        first = store.append_exception(made["id"], grant | {"rule": "over_50"})
        second = store.append_exception(made["id"], grant | {"rule": "out_of_province"})
        assert store.has_exception(made["id"], "over_50")
        assert not store.has_exception(made["id"] + 1, "over_50")
    assert first["prev_hash"] == GENESIS
    assert second["prev_hash"] == first["hash"] != second["hash"]
    with pytest.raises(InputError) as twice, _in_new(engine) as store:
        store.append_exception(made["id"], grant | {"rule": "over_50"})
    assert twice.value.field == "rule"
    with plan_store(engine.transaction) as store:
        assert [e["rule"] for e in store.exceptions(made["id"])] == ["over_50", "out_of_province"]


def test_starting_a_batch_bumps_its_version(engine: Engine) -> None:
    made = batch(engine)
    with _in_new(engine) as store:
        started = store.mark_started(made["id"], NOW)
    assert (started["version"], started["started_at"]) == (made["version"] + 1, NOW)


# -- seats (A6.2): compare-and-set, one seat per case ------------------------------------------


def test_seats_fill_to_capacity_move_with_their_rows_and_go_back(engine: Engine) -> None:
    made = batch(engine, capacity=2, staff_count=1)
    first, second, third = open_cases(engine, 3)
    with engine.transaction(write=True) as connection:
        seats.take_seat(connection, batch_id=made["id"], case_id=first, now=NOW)
        seats.take_seat(connection, batch_id=made["id"], case_id=second, now=NOW)
        with pytest.raises(RuleRefused) as full:
            seats.take_seat(connection, batch_id=made["id"], case_id=third, now=NOW)
        assert full.value.refusals[0].rule == "batch_full"
        with pytest.raises(RuleRefused) as twice:
            seats.take_seat(connection, batch_id=made["id"], case_id=first, now=NOW)
        assert twice.value.refusals[0].rule == "one_seat"
        assert seats.held_seat(connection, first) == made["id"]
        facts, waived = seats.batch_facts(connection, made["id"])
        assert (facts["batch_size"], facts["batch_start"], waived) == (3, "2024-06-03", frozenset())
        seats.release_seat(connection, batch_id=made["id"], case_id=first)
        assert seats.held_seat(connection, first) is None
        with pytest.raises(NotFoundError):
            seats.release_seat(connection, batch_id=made["id"], case_id=first)
        with pytest.raises(NotFoundError):
            seats.take_seat(connection, batch_id=made["id"] + 9, case_id=third, now=NOW)
    with plan_store(engine.transaction) as store:
        assert store.batch(made["id"])["seats_taken"] == 1
        assert [s["case_id"] for s in store.seats(made["id"])] == [second]


def test_batch_facts_of_a_missing_batch_name_the_field(engine: Engine) -> None:
    with engine.transaction() as connection, pytest.raises(InputError) as missing:
        seats.batch_facts(connection, 77)
    assert missing.value.field == "batch_id"


@pytest.mark.postgres
def test_two_steps_seating_one_case_at_once_the_second_is_a_conflict(pg_url: str) -> None:
    """PostgreSQL only: SQLite takes the write lock at BEGIN, so its second writer sees the
    first seat and is refused ``one_seat`` instead. Here both read "no seat" before either
    commits; the unique index stops the second, which must read as a lost race."""
    clock = SimulatedClock(NOW)
    with Engine(pg_url, clock=clock) as engine:
        engine.upgrade_schema()
        one = batch(engine, capacity=5, staff_count=1)
        two = batch(engine, plan_id=one["plan_id"], contractor_id=one["contractor_id"])
        (case,) = open_cases(engine, 1)
        failure: list[BaseException] = []
        with engine.db.connect() as first, first.begin():
            seats.take_seat(first, batch_id=one["id"], case_id=case, now=NOW)

            def second() -> None:
                try:
                    with engine.db.connect() as other, other.begin():
                        seats.take_seat(
                            other, batch_id=two["id"], case_id=case, now=NOW, expected_version=3
                        )
                except BaseException as error:  # handed to the test thread
                    failure.append(error)

            racer = threading.Thread(target=second)
            racer.start()
            time.sleep(0.5)  # the second blocks on the unique index until the first commits
        racer.join(timeout=30)
        assert len(failure) == 1
        assert isinstance(failure[0], ConflictError)
        assert (failure[0].case_id, failure[0].expected_version) == (case, 3)
        with plan_store(engine.transaction) as store:
            assert store.batch(two["id"])["seats_taken"] == 0  # rolled back with the step
            assert store.batch(one["id"])["seats_taken"] == 1
