"""Table-driven tests of the convalescence guard rules at their boundaries."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from definitions import bundled_directory
from workflow.definition.loader import load_definition_file
from workflow.facts import age_in_full_years
from workflow.rules import RULES, GuardContext, evaluate

DEFINITION = load_definition_file(bundled_directory() / "honor_convalescence.yaml")
POLICY = DEFINITION.policy
HEALTHY = {"self_care": True, "infectious": False, "mental": False, "critical": False}


def ctx(
    *, today: date = date(2024, 5, 6), cadre: dict[str, Any] | None = None, **evidence: Any
) -> GuardContext:
    record = {"name": "张建国", "birth_date": "1950-03-12", "health": HEALTHY}
    record.update(cadre or {})
    return GuardContext(
        today=today, policy=POLICY, cadre=record, evidence=evidence, rules=DEFINITION.rules
    )


def verdict(rule: str, context: GuardContext) -> str | None:
    refusal = RULES[rule](context)
    if refusal is not None:
        assert refusal.article == RULES[rule].article
        assert refusal.rule == rule
    return None if refusal is None else refusal.message


@pytest.mark.parametrize(
    ("birth", "on", "age"),
    [
        pytest.param(date(1944, 6, 3), date(2024, 6, 3), 80, id="80th-birthday-itself"),
        pytest.param(date(1944, 6, 4), date(2024, 6, 3), 79, id="day-before-80th-birthday"),
        pytest.param(date(1944, 2, 29), date(2024, 2, 28), 79, id="leap-day-born-in-leap-year"),
        pytest.param(date(1944, 2, 29), date(2023, 3, 1), 79, id="leap-day-born-common-year"),
        pytest.param(date(1944, 2, 29), date(2023, 2, 28), 78, id="leap-day-before-march"),
    ],
)
def test_age_is_counted_in_full_years(birth: date, on: date, age: int) -> None:
    assert age_in_full_years(birth, on) == age


@pytest.mark.parametrize(
    ("birth_date", "batch_start", "refused"),
    [
        # A8.2 80周岁以下 includes 80: refused only from the 81st birthday
        pytest.param("1944-06-03", "2024-06-03", False, id="exactly-80-on-first-day"),
        pytest.param("1944-06-02", "2024-06-03", False, id="80-the-day-before"),
        pytest.param("1943-06-03", "2024-06-03", True, id="81st-birthday-on-first-day"),
        pytest.param("1943-06-04", "2024-06-03", False, id="81-the-day-after-first-day"),
        pytest.param("1943-06-02", "2024-06-03", True, id="81-the-day-before"),
        pytest.param("1935-01-01", "2024-06-03", True, id="89"),
        pytest.param("1964-01-01", "2024-06-03", False, id="60"),
    ],
)
def test_a8_2_age_under_80_on_the_batch_first_day(
    birth_date: str, batch_start: str, refused: bool
) -> None:
    message = verdict(
        "under_age_limit_on_first_day",
        ctx(cadre={"birth_date": birth_date}, batch_start=batch_start),
    )
    assert (message is not None) is refused
    if refused:
        assert "80周岁" in str(message)


def test_a8_2_without_a_batch_date_the_age_cannot_be_checked() -> None:
    message = verdict("under_age_limit_on_first_day", ctx())
    assert message is not None
    assert "batch_start" in message


@pytest.mark.parametrize(
    ("start", "end", "refused"),
    [
        pytest.param("2024-06-03", "2024-06-09", False, id="7-days-including-travel"),
        pytest.param("2024-06-03", "2024-06-10", True, id="8-days"),
        pytest.param("2024-06-03", "2024-06-03", False, id="1-day"),
        pytest.param("2024-06-03", "2024-06-02", True, id="ends-before-start"),
        pytest.param("2024-02-26", "2024-03-03", False, id="7-days-across-leap-day"),
        pytest.param("2024-02-26", "2024-03-04", True, id="8-days-across-leap-day"),
    ],
)
def test_a6_2_at_most_seven_days_including_travel(start: str, end: str, refused: bool) -> None:
    message = verdict("stay_within_seven_days", ctx(batch_start=start, batch_end=end))
    assert (message is not None) is refused


@pytest.mark.parametrize(
    ("covered_from", "covered_until", "refused"),
    [
        pytest.param("2024-06-03", "2024-06-09", False, id="exactly-the-stay"),
        pytest.param("2024-06-01", "2024-06-30", False, id="longer-than-the-stay"),
        pytest.param("2024-06-04", "2024-06-09", True, id="one-day-short-at-the-start"),
        pytest.param("2024-06-03", "2024-06-08", True, id="one-day-short-at-the-end"),
        pytest.param("2024-06-10", "2024-06-20", True, id="after-the-stay"),
    ],
)
def test_a7_3_insurance_covers_every_day_of_the_stay(
    covered_from: str, covered_until: str, refused: bool
) -> None:
    message = verdict(
        "insurance_covers_stay",
        ctx(
            batch_start="2024-06-03",
            batch_end="2024-06-09",
            covered_from=covered_from,
            covered_until=covered_until,
        ),
    )
    assert (message is not None) is refused


@pytest.mark.parametrize(
    ("today", "refused"),
    [
        pytest.param(date(2023, 3, 22), True, id="day-before-issue"),
        pytest.param(date(2023, 3, 23), False, id="day-of-issue"),
        pytest.param(date(2025, 12, 31), False, id="last-day"),
        pytest.param(date(2026, 1, 1), True, id="expired"),
    ],
)
def test_a21_1_policy_in_force(today: date, refused: bool) -> None:
    message = verdict("policy_in_force", ctx(today=today))
    assert (message is not None) is refused
    if refused:
        assert "聊退役军人发〔2023〕2号" in str(message)


@pytest.mark.parametrize(
    ("health", "words"),
    [
        pytest.param({"self_care": False}, ["生活不能自理"], id="not-self-caring"),
        pytest.param({"infectious": True}, ["传染病"], id="infectious"),
        pytest.param({"mental": True}, ["精神疾病"], id="mental"),
        pytest.param({"critical": True}, ["危急重症"], id="critical"),
        pytest.param(
            {"self_care": False, "critical": True},
            ["生活不能自理", "危急重症"],
            id="two-problems-both-named",
        ),
    ],
)
def test_a8_1_health_problems_are_refused_and_named(
    health: dict[str, bool], words: list[str]
) -> None:
    message = verdict("fit_for_convalescence", ctx(cadre={"health": {**HEALTHY, **health}}))
    assert message is not None
    for word in words:
        assert word in message


def test_a8_1_a_healthy_cadre_or_one_without_a_declaration_passes() -> None:
    assert verdict("fit_for_convalescence", ctx()) is None
    assert verdict("fit_for_convalescence", ctx(cadre={"health": None})) is None


def test_every_refusal_of_a_step_is_reported_not_just_the_first() -> None:
    verdict = evaluate(
        ["under_age_limit_on_first_day", "stay_within_seven_days"],
        ctx(cadre={"birth_date": "1930-01-01"}, batch_start="2024-06-03", batch_end="2024-06-30"),
    )
    assert [r.article for r in verdict.refusals] == ["A8.2", "A6.2"]


def test_every_rule_cites_an_article_of_the_policy() -> None:
    for name, rule in RULES.items():
        assert rule.article.startswith("A"), name
        assert "第" in rule.summary, name


def test_a_waived_rule_is_reported_apart_from_the_refusals_that_stand() -> None:
    """A8.2 is "in principle": with an exception on record it no longer blocks, but the
    verdict keeps it so the step's history can show the exception was relied on."""
    context = ctx(
        cadre={"birth_date": "1930-01-01"}, batch_start="2024-06-03", batch_end="2024-06-30"
    )
    verdict = evaluate(
        ["under_age_limit_on_first_day", "stay_within_seven_days"],
        replace(context, waived=frozenset({"under_age_limit_on_first_day"})),
    )
    assert [r.article for r in verdict.refusals] == ["A6.2"]
    assert [r.article for r in verdict.waived] == ["A8.2"]


@pytest.mark.parametrize(
    ("today", "refused"),
    [
        pytest.param(date(2023, 12, 31), False, id="last-day-of-2023-cycle"),
        pytest.param(date(2024, 1, 1), False, id="first-day-of-2024-2025-cycle"),
        pytest.param(date(2026, 1, 1), True, id="after-every-cycle"),
    ],
)
def test_a9_1_registration_falls_in_a_cycle(today: date, refused: bool) -> None:
    assert DEFINITION.rules is not None
    context = replace(ctx(today=today), rules=DEFINITION.rules)
    assert (verdict("in_a_cycle", context) is not None) is refused


def test_a9_2_other_participations_in_the_cycle_refuse_and_are_named() -> None:
    context = replace(ctx(), facts={"cycle": "2024-2025", "participations_in_cycle": [3, 9]})
    message = verdict("once_per_cycle", context)
    assert message is not None
    assert "案件 3、案件 9" in message
    assert verdict("once_per_cycle", replace(ctx(), facts={"participations_in_cycle": []})) is None


@pytest.mark.parametrize(
    ("province", "refused"),
    [
        pytest.param("山东", False, id="shandong"),
        pytest.param("山东省", False, id="shandong-with-suffix"),
        pytest.param("江苏", True, id="out-of-province"),
        pytest.param("", True, id="not-recorded"),
    ],
)
def test_a6_2_inside_shandong_in_principle(province: str, refused: bool) -> None:
    assert (verdict("within_shandong", ctx(province=province)) is not None) is refused


@pytest.mark.parametrize(
    ("size", "refused"),
    [
        pytest.param(1, False, id="1"),
        pytest.param(50, False, id="50"),
        pytest.param(51, True, id="51"),
        pytest.param(None, True, id="not-recorded"),
    ],
)
def test_a6_2_at_most_fifty_cadres_in_principle(size: int | None, refused: bool) -> None:
    message = verdict("at_most_fifty_per_batch", ctx(batch_size=size))
    assert (message is not None) is refused


WITHOUT_LIMITS = [
    ("stay_within_seven_days", {"batch_start": "2024-06-03", "batch_end": "2024-06-04"}),
    ("at_most_fifty_per_batch", {"batch_size": 3}),
    ("within_shandong", {"province": "山东"}),
    ("under_age_limit_on_first_day", {"batch_start": "2024-06-03"}),
]


@pytest.mark.parametrize(("rule", "evidence"), [pytest.param(*w, id=w[0]) for w in WITHOUT_LIMITS])
def test_a_definition_without_limits_refuses_saying_so(rule: str, evidence: dict[str, Any]) -> None:
    """The figures live only in the definition's rules block: without it a rule cannot pass
    silently on a number it does not have, it says what is missing."""
    message = verdict(rule, replace(ctx(**evidence), rules=None))
    assert message is not None
    assert "rules 中没有 limits" in message
    assert verdict(rule, ctx(**evidence)) is None  # the bundled figures let it pass
