"""How fast does a city-sized roster import, and how far is that from SQLite's own speed?

A city's agencies hand over rosters of tens of thousands of cadres; an officer waits for the
import at the terminal, so 100,000 rows must take seconds, not minutes. This benchmark generates
N valid records (`workflow.demo.roster.generate_roster`), writes them as a JSON and a CSV file,
and times, each into a fresh SQLite file:

1. ``import_roster`` of the JSON file (read, validate every field, diff against the database,
   bulk-insert the cadres and one ``cadre_changes`` row per cadre, one transaction);
2. ``import_roster`` of the CSV file;
3. a re-import of the JSON file with 1% of the records changed (the update path: 99% found
   identical and left alone, 1% updated with their diff logged);
4. the baseline: the same rows inserted with the standard library's ``sqlite3`` and one
   ``executemany`` (JSON serialisation included, same PRAGMAs as the engine: WAL,
   ``synchronous=FULL``), i.e. the least any importer writing these rows could spend.

It prints rows per second for each and the ratio of (1) to (4). Run from the repository root::

    python benchmarks/roster_import.py                 # 100,000 rows
    python benchmarks/roster_import.py --count 20000 --keep /tmp/roster-bench
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

# benchmarks/transitions.py shares its name with the `transitions` library the engine is built
# on, and running a script puts benchmarks/ first on sys.path: drop it before importing the engine.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _HERE]

from workflow import Engine, SimulatedClock  # noqa: E402
from workflow.clock import SHANGHAI  # noqa: E402
from workflow.demo.roster import generate_roster  # noqa: E402
from workflow.roster import check_roster, import_roster, write_csv  # noqa: E402

AS_OF = date(2024, 3, 1)
NOW = datetime(2024, 5, 6, 9, 30, tzinfo=SHANGHAI)
T = TypeVar("T")


def timed(action: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    result = action()
    return result, time.perf_counter() - start


def fresh_engine(path: Path) -> Engine:
    engine = Engine(f"sqlite:///{path}", clock=SimulatedClock(NOW))
    engine.upgrade_schema()
    return engine


def raw_executemany(path: Path, records: list[dict[str, Any]]) -> float:
    """Seconds for the stdlib driver to insert the cadres rows, serialisation included."""
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = FULL")
    connection.execute(
        "CREATE TABLE cadres (id VARCHAR(64) PRIMARY KEY, name VARCHAR(100) NOT NULL, "
        "county VARCHAR(100) NOT NULL, agency VARCHAR(200) NOT NULL, birth_date DATE NOT NULL, "
        "record JSON NOT NULL, updated_at DATETIME NOT NULL)"
    )
    stamp = NOW.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")
    start = time.perf_counter()
    rows = [
        (
            r["id"],
            r["name"],
            r["county"],
            r["agency"],
            r["birth_date"],
            json.dumps(r, ensure_ascii=False, sort_keys=True),
            stamp,
        )
        for r in records
    ]
    connection.execute("BEGIN IMMEDIATE")
    connection.executemany("INSERT INTO cadres VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    connection.execute("COMMIT")
    elapsed = time.perf_counter() - start
    connection.close()
    return elapsed


def change_one_percent(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    changed: list[dict[str, Any]] = json.loads(json.dumps(records))
    for index, record in enumerate(changed[::100]):
        if index % 2:
            record["health"]["critical"] = not record["health"]["critical"]
        else:
            record["honours"].append({"kind": "commendation", "level": "county", "year": 2023})
    return changed


def rate(count: int, seconds: float) -> str:
    return f"{seconds:7.2f} s  {count / seconds:10,.0f} rows/s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100_000, help="records (default 100,000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--keep", type=Path, help="write the files and databases here and keep them"
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="--count 200: only shows the benchmark still works; its ratio means nothing "
        "(the test suite runs it)",
    )
    args = parser.parse_args()
    if args.smoke:
        args.count = 200
    with tempfile.TemporaryDirectory() as scratch:
        where = args.keep or Path(scratch)
        where.mkdir(parents=True, exist_ok=True)
        run(args.count, args.seed, where)


def run(count: int, seed: int, where: Path) -> None:
    records, generating = timed(lambda: generate_roster(count, seed, as_of=AS_OF))
    json_file, csv_file, changed_file = (
        where / "roster.json",
        where / "roster.csv",
        where / "changed.json",
    )
    json_file.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    write_csv(csv_file, records)
    changed_file.write_text(
        json.dumps(change_one_percent(records), ensure_ascii=False), encoding="utf-8"
    )
    print(f"{count:,} records generated in {generating:.2f} s; files in {where}")
    sizes = json_file.stat().st_size / 1e6, csv_file.stat().st_size / 1e6
    print(f"  JSON {sizes[0]:.1f} MB, CSV {sizes[1]:.1f} MB")

    with fresh_engine(where / "json.db") as engine:
        report, json_seconds = timed(lambda: import_roster(engine, json_file))
        assert report.created == count, report
        checked, validating = timed(lambda: check_roster(json_file, today=NOW.date()))
        assert len(checked.records) == count
        update, update_seconds = timed(lambda: import_roster(engine, changed_file))
        assert (update.updated, update.unchanged) == (
            len(records[::100]),
            count - len(records[::100]),
        )
    with fresh_engine(where / "csv.db") as engine:
        report, csv_seconds = timed(lambda: import_roster(engine, csv_file))
        assert report.created == count, report
    baseline = raw_executemany(where / "raw.db", records)

    print(f"import JSON, new database      {rate(count, json_seconds)}")
    print(f"  of which read + validate     {rate(count, validating)}  (measured separately)")
    print(f"import CSV, new database       {rate(count, csv_seconds)}")
    updated = f"({update.updated:,} updated)"
    print(f"re-import JSON, 1% changed     {rate(count, update_seconds)}  {updated}")
    print(f"raw sqlite3 executemany        {rate(count, baseline)}  (cadres rows only)")
    print(
        f"ratio import JSON / raw executemany: {json_seconds / baseline:.1f}x "
        "(the import also reads and validates the file and writes a cadre_changes row per cadre)"
    )


if __name__ == "__main__":
    main()
