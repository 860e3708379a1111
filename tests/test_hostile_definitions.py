"""Hostile definition and holiday files are refused cleanly (issue 17, "Bad input gets a clean
refusal"): an alias bomb or a file nested thousands deep gives exit 2 naming the file, line and
column, quickly and in little memory, never a RecursionError or an exhausted machine."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from workflow import DefinitionError
from workflow.cli.main import main
from workflow.definition import yaml_source
from workflow.definition.loader import load_definition_text
from workflow.definition.yaml_source import MAX_DEPTH, parse_yaml


def billion_laughs(levels: int = 8, width: int = 9) -> str:
    lines = ["a0: &a0 [" + ", ".join(['"lol"'] * width) + "]"]
    for level in range(1, levels + 1):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def nested(depth: int) -> str:
    return "states: " + "[" * depth + "]" * depth + "\n"


def nested_mappings(depth: int) -> str:
    return "states: " + "{a: " * depth + "1" + "}" * depth + "\n"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (billion_laughs(), "别名"),  # 72 aliases of 9: 387 million values once expanded
        (billion_laughs(levels=5, width=20), "别名"),
        (nested(990), "嵌套"),  # under libyaml's own 1,000 limit: our conversion recursed
        (nested_mappings(990), "嵌套"),
    ],
    ids=["bomb-8x9", "bomb-5x20", "sequences-990-deep", "mappings-990-deep"],
)
def test_a_hostile_definition_is_one_located_problem(text: str, words: str) -> None:
    started = time.monotonic()
    with pytest.raises(DefinitionError) as raised:
        load_definition_text(text, "hostile.yaml", trust_cache=False)
    assert time.monotonic() - started < 5
    (problem,) = raised.value.problems
    assert problem.file == "hostile.yaml"
    assert problem.line == 1
    assert problem.column > 1
    assert words in problem.message


def test_expansion_is_capped_even_with_few_aliases() -> None:
    """Three aliases of a wide list still expand past the value cap; the cap counts values."""
    wide = "a: &a [" + ", ".join(str(n) for n in range(80_000)) + "]\nb: [*a, *a, *a]\n"
    located = parse_yaml(wide, "wide.yaml")
    assert located.data is None
    (problem,) = located.problems
    assert "个" in problem.message
    assert problem.file == "wide.yaml"


def test_the_pure_python_composer_recursing_is_a_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without libyaml, PyYAML's composer recurses once per level and raised RecursionError."""
    monkeypatch.setattr(yaml_source, "_LOADER", yaml.SafeLoader)
    located = parse_yaml(nested(50_000), "deep.yaml")
    assert located.data is None
    (problem,) = located.problems
    assert problem.file == "deep.yaml"
    assert "嵌套" in problem.message


def test_a_legitimate_alias_and_the_depth_limit_itself_still_load() -> None:
    text = "a: &x {k: 1}\nb: *x\nc: " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1) + "\n"
    located = parse_yaml(text, "ok.yaml")
    assert located.problems == []
    assert located.data["b"] == {"k": 1}


@pytest.mark.parametrize("kind", ["bomb", "deep"])
def test_definitions_validate_exits_2_naming_the_file(tmp_path: Path, kind: str) -> None:
    path = tmp_path / f"{kind}.yaml"
    path.write_text(billion_laughs() if kind == "bomb" else nested(50_000), encoding="utf-8")
    result = CliRunner().invoke(
        main, ["--lang", "zh", "definitions", "validate", str(path)], catch_exceptions=False
    )
    assert result.exit_code == 2, result.output
    assert f"{path}:1:" in result.output
    assert "Traceback" not in result.output


def test_holiday_file_bomb_exits_2(tmp_path: Path) -> None:
    """The --holidays file goes through the same parser."""
    path = tmp_path / "holidays.yaml"
    path.write_text(billion_laughs(), encoding="utf-8")
    result = CliRunner().invoke(
        main,
        ["--lang", "zh", "--holidays", str(path), "calendar", "show", "2027"],
        catch_exceptions=False,
    )
    assert result.exit_code == 2, result.output
    assert str(path) in result.output
