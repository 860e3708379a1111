"""Nothing lost by a slip of the hand (issue 17): the demo never replaces a database it did not
create, and a mistyped ``--db`` is refused as missing instead of creating an empty database
(only ``db upgrade`` and ``demo`` create one)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from workflow.cli.demo import DEMO_MARK, _claim
from workflow.cli.main import main
from workflow.errors import InputError


def upgrade(url: str) -> None:
    result = CliRunner().invoke(main, ["--db", url, "db", "upgrade"])
    assert result.exit_code == 0, result.output


def test_demo_dir_dot_refuses_to_replace_the_offices_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CONVALESCENCE_DB", raising=False)
    upgrade("sqlite:///convalescence.db")  # the default database of every other command
    before = (tmp_path / "convalescence.db").read_bytes()
    result = CliRunner().invoke(main, ["--lang", "zh", "demo", "--dir", ".", "--cadres", "3"])
    assert result.exit_code == 2, result.output
    assert "convalescence.db" in result.output
    assert "Traceback" not in result.output
    assert (tmp_path / "convalescence.db").read_bytes() == before
    assert not (tmp_path / DEMO_MARK).exists()


def test_demo_refuses_a_directory_with_the_offices_notices(tmp_path: Path) -> None:
    (tmp_path / "notices").mkdir()
    (tmp_path / "notices" / "1.eml").write_text("通知", encoding="utf-8")
    result = CliRunner().invoke(main, ["demo", "--dir", str(tmp_path), "--cadres", "3"])
    assert result.exit_code == 2, result.output
    assert (tmp_path / "notices" / "1.eml").exists()


def test_the_demo_may_replace_what_it_created(tmp_path: Path) -> None:
    """The mark is written before the run, so a second run (or one after a crash) goes on."""
    target = tmp_path / "demo"
    _claim(target)
    assert (target / DEMO_MARK).exists()
    (target / "convalescence.db").write_bytes(b"the demo's own")
    _claim(target)  # no refusal: the demo's own database
    (target / DEMO_MARK).unlink()
    with pytest.raises(InputError):
        _claim(target)


@pytest.mark.parametrize(
    "command",
    [
        ["cases", "list"],
        ["cases", "show", "1"],
        ["tasks", "list"],
        ["notifications", "list"],
        ["report", "visits", "--json"],
        ["audit", "verify"],
    ],
)
def test_a_mistyped_db_is_refused_as_missing_and_not_created(
    tmp_path: Path, command: list[str]
) -> None:
    missing = tmp_path / "nonexist.db"
    result = CliRunner().invoke(main, ["--db", f"sqlite:///{missing}", "--lang", "zh", *command])
    assert result.exit_code == 2, result.output
    assert "不存在" in result.output
    assert not missing.exists()
    assert not Path(f"{missing}-wal").exists()


def test_cadres_import_into_a_missing_database_is_refused(tmp_path: Path) -> None:
    roster = Path(__file__).resolve().parents[1] / "examples" / "roster.json"
    missing = tmp_path / "typo.db"
    result = CliRunner().invoke(
        main, ["--db", f"sqlite:///{missing}", "cadres", "import", str(roster)]
    )
    assert result.exit_code == 2, result.output
    assert not missing.exists()


def test_db_upgrade_creates_and_then_commands_work(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'office.db'}"
    upgrade(url)
    listed = CliRunner().invoke(main, ["--db", url, "cases", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert listed.stdout.strip() == "[]"
