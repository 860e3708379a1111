"""How fast does a roster import, how much memory does it take, and how far is it from SQLite?

A city's agencies hand over rosters of tens of thousands of cadres, a province's of a million;
an officer waits for the import at the terminal. Issue 14 item 4 asks for bounded memory (peak
RSS at most 300 MB at any size; 5.2 GB at 1M rows before the import streamed) and at least
0.3 × the rate of a bare ``executemany`` of the same rows. For each size (1,000, 100,000 and
1,000,000 rows by default) this benchmark writes N valid records (`generate_roster`; past
100,000 the generated records are repeated with fresh ids and ID numbers) as a JSON array, a
UTF-8 CSV and a GB18030 CSV, and runs each of these in a subprocess of its own, which reports its
wall and CPU seconds and its peak RSS (``resource.getrusage``, the whole process: interpreter,
engine, reader, spool and driver):

1. ``import_roster`` of the JSON file into a fresh migrated SQLite file (read, validate every
   field, spool, diff against the database, insert the cadres and one ``cadre_changes`` row per
   cadre, one transaction);
2. the same of the UTF-8 CSV, and of the GB18030 CSV (what Chinese Excel writes);
3. a re-import of the JSON file with 1% of the records changed (99% found identical and left
   alone, 1% updated with their diff logged);
4. the baseline, "raw": the same rows inserted with the standard library's ``sqlite3`` and one
   ``executemany`` in one transaction (JSON serialisation included, the records already in
   memory: their reading is not timed; same PRAGMAs as the engine: WAL, ``synchronous=FULL``),
   i.e. the least any importer writing these rows could spend;
5. at the ``--pg-sizes`` (100,000 by default), (1) into a fresh PostgreSQL database on the
   tests' server (``CONVALESCENCE_TEST_PG``) and the raw side with psycopg's ``executemany``
   into a bare table of the same columns.

An import is timed from the call of ``import_roster`` on an open engine (as a host's is) to its
return; the raw side's timing leaves out reading the records. (1) and (4) run in turn
``--rounds`` times (3) and the round with the median ratio is shown, every round's ratio below
the table, so a load spike on the shared machine cannot favour one side. Peak RSS is the child's
whole life, plus its largest helper process's (an import checks a large file in as many
processes as there are cores: `workflow.roster.parallel`); CPU seconds count the helpers too.
The table per size gives wall and CPU seconds and both as a share of the raw side's rate; the
last line is the ratio of (1) to (4) at the largest size. Run from the repository root::

    python benchmarks/roster_import.py                          # 1k, 100k, 1M: ~20 min here
    python benchmarks/roster_import.py --sizes 1000,100000 --pg-sizes "" --keep /tmp/rb
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

# benchmarks/transitions.py shares its name with the `transitions` library the engine is built
# on, and running a script puts benchmarks/ first on sys.path: drop it before importing the engine.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _HERE]

# The engine is imported only by the subprocesses that use it (module note on `measure`).

AS_OF = date(2024, 3, 1)
NOW = datetime(2024, 5, 6, 9, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
POOL = 100_000  # records generated; larger rosters repeat them with fresh ids and ID numbers
TARGET_RSS_MB = 300
ADMIN_URL = os.environ.get("CONVALESCENCE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
TARGET_RATE = 0.3


# -- the roster files ------------------------------------------------------------------------


def records(count: int, seed: int) -> Iterator[dict[str, Any]]:
    """``count`` valid, distinct records; past `POOL` the pool again, each copy with an id of
    its own and a fresh ID number (unique, with the same region and birth date)."""
    from workflow.demo.roster import generate_roster  # noqa: PLC0415
    from workflow.idcard import make_id_card  # noqa: PLC0415

    pool = generate_roster(min(count, POOL), seed, as_of=AS_OF)
    yield from pool
    if count <= POOL:
        return
    rng = random.Random(seed)
    cards = {record["id_card"] for record in pool if "id_card" in record}
    for index in range(POOL, count):
        record = dict(pool[index % POOL])
        record["id"] = f"{record['id']}-{index // POOL}"
        if "id_card" in record:
            birth, female = date.fromisoformat(record["birth_date"]), record["gender"] == "女"
            while True:
                card = make_id_card(record["id_card"][:6], birth, rng.randint(0, 999), female)
                if card not in cards:
                    cards.add(card)
                    record["id_card"] = card
                    break
        yield record


FILES = ("roster.json", "roster.csv", "roster-gb18030.csv", "changed.json", "raw.jsonl")


def write_files(count: int, seed: int, where: Path) -> dict[str, Path]:
    """The roster as a JSON array, CSV in UTF-8 (with BOM) and in GB18030, a JSON array with 1%
    of the records changed, and JSON Lines for the raw side; written as generated."""
    from workflow.roster import flat_columns, flatten  # noqa: PLC0415

    files = {name: where / f"{count}-{name}" for name in FILES}
    columns = flat_columns()
    handles = {name: path.open("w", encoding="utf-8", newline="") for name, path in files.items()}
    handles["roster.csv"].reconfigure(encoding="utf-8-sig")
    handles["roster-gb18030.csv"].reconfigure(encoding="gb18030")
    try:
        writers = {name: csv.writer(handles[name]) for name in ("roster.csv", "roster-gb18030.csv")}
        for writer in writers.values():
            writer.writerow(columns)
        for name in ("roster.json", "changed.json"):
            handles[name].write("[\n")
        for index, record in enumerate(records(count, seed)):
            separator = ",\n" if index else ""
            handles["roster.json"].write(separator + json.dumps(record, ensure_ascii=False))
            handles["changed.json"].write(
                separator + json.dumps(changed(index, record), ensure_ascii=False)
            )
            handles["raw.jsonl"].write(json.dumps(record, ensure_ascii=False) + "\n")
            row = ["" if cell is None else cell_text(cell) for cell in flatten(record, columns)]
            for writer in writers.values():
                writer.writerow(row)
        for name in ("roster.json", "changed.json"):
            handles[name].write("\n]\n")
    finally:
        for handle in handles.values():
            handle.close()
    return files


def changed(index: int, record: dict[str, Any]) -> dict[str, Any]:
    """Every 100th record changed (alternately its health and a new honour)."""
    if index % 100:
        return record
    copy: dict[str, Any] = json.loads(json.dumps(record))
    if (index // 100) % 2:
        copy["health"]["critical"] = not copy["health"]["critical"]
    else:
        copy["honours"].append({"kind": "commendation", "level": "county", "year": 2023})
    return copy


def cell_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# -- one measurement per subprocess ----------------------------------------------------------


def child(mode: str, file: Path, db: str) -> None:
    """Run one measurement in this process and print its figures as one JSON line: ``db`` is a
    SQLite file for ``raw``, a PostgreSQL URL for ``raw-pg`` and an engine URL for ``import``."""
    result: dict[str, Any] = {}
    if mode == "raw":
        result["rows"], seconds, cpu = raw_executemany(Path(db), file)
    elif mode == "raw-pg":
        result["rows"], seconds, cpu = raw_postgresql(db, file)
    else:
        from workflow import Engine, SimulatedClock  # noqa: PLC0415
        from workflow.roster import import_roster  # noqa: PLC0415

        with Engine(db, clock=SimulatedClock(NOW)) as engine:  # open, as a host's engine is
            start_wall, start_cpu = time.perf_counter(), time.process_time()
            report = import_roster(engine, file)
            seconds, cpu = time.perf_counter() - start_wall, time.process_time() - start_cpu
        result = {
            "rows": report.total,
            "created": report.created,
            "updated": report.updated,
            "unchanged": report.unchanged,
            "encoding": report.encoding,
        }
    helpers = resource.getrusage(resource.RUSAGE_CHILDREN)
    result |= {
        "seconds": seconds,
        "cpu": cpu + helpers.ru_utime + helpers.ru_stime,
        # this process's peak and its largest helper's, added: an upper bound of both at once
        "peak_rss_mb": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss + helpers.ru_maxrss)
        / 1024,
    }
    print(json.dumps(result))


def raw_rows(file: Path) -> Iterator[list[dict[str, Any]]]:
    """The records of a JSON Lines file, 10,000 at a time (reading them is not timed)."""
    with file.open(encoding="utf-8") as lines:
        while batch := [json.loads(line) for _, line in zip(range(10_000), lines, strict=False)]:
            yield batch


def raw_tuples(batch: list[dict[str, Any]], stamp: Any) -> list[tuple[Any, ...]]:
    return [
        (
            r["id"],
            r["name"],
            r["county"],
            r["agency"],
            r["birth_date"],
            json.dumps(r, ensure_ascii=False, sort_keys=True),
            stamp,
        )
        for r in batch
    ]


def raw_postgresql(url: str, file: Path) -> tuple[int, float, float]:
    """As `raw_executemany`, with psycopg into a bare table of the cadres' columns (JSONB)."""
    import psycopg  # noqa: PLC0415

    timed, cpu, count = 0.0, 0.0, 0
    with psycopg.connect(url) as connection:
        connection.execute(
            "CREATE TABLE raw_cadres (id VARCHAR(64) PRIMARY KEY, name VARCHAR(100) NOT NULL, "
            "county VARCHAR(100) NOT NULL, agency VARCHAR(200) NOT NULL, birth_date DATE NOT NULL, "
            "record JSONB NOT NULL, updated_at TIMESTAMPTZ NOT NULL)"
        )
        connection.commit()
        for batch in raw_rows(file):
            start, start_cpu = time.perf_counter(), time.process_time()
            with connection.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO raw_cadres VALUES (%s, %s, %s, %s, %s, %s, %s)",
                    raw_tuples(batch, NOW),
                )
            timed += time.perf_counter() - start
            cpu += time.process_time() - start_cpu
            count += len(batch)
        start, start_cpu = time.perf_counter(), time.process_time()
        connection.commit()
        timed += time.perf_counter() - start
        cpu += time.process_time() - start_cpu
    return count, timed, cpu


def raw_executemany(db: Path, file: Path) -> tuple[int, float, float]:
    """The stdlib driver inserting the cadres rows, serialisation included; the records are
    read from JSON Lines a batch at a time, and that reading is not timed. Returns the rows,
    the wall and the CPU seconds of the timed part."""
    connection = sqlite3.connect(db, isolation_level=None)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = FULL")
    connection.execute(
        "CREATE TABLE cadres (id VARCHAR(64) PRIMARY KEY, name VARCHAR(100) NOT NULL, "
        "county VARCHAR(100) NOT NULL, agency VARCHAR(200) NOT NULL, birth_date DATE NOT NULL, "
        "record JSON NOT NULL, updated_at DATETIME NOT NULL)"
    )
    stamp = NOW.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")
    timed, cpu, count = 0.0, 0.0, 0
    connection.execute("BEGIN IMMEDIATE")
    for batch in raw_rows(file):
        start, start_cpu = time.perf_counter(), time.process_time()
        rows = raw_tuples(batch, stamp)
        connection.executemany("INSERT INTO cadres VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        timed += time.perf_counter() - start
        cpu += time.process_time() - start_cpu
        count += len(batch)
    start, start_cpu = time.perf_counter(), time.process_time()
    connection.execute("COMMIT")
    timed += time.perf_counter() - start
    cpu += time.process_time() - start_cpu
    connection.close()
    return count, timed, cpu


def measure(mode: str, file: Path, db: str) -> dict[str, Any]:
    """Run `child` in a subprocess. The parent generates nothing itself: a child started with
    vfork inherits its parent's peak RSS as its own starting figure (Linux keeps the larger of
    the two across exec), so the parent must stay small for the children's figures to count."""
    done = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(file), str(db)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{mode} {file.name} failed:\n{done.stderr[-4000:]}")
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def fresh_database(path: Path) -> Path:
    """A migrated SQLite file (migrated in a subprocess, like everything using the engine)."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    upgraded(f"sqlite:///{path}")
    return path


def upgraded(url: str) -> str:
    subprocess.run([sys.executable, __file__, "--child", "upgrade", url, "-"], check=True)
    return url


def upgrade(url: str) -> None:
    from workflow import Engine, SimulatedClock  # noqa: PLC0415

    with Engine(url, clock=SimulatedClock(NOW)) as engine:
        engine.upgrade_schema()


@contextmanager
def postgresql_database() -> Iterator[str]:
    """A database of its own on the tests' server (`CONVALESCENCE_TEST_PG`), dropped after."""
    import psycopg  # noqa: PLC0415

    name = f"roster_bench_{os.getpid()}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# -- the run ---------------------------------------------------------------------------------


def run(
    count: int, seed: int, where: Path, *, keep: bool, pg: bool, rounds_of: int
) -> dict[str, dict[str, Any]]:
    start = time.perf_counter()
    files = {name: where / f"{count}-{name}" for name in FILES}
    done = subprocess.run(
        [sys.executable, __file__, "--child", "write", str(where), f"{count},{seed}"], check=False
    )
    if done.returncode != 0:
        raise SystemExit("writing the roster files failed")
    megabytes = files["roster.json"].stat().st_size / 1e6, files["roster.csv"].stat().st_size / 1e6
    print(
        f"\n{count:,} rows written in {time.perf_counter() - start:.1f} s "
        f"(JSON {megabytes[0]:.1f} MB, CSV {megabytes[1]:.1f} MB)"
    )
    results: dict[str, dict[str, Any]] = {}
    raw_db = where / f"{count}-raw.db"
    json_db = ""
    # the headline pair in turn, `rounds` times: a load spike cannot favour one side; the
    # median round's figures are shown (by its ratio), and every ratio
    rounds: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for _ in range(rounds_of):
        json_db = f"sqlite:///{fresh_database(where / f'{count}-json.db')}"
        imported = measure("import", files["roster.json"], json_db)
        assert imported["created"] == count, imported
        for suffix in ("", "-wal", "-shm"):
            Path(f"{raw_db}{suffix}").unlink(missing_ok=True)
        rounds.append((imported, measure("raw", files["raw.jsonl"], str(raw_db))))
    ratios = [raw["seconds"] / imported["seconds"] for imported, raw in rounds]
    median = sorted(range(len(rounds)), key=ratios.__getitem__)[len(rounds) // 2]
    results["import JSON"], raw_figures = rounds[median]
    results["import JSON"]["ratios"] = ratios
    results["re-import JSON, 1% changed"] = measure("import", files["changed.json"], json_db)
    assert results["re-import JSON, 1% changed"]["updated"] == (count + 99) // 100
    for name, label in (
        ("roster.csv", "import CSV (UTF-8)"),
        ("roster-gb18030.csv", "import CSV (GB18030)"),
    ):
        url = f"sqlite:///{fresh_database(where / f'{count}-{name}.db')}"
        results[label] = measure("import", files[name], url)
        assert results[label]["created"] == count, results[label]
    results["raw sqlite3 executemany"] = raw_figures
    show(count, results, "raw sqlite3 executemany")
    shown = ", ".join(f"{ratio:.2f}" for ratio in ratios)
    print(f"import JSON × raw (wall) in each of {len(ratios)} rounds: {shown}")
    if pg:
        with postgresql_database() as url:
            upgraded(url)
            pg_results = {
                "import JSON (PostgreSQL)": measure("import", files["roster.json"], url),
                "raw psycopg executemany": measure("raw-pg", files["raw.jsonl"], url),
            }
        assert pg_results["import JSON (PostgreSQL)"]["created"] == count
        show(count, pg_results, "raw psycopg executemany")
        results |= pg_results
    if not keep:
        for path in where.iterdir():
            if path.name.startswith(f"{count}-"):
                path.unlink()
    return results


def show(count: int, results: dict[str, dict[str, Any]], baseline: str) -> None:
    raw = results[baseline]
    print(
        f"{'':30} {'wall s':>8} {'rows/s':>10} {'× raw':>6} {'CPU s':>8} {'× raw':>6} "
        f"{'peak RSS':>9}"
    )
    for label, figures in results.items():
        rate = count / figures["seconds"]
        share, cpu_share = raw["seconds"] / figures["seconds"], raw["cpu"] / figures["cpu"]
        print(
            f"{label:30} {figures['seconds']:8.2f} {rate:10,.0f} {share:6.2f} "
            f"{figures['cpu']:8.2f} {cpu_share:6.2f} {figures['peak_rss_mb']:6.0f} MB"
        )


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1:3] == ["--child", "write"]:
        count, seed = (int(number) for number in sys.argv[4].split(","))
        write_files(count, seed, Path(sys.argv[3]))
        return
    if len(sys.argv) == 5 and sys.argv[1:3] == ["--child", "upgrade"]:
        upgrade(sys.argv[3])
        return
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        child(sys.argv[2], Path(sys.argv[3]), sys.argv[4])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        default="1000,100000,1000000",
        help="roster sizes, comma-separated (default 1000,100000,1000000)",
    )
    parser.add_argument(
        "--pg-sizes",
        default="100000",
        help="sizes also imported into PostgreSQL (CONVALESCENCE_TEST_PG's server), "
        "comma-separated; empty for none (default 100000)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="import JSON and the raw baseline this many times in turn; the median ratio counts "
        "(default 3)",
    )
    parser.add_argument(
        "--keep", type=Path, help="write the files and databases here and keep them"
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="--sizes 200: only shows the benchmark still works; its ratio means nothing "
        "(the test suite runs it)",
    )
    args = parser.parse_args()
    sizes = [200] if args.smoke else [int(size) for size in args.sizes.split(",")]
    pg_sizes = set() if args.smoke else {int(size) for size in args.pg_sizes.split(",") if size}
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as scratch:
        where = args.keep or Path(scratch)
        where.mkdir(parents=True, exist_ok=True)
        results = {
            count: run(
                count,
                args.seed,
                where,
                keep=args.keep is not None,
                pg=count in pg_sizes,
                rounds_of=1 if args.smoke else args.rounds,
            )
            for count in sizes
        }
    largest = max(sizes)
    imported, raw = results[largest]["import JSON"], results[largest]["raw sqlite3 executemany"]
    peak = max(
        figures["peak_rss_mb"]
        for by_size in results.values()
        for figures in by_size.values()
        if "created" in figures
    )
    ratio = imported["seconds"] / raw["seconds"]
    cpu_ratio = imported["cpu"] / raw["cpu"]
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    print(
        f"ratio import JSON / raw executemany: {ratio:.1f}x at {largest:,} rows "
        f"(rate {1 / ratio:.2f} × raw, target ≥ {TARGET_RATE}; by CPU time {1 / cpu_ratio:.2f}); "
        f"peak RSS of any import {peak:.0f} MB (target ≤ {TARGET_RSS_MB} MB)"
    )


if __name__ == "__main__":
    main()
