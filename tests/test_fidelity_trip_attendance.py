"""Issue 12, attendance (art. 6, 7, 13): a check-in date lies within the batch's dates, through
the engine on both databases; and the rule that attendance needs a started batch (A13.1),
table-driven on the fact the step's read gives it."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest
from factories import AGREEMENT, APPROVAL, AS_AGENCY, AS_CADRE, CONSENT, INSURANCE, cadre

from workflow import Engine
from workflow.clock import SHANGHAI
from workflow.definition.model import PolicyInfo
from workflow.errors import RuleRefused
from workflow.rules import RULES, GuardContext

SEED_BATCH = True  # the batch APPROVAL names: 2024-06-03 to 2024-06-09


def _insured(engine: Engine) -> int:
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
