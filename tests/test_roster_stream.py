"""The streaming roster import (issue 14 item 4): what a large or Chinese-Excel file needs.

A roster is read one row at a time and checked into a scratch spool before one write
transaction, so these tests aim where streaming could go wrong and a small file would not show
it: a bad row or a repeated id far past the first chunk still writes nothing and is named by its
row; a JSON record that straddles two reads keeps its line and its duplicate keys; memory does
not grow with the file; GB18030 CSV (what Chinese Excel's "CSV (逗号分隔)" writes) is decoded and
the encoding reported; progress is reported, and drawn only on a terminal.
"""

from __future__ import annotations

import copy
import csv
import json
import os
import pty
import sqlite3
import subprocess
import sys
import tracemalloc
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from workflow import Engine
from workflow.cli.main import main
from workflow.demo.roster import generate_roster
from workflow.i18n import set_language
from workflow.roster import RosterError, check_roster, flat_columns, flatten, import_roster
from workflow.roster.importer import Progress
from workflow.roster.json_stream import READ
from workflow.roster.readers import MAX_LISTED_PROBLEMS
from workflow.store.roster import SPOOL_BATCH
from workflow.store.schema import cadre_changes, cadres, json_dumps

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
EXAMPLE: list[dict[str, Any]] = json.loads((EXAMPLES / "roster.json").read_text(encoding="utf-8"))
TODAY = date(2024, 5, 6)  # the `clock` fixture's day
AS_OF = date(2024, 3, 1)
SCRIPT = Path(sys.executable).parent / "convalescence"


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    set_language("en")
    yield
    set_language(None)


def write_json(path: Path, records: Any, *, indent: int | None = None) -> Path:
    path.write_text(json.dumps(records, ensure_ascii=False, indent=indent), encoding="utf-8")
    return path


def write_grid(path: Path, records: list[dict[str, Any]], encoding: str) -> Path:
    columns = flat_columns()
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows([flatten(record, columns) for record in records])
    return path


def counts(engine: Engine) -> tuple[int, int]:
    with engine.transaction() as connection:
        people = connection.execute(sa.select(sa.func.count()).select_from(cadres)).scalar_one()
        log = connection.execute(sa.select(sa.func.count()).select_from(cadre_changes))
        return int(people), int(log.scalar_one())


# -- all or nothing past the first chunk ------------------------------------------------------


def test_a_bad_last_row_of_a_long_file_writes_nothing_and_skipping_writes_the_rest(
    engine: Engine, tmp_path: Path
) -> None:
    """The rows before the bad one went through several spool batches and would fill several
    write chunks: none of them may reach the database, on either backend."""
    records = generate_roster(2 * SPOOL_BATCH + 300, 5, as_of=AS_OF)
    records[-1]["gender"] = "M"
    path = write_json(tmp_path / "long.json", records)
    with pytest.raises(RosterError) as caught:
        import_roster(engine, path)
    (problem,) = caught.value.problems
    assert str(problem.location).startswith(f"record {len(records)} (line ")
    assert problem.field == "gender"
    assert counts(engine) == (0, 0)
    report = import_roster(engine, path, skip_invalid=True)
    assert (report.created, report.skipped) == (len(records) - 1, 1)
    assert counts(engine) == (len(records) - 1, len(records) - 1)


def test_an_id_repeated_chunks_apart_is_named_in_both_rows(tmp_path: Path) -> None:
    records = generate_roster(2 * SPOOL_BATCH + 300, 6, as_of=AS_OF)
    twin = copy.deepcopy(records[2])
    twin.pop("id_card", None)
    records.append(twin)
    checked = check_roster(write_json(tmp_path / "twins.json", records), today=TODAY)
    assert [(str(p.location).split(" (")[0], p.field) for p in checked.problems] == [
        ("record 3", "id"),
        (f"record {len(records)}", "id"),
    ]
    assert f"(also record {len(records)} (line 1))" in checked.problems[0].reason
    assert (len(checked.records), checked.bad_rows) == (len(records) - 2, 2)


def test_ids_that_normalise_alike_are_one_id_repeated(engine: Engine, tmp_path: Path) -> None:
    """A full-width ＬＣ is the id LC once normalised (NFKC, as every key is): two rows that
    differ only so name the same cadre, so both are a repeated id, not a failed write."""
    wide = {**EXAMPLE[1], "id": "ＬＣ" + EXAMPLE[0]["id"][2:]}
    wide.pop("id_card")
    path = write_json(tmp_path / "r.json", [EXAMPLE[0], wide])
    with pytest.raises(RosterError) as caught:
        import_roster(engine, path)
    assert [(str(p.location).split(" (")[0], p.field) for p in caught.value.problems] == [
        ("record 1", "id"),
        ("record 2", "id"),
    ]
    assert counts(engine) == (0, 0)
    assert import_roster(engine, path, skip_invalid=True).skipped == 2


def test_problems_past_the_listing_limit_are_counted(tmp_path: Path) -> None:
    bad = {key: value for key, value in EXAMPLE[0].items() if key != "id_card"} | {"gender": "M"}
    records = [{**bad, "id": f"LC-X-{n}"} for n in range(MAX_LISTED_PROBLEMS + 7)]
    path = write_json(tmp_path / "bad.json", records)
    checked = check_roster(path, today=TODAY)
    assert (len(checked.problems), checked.unlisted, checked.bad_rows) == (
        MAX_LISTED_PROBLEMS,
        7,
        len(records),
    )
    assert str(checked.problems[-1].location).startswith(f"record {MAX_LISTED_PROBLEMS} ")
    url = f"sqlite:///{tmp_path / 'r.db'}"
    with Engine(url, auto_upgrade=True) as engine, pytest.raises(RosterError) as caught:
        import_roster(engine, path)
    assert caught.value.unlisted == 7
    assert caught.value.summary.endswith(f"; only the first {MAX_LISTED_PROBLEMS} are listed")
    assert f"{MAX_LISTED_PROBLEMS + 7} problems" in caught.value.summary


# -- reading: JSON across reads, JSON Lines, encodings -----------------------------------------


def test_json_records_across_reads_keep_their_lines_and_duplicate_keys(tmp_path: Path) -> None:
    records = generate_roster(2_000, 7, as_of=AS_OF)
    text = json.dumps(records, ensure_ascii=False, indent=2)
    assert len(text) > 4 * READ  # the records straddle several reads
    late = records[-3]["id"]
    text = text.replace(f'"id": "{late}"', f'"id": "{late}", "id": "{late}"', 1)
    path = tmp_path / "r.json"
    path.write_text(text, encoding="utf-8")
    checked = check_roster(path, today=TODAY)
    lines = text.splitlines()
    opening = next(i for i, line in enumerate(lines) if f'"id": "{late}"' in line)
    assert lines[opening - 1].strip() == "{"
    (problem,) = checked.problems
    assert (str(problem.location), problem.field) == (f"record 1998 (line {opening})", "id")
    assert "appears twice" in problem.reason
    assert [r.to_json() for r in checked.records] == records[:1997] + records[1998:]


@pytest.mark.parametrize("indent", [2, None], ids=["lines", "one-line"])
def test_a_late_syntax_error_names_the_line_and_column_json_does(
    tmp_path: Path, indent: int | None
) -> None:
    records = generate_roster(1_500, 8, as_of=AS_OF)
    text = json.dumps(records, ensure_ascii=False, indent=indent)
    assert len(text) > 2 * READ
    at = text.rindex('"gender": ')  # in the last record: a colon missing
    text = text[:at] + '"gender" ' + text[at + len('"gender": ') :]
    path = tmp_path / "r.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(json.JSONDecodeError) as expected:
        json.loads(text)
    with pytest.raises(RosterError) as caught:
        check_roster(path, today=TODAY, shown_as="r.json")
    (problem,) = caught.value.problems
    assert str(problem.location) == f"line {expected.value.lineno}"
    assert f"at column {expected.value.colno}: " in problem.reason


def test_json_lines_read_as_the_array_does(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "roster.jsonl"
    path.write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in EXAMPLE) + "\n\n", encoding="utf-8"
    )
    checked = check_roster(path, today=TODAY)
    assert [r.to_json() for r in checked.records] == EXAMPLE
    assert import_roster(engine, path).created == len(EXAMPLE)
    path.write_text(json.dumps(EXAMPLE[0]) + "\n" + '{"id": }\n', encoding="utf-8")
    with pytest.raises(RosterError) as caught:
        check_roster(path, today=TODAY, shown_as="r.jsonl")
    assert str(caught.value.problems[0]).startswith("r.jsonl:line 2: file: JSON syntax error")


@pytest.mark.parametrize(
    ("written", "reported", "shown"),
    [
        ("utf-8", "utf-8", "UTF-8"),
        ("utf-8-sig", "utf-8-sig", "UTF-8 (BOM)"),
        ("gbk", "gb18030", "GB18030"),
        ("gb18030", "gb18030", "GB18030"),
    ],
)
def test_csv_from_chinese_excel_is_decoded_and_the_encoding_reported(
    tmp_path: Path, written: str, reported: str, shown: str
) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    assert CliRunner().invoke(main, ["--db", url, "db", "upgrade"]).exit_code == 0
    path = write_grid(tmp_path / "roster.csv", EXAMPLE, written)
    text = cli(url, str(path))
    assert text.exit_code == 0, text.output
    assert f"file encoding: {shown}" in text.stdout
    assert text.stderr == ""  # no progress bar off a terminal
    body = json.loads(cli(url, str(path), "--json").stdout)
    assert (body["encoding"], body["unchanged"]) == (reported, len(EXAMPLE))
    assert check_roster(path, today=TODAY).records[0].name == EXAMPLE[0]["name"]


def test_a_file_in_neither_encoding_is_refused_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_bytes("id,name\n张三,李四\n".encode() + b"\xff\xfe,x\n")
    with pytest.raises(RosterError) as caught:
        check_roster(path, today=TODAY, shown_as="r.csv")
    (problem,) = caught.value.problems
    assert str(problem) == (
        "r.csv:line 3: file: the file is neither UTF-8 nor GB18030: in Excel use Save As "
        "'CSV UTF-8 (Comma delimited)'"
    )
    path = tmp_path / "r.json"
    path.write_bytes('[{"name": "张三"}]'.encode("gbk"))  # JSON is UTF-8 only
    with pytest.raises(RosterError) as caught:
        check_roster(path, today=TODAY, shown_as="r.json")
    assert "not UTF-8" in caught.value.problems[0].reason


def test_the_stored_texts_are_what_the_store_writes(tmp_path: Path) -> None:
    """The importer writes each record's JSON itself (once, for the spool): it must be the
    text the cadres table's JSON column would write, and so must the created entry's."""
    path = tmp_path / "r.db"
    with Engine(f"sqlite:///{path}", auto_upgrade=True) as engine:
        import_roster(engine, EXAMPLES / "roster.json")
    with sqlite3.connect(path) as connection:
        records = connection.execute("SELECT record FROM cadres ORDER BY id").fetchall()
        changes = connection.execute("SELECT changes FROM cadre_changes ORDER BY id").fetchall()
    by_id = {record["id"]: record for record in EXAMPLE}
    assert [text for (text,) in records] == [json_dumps(by_id[key]) for key in sorted(by_id)]
    assert [text for (text,) in changes] == [
        json_dumps({key: [None, value] for key, value in record.items()}) for record in EXAMPLE
    ]


# -- memory and progress -----------------------------------------------------------------------


def peak_traced(engine: Engine, path: Path) -> int:
    tracemalloc.start()
    try:
        import_roster(engine, path)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_the_file(tmp_path: Path) -> None:
    """Peak Python memory of an import of 2,000 and of 12,000 rows differ by little: the
    streamed import holds a chunk, not the file (before, a row cost about 7 kB)."""
    records = generate_roster(12_000, 9, as_of=AS_OF)
    peaks = []
    for size in (2_000, 12_000):
        with Engine(f"sqlite:///{tmp_path / f'{size}.db'}", auto_upgrade=True) as engine:
            peaks.append(peak_traced(engine, write_json(tmp_path / f"{size}.json", records[:size])))
    assert peaks[1] - peaks[0] < 4_000_000, peaks


def test_progress_reports_rows_problems_and_bytes(engine: Engine, tmp_path: Path) -> None:
    records = generate_roster(2 * SPOOL_BATCH + 10, 10, as_of=AS_OF)
    records[5]["gender"] = "M"
    path = write_json(tmp_path / "r.json", records)
    heard: list[Progress] = []
    report = import_roster(engine, path, skip_invalid=True, progress=heard.append)
    checking = [p for p in heard if p.phase == "check"]
    writing = [p for p in heard if p.phase == "write"]
    assert [p.rows for p in checking] == [SPOOL_BATCH, 2 * SPOOL_BATCH, len(records)]
    assert all(p.problems == 1 for p in heard)
    assert checking[-1].done == checking[-1].total == path.stat().st_size
    assert 0 < checking[0].done <= checking[1].done <= checking[-1].total
    assert checking[0].done < checking[-1].total  # half the rows, not all the file
    assert [p.rows for p in writing] == [SPOOL_BATCH, 2 * SPOOL_BATCH, len(records) - 1]
    assert {p.total for p in writing} == {len(records) - 1} == {report.created}


def cli(url: str, *args: str) -> Result:
    command = ["--lang", "en", "--db", url, "--now", "2024-05-06T09:30", "cadres", "import"]
    return CliRunner().invoke(main, [*command, *args], catch_exceptions=False)


@pytest.mark.slow
@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_the_progress_bar_is_drawn_on_a_terminal_but_not_with_json(
    tmp_path: Path, as_json: bool
) -> None:
    url = f"sqlite:///{tmp_path / 'tty.db'}"
    assert CliRunner().invoke(main, ["--db", url, "db", "upgrade"]).exit_code == 0
    path = write_json(tmp_path / "r.json", generate_roster(SPOOL_BATCH + 10, 11, as_of=AS_OF))
    leader, follower = pty.openpty()
    args = ["--lang", "en", "--db", url, "cadres", "import", str(path)]
    with subprocess.Popen(
        [str(SCRIPT), *args, *(["--json"] if as_json else [])],
        stdout=subprocess.PIPE,
        stderr=follower,
        cwd=tmp_path,
        env={**os.environ, "COLUMNS": "160", "TERM": "xterm"},
    ) as process:
        os.close(follower)
        drawn = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal's other end closed
                break
            if not chunk:
                break
            drawn += chunk
        out = process.stdout.read() if process.stdout else b""
    os.close(leader)
    assert process.returncode == 0, drawn
    shown = drawn.decode("utf-8", "replace")
    if as_json:
        assert shown == ""
        assert json.loads(out)["created"] == SPOOL_BATCH + 10
    else:
        assert "rows/s" in shown, shown
        assert "problems 0" in shown, shown
        assert "checking" in shown or "writing" in shown
