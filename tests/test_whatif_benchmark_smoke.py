"""``benchmarks/whatif.py`` still runs: its ``--smoke`` size, as a subprocess, reaching its ratio
line (issue 13 item 3). Kept beside test_benchmarks_smoke.py, whose table lists the older
benchmarks; the figures at this size mean nothing."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCHMARK = Path(__file__).resolve().parents[1] / "benchmarks" / "whatif.py"
RATIO_LINE = r"^ratio what-if / \(raw read \+ bare explain\): \d+\.\d\dx"


def test_whatif_benchmark_smoke_run_reaches_its_ratio_line(tmp_path: Path) -> None:
    # run from a scratch directory, so a benchmark that wrote beside itself would show there
    result = subprocess.run(
        [sys.executable, str(BENCHMARK), "--smoke"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert re.search(RATIO_LINE, result.stdout, re.MULTILINE), result.stdout[-4000:]
    assert re.search(r"open cases refused at a next step", result.stdout), result.stdout
