"""Issue 12, the trip itself (art. 12, 13, 15, 16, 18) on both databases: a batch starts only
with both plans and both named service teams, its staffing is corrected to the cadres seated
before it starts, and the evaluation and the actual cost follow the trip."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from factories import AS_AGENCY, CONSENT, cadre
from plans_setup import batch

from workflow import Engine, SimulatedClock
from workflow.cli.main import main
from workflow.clock import SHANGHAI
from workflow.errors import RuleRefused
from workflow.plans import service


def _seat(engine: Engine, batch_id: int, count: int) -> list[int]:
    """``count`` cadres registered, consented and approved into the batch (seats taken by the
    engine's approval step, A6.2)."""
    ids = [f"LC-DCF-{n:04d}" for n in range(1, count + 1)]
    engine.put_cadres([cadre(i) for i in ids])
    cases = []
    for cadre_id in ids:
        me = f"cadre:张建国@{cadre_id}"
        case = engine.open_case(cadre_id, actor=me, data={"plan_level": "city"})
        engine.fire(case.id, "consent", actor=f"family:张丽@{cadre_id}", data=CONSENT)
        engine.fire(case.id, "approve", actor=AS_AGENCY, data={"batch_id": batch_id})
        cases.append(case.id)
    return cases


def test_A13_1_A15_1_a_batch_starts_only_with_both_plans_and_both_named_teams(
    engine: Engine,
) -> None:
    made = batch(engine, safety_plan_ref=None, contractor_contacts=[])
    _seat(engine, made["id"], 1)
    with pytest.raises(RuleRefused) as refused:
        service.start_batch(engine, made["id"])
    assert sorted(refused.value.articles) == ["A13.1", "A15.1"]
    assert "安全预案" in str(refused.value)
    assert "承办单位服务小组" in str(refused.value)
    assert service.show_batch(engine, made["id"])["started_at"] is None
    # a contact without a name is no named person (A15.1)
    service.update_batch(
        engine,
        made["id"],
        safety_plan_ref="AQ-2024-07",
        contractor_contacts=[{"name": " ", "phone": "0631-7654321"}],
    )
    with pytest.raises(RuleRefused) as refused:
        service.start_batch(engine, made["id"])
    assert refused.value.articles == ("A15.1",)
    service.update_batch(
        engine, made["id"], contractor_contacts=[{"name": "李强", "phone": "0631-7654321"}]
    )
    started = service.start_batch(engine, made["id"])
    assert started["started_at"] is not None
    assert started["safety_plan_ref"] == "AQ-2024-07"
    # what the batch started with stays as it was
    with pytest.raises(RuleRefused) as refused:
        service.update_batch(engine, made["id"], emergency_plan_ref="YJ-改")
    assert refused.value.articles == ("A13.1",)
    assert service.show_batch(engine, made["id"])["emergency_plan_ref"] == "YJ-2024-01"


def test_A12_1_staffing_is_corrected_to_the_cadres_seated_before_the_start(
    engine: Engine,
) -> None:
    made = batch(engine, capacity=50, staff_count=5)  # 50 planned: 5 to 10 staff
    _seat(engine, made["id"], 6)  # 6 seated: 1 to 2 staff
    with pytest.raises(RuleRefused) as refused:
        service.start_batch(engine, made["id"])
    assert refused.value.articles == ("A12.1",)
    assert "6 名干部需工作人员 1 至 2 人" in str(refused.value)
    # a count fitting neither the seated cadres nor the capacity is refused
    with pytest.raises(RuleRefused) as refused:
        service.update_batch(engine, made["id"], staff_count=3)
    assert refused.value.articles == ("A12.1",)
    assert service.show_batch(engine, made["id"])["staff_count"] == 5
    corrected = service.update_batch(engine, made["id"], staff_count=2)
    assert corrected["staff_count"] == 2
    assert service.start_batch(engine, made["id"])["started_at"] is not None
    with pytest.raises(RuleRefused) as refused:
        service.update_batch(engine, made["id"], staff_count=1)
    assert refused.value.articles == ("A12.1",)
    assert service.show_batch(engine, made["id"])["staff_count"] == 2


def test_A18_3_a_contractor_is_evaluated_only_after_the_batch_ended(
    engine: Engine, clock: SimulatedClock
) -> None:
    made = batch(engine)  # 2024-06-03 to 06-09
    for day in (date(2024, 5, 6), date(2024, 6, 9)):
        clock.set(datetime(day.year, day.month, day.day, 20, 0, tzinfo=SHANGHAI))
        with pytest.raises(RuleRefused) as refused:
            service.evaluate_contractor(engine, made["id"], score=90, by="市退役军人事务局")
        assert refused.value.articles == ("A18.3",)
        assert refused.value.refusals[0].rule == "evaluation_after_end"
    assert service.show_batch(engine, made["id"])["evaluations"] == []
    clock.set(datetime(2024, 6, 10, 9, 0, tzinfo=SHANGHAI))
    service.evaluate_contractor(engine, made["id"], score=90, by="市退役军人事务局")
    assert [e["score"] for e in service.show_batch(engine, made["id"])["evaluations"]] == [90]


def test_A16_1_the_actual_cost_is_recorded_after_the_trip(
    engine: Engine, clock: SimulatedClock
) -> None:
    made = batch(engine)  # 2024-06-03 to 06-09, budget 60000.00
    with pytest.raises(RuleRefused) as refused:
        service.record_actual_cost(engine, made["id"], actual_cost=Decimal("58000.00"))
    assert refused.value.articles == ("A16.1",)
    with pytest.raises(RuleRefused) as refused:
        batch(
            engine,
            plan_id=made["plan_id"],
            contractor_id=made["contractor_id"],
            actual_cost=Decimal("1.00"),
        )
    assert refused.value.articles == ("A16.1",)
    assert len(service.list_batches(engine)) == 1
    clock.set(datetime(2024, 6, 10, 9, 0, tzinfo=SHANGHAI))
    recorded = service.record_actual_cost(engine, made["id"], actual_cost=Decimal("58230.50"))
    assert recorded["actual_cost"] == Decimal("58230.50")
    assert recorded["budget"] == Decimal("60000.00")


def _cli(url: str, now: str, *args: str) -> Result:
    command = ["--db", url, "--now", now, *args, "--as", "city_officer:赵敏", "--json"]
    return CliRunner().invoke(main, command, catch_exceptions=False)


def _ok(url: str, now: str, *args: str) -> Any:
    result = _cli(url, now, *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_A12_1_A13_1_A15_1_A16_1_batches_update_and_cost_on_the_command_line(
    db_url: str, clock: SimulatedClock, tmp_path: Path
) -> None:
    with Engine(db_url, clock=clock) as engine:
        engine.upgrade_schema()
        made = batch(engine, capacity=50, staff_count=5, emergency_plan_ref=None)
        _seat(engine, made["id"], 6)
    key, before, after = str(made["id"]), "2024-05-20T09:00", "2024-06-12T09:00"
    refused = _cli(db_url, before, "batches", "start", key)
    assert refused.exit_code == 1
    assert "A13.1" in refused.stderr
    assert "A12.1" in refused.stderr
    _ok(db_url, before, "batches", "update", key, "--staff", "2", "--emergency-plan", "YJ-7")
    assert _ok(db_url, before, "batches", "start", key)["started_at"] is not None
    late = _cli(db_url, before, "batches", "update", key, "--contractor-contact", "李强:0631-1")
    assert late.exit_code == 1
    assert "A15.1" in late.stderr
    early = _cli(db_url, before, "batches", "cost", key, "--actual", "58000")
    assert early.exit_code == 1
    assert "A16.1" in early.stderr
    assert _ok(db_url, after, "batches", "cost", key, "--actual", "58000")["actual_cost"] == (
        "58000.00"
    )


def test_A11_1_A15_1_batches_show_reads_itinerary_and_contacts_as_text(
    db_url: str, clock: SimulatedClock
) -> None:
    with Engine(db_url, clock=clock) as engine:
        engine.upgrade_schema()
        made = batch(engine, itinerary=[{"day": 1, "plan": "报到"}, {"day": 2, "plan": "参观"}])
    args = ["--db", db_url, "batches", "show", str(made["id"]), "--as", "city_officer:赵敏"]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "第1天：报到" in result.stdout
    assert "第2天：参观" in result.stdout
    assert "王芳 0635-1234567" in result.stdout
    assert "{" not in result.stdout
