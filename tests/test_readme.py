"""The README's promises hold: its embedding example runs as printed, and its two commands are
the ones CI runs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_readme_opens_with_the_demo_and_the_test_command() -> None:
    first_block = re.search(r"```sh\n(.*?)```", README, re.S)
    assert first_block is not None
    assert README.index("```sh") < README.index("\n## ")
    demo, tests = first_block.group(1).strip().splitlines()
    assert demo.endswith("convalescence demo")
    assert "pytest" in tests


def test_the_embedding_example_runs_and_refuses_citing_a8_2(tmp_path: Path) -> None:
    block = re.search(r"```python\n(.*?)```", README, re.S)
    assert block is not None
    code = block.group(1)
    assert len(code.strip().splitlines()) <= 15
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(
        "('A4.4', 'A3.2') 按功勋荣誉为县级对象，市级荣誉疗养只接收市级对象"
    )
    assert "尚无2024 年度市级荣誉疗养计划" in result.stdout  # the county plan alone (A3.2)
    assert result.stdout.splitlines()[-1] == "family_consented 2"
    assert (tmp_path / "backoffice.db").exists()
