"""Plans, contractors and batches on both databases: rules refuse before anything is written,
and the seat counter never goes past capacity."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa
from plans_setup import batch, open_cases, plan_and_contractor

from workflow import Engine, SimulatedClock
from workflow.clock import SHANGHAI
from workflow.errors import InputError, RuleRefused
from workflow.plans import release_seat, service, take_seat
from workflow.store.schema import batch_exceptions, batch_seats, batches

SEED_PLANS = False  # the tests make and count their own plans (conftest `engine`)
AFTER_THE_TRIP = datetime(2024, 6, 10, 9, 0, tzinfo=SHANGHAI)  # plans_setup's batch has ended


def _count(engine: Engine, table: sa.Table) -> int:
    with engine.db.connect() as connection:
        return int(connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def test_plan_contractor_and_batch_are_stored(engine: Engine) -> None:
    created = batch(engine)
    shown = service.show_batch(engine, created["id"])
    assert (shown["capacity"], shown["seats_taken"], shown["province"]) == (3, 0, "山东")
    assert shown["organiser_contacts"] == [{"name": "王芳", "phone": "0635-1234567"}]
    assert shown["budget"] == Decimal("60000.00")
    plan = service.show_plan(engine, created["plan_id"])
    assert [b["id"] for b in plan["batches"]] == [created["id"]]
    contractor = service.show_contractor(engine, created["contractor_id"])
    assert len(contractor["qualifications"]) == len(contractor["agreements"]) == 1


def test_plan_cycle_must_be_one_of_the_definition(engine: Engine) -> None:
    with pytest.raises(RuleRefused) as refused:
        service.create_plan(
            engine, year=2026, organiser_level="city", budget=Decimal(1), cycle="2026-2027"
        )
    assert refused.value.articles == ("A9.1",)
    with pytest.raises(InputError):
        service.create_plan(
            engine, year=2024, organiser_level="county", budget=Decimal(1), cycle="2024-2025"
        )
    assert service.list_plans(engine) == []


def test_purchased_service_needs_a_reason(engine: Engine) -> None:
    with pytest.raises(RuleRefused) as refused:
        service.create_contractor(engine, name="某旅行社", kind="purchased_service")
    assert refused.value.articles == ("A10.2",)
    assert service.list_contractors(engine) == []


@pytest.mark.parametrize(
    ("overrides", "articles"),
    [
        pytest.param({"end_date": date(2024, 6, 10)}, ("A6.2",), id="8-days"),
        pytest.param({"capacity": 51, "staff_count": 6}, ("A6.2",), id="51-cadres"),
        pytest.param({"province": "江苏"}, ("A6.2",), id="out-of-province"),
        pytest.param({"staff_count": 2}, ("A12.1",), id="too-many-staff"),
        pytest.param(
            {"end_date": date(2025, 1, 5), "start_date": date(2024, 12, 31)},
            ("A3.1", "A14.1"),  # also leaves the plan's year (A3.1)
            id="agreement-lapses",
        ),
    ],
)
def test_refused_batches_write_nothing(
    engine: Engine, overrides: dict[str, object], articles: tuple[str, ...]
) -> None:
    plan_id, contractor_id = plan_and_contractor(engine)
    with pytest.raises(RuleRefused) as refused:
        batch(engine, plan_id=plan_id, contractor_id=contractor_id, **overrides)
    assert refused.value.articles == articles
    assert _count(engine, batches) == 0


def test_an_exception_recorded_with_the_batch_lets_51_pass(engine: Engine) -> None:
    grant = service.ExceptionGrant("over_50", "city_officer", "赵敏", "同一军休所集中安排")
    created = batch(engine, capacity=51, staff_count=6, exceptions=[grant])
    shown = service.show_batch(engine, created["id"])
    assert [(e["rule"], e["article"]) for e in shown["exceptions"]] == [("over_50", "A6.2")]
    with pytest.raises(InputError):
        service.ExceptionGrant("over_50", "city_officer", "赵敏", " ").validate()
    not_an_approver = service.ExceptionGrant("out_of_province", "cadre", "赵敏", "理由")
    with pytest.raises(RuleRefused):
        service.record_exception(engine, created["id"], not_an_approver)


def test_a_contractor_below_the_exit_threshold_takes_no_new_batch(
    engine: Engine, clock: SimulatedClock
) -> None:
    first = batch(engine)
    clock.set(AFTER_THE_TRIP)  # a contractor is evaluated after the batch (A18.3)
    service.evaluate_contractor(engine, first["id"], score=40, by="市退役军人事务局")
    with pytest.raises(RuleRefused) as refused:
        batch(engine, plan_id=first["plan_id"], contractor_id=first["contractor_id"])
    assert refused.value.articles == ("A18.3",)


def test_start_needs_both_plans_and_staff_for_the_seated(engine: Engine) -> None:
    created = batch(engine, emergency_plan_ref=None)
    (case_id,) = open_cases(engine, 1)
    with engine.transaction(write=True) as connection:
        take_seat(connection, batch_id=created["id"], case_id=case_id, now=engine.clock.now())
    with pytest.raises(RuleRefused) as refused:
        service.start_batch(engine, created["id"])
    assert refused.value.articles == ("A13.1",)
    assert service.show_batch(engine, created["id"])["started_at"] is None


def test_take_seat_fills_to_capacity_then_refuses(engine: Engine) -> None:
    created = batch(engine, capacity=2)
    first, second, third = open_cases(engine, 3)
    now = engine.clock.now()
    for case_id in (first, second):
        with engine.transaction(write=True) as connection:
            take_seat(connection, batch_id=created["id"], case_id=case_id, now=now)
    with pytest.raises(RuleRefused) as refused, engine.transaction(write=True) as connection:
        take_seat(connection, batch_id=created["id"], case_id=third, now=now)
    assert refused.value.articles == ("A6.2",)
    assert refused.value.refusals[0].rule == "batch_full"
    assert service.show_batch(engine, created["id"])["seats_taken"] == 2
    assert _count(engine, batch_seats) == 2
    with engine.transaction(write=True) as connection:
        release_seat(connection, batch_id=created["id"], case_id=first)
    with engine.transaction(write=True) as connection:
        take_seat(connection, batch_id=created["id"], case_id=third, now=now)
    shown = service.show_batch(engine, created["id"])
    assert shown["seats_taken"] == 2
    assert sorted(s["case_id"] for s in shown["seats"]) == [second, third]


def test_a_case_holds_one_seat_only(engine: Engine) -> None:
    created = batch(engine)
    (case_id,) = open_cases(engine, 1)
    now = engine.clock.now()
    with engine.transaction(write=True) as connection:
        take_seat(connection, batch_id=created["id"], case_id=case_id, now=now)
    with pytest.raises(RuleRefused), engine.transaction(write=True) as connection:
        take_seat(connection, batch_id=created["id"], case_id=case_id, now=now)
    assert service.show_batch(engine, created["id"])["seats_taken"] == 1
    assert _count(engine, batch_exceptions) == 0


def test_incidents_and_evaluations_are_listed_on_the_batch(
    engine: Engine, clock: SimulatedClock
) -> None:
    created = batch(engine)
    (case_id,) = open_cases(engine, 1)
    service.record_incident(
        engine, created["id"], description="晕车", reported_by="李强", case_id=case_id
    )
    clock.set(AFTER_THE_TRIP)
    service.evaluate_contractor(engine, created["id"], score=90, by="市退役军人事务局")
    shown = service.show_batch(engine, created["id"])
    assert [i["case_id"] for i in shown["incidents"]] == [case_id]
    assert [e["score"] for e in shown["evaluations"]] == [90]


def test_an_exception_recorded_later_is_kept_once(engine: Engine) -> None:
    created = batch(engine)
    grant = service.ExceptionGrant("out_of_province", "city_officer", "钱进", "省内无空位")
    recorded = service.record_exception(engine, created["id"], grant)
    assert (recorded["rule"], recorded["approver_name"]) == ("out_of_province", "钱进")
    with pytest.raises(InputError):
        service.record_exception(engine, created["id"], grant)
    assert _count(engine, batch_exceptions) == 1


@pytest.mark.parametrize("rule", ["out_of_province", "over_50"])
def test_a_batch_exception_needs_the_approver_the_definition_names(
    engine: Engine, rule: str
) -> None:
    """A6.2 batch exceptions have the approvers of the case rule they waive: the city (A5.2)."""
    created = batch(engine)
    grant = service.ExceptionGrant(rule, "county_officer", "赵局长", "省内无空位")
    with pytest.raises(RuleRefused) as refused:
        service.record_exception(engine, created["id"], grant)
    assert refused.value.articles == ("A5.2",)
    assert "缺少权限" in str(refused.value)
    same = {"plan_id": created["plan_id"], "contractor_id": created["contractor_id"]}
    with pytest.raises(RuleRefused):
        batch(engine, capacity=55, staff_count=6, exceptions=[grant], **same)
    assert _count(engine, batch_exceptions) == 0


def test_the_exit_threshold_comes_from_the_definition_in_force(engine: Engine) -> None:
    """A18.3 names no figure: the definition's rules.contractor_exit_score sets it (60)."""
    rules = engine.catalog.get("honor_convalescence").rules
    assert rules is not None
    assert rules.contractor_exit_score == 60
    _, contractor_id = plan_and_contractor(engine)
    assert service.show_contractor(engine, contractor_id)["exit_threshold"] == 60.0
    overridden = service.create_contractor(
        engine, name="另一家", kind="own_resource", exit_threshold_override=Decimal("75")
    )
    assert service.show_contractor(engine, overridden["id"])["exit_threshold"] == 75.0
