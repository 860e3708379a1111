"""Issue 12, attendance (art. 6, 7, 13): a check-in date lies within the batch's dates, through
the engine on both databases; attendance needs a started batch (A13.1): refused before
``batches start``, recorded after it, through the engine and the command line on both databases,
and the rule table-driven on the fact the step's read gives it."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

import pytest
from click.testing import CliRunner, Result
from factories import AGREEMENT, APPROVAL, AS_AGENCY, AS_CADRE, CONSENT, INSURANCE, cadre
from plans_setup import start_batch

from workflow import Engine
from workflow.cli.main import main
from workflow.clock import SHANGHAI
from workflow.definition.model import PolicyInfo
from workflow.errors import RuleRefused
from workflow.plans import service
from workflow.rules import RULES, GuardContext

SEED_BATCH = True  # the batch APPROVAL names: 2024-06-03 to 2024-06-09


def _insured(engine: Engine, *, started: bool = True) -> int:
    """The default cadre's case, insured, in the seeded batch; started unless told not."""
    engine.put_cadres([cadre()])
    case = engine.open_case("LC-DCF-0001", actor=AS_CADRE, data={"plan_level": "city"})
    for trigger, data in (
        ("consent", CONSENT),
        ("approve", APPROVAL),
        ("sign_agreement", AGREEMENT),
        ("insure", INSURANCE),
    ):
        actor = "family:张丽@LC-DCF-0001" if trigger == "consent" else AS_AGENCY
        case = engine.fire(case.id, trigger, actor=actor, data=data)
    if started:
        start_batch(engine)
    return case.id


@pytest.mark.parametrize("day", ["2024-06-02", "2024-06-10", "2025-06-03"])
def test_A7_1_a_check_in_outside_the_batch_dates_is_refused(engine: Engine, day: str) -> None:
    case_id = _insured(engine)
    with pytest.raises(RuleRefused) as refused:
        engine.fire(case_id, "attend", actor=AS_AGENCY, data={"checked_in_on": day})
    assert refused.value.articles == ("A7.1",)
    assert refused.value.refusals[0].rule == "checked_in_during_batch"
    assert "2024-06-03 至 2024-06-09" in str(refused.value)
    assert engine.case(case_id).state == "insured"


@pytest.mark.parametrize("day", ["2024-06-03", "2024-06-09"])
def test_A7_1_a_check_in_on_a_batch_day_is_recorded(engine: Engine, day: str) -> None:
    case_id = _insured(engine)
    case = engine.fire(case_id, "attend", actor=AS_AGENCY, data={"checked_in_on": day})
    assert case.state == "attended"
    assert case.evidence["checked_in_on"] == day


def test_A13_1_attendance_in_a_batch_not_started_is_refused_and_recorded_after_start(
    engine: Engine,
) -> None:
    case_id = _insured(engine, started=False)
    before = engine.history(case_id)
    with pytest.raises(RuleRefused) as refused:
        engine.fire(case_id, "attend", actor=AS_AGENCY, data={"checked_in_on": "2024-06-03"})
    assert refused.value.articles == ("A13.1",)
    assert [r.rule for r in refused.value.refusals] == ["batch_started"]
    assert "尚未开始" in str(refused.value)
    assert "batches start" in str(refused.value)
    assert engine.case(case_id).state == "insured"
    assert engine.history(case_id) == before  # a refusal writes nothing
    # the seeded batch plans 5 staff for 50; with one cadre seated it cannot start so (A12.1)
    with pytest.raises(RuleRefused) as understaffed:
        service.start_batch(engine, APPROVAL["batch_id"])
    assert understaffed.value.articles == ("A12.1",)
    service.update_batch(engine, APPROVAL["batch_id"], staff_count=1)
    started = service.start_batch(engine, APPROVAL["batch_id"])
    assert started["started_at"] is not None
    case = engine.fire(case_id, "attend", actor=AS_AGENCY, data={"checked_in_on": "2024-06-03"})
    assert (case.state, case.evidence["checked_in_on"]) == ("attended", "2024-06-03")
    assert engine.history(case_id)[-1].trigger == "attend"


def test_A13_1_a_batch_not_started_and_a_day_outside_it_are_both_named(engine: Engine) -> None:
    case_id = _insured(engine, started=False)
    with pytest.raises(RuleRefused) as refused:
        engine.fire(case_id, "attend", actor=AS_AGENCY, data={"checked_in_on": "2024-06-10"})
    assert set(refused.value.articles) == {"A13.1", "A7.1"}
    assert engine.case(case_id).state == "insured"


def _cli(url: str, *args: str) -> Result:
    command = ["--db", url, "--now", "2024-06-03T08:00", *args]
    return CliRunner().invoke(main, command, catch_exceptions=False)


def test_A13_1_on_the_command_line_attendance_waits_for_batches_start(engine: Engine) -> None:
    case_id = _insured(engine, started=False)
    url = engine.db.url.render_as_string(hide_password=False)
    contractor = f"contractor_staff:李强@{service.show_batch(engine, 1)['contractor_id']}"
    attend = ["cases", "fire", str(case_id), "attend", "--as", contractor]
    attend += ["--data", "checked_in_on=2024-06-03", "--json"]
    refused = _cli(url, *attend)
    assert refused.exit_code == 1, refused.output
    assert "A13.1" in refused.stderr
    assert "batches start" in refused.stderr
    assert engine.case(case_id).state == "insured"
    officer = ["--as", "city_officer:赵敏"]
    for args in (("update", "1", "--staff", "1"), ("start", "1")):
        done = _cli(url, "batches", *args, *officer)
        assert done.exit_code == 0, (args, done.output)
    recorded = _cli(url, *attend)
    assert recorded.exit_code == 0, recorded.output
    assert json.loads(recorded.stdout)["state"] == "attended"
    assert engine.case(case_id).state == "attended"


def _context(facts: dict[str, Any]) -> GuardContext:
    policy = PolicyInfo(
        title="聊城市军队离休退休干部荣誉疗养实施细则",
        document="聊退役军人发〔2023〕2号",
        issued_on=date(2023, 3, 23),
        effective_from=date(2023, 3, 23),
        effective_until=date(2025, 12, 31),
    )
    return GuardContext(today=date(2024, 6, 3), policy=policy, cadre=cadre(), facts=facts)


@pytest.mark.parametrize(
    ("facts", "refused"),
    [
        pytest.param({"seat_batch_started_at": None}, True, id="not-started"),
        pytest.param({}, True, id="fact-missing"),
        pytest.param(
            {"seat_batch_started_at": datetime(2024, 6, 3, 8, tzinfo=SHANGHAI)},
            False,
            id="started",
        ),
    ],
)
def test_A13_1_attendance_needs_a_started_batch(facts: dict[str, Any], refused: bool) -> None:
    rule = RULES["batch_started"]
    assert rule.needs == ("seat_batch_started_at",)
    refusal = rule(_context(facts))
    assert (refusal is not None) == refused
    if refusal is not None:
        assert refusal.article == "A13.1"
