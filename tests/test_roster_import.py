"""Roster import end to end: files of every format into a real SQLite file and a real PostgreSQL.

What an officer relies on: one bad row means nothing is written and every problem is listed with
its row and field; ``--skip-invalid`` imports the rest; a re-import updates only what changed and
logs each change; the three example files are the same roster; the CLI exits 0 or 2 with
``FILE:ROW: field: reason`` lines and never a traceback.
"""

from __future__ import annotations

import copy
import csv
import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result
from openpyxl import Workbook

from workflow import Engine, SimulatedClock
from workflow.cli.main import main
from workflow.demo.roster import generate_roster
from workflow.errors import InputError
from workflow.i18n import set_language
from workflow.roster import (
    ImportReport,
    RosterError,
    check_roster,
    flat_columns,
    flatten,
    import_roster,
    write_csv,
)
from workflow.store import roster as store_roster
from workflow.store.schema import cadre_changes, cadres

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
EXAMPLE: list[dict[str, Any]] = json.loads((EXAMPLES / "roster.json").read_text(encoding="utf-8"))
TODAY = date(2024, 5, 6)  # the `clock` fixture's day
SCRIPT = Path(sys.executable).parent / "convalescence"
Record = dict[str, Any]


def write_json(path: Path, records: Any) -> Path:
    path.write_text(json.dumps(records, ensure_ascii=False, indent=2), encoding="utf-8")
    return path


def stored(engine: Engine) -> dict[str, Record]:
    with engine.transaction() as connection:
        rows = connection.execute(sa.select(cadres.c.id, cadres.c.record)).all()
    return {cadre_id: dict(record) for cadre_id, record in rows}


def change_log(engine: Engine) -> list[dict[str, Any]]:
    with engine.transaction() as connection:
        query = sa.select(cadre_changes).order_by(cadre_changes.c.id)
        return [dict(row._mapping) for row in connection.execute(query)]


def snapshot(engine: Engine) -> tuple[list[Any], list[Any]]:
    with engine.transaction() as connection:
        people = connection.execute(sa.select(cadres).order_by(cadres.c.id)).all()
        log = connection.execute(sa.select(cadre_changes).order_by(cadre_changes.c.id)).all()
    return [tuple(row) for row in people], [tuple(row) for row in log]


def bad_example() -> list[Record]:
    """The example roster with two invalid records: the 2nd (gender) and the 5th (merit year)."""
    records = copy.deepcopy(EXAMPLE)
    records[1]["gender"] = "M"
    records[4]["merits"][0]["year"] = 2079
    return records


# -- all or nothing ----------------------------------------------------------------------------


def test_a_new_roster_creates_every_cadre_and_logs_it(engine: Engine, tmp_path: Path) -> None:
    report = import_roster(engine, write_json(tmp_path / "roster.json", EXAMPLE))
    assert (report.created, report.updated, report.unchanged, report.skipped) == (6, 0, 0, 0)
    assert stored(engine) == {record["id"]: record for record in EXAMPLE}
    log = change_log(engine)
    assert [entry["kind"] for entry in log] == ["created"] * 6
    assert {entry["source"] for entry in log} == {"roster.json"}
    first = next(entry for entry in log if entry["cadre_id"] == "LC-DCF-0001")
    assert first["changes"]["name"] == [None, "张建国"]
    assert first["at"] == engine.clock.now()
    # the engine reads what the importer wrote
    assert engine.cadre("LC-YG-0001")["category"] == "退休军士"


def test_one_bad_row_writes_nothing_and_lists_every_problem(engine: Engine, tmp_path: Path) -> None:
    import_roster(engine, write_json(tmp_path / "first.json", EXAMPLE[:2]))
    before = snapshot(engine)
    path = write_json(tmp_path / "roster.json", bad_example())
    with pytest.raises(RosterError) as caught:
        import_roster(engine, path)
    assert snapshot(engine) == before
    lines = [str(problem) for problem in caught.value.problems]
    assert len(lines) == 2
    assert lines[0].startswith(f"{path}:record 2 (line ")
    assert ": gender: " in lines[0]
    assert lines[1].startswith(f"{path}:record 5 (line ")
    assert ": merits[1].year: " in lines[1]
    assert caught.value.exit_code == 2
    assert "nothing was imported" in caught.value.summary


def test_skip_invalid_imports_the_good_rows_and_reports_the_rest(
    engine: Engine, tmp_path: Path
) -> None:
    report = import_roster(
        engine, write_json(tmp_path / "r.json", bad_example()), skip_invalid=True
    )
    assert (report.created, report.skipped) == (4, 2)
    assert set(stored(engine)) == {r["id"] for r in EXAMPLE} - {"LC-YG-0001", "LC-GX-0001"}
    assert [problem.field for problem in report.problems] == ["gender", "merits[1].year"]


def test_a_repeated_id_is_a_problem_of_every_row_carrying_it(
    engine: Engine, tmp_path: Path
) -> None:
    records = [*EXAMPLE, {**EXAMPLE[0], "name": "张建军"}]
    path = write_json(tmp_path / "r.json", records)
    with pytest.raises(RosterError) as caught:
        import_roster(engine, path)
    assert [(str(p.location).split(" (")[0], p.field) for p in caught.value.problems] == [
        ("record 1", "id"),
        ("record 7", "id"),
    ]
    assert caught.value.problems[0].reason.startswith("the same id appears 2 times in the file")
    assert "record 7" in caught.value.problems[0].reason
    set_language("zh")
    with pytest.raises(RosterError) as caught:
        import_roster(engine, path)
    assert caught.value.problems[0].reason.startswith("同一编号在文件中出现2次（另见 record 7")
    set_language("en")
    # neither copy can be trusted, so skipping imports neither
    report = import_roster(engine, path, skip_invalid=True)
    assert (report.created, report.skipped) == (5, 2)
    assert "LC-DCF-0001" not in stored(engine)


def test_one_id_number_for_two_cadres_is_a_problem(engine: Engine, tmp_path: Path) -> None:
    records = copy.deepcopy(EXAMPLE)
    records[5] |= {"birth_date": "1946-03-12", "id_card": records[0]["id_card"]}
    with pytest.raises(RosterError) as caught:
        import_roster(engine, write_json(tmp_path / "r.json", records))
    assert [p.field for p in caught.value.problems] == ["id_card", "id_card"]


# -- re-import -----------------------------------------------------------------------------------


def test_reimport_updates_what_changed_and_logs_the_diff(
    engine: Engine, clock: SimulatedClock, tmp_path: Path
) -> None:
    import_roster(engine, write_json(tmp_path / "v1.json", EXAMPLE))
    clock.advance(timedelta(days=30))
    records = copy.deepcopy(EXAMPLE)
    records[0]["phone"] = "13800000001"
    records[3]["honours"].append({"kind": "advanced_cadre", "level": "city", "year": 2023})
    del records[2]["phone"]
    report = import_roster(engine, write_json(tmp_path / "v2.json", records))
    assert (report.created, report.updated, report.unchanged) == (0, 3, 3)
    assert stored(engine) == {record["id"]: record for record in records}
    updates = [entry for entry in change_log(engine) if entry["kind"] == "updated"]
    by_id = {entry["cadre_id"]: entry for entry in updates}
    assert set(by_id) == {"LC-DCF-0001", "LC-GT-0001", "LC-LQ-0001"}
    assert by_id["LC-DCF-0001"]["changes"] == {"phone": ["13800000000", "13800000001"]}
    assert by_id["LC-LQ-0001"]["changes"] == {"phone": ["15063500002", None]}
    assert list(by_id["LC-GT-0001"]["changes"]) == ["honours"]
    assert all(entry["source"] == "v2.json" for entry in updates)
    assert all(entry["at"] == clock.now() for entry in updates)
    with engine.transaction() as connection:
        when = dict(connection.execute(sa.select(cadres.c.id, cadres.c.updated_at)).all())
    assert when["LC-DCF-0001"] == clock.now()
    assert when["LC-SX-0001"] == clock.now() - timedelta(days=30)  # identical: left alone


def test_reimport_of_the_same_file_changes_nothing(engine: Engine, tmp_path: Path) -> None:
    path = write_json(tmp_path / "roster.json", EXAMPLE)
    import_roster(engine, path)
    before = snapshot(engine)
    report = import_roster(engine, path)
    assert (report.created, report.updated, report.unchanged) == (0, 0, 6)
    assert snapshot(engine) == before


def test_records_written_by_the_engine_are_brought_to_the_format(
    engine: Engine, tmp_path: Path
) -> None:
    """put_cadres validates and stores a record as the importer does (issue 17: one validation
    for every way in), defaults filled in: an import of the full record changes only what the
    defaults did not say (this cadre's health declares a critical illness)."""
    minimal = {
        key: value for key, value in EXAMPLE[5].items() if key not in ("health", "recommendation")
    }
    engine.put_cadres([minimal])
    report = import_roster(engine, write_json(tmp_path / "r.json", [EXAMPLE[5]]))
    assert report.updated == 1
    (entry,) = change_log(engine)
    assert set(entry["changes"]) == {"health"}


def test_many_rows_cross_the_chunked_lookup(
    engine: Engine, clock: SimulatedClock, tmp_path: Path
) -> None:
    """More ids than one IN (...) query holds, on both backends, first created then 1% changed."""
    records = generate_roster(1_200, 11, as_of=date(2024, 3, 1))
    first = import_roster(engine, write_json(tmp_path / "big.json", records))
    assert first.created == 1_200
    for record in records[::100]:
        record["health"]["critical"] = not record["health"]["critical"]
    clock.advance(timedelta(hours=1))
    second = import_roster(engine, write_json(tmp_path / "big2.json", records))
    assert (second.created, second.updated, second.unchanged) == (0, 12, 1_188)
    assert len(change_log(engine)) == 1_212
    assert stored(engine) == {record["id"]: record for record in records}


# -- the three formats --------------------------------------------------------------------------


def test_the_example_files_hold_the_same_roster(engine: Engine) -> None:
    records = {
        suffix: [
            r.to_json() for r in check_roster(EXAMPLES / f"roster.{suffix}", today=TODAY).records
        ]
        for suffix in ("json", "csv", "xlsx")
    }
    assert records["json"] == EXAMPLE
    assert records["csv"] == records["json"] == records["xlsx"]
    assert len(EXAMPLE) >= 5
    assert import_roster(engine, EXAMPLES / "roster.xlsx").created == len(EXAMPLE)
    for suffix in ("json", "csv"):
        report = import_roster(engine, EXAMPLES / f"roster.{suffix}")
        assert (report.unchanged, report.updated) == (len(EXAMPLE), 0), suffix


def test_the_examples_cover_what_the_brief_asks() -> None:
    assert any(record["merits"] for record in EXAMPLE)
    assert any(m["wartime"] for record in EXAMPLE for m in record["merits"])
    assert any(record["honours"] for record in EXAMPLE)
    assert any(record["recommendation"] for record in EXAMPLE)
    assert {"退休军士", "退休警士", "离休干部", "退休干部"} <= {r["category"] for r in EXAMPLE}


# -- readers: what a clerk's file looks like ----------------------------------------------------


def csv_file(path: Path, header: list[str], rows: list[list[Any]], *, bom: bool = False) -> Path:
    with path.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def example_grid() -> tuple[list[str], list[list[Any]]]:
    columns = flat_columns()
    return columns, [flatten(record, columns) for record in EXAMPLE]


def check_one(path: Path) -> tuple[list[Record], list[str]]:
    checked = check_roster(path, today=TODAY)
    return [r.to_json() for r in checked.records], [str(p) for p in checked.problems]


def test_csv_without_bom_and_with_clerk_spellings(tmp_path: Path) -> None:
    header = ["id", "name", "gender", "birth_date", "category", "branch", "county", "agency",
              "placed_on", "merit1_class", "merit1_wartime", "merit1_year",
              "health_self_care"]  # fmt: skip
    row = ["LC-SX-0009", "赵长海", "男", "1950/3/7", "退休干部", "PLA", "莘县", "莘县军休所",
           "2008年9月1日", "2", "", "1979", "否"]  # fmt: skip
    records, problems = check_one(csv_file(tmp_path / "r.csv", header, [row]))
    assert problems == []
    (record,) = records
    assert record["birth_date"] == "1950-03-07"
    assert record["placed_on"] == "2008-09-01"
    assert record["merits"] == [{"class": 2, "wartime": False, "year": 1979}]
    assert record["health"]["self_care"] is False
    assert record["honours"] == []  # no honour columns at all: none


def test_spreadsheet_rows_are_numbered_as_the_spreadsheet_shows_them(tmp_path: Path) -> None:
    header, rows = example_grid()
    rows[2][header.index("gender")] = "M"
    reason = header.index("recommendation_reason")
    rows[1][reason] = "服役期间参加抢险救灾，\n事迹特别突出"  # a cell spanning two lines
    blank = [""] * len(header)
    path = csv_file(tmp_path / "r.csv", header, [rows[0], rows[1], blank, rows[2]])
    _, problems = check_one(path)
    assert problems == [f"{path}:row 5: gender: must be one of: 男, 女; got the text 'M'"]


def test_messages_name_the_column_the_clerk_sees(tmp_path: Path) -> None:
    header, rows = example_grid()
    merit1, merit2 = header.index("merit1_class"), header.index("merit2_class")
    rows[0][merit2 : merit2 + 3] = rows[0][merit1 : merit1 + 3]
    rows[0][merit1 : merit1 + 3] = [None, None, None]
    rows[0][merit2 + 2] = "一九七九"
    rows[0][header.index("health_mental")] = "maybe"
    rows[0][header.index("recommendation_by")] = "agency"
    _, problems = check_one(csv_file(tmp_path / "r.csv", header, rows))
    fields = [line.split(": ")[1] for line in problems]
    assert fields == [
        "merit2_year",
        "recommendation_reason",
        "recommendation_date",
        "health_mental",
    ]


@pytest.mark.parametrize(
    ("header_edit", "field", "reason"),
    [
        (lambda h: [*h, "nickname"], "nickname", "unknown column"),
        (lambda h: [c for c in h if c != "gender"], "gender", "required column is missing"),
        (lambda h: [c for c in h if c != "merit2_year"], "merit2_year", "go together"),
        (lambda h: [*h, "id"], "id", "appears twice"),
    ],
    ids=["unknown", "missing", "incomplete-group", "twice"],
)
def test_a_bad_header_is_reported_on_row_1_and_nothing_is_read(
    tmp_path: Path, header_edit: Any, field: str, reason: str
) -> None:
    header, rows = example_grid()
    kept = header_edit(header)
    grid = [[row[header.index(c)] if c in header else "x" for c in kept] for row in rows]
    path = csv_file(tmp_path / "r.csv", kept, grid)
    with pytest.raises(RosterError) as caught:
        check_roster(path, today=TODAY, shown_as="r.csv")
    (problem,) = caught.value.problems
    assert str(problem).startswith(f"r.csv:row 1: {field}: ")
    assert reason in problem.reason


@pytest.mark.parametrize(
    ("name", "content", "where", "reason"),
    [
        # GBK/GB18030 is decoded now (issue 14 item 4); bytes that are neither stay refused
        ("r.csv", b"id,name\n\xff\xfe\xfd\n", "line 2", "neither UTF-8 nor GB18030"),
        ("r.json", b'{"id": "LC-1"}', "line 1", "must be an array"),
        ("r.json", b'[\n{"id": "LC-1"},\n{"id": }\n]', "line 3", "JSON syntax error"),
        ("r.json", b'[{"id": 1}] []', "line 1", "after the end"),
        ("r.json", b'[{"year": NaN}]', "line 1", "unreadable JSON"),
        ("r.json", b"", "line 1", "must be an array"),
        ("r.xlsx", b"id,name\n", "", "not a readable .xlsx"),
        ("r.xls", b"whatever", "", ".xlsx"),
        ("r.txt", b"whatever", "", "unsupported file type"),
        ("r.csv", b"", "row 1", "row 1 must be the header"),
    ],
)
def test_an_unreadable_file_is_one_located_problem(
    tmp_path: Path, name: str, content: bytes, where: str, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(RosterError) as caught:
        check_roster(path, today=TODAY, shown_as=name)
    (problem,) = caught.value.problems
    assert str(problem.location) == where
    assert reason in problem.reason
    assert str(problem).startswith(f"{name}:{where}: file: " if where else f"{name}: file: ")


def test_json_records_know_their_line_and_duplicate_keys(tmp_path: Path) -> None:
    text = json.dumps(EXAMPLE, ensure_ascii=False, indent=2)
    text = text.replace('"gender": "女"', '"gender": "女", "gender": "男"', 1)
    path = tmp_path / "r.json"
    path.write_text(text, encoding="utf-8")
    (problem,) = check_roster(path, today=TODAY).problems
    lines = text.splitlines()
    opening = next(i for i, line in enumerate(lines) if '"LC-GT-0001"' in line)  # 1-based "{"
    assert lines[opening - 1].strip() == "{"
    assert str(problem.location) == f"record 4 (line {opening})"
    assert problem.field == "gender"
    assert "appears twice" in problem.reason


def xlsx_file(path: Path, rows: list[list[Any]]) -> Path:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path


def test_xlsx_rows_keep_their_numbers_across_blank_rows(tmp_path: Path) -> None:
    header, rows = example_grid()
    rows[3][header.index("branch")] = "Navy"
    path = xlsx_file(tmp_path / "r.xlsx", [header, rows[0], [], [], rows[3]])
    _, problems = check_one(path)
    assert len(problems) == 1
    assert problems[0].startswith(f"{path}:row 5: branch: ")


def test_an_id_number_excel_turned_into_a_number_is_explained(tmp_path: Path) -> None:
    header, rows = example_grid()
    rows[0][header.index("id_card")] = 371502194603120013
    rows[1][header.index("phone")] = 13563500001  # a phone number in a number cell is fine
    rows[1][header.index("birth_date")] = date(1962, 7, 8)
    path = xlsx_file(tmp_path / "r.xlsx", [header, rows[0], rows[1]])
    records, problems = check_one(path)
    assert len(problems) == 1
    assert problems[0].startswith(f"{path}:row 2: id_card: ")
    assert "format the column as Text" in problems[0]
    assert records[0]["phone"] == "13563500001"


def test_write_csv_round_trips(tmp_path: Path) -> None:
    records = generate_roster(300, 3, as_of=date(2024, 3, 1))
    write_csv(tmp_path / "r.csv", records)
    assert check_one(tmp_path / "r.csv") == (records, [])


# -- the command ---------------------------------------------------------------------------------


def cli(url: str, *args: str) -> Result:
    return CliRunner().invoke(
        main, ["--db", url, "--now", "2024-05-06T09:30", "cadres", "import", *args],
        catch_exceptions=False,
    )  # fmt: skip


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    """The readers' problems in English (the catalogue's translation, workflow.i18n): the
    expectations below were written in English, so running them checks the translations too.
    Commands run through the CLI speak Chinese again (they settle the language themselves)."""
    set_language("en")
    yield
    set_language(None)


def upgraded(url: str) -> str:
    """Only db upgrade (or the demo) creates a database (issue 17)."""
    result = CliRunner().invoke(main, ["--db", url, "db", "upgrade"])
    assert result.exit_code == 0, result.output
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return upgraded(f"sqlite:///{tmp_path / 'cli.db'}")


@pytest.mark.parametrize("suffix", ["json", "csv", "xlsx"])
def test_cli_imports_each_example_and_exits_0(sqlite_url: str, suffix: str) -> None:
    result = cli(sqlite_url, str(EXAMPLES / f"roster.{suffix}"))
    assert result.exit_code == 0, result.stderr
    assert "新增 6" in result.stdout
    assert result.stderr == ""


def test_cli_exits_2_with_one_line_per_problem_and_writes_nothing(
    sqlite_url: str, tmp_path: Path
) -> None:
    path = write_json(tmp_path / "bad.json", bad_example())
    result = cli(sqlite_url, str(path))
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"{path}:record 2 (line ")
    assert ": gender: " in lines[0]
    assert lines[1].startswith(f"{path}:record 5 (line ")
    assert ": merits[1].year: " in lines[1]
    assert "未导入任何记录" in lines[2]  # the command speaks Chinese
    assert "Traceback" not in result.output
    with Engine(sqlite_url, auto_upgrade=True) as engine:
        assert stored(engine) == {}


def test_cli_skip_invalid_exits_0_and_reports_the_skipped_rows(
    sqlite_url: str, tmp_path: Path
) -> None:
    header, rows = example_grid()
    rows[1][header.index("gender")] = "M"
    path = csv_file(tmp_path / "bad.csv", header, rows, bom=True)
    result = cli(sqlite_url, str(path), "--skip-invalid")
    assert result.exit_code == 0
    assert result.stderr.splitlines()[0].startswith(f"{path}:row 3: gender: ")
    assert "新增 5" in result.stdout
    assert "跳过 1" in result.stdout
    args = ["--lang", "en", "--db", sqlite_url, "cadres", "import", str(path), "--skip-invalid"]
    english = CliRunner().invoke(main, args)
    set_language(None)  # the next test speaks as the environment says
    assert "created 0" in english.stdout, english.output
    assert "1 invalid row was skipped" in english.stdout


def test_cli_json_report_and_json_problems(sqlite_url: str, tmp_path: Path) -> None:
    good = cli(sqlite_url, str(EXAMPLES / "roster.json"), "--json")
    assert good.exit_code == 0
    assert (
        json.loads(good.stdout) == ImportReport(str(EXAMPLES / "roster.json"), 6, 0, 0, 0).to_json()
    )
    bad = cli(sqlite_url, str(write_json(tmp_path / "bad.json", bad_example())), "--json")
    assert bad.exit_code == 2
    body = json.loads(bad.stdout)
    assert body["error"] == "invalid_roster"
    assert [(p["kind"], p["number"], p["field"]) for p in body["problems"]] == [
        ("record", 2, "gender"),
        ("record", 5, "merits[1].year"),
    ]


def test_cli_missing_file_exits_2(sqlite_url: str, tmp_path: Path) -> None:
    result = cli(sqlite_url, str(tmp_path / "nope.csv"))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"{tmp_path / 'nope.csv'}: file: ")


@pytest.mark.slow
def test_the_installed_command_exits_2_without_a_traceback(tmp_path: Path) -> None:
    path = write_json(tmp_path / "bad.json", bad_example())
    url = upgraded(f"sqlite:///{tmp_path / 'p.db'}")
    done = subprocess.run(
        [str(SCRIPT), "--db", url, "cadres", "import", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert f"{path}:record 2 (line " in done.stderr


@pytest.mark.postgres
def test_an_import_that_loses_a_race_on_a_new_cadre_writes_nothing(
    pg_url: str, clock: SimulatedClock, tmp_path: Path
) -> None:
    """On PostgreSQL two imports can both read a cadre as new; the one that inserts second
    breaks the primary key and must get an InputError naming ``id``, with nothing of its file
    written, not a driver traceback. (SQLite's BEGIN IMMEDIATE serialises imports instead.)"""
    with Engine(pg_url, clock=clock) as engine:
        engine.upgrade_schema()
        checked = check_roster(write_json(tmp_path / "roster.json", EXAMPLE), today=TODAY)
        first, now = checked.records[0], clock.now()

        def decide(_stored: Any) -> store_roster.RosterWrites:
            # the other import commits the same new cadre after this one read the table
            with engine.db.begin() as other:
                other.execute(sa.insert(cadres), {**first.columns(), "updated_at": now})
            rows = [{**record.columns(), "updated_at": now} for record in checked.records]
            return store_roster.RosterWrites(inserts=rows)

        ids = [record.id for record in checked.records]
        with pytest.raises(InputError) as info:
            store_roster.import_cadres(engine.db, ids, decide)
        assert info.value.field == "id"
        assert "同一编号" in str(info.value)
        assert set(stored(engine)) == {first.id}
        assert change_log(engine) == []
