"""Every benchmark still runs: each one's ``--smoke`` size, as a subprocess, in the default suite.

Benchmarks run on demand, so nothing else would notice when a change to the engine breaks one
(``scheduler_sweep.py`` once failed at HEAD with ``NOT NULL constraint failed:
history.prev_hash`` for weeks). The smoke sizes are tiny: their figures mean nothing, only that
the benchmark gets to its ratio line and exits 0. A new file in ``benchmarks/`` without a case
here fails `test_every_benchmark_has_a_smoke_run`.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"

# the line each benchmark ends its report with: the ratio against its own baseline
RATIO_LINES = {
    "transitions.py": r"^ratio engine/raw = \d+\.\d\d",
    "memory.py": r"^ratio \d+ / \d+ cases: traced \d+\.\d+",
    "roster_import.py": r"^ratio import JSON / raw executemany: \d+\.\dx",
    "scheduler_sweep.py": r"^ratio steady sweep / full pass at \d+ cases \(postgresql\): timer "
    r"\d+\.\d{3} \(\d+\.\d\d ms\), condolence \d+\.\d{3}",
    "api_load.py": r"^ratio 2/1: \d+\.\d+; \d+ cases checked: no error",
    "whatif.py": r"^ratio what-if / \(raw read \+ bare explain\): \d+\.\d\dx",
    "listings.py": r"^ratio listing / bare SQL at \d+ cases \(postgresql\): deep page \d+\.\d\d",
    "report_scale.py": r"^ratio report / bare SQL at \d+ cases \(postgresql\): \d+\.\d\d",
    # issue 18: zero violations, and at least one process killed
    "soak.py": r"^ratio violations / invariants checked: 0 / \d+ \(processes killed [1-9]",
    # issue 19: the console's first pages within 150 ms
    "console_pages.py": r"^ratio page / bare keyset SELECT: inbox \d+\.\dx, cases \d+\.\dx; "
    r"target 150 ms: met",
}
# a real server with uvicorn workers and client processes: ~10 s even at the smoke size
SLOW = {
    "api_load.py": (pytest.mark.slow, pytest.mark.postgres),
    # six processes restarted every simulated day and SIGKILLed: ~30 s at the smoke size
    "soak.py": (pytest.mark.slow, pytest.mark.postgres),
}


def test_every_benchmark_has_a_smoke_run() -> None:
    assert sorted(path.name for path in BENCHMARKS.glob("*.py")) == sorted(RATIO_LINES)


@pytest.mark.slow  # a benchmark process each (5-20 s): in the default suite, not the inner loop
@pytest.mark.parametrize(
    "script",
    [pytest.param(name, marks=SLOW.get(name, ()), id=name[:-3]) for name in sorted(RATIO_LINES)],
)
def test_smoke_run_reaches_its_ratio_line(script: str, tmp_path: Path) -> None:
    # run from a scratch directory, so a benchmark that wrote beside itself would show there
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), "--smoke"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert re.search(RATIO_LINES[script], result.stdout, re.MULTILINE), result.stdout[-4000:]
