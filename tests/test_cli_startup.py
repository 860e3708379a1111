"""The command line starts cheaply: ``--help`` lists every command without loading the engine,
the database layer, Jinja2 or FastAPI, and each listed command loads its own module only.
Global options may follow the command as well as precede it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from factories import cadre

from workflow.cli.main import COMMANDS, hoist_global_options, main

HEAVY = ("sqlalchemy", "jinja2", "fastapi", "alembic", "workflow.engine")


def test_help_loads_none_of_the_heavy_modules() -> None:
    code = (
        "import sys\n"
        "from workflow.cli.main import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip().splitlines()[-1] == "[]", result.stdout


def test_every_listed_command_loads_and_the_help_lists_them_all() -> None:
    help_text = CliRunner().invoke(main, ["--help"]).output
    for name in COMMANDS:
        command = main.get_command(click.Context(main), name)
        assert isinstance(command, click.Command), name
        assert command.name == name
        assert name in help_text
    assert main.get_command(click.Context(main), "no-such-command") is None


@pytest.mark.parametrize(
    ("args", "hoisted"),
    [
        (["cases", "list", "--db", "X"], ["--db", "X", "cases", "list"]),
        (["cases", "list", "--db=X", "--json"], ["--db=X", "cases", "list", "--json"]),
        (
            ["scheduler", "run", "--once", "--now", "2024-05-06T10:00"],
            ["--now", "2024-05-06T10:00", "scheduler", "run", "--once"],
        ),
        (["--db", "X", "cases", "list"], ["--db", "X", "cases", "list"]),
        (["cases", "list", "--lang", "en"], ["--lang", "en", "cases", "list"]),
        (
            ["--db", "X", "audit", "verify", "--lang", "en"],
            ["--db", "X", "--lang", "en", "audit", "verify"],
        ),
        (["cases", "fire", "1", "x", "--", "--db"], ["cases", "fire", "1", "x", "--", "--db"]),
    ],
)
def test_global_options_may_follow_the_command(args: list[str], hoisted: list[str]) -> None:
    assert hoist_global_options(args) == hoisted


def test_a_global_option_after_the_command_takes_effect(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'after.db'}"
    result = CliRunner().invoke(main, ["calendar", "status", "--now", "2026-11-02T09:00", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["today"] == "2026-11-02"
    result = CliRunner().invoke(main, ["db", "upgrade", "--json", "--db", url])
    assert result.exit_code == 0, result.output  # only db upgrade creates a database (issue 17)
    assert (tmp_path / "after.db").exists()


HOST_HEAVY = ("alembic", "mako", "pygments", "fastapi", "uvicorn")


def test_import_workflow_loads_nothing_heavy() -> None:
    """Issue 16 item 6: a host's ``import workflow`` loads no database layer, Alembic (with
    Mako and Pygments), definition loader (jsonschema, PyYAML) or API server."""
    heavy = (*HOST_HEAVY, "sqlalchemy", "jsonschema", "yaml", "jinja2")
    code = f"import sys, workflow\nprint([m for m in {heavy!r} if m in sys.modules])\n"
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]", result.stdout
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines()}
    assert not {"alembic", "jsonschema", "yaml", "sqlalchemy"} & imported


def test_a_host_stepping_on_a_migrated_database_loads_no_alembic_or_server(
    tmp_path: Path,
) -> None:
    """The one-time schema check reads the revision files and the version row itself: a host
    that builds an Engine, steps and reads never loads Alembic, Mako, Pygments or FastAPI."""
    url = f"sqlite:///{tmp_path / 'host.db'}"
    migrate = (  # the office migrates and makes the year's plan a registration names (A3.2)
        "from datetime import datetime\n"
        "from decimal import Decimal\n"
        "from workflow import Engine, SimulatedClock, SHANGHAI\n"
        "from workflow.plans.service import create_plan\n"
        f"with Engine({url!r}, clock=SimulatedClock(datetime(2024, 5, 6, tzinfo=SHANGHAI))) as e:\n"
        "    e.upgrade_schema()\n"
        "    create_plan(e, year=2024, organiser_level='city', budget=Decimal(1),\n"
        "                cycle='2024-2025')\n"
    )
    migrated = subprocess.run(
        [sys.executable, "-c", migrate], check=False, capture_output=True, text=True
    )
    assert migrated.returncode == 0, migrated.stderr
    record = cadre("A")
    code = (
        "import json, sys\n"
        "from datetime import datetime\n"
        "from workflow import Engine, SimulatedClock, SHANGHAI\n"
        f"with Engine({url!r}, clock=SimulatedClock(datetime(2024, 5, 6, tzinfo=SHANGHAI))) as e:\n"
        f"    e.put_cadres([json.loads({json.dumps(record, ensure_ascii=False)!r})])\n"
        "    case = e.open_case('A', actor='cadre:张建国@A', data={'plan_level': 'city'})\n"
        "    e.fire(case.id, 'consent', actor='family:张丽@A',\n"
        "           data={'family_member': '张丽', 'relation': '女儿'})\n"
        "    assert len(e.history(case.id)) == 2\n"
        f"print([m for m in {HOST_HEAVY!r} if m in sys.modules])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", result.stdout


def test_the_schema_check_names_the_same_head_as_alembic() -> None:
    from workflow.store.migrate import alembic_head_revision, head_revision  # noqa: PLC0415

    assert head_revision() == alembic_head_revision()
