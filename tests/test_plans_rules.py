"""The plan and batch rules at their boundaries, table-driven; no database. The figures are the
bundled definition's ``rules.limits`` and ``contractor_exit_score``, read through
`workflow.policy` as the service reads them."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from definitions import bundled_directory
from workflow import policy
from workflow.definition.loader import load_definition_file
from workflow.plans import rules
from workflow.plans.rules import Validity

D = date(2024, 6, 1)
RULES = load_definition_file(bundled_directory() / "honor_convalescence.yaml").rules
LIMITS = policy.limits(RULES)
EXIT_SCORE = policy.exit_score(RULES)


@pytest.mark.parametrize(
    ("end", "article"),
    [
        pytest.param(date(2024, 6, 1), None, id="1-day"),
        pytest.param(date(2024, 6, 7), None, id="7-days-ok"),
        pytest.param(date(2024, 6, 8), "A6.2", id="8-days-refused"),
        pytest.param(date(2024, 5, 31), "A6.1", id="end-before-start"),
    ],
)
def test_days_including_travel(end: date, article: str | None) -> None:
    refusal = rules.check_dates(D, end, LIMITS)
    assert (refusal.article if refusal else None) == article


@pytest.mark.parametrize(
    ("cadres", "exceptions", "refused"),
    [
        pytest.param(50, set(), False, id="50-ok"),
        pytest.param(51, set(), True, id="51-refused"),
        pytest.param(51, {"over_50"}, False, id="51-with-exception"),
        pytest.param(51, {"out_of_province"}, True, id="51-other-exception"),
    ],
)
def test_batch_size(cadres: int, exceptions: set[str], refused: bool) -> None:
    refusal = rules.check_size(cadres, exceptions, LIMITS)
    assert (refusal is not None) == refused
    if refusal:
        assert (refusal.article, refusal.rule) == ("A6.2", "over_50")


@pytest.mark.parametrize(
    ("province", "exceptions", "refused"),
    [
        pytest.param("山东", set(), False, id="shandong"),
        pytest.param("山东省", set(), False, id="shandong-with-province-suffix"),
        pytest.param("江苏", set(), True, id="jiangsu-refused"),
        pytest.param("江苏", {"out_of_province"}, False, id="jiangsu-with-exception"),
    ],
)
def test_province(province: str, exceptions: set[str], refused: bool) -> None:
    refusal = rules.check_province(province, exceptions, LIMITS)
    assert (refusal is not None) == refused
    if refusal:
        assert refusal.article == "A6.2"


@pytest.mark.parametrize(
    ("cadres", "low", "high"),
    [(1, 1, 1), (5, 1, 1), (10, 1, 2), (11, 2, 3), (50, 5, 10)],
    ids=["n=1", "n=5", "n=10", "n=11", "n=50"],
)
def test_staff_ratio_at_both_bounds(cadres: int, low: int, high: int) -> None:
    assert LIMITS.staff_ratio == (5, 10)  # A12.1 1:5 to 1:10, read from the definition
    assert rules.staff_bounds(cadres, LIMITS) == (low, high)
    assert rules.check_staff(low, cadres, LIMITS) is None
    assert rules.check_staff(high, cadres, LIMITS) is None
    for wrong in (low - 1, high + 1):
        refusal = rules.check_staff(wrong, cadres, LIMITS)
        assert refusal is not None
        assert refusal.article == "A12.1"


@pytest.mark.parametrize(
    ("safety", "emergency", "refused"),
    [
        ("AQ-1", "YJ-1", False),
        (None, "YJ-1", True),
        ("AQ-1", None, True),
        ("  ", "YJ-1", True),
        (None, None, True),
    ],
)
def test_start_needs_both_plans(safety: str | None, emergency: str | None, refused: bool) -> None:
    refusal = rules.check_start(safety, emergency)
    assert (refusal is not None) == refused
    if refusal:
        assert (refusal.article, refusal.rule) == ("A13.1", "start_batch")


QUALIFIED = Validity("医疗资质", date(2024, 1, 1), date(2024, 6, 5))
AGREED = Validity("XY-1", date(2024, 5, 1), date(2024, 12, 31))


@pytest.mark.parametrize(
    ("end", "qualifications", "agreements", "refused"),
    [
        pytest.param(date(2024, 6, 5), [QUALIFIED], [AGREED], False, id="last-day-covered"),
        pytest.param(date(2024, 6, 6), [QUALIFIED], [AGREED], True, id="qualification-lapses"),
        pytest.param(date(2024, 6, 5), [], [AGREED], True, id="no-qualification"),
        pytest.param(date(2024, 6, 5), [QUALIFIED], [], True, id="no-agreement"),
    ],
)
def test_contractor_papers(
    end: date, qualifications: list[Validity], agreements: list[Validity], refused: bool
) -> None:
    refusal = rules.check_contractor_papers(D, end, qualifications, agreements)
    assert (refusal is not None) == refused
    if refusal:
        assert refusal.article == "A14.1"


@pytest.mark.parametrize(
    ("scores", "refused"),
    [
        pytest.param([], False, id="not-yet-evaluated"),
        pytest.param([60], False, id="at-threshold"),
        pytest.param([59], True, id="below"),
        pytest.param([80, 39], True, id="average-59.5"),
        pytest.param([80, 40], False, id="average-60"),
    ],
)
def test_contractor_exit(scores: list[int], refused: bool) -> None:
    refusal = rules.check_contractor_standing(scores, EXIT_SCORE)
    assert (refusal is not None) == refused
    if refusal:
        assert refusal.article == "A18.3"


@pytest.mark.parametrize(
    ("start", "end", "refused"),
    [
        pytest.param(date(2024, 1, 1), date(2025, 12, 31), False, id="two-years"),
        pytest.param(date(2024, 1, 1), date(2026, 1, 1), True, id="two-years-and-a-day"),
        pytest.param(date(2024, 2, 29), date(2026, 2, 28), False, id="from-leap-day"),
        pytest.param(date(2024, 2, 29), date(2026, 3, 1), True, id="from-leap-day-too-long"),
    ],
)
def test_cycle_at_most_two_years(start: date, end: date, refused: bool) -> None:
    refusal = rules.check_cycle("c", start, end, LIMITS)
    assert (refusal is not None) == refused
    if refusal:
        assert refusal.article == "A9.1"


def test_plan_cycle_must_be_known() -> None:
    assert rules.check_known_cycle("2024-2025", ["2023", "2024-2025"]) is None
    refusal = rules.check_known_cycle("2026", ["2023", "2024-2025"])
    assert refusal is not None
    assert refusal.article == "A9.1"


def test_the_figures_are_the_definitions() -> None:
    """A6.2, A8.2, A9.1, A18.3: one home, the definition's rules block."""
    assert (LIMITS.batch_max_days, LIMITS.batch_max_cadres, LIMITS.home_province) == (7, 50, "山东")
    assert (LIMITS.age_limit, LIMITS.cycle_max_years, EXIT_SCORE) == (80, 2, 60.0)


def test_a_successor_policy_with_other_figures_applies_them() -> None:
    """A successor policy is a new file: the same rules apply its figures, not 7/50/山东."""
    successor = replace(LIMITS, batch_max_days=5, batch_max_cadres=30, home_province="河北")
    assert rules.check_dates(D, date(2024, 6, 5), successor) is None
    assert rules.check_dates(D, date(2024, 6, 6), successor) is not None
    assert rules.check_size(31, set(), successor) is not None
    assert rules.check_province("山东", set(), successor) is not None
    assert rules.check_province("河北", set(), successor) is None
    longer = replace(LIMITS, cycle_max_years=3)
    assert rules.check_cycle("c", date(2024, 1, 1), date(2026, 12, 31), longer) is None
