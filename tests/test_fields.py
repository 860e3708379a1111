"""Evidence fields are checked against their declared types; every problem is named."""

from __future__ import annotations

from typing import Any

import pytest

from workflow import InputError
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
        pytest.param({"when": "2024-02-30"}, "when", "YYYY-MM-DD", id="impossible-date"),
        pytest.param({"score": "6"}, "score", "above the maximum", id="above-maximum"),
        pytest.param({"score": "0"}, "score", "below the minimum", id="below-minimum"),
        pytest.param({"score": "4.5"}, "score", "whole number", id="not-whole"),
        pytest.param({"score": True}, "score", "whole number", id="bool-is-not-a-number"),
        pytest.param({"health": "maybe"}, "health", "yes/no", id="not-yes-no"),
        pytest.param({"cause": "其它"}, "cause", "is not one of", id="not-a-choice"),
        pytest.param({"when": "  "}, "when", "is required", id="blank-required"),
        pytest.param({"colour": "red"}, "colour", "is not recorded by step", id="unknown-key"),
        pytest.param({"cost": "-1"}, "cost", "below the minimum", id="negative-cost"),
    ],
)
def test_bad_values_name_the_field(change: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(InputError) as bad:
        coerce_fields(SPECS, {**GOOD, **change}, step="s")
    assert field in str(bad.value)
    assert words in str(bad.value)
    assert bad.value.exit_code == 2


def test_all_problems_come_in_one_error() -> None:
    with pytest.raises(InputError) as bad:
        coerce_fields(SPECS, {"score": "9"}, step="s")
    message = str(bad.value)
    for name in ("when", "score", "health", "cause"):
        assert f"'{name}'" in message
