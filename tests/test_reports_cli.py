"""``convalescence report``: files written and their paths printed, ``--json``, and the exit
codes of bad input (2, naming the option) and an unknown batch (4), on SQLite and PostgreSQL
holding the hand-counted year of `reports_scenario`.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from openpyxl import load_workbook
from reports_scenario import ID_CARD, Scenario, scenario_database

from workflow.cli.main import main

NOW = "2026-01-05T09:00"  # the scenario's AS_OF: the 2024-2025 cycle has ended


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def built(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Scenario]]:
    with scenario_database(request.param, tmp_path_factory.mktemp("reports_cli")) as result:
        yield result


@pytest.fixture
def url(built: tuple[str, Scenario]) -> str:
    return built[0]


@pytest.fixture
def scenario(built: tuple[str, Scenario]) -> Scenario:
    return built[1]


def cli(url: str, *args: str) -> Result:
    return CliRunner().invoke(main, ["--db", url, "--now", NOW, *args], catch_exceptions=False)


def test_performance_json(url: str) -> None:
    result = cli(url, "report", "performance", "--year", "2024", "--json")
    assert result.exit_code == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["article"] == "A18.2"
    assert (figures["total"]["planned"], figures["total"]["attended"]) == (8, 6)
    assert figures["total"]["completion_rate"] == pytest.approx(0.75)
    assert figures["total"]["exceptions"] == {"A6.2": 1, "A8.2": 1}
    assert [o["key"] for o in figures["by_organiser"]] == ["city", "county:东昌府区"]
    assert figures["by_contractor"][0]["contractor_score"] == pytest.approx(85.0)


@pytest.mark.parametrize("fmt", ["html", "xlsx"])
def test_performance_writes_the_file_and_prints_its_path(
    url: str, tmp_path: Path, fmt: str
) -> None:
    result = cli(
        url, "report", "performance", "--year", "2024", "--format", fmt, "--out", str(tmp_path)
    )
    assert result.exit_code == 0, result.stderr
    path = Path(result.stdout.strip())
    assert path == (tmp_path / f"performance-2024.{fmt}").resolve()
    if fmt == "html":
        root = ET.fromstring(path.read_text(encoding="utf-8"))
        planned = root.find(".//*[@id='planned']")
        assert planned is not None
        assert planned.text == "8"
    else:
        sheet = load_workbook(path)["概要 Summary"]
        assert {r[0]: r[1] for r in sheet.iter_rows(values_only=True)}["计划人数 planned"] == 8


def test_default_output_is_the_working_directory(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = cli(url, "report", "performance", "--year", "2025")
    assert result.exit_code == 0, result.stderr
    assert Path(result.stdout.strip()) == (tmp_path / "performance-2025.html").resolve()


def test_an_empty_year_is_a_report_not_an_error(url: str) -> None:
    result = cli(url, "report", "performance", "--year", "2023", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["total"]["planned"] == 0


@pytest.mark.parametrize(
    ("value", "says"),
    [("1800", "--year 1800 不是计划年度"), ("2024x", "'--year' 的值无效")],
)
def test_bad_year_is_exit_2_naming_the_option(url: str, value: str, says: str) -> None:
    result = cli(url, "report", "performance", "--year", value)
    assert result.exit_code == 2
    assert says in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_year_in_json_names_the_field(url: str) -> None:
    result = cli(url, "report", "performance", "--year", "1800", "--json")
    assert result.exit_code == 2
    assert json.loads(result.stdout) == {
        "error": "bad_input",
        "message": "--year 1800 不是计划年度（应在 2000–2100 之间）",
        "field": "year",
    }


def test_out_in_a_missing_directory_is_exit_2(url: str, tmp_path: Path) -> None:
    out = tmp_path / "nowhere" / "report.html"
    result = cli(url, "report", "performance", "--year", "2024", "--out", str(out))
    assert result.exit_code == 2
    assert "--out" in result.stderr
    assert not out.parent.exists()


def test_batch_roster(url: str, scenario: Scenario, tmp_path: Path) -> None:
    batch = str(scenario.batches["B1"])
    shown = cli(url, "report", "batch-roster", "--batch", batch, "--json")
    assert shown.exit_code == 0, shown.stderr
    roster = json.loads(shown.stdout)
    assert [c["name"] for c in roster["cadres"]] == ["干部01", "干部02", "干部03", "干部04"]
    assert ID_CARD not in shown.stdout  # masked on every output
    written = cli(
        url, "report", "batch-roster", "--batch", batch, "--format", "xlsx", "--out", str(tmp_path)
    )
    assert written.exit_code == 0, written.stderr
    assert Path(written.stdout.strip()).name == f"batch-{batch}-roster.xlsx"


def test_unknown_batch_is_exit_4(url: str) -> None:
    result = cli(url, "report", "batch-roster", "--batch", "999")
    assert result.exit_code == 4
    assert "找不到批次：999" in result.stderr
    as_json = cli(url, "report", "batch-roster", "--batch", "999", "--json")
    assert as_json.exit_code == 4
    assert json.loads(as_json.stdout)["error"] == "not_found"


def test_visits(url: str, tmp_path: Path) -> None:
    overdue = cli(url, "report", "visits", "--overdue", "--json")
    assert overdue.exit_code == 0, overdue.stderr
    assert [v["name"] for v in json.loads(overdue.stdout)["visits"]] == ["干部09"]
    written = cli(url, "report", "visits", "--cycle", "2024-2025", "--out", str(tmp_path))
    assert written.exit_code == 0, written.stderr
    path = Path(written.stdout.strip())
    assert path.name == "visits-2024-2025.html"
    ET.fromstring(path.read_text(encoding="utf-8"))


def test_unknown_cycle_is_exit_2_naming_the_option(url: str) -> None:
    result = cli(url, "report", "visits", "--cycle", "2099")
    assert result.exit_code == 2
    assert "--cycle '2099' 不是政策规定的疗养周期（已有：2023、2024-2025）" in result.stderr
