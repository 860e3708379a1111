"""`convalescence --db postgresql://… demo` runs the main job on PostgreSQL (issue 16 item 7),
and only on an empty database: it never writes into one that already has a schema."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from workflow import Engine
from workflow.cli.main import main
from workflow.i18n import set_language

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_the_demo_runs_on_an_empty_postgresql_database(pg_url: str, tmp_path: Path) -> None:
    args = ["--db", pg_url, "demo", "--cadres", "20", "--dir", str(tmp_path / "demo")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "postgresql" in result.output  # the database it ran on, as its summary names it
    assert not (tmp_path / "demo" / "convalescence.db").exists()
    assert (tmp_path / "demo" / "performance-2024.html").exists()
    with Engine(pg_url) as engine:
        counts = engine.count_by_state()
    assert sum(counts.values()) > 0
    try:
        again = CliRunner().invoke(main, [*args[:3], "--lang", "en", *args[3:]])
    finally:
        set_language(None)
    assert again.exit_code == 2, again.output
    assert "empty database" in again.output
    with Engine(pg_url) as engine:
        assert engine.count_by_state() == counts
