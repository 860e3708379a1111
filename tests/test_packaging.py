"""A wheel built from the tree carries everything the engine reads at run time, so
`pip install .` outside the source tree still finds definitions, schema and migrations; FastAPI
and uvicorn are the ``server`` extra (issue 16 item 6), which the test extra pulls in."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
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
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("METADATA")))
    requires = [
        line.removeprefix("Requires-Dist: ")
        for line in metadata.decode().splitlines()
        if line.startswith("Requires-Dist: ")
    ]
    for server_package in SERVER_PACKAGES:
        (found,) = [r for r in requires if re.split(r"[<>=!~;\[ ]", r)[0] == server_package]
        assert found.endswith('extra == "server"'), found
    assert any(r.startswith("convalescence-workflow[server]") for r in requires), requires


# fastapi-offline: Swagger UI's files for /docs, served without the internet (issue 19)
SERVER_PACKAGES = ("fastapi", "fastapi-offline", "uvicorn")
WITHOUT_SERVER = (
    "import sys\n"
    "for name in ('fastapi', 'uvicorn', 'starlette'):\n"
    "    sys.modules[name] = None  # import raises ModuleNotFoundError, as when not installed\n"
    "from workflow.cli.main import main\n"
    "main(sys.argv[1:])\n"
)


def test_the_server_is_an_extra_that_the_test_extra_includes() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = [requirement.split(">")[0].split("[")[0] for requirement in project["dependencies"]]
    assert not set(SERVER_PACKAGES) & set(names)
    extras = project["optional-dependencies"]
    assert sorted(r.split(">")[0] for r in extras["server"]) == sorted(SERVER_PACKAGES)
    assert f"{project['name']}[server]" in extras["test"]


def without_server(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_SERVER, *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        timeout=300,
    )


def test_without_the_server_extra_serve_names_it(tmp_path: Path) -> None:
    done = without_server("serve", "--tokens", "tokens.yaml", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "pip install 'convalescence-workflow[server]'" in done.stderr
    assert "Traceback" not in done.stderr


def test_without_the_server_extra_a_token_is_still_hashed(tmp_path: Path) -> None:
    """The token file's helpers need no FastAPI (`workflow.api` loads its names lazily): an
    office can prepare its token file before installing the server."""
    done = without_server(
        "tokens", "hash", "--as", "agency_officer:王芳@东昌府区军休所", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert "王芳" in done.stdout
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_the_demo_runs_without_the_server_extra(tmp_path: Path) -> None:
    """README's first command installs no extra and runs `convalescence demo`."""
    done = without_server("demo", "--cadres", "5", "--dir", str(tmp_path / "demo"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "demo" / "performance-2024.html").exists()
