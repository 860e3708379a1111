"""ruff and mypy --strict stay clean: CI runs them as part of the suite, so style cannot rot.

The tools are pinned to exact versions in two places, the [test] extra (what CI and a developer
install) and ``.pre-commit-config.yaml`` (what a commit runs); the last test keeps the two and
the installed tools in agreement, so a new release of either changes nothing until both pins
move together.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    assert found, f"{name} is not installed; install the project with its [test] extra"
    return found


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, check=False, timeout=600
    )


@pytest.mark.slow
def test_ruff_finds_nothing() -> None:
    result = _run(_tool("ruff"), "check", ".")
    assert result.returncode == 0, result.stdout[-4000:]


@pytest.mark.slow
def test_ruff_format_changes_nothing() -> None:
    result = _run(_tool("ruff"), "format", "--check", ".")
    assert result.returncode == 0, result.stdout[-4000:]


@pytest.mark.slow
def test_mypy_strict_finds_nothing_in_the_packages_and_the_tests() -> None:
    result = _run(_tool("mypy"))
    assert result.returncode == 0, result.stdout[-4000:]
    checked = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mypy"]
    assert {"workflow", "notifications", "tests"} <= set(checked["files"])


def _pinned_in_test_extra() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pins = {}
    for requirement in project["optional-dependencies"]["test"]:
        if found := re.fullmatch(r"(ruff|mypy)==([0-9.]+)", requirement):
            pins[found[1]] = found[2]
    return pins


def test_ruff_and_mypy_are_pinned_alike_everywhere() -> None:
    pins = _pinned_in_test_extra()
    assert set(pins) == {"ruff", "mypy"}, "the [test] extra must pin ruff==X and mypy==Y"
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    revs = {repo["repo"]: repo.get("rev") for repo in config["repos"]}
    assert revs["https://github.com/astral-sh/ruff-pre-commit"] == f"v{pins['ruff']}"
    local = [hook for repo in config["repos"] if repo["repo"] == "local" for hook in repo["hooks"]]
    assert [hook["entry"] for hook in local if hook["id"] == "mypy"] == ["mypy"]
    installed = {name: version(name) for name in pins}
    assert installed == pins, "reinstall with pip install -e '.[test]'"


def test_every_requirement_id_the_code_cites_is_in_docs_policy() -> None:
    """docs/policy.md is the article table the code's ``A<article>.<n>`` ids refer to."""
    cited = {
        found
        for folder in ("workflow", "notifications", "definitions", "tests")
        for path in (ROOT / folder).rglob("*")
        if path.suffix in {".py", ".yaml", ".j2"}
        for found in re.findall(r"\bA(?:[1-9]|1\d|2[01])\.\d\b", path.read_text(encoding="utf-8"))
    }
    documented = set(re.findall(r"\*\*(A\d+\.\d)\*\*", (ROOT / "docs" / "policy.md").read_text()))
    assert cited, "no requirement ids found: the pattern is wrong"
    assert sorted(cited - documented) == []


def test_the_docs_point_only_inside_the_repository() -> None:
    pages = [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]
    outside = [page.name for page in pages if "shared/" in page.read_text(encoding="utf-8")]
    assert outside == [], "point to docs/policy.md or docs/roster-formats.md instead"
