"""A large roster is checked in more than one process (issue 14: the import's rate); the outcome
must be the one a single process reaches, row for row (`workflow.roster.parallel`).

Rows go in blocks of `BLOCK` to whichever process reaches a block first, so these files put
problems all over: in the first blocks, in the middle, in the last: a bad field, an id repeated
across the two, an ID number two rows share, a key given twice in one JSON record, blank CSV
rows that must not shift the numbering. Each is imported with 1, 2 and 3 processes into a fresh
SQLite file and the problems, the report and the stored rows compared. A helper that cannot
start is not an error of the file: the import checks it alone and says so in the log.
"""

from __future__ import annotations

import csv
import json
import logging
import sqlite3
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from workflow import Engine, SimulatedClock
from workflow.cli.main import main
from workflow.demo.roster import generate_roster
from workflow.i18n import set_language
from workflow.roster import RosterError, flat_columns, flatten, import_roster
from workflow.roster.parallel import BLOCK, Claims, processes_for
from workflow.roster.readers import SKIPPED, open_roster

AS_OF = date(2024, 3, 1)
NOW = datetime(2024, 5, 6, 9, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
ROWS = 5 * BLOCK + 300  # two turns of the deal and a bit: every share has a block or more


def records() -> list[dict[str, Any]]:
    """Valid records with problems planted in this process's blocks and in a helper's."""
    made: list[dict[str, Any]] = generate_roster(ROWS, 7, as_of=AS_OF)
    made[9]["birth_date"] = "1950-02-30"  # block 0: this process
    made[2600]["birth_date"] = "19500101"  # block 2: the helper
    made[3400]["id"] = made[20]["id"]  # an id repeated across the two
    with_card = [i for i, r in enumerate(made) if r.get("id_card")]
    first, second = with_card[5], next(i for i in with_card if i > 4200)
    for key in ("id_card", "birth_date", "gender", "county", "agency"):  # one person's card
        made[second][key] = made[first][key]  # an ID number two rows share
    made[4999]["gender"] = "?"  # the last row of block 4
    made[2299]["name"] = "重名测试甲"  # written with a second "name" key in the JSON file
    return made


def write_json(path: Path, rows: list[dict[str, Any]]) -> Path:
    text = json.dumps(rows, ensure_ascii=False, indent=1)
    # a key given twice in record 2,300 (a helper's): json.dumps cannot write it
    at = text.find('"name": "重名测试甲"')
    if at >= 0:
        text = text[:at] + '"name": "重复", ' + text[at:]
    path.write_text(text, encoding="utf-8")
    return path


def write_csv(path: Path, rows: list[dict[str, Any]], encoding: str = "utf-8") -> Path:
    columns = flat_columns()
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for number, record in enumerate(rows):
            if number in (500, 1999, 2000, 3100):  # blank rows: not counted as rows
                writer.writerow([""] * len(columns))
                writer.writerow(["  "] * 3)
            writer.writerow(flatten(record, columns))
    return path


def imported(path: Path, where: Path, processes: int) -> tuple[Any, ...]:
    """What importing ``path`` with ``processes`` gives: the refusal (every problem), then the
    report of the import that skips the bad rows, and the rows it stored."""
    database = where / f"{path.name}-{processes}.db"
    clock = SimulatedClock(NOW)
    with Engine(f"sqlite:///{database}", clock=clock, auto_upgrade=True) as engine:
        with pytest.raises(RosterError) as refused:
            import_roster(engine, path, processes=processes)
        report = import_roster(engine, path, processes=processes, skip_invalid=True)
    with sqlite3.connect(database) as connection:
        stored = connection.execute(
            "SELECT id, name, county, agency, birth_date, record FROM cadres ORDER BY id"
        ).fetchall()
        changes = connection.execute(
            "SELECT cadre_id, kind, changes FROM cadre_changes ORDER BY cadre_id"
        ).fetchall()
    return (
        [str(problem) for problem in refused.value.problems],
        refused.value.unlisted,
        report,
        stored,
        changes,
    )


@pytest.fixture(autouse=True)
def english() -> Any:
    set_language("en")
    yield
    set_language(None)


@pytest.mark.parametrize("kind", ["json", "jsonl", "csv", "gb18030"])
def test_more_processes_find_what_one_finds(kind: str, tmp_path: Path) -> None:
    rows = records()
    if kind == "json":
        path = write_json(tmp_path / "roster.json", rows)
    elif kind == "jsonl":
        path = tmp_path / "roster.jsonl"
        path.write_text(
            "\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n\n", encoding="utf-8"
        )
    else:
        encoding = "gb18030" if kind == "gb18030" else "utf-8"
        path = write_csv(tmp_path / f"roster-{kind}.csv", rows, encoding)
    alone = imported(path, tmp_path, 1)
    problems, _unlisted, report, stored, changes = alone
    assert len(problems) >= 6, problems  # every planted problem, in both shares
    assert report.skipped >= 6
    assert report.created == len(stored) == len(changes) == ROWS - report.skipped
    if kind == "json":
        assert any("record 2300" in p and "name" in p for p in problems), problems
    if kind in ("csv", "gb18030"):  # spreadsheet rows: header, 2600 rows, 6 blank ones
        assert any(":row 2608: birth_date" in p for p in problems), problems
    for processes in (2, 3):
        assert imported(path, tmp_path, processes) == alone, processes


def test_a_syntax_error_in_a_helpers_block_is_the_one_a_single_process_names(
    tmp_path: Path,
) -> None:
    rows = generate_roster(ROWS, 3, as_of=AS_OF)
    text = json.dumps(rows, ensure_ascii=False, indent=1)
    cut = text.index(json.dumps(rows[4100]["id"]))  # record 4,101: a helper's block
    path = tmp_path / "broken.json"
    path.write_text(text[:cut] + "{" + text[cut:], encoding="utf-8")
    messages = []
    for processes in (1, 2):
        clock = SimulatedClock(NOW)
        with (
            Engine(
                f"sqlite:///{tmp_path / f'{processes}.db'}", clock=clock, auto_upgrade=True
            ) as engine,
            pytest.raises(RosterError) as refused,
        ):
            import_roster(engine, path, processes=processes)
        messages.append([str(problem) for problem in refused.value.problems])
    assert messages[0] == messages[1]
    assert len(messages[0]) == 1
    assert "syntax" in messages[0][0].lower() or "JSON" in messages[0][0]


def test_a_helper_that_cannot_start_leaves_the_check_to_this_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_json(tmp_path / "roster.json", records())
    alone = imported(path, tmp_path, 1)
    monkeypatch.setattr(sys, "executable", "/bin/false")  # starts, says nothing, exits 1
    with caplog.at_level(logging.WARNING, logger="workflow.roster.importer"):
        assert imported(path, tmp_path, 2) == alone
    assert "checked in one process after all" in caplog.text
    assert "exit 1" in caplog.text


def test_each_block_goes_to_the_process_that_reaches_it_first(tmp_path: Path) -> None:
    claims = Claims(str(tmp_path / "claims"))
    (tmp_path / "claims").mkdir()
    mine, theirs = claims.wanted(), claims.wanted()
    assert mine(1)  # block 0: first come
    assert not theirs(1)
    assert not theirs(BLOCK)  # the rest of a block goes with its first row
    assert mine(BLOCK)
    assert theirs(BLOCK + 1)  # block 1: theirs now
    assert not mine(BLOCK + 1)
    path = write_json(tmp_path / "r.json", generate_roster(3 * BLOCK, 5, as_of=AS_OF))
    with open_roster(path, wanted=claims.wanted()) as source:  # a third process
        rows = list(source)
    assert len(rows) == 3 * BLOCK
    assert [row is SKIPPED for row in rows] == [True] * 2 * BLOCK + [False] * BLOCK  # block 2
    assert rows[-BLOCK].location.number == 2 * BLOCK + 1
    assert rows[-1].location.number == 3 * BLOCK


def test_small_files_and_workbooks_are_checked_in_this_process(tmp_path: Path) -> None:
    small = write_json(tmp_path / "small.json", generate_roster(50, 5, as_of=AS_OF))
    assert processes_for(small, None) == 1
    assert processes_for(small, 2) == 2  # asked for: as asked
    assert processes_for(tmp_path / "roster.xlsx", 4) == 1
    assert processes_for(tmp_path / "missing.json", None) == 1


def test_the_command_line_takes_the_number_of_processes(tmp_path: Path) -> None:
    path = write_json(tmp_path / "roster.json", records())
    outcomes = []
    for processes in ("1", "2"):
        url = f"sqlite:///{tmp_path / f'cli-{processes}.db'}"
        assert CliRunner().invoke(main, ["--db", url, "db", "upgrade"]).exit_code == 0
        command = ["--db", url, "--now", "2024-05-06T09:30", "cadres", "import", str(path)]
        result = CliRunner().invoke(
            main, [*command, "--skip-invalid", "--json", "--processes", processes]
        )
        assert result.exit_code == 0, result.output
        outcomes.append(json.loads(result.stdout))
    assert outcomes[0] == outcomes[1]
    assert outcomes[0]["created"] == ROWS - outcomes[0]["skipped"]
    refused = CliRunner().invoke(main, ["cadres", "import", str(path), "--processes", "0"])
    assert refused.exit_code == 2
    assert "--processes" in refused.output
