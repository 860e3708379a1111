"""The README's host-transaction example runs as printed, after the first example, in the same
directory (issue 16: the embedding section shows the pattern and the SQLite writer helper)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_host_transaction_example_runs_as_printed(tmp_path: Path) -> None:
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text("utf-8"), re.S)
    assert len(blocks) >= 2
    first, host = blocks[0], blocks[1]
    assert "begin_write(session)" in host
    assert "within=session" in host
    outputs = []
    for code in (first, host):
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
        outputs.append(result.stdout)
    assert outputs[1].strip() == "withdrawn"
