"""A wheel built from the tree carries everything the engine reads at run time, so
`pip install .` outside the source tree still finds definitions, schema and migrations."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_wheel_ships_definitions_schema_and_migrations(tmp_path: Path) -> None:
    # build from a copy: setuptools writes build/ and *.egg-info into the tree it builds
    source = tmp_path / "source"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".git", "build", "*.egg-info", ".venv", "__pycache__", "*_cache", ".hypothesis", "*.db"
        ),
    )
    wheels = tmp_path / "wheels"
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(wheels),
            str(source),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = wheels.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        "definitions/__init__.py",
        "definitions/honor_convalescence.yaml",
        "workflow/definition/schema.json",
        "workflow/store/migrations/env.py",
        "workflow/store/migrations/script.py.mako",
        "workflow/store/migrations/versions/0001_initial.py",
        "notifications/__init__.py",
    }
    assert expected <= names, sorted(expected - names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "convalescence = workflow.cli.main:main" in (
        zipfile.ZipFile(wheel).read(entry_points).decode()
    )
