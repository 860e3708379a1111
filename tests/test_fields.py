"""Evidence fields are checked against their declared types; every problem is named."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from workflow import InputError, i18n
from workflow.definition.model import FieldSpec
from workflow.fields import coerce_fields

SPECS = (
    FieldSpec(name="when", type="date", label="日期"),
    FieldSpec(name="score", type="integer", label="满意度", minimum=1, maximum=5),
    FieldSpec(name="health", type="boolean", label="健康原因"),
    FieldSpec(name="cause", type="choice", label="原因", choices=("健康原因", "其他原因")),
    FieldSpec(name="note", type="text", label="备注", required=False),
    FieldSpec(name="cost", type="number", label="费用", required=False, minimum=0),
)
GOOD: dict[str, Any] = {"when": "2024-06-03", "score": "5", "health": "是", "cause": "健康原因"}


@pytest.fixture
def restore_language() -> Iterator[None]:
    yield
    i18n.set_language(None)


def test_text_from_the_cli_becomes_typed_json_values() -> None:
    assert coerce_fields(SPECS, {**GOOD, "cost": "12.5"}, step="s") == {
        "when": "2024-06-03",
        "score": 5,
        "health": True,
        "cause": "健康原因",
        "cost": 12.5,
    }


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        pytest.param({"when": "2024-02-30"}, "when", "应形如 YYYY-MM-DD", id="impossible-date"),
        pytest.param({"score": "6"}, "score", "6 超过上限 5", id="above-maximum"),
        pytest.param({"score": "0"}, "score", "0 低于下限 1", id="below-minimum"),
        pytest.param({"score": "4.5"}, "score", "'4.5' 不是整数", id="not-whole"),
        pytest.param({"score": True}, "score", "True 不是整数", id="bool-is-not-a-number"),
        pytest.param({"health": "maybe"}, "health", "'maybe' 不是“是”或“否”", id="not-yes-no"),
        pytest.param(
            {"cause": "其它"}, "cause", "不是以下之一：健康原因、其他原因", id="not-a-choice"
        ),
        pytest.param({"when": "  "}, "when", "字段 'when'（日期）必填", id="blank-required"),
        pytest.param({"colour": "red"}, "colour", "不记录字段 'colour'", id="unknown-key"),
        pytest.param({"cost": "-1"}, "cost", "-1 低于下限 0", id="negative-cost"),
    ],
)
def test_bad_values_name_the_field(change: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(InputError) as bad:
        coerce_fields(SPECS, {**GOOD, **change}, step="s")
    assert field in str(bad.value)
    assert words in str(bad.value)
    assert bad.value.exit_code == 2
    assert bad.value.field == field


def test_the_problems_are_english_when_asked(restore_language: None) -> None:
    """One voice (issue 11): the catalogue gives the same problems in English."""
    i18n.set_language("en")
    with pytest.raises(InputError) as bad:
        coerce_fields(SPECS, {**GOOD, "score": "6", "colour": "red"}, step="s")
    assert str(bad.value) == (
        "step 's': field 'colour' is not recorded by step 's' (fields: when, score, health, "
        "cause, note, cost); field 'score' (满意度): 6 is above the maximum 5"
    )
    assert bad.value.field == "colour"


def test_all_problems_come_in_one_error() -> None:
    with pytest.raises(InputError) as bad:
        coerce_fields(SPECS, {"score": "9"}, step="s")
    message = str(bad.value)
    for name in ("when", "score", "health", "cause"):
        assert f"'{name}'" in message
