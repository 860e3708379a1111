"""How much does the engine cost on top of the bare database writes it must make anyway?

Every persisted transition has an irreducible price: one compare-and-set UPDATE of the case row
and one INSERT of its history row, committed durably in one SQLite write transaction. This
benchmark puts the engine's ``fire`` (and ``open_case``) next to exactly that, written with the
standard library's ``sqlite3`` on an equivalent schema with the same journal mode and
``synchronous`` setting, so the ratio engine/raw says how much of the database's speed the
engine's reads, rules, SQLAlchemy and bookkeeping leave. The target is a ratio of at least 1/3.

Run from the repository root::

    python benchmarks/transitions.py --n 2000 --synchronous FULL
    python benchmarks/transitions.py --n 2000 --synchronous NORMAL --check
    python benchmarks/transitions.py --n 500 --profile   # cProfile of one engine fire round

Both sides run in this one process, on fresh files in one temporary directory, warmed up first,
then measured several times interleaved (engine, raw, engine, raw, ...); the medians are reported.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# This file shares its name with the `transitions` library the engine is built on, and running
# it as a script puts benchmarks/ first on sys.path: drop that entry before importing the engine.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _HERE]

from workflow import Engine, SimulatedClock  # noqa: E402
from workflow.clock import SHANGHAI  # noqa: E402
from workflow.store.database import create_engine  # noqa: E402

TARGET = 1 / 3
START = datetime(2024, 5, 1, 9, 0, tzinfo=SHANGHAI)
REGISTRATION = {"plan_level": "city"}  # the record below holds a class-2 merit: city tier
CONSENT = {"family_member": "张丽", "relation": "女儿"}
OPENER = "agency_officer:王芳@东昌府区军休所"  # ROLE:NAME@SCOPE (A5.2)
CONSENTER = "family:张丽@{cadre}"  # the family acts in its own cadre's scope


def cadre_record(number: int) -> dict[str, Any]:
    """A roster record that passes every rule (tests/factories.py has the annotated original)."""
    return {
        "id": f"LC-BENCH-{number:06d}",
        "name": "张建国",
        "gender": "男",
        "birth_date": f"{1950 + number % 20}-03-12",
        "category": "退休干部",
        "branch": "PLA",
        "county": "东昌府区",
        "agency": "东昌府区军休所",
        "placed_on": "2008-09-01",
        "merits": [{"class": 2, "wartime": False, "year": 1979}],
        "honours": [],
        "recommendation": None,
        "health": {"self_care": True, "infectious": False, "mental": False, "critical": False},
    }


class EngineSide:
    """The engine on its own SQLite file, as a host would build it."""

    def __init__(self, path: Path, synchronous: str, cadres: int) -> None:
        self.db = create_engine(f"sqlite:///{path}", sqlite_synchronous=synchronous)
        self.engine = Engine(self.db, clock=SimulatedClock(START))
        self.engine.upgrade_schema()
        self.engine.put_cadres([cadre_record(i) for i in range(cadres)])
        self.next_cadre = 0  # one case per cadre, as in real life (A9.2: once per cycle)
        self.pending: list[tuple[int, str]] = []  # (case, its family actor) awaiting consent

    def open_cases(self, n: int) -> None:
        for number in range(self.next_cadre, self.next_cadre + n):
            cadre_id = cadre_record(number)["id"]
            view = self.engine.open_case(cadre_id, actor=OPENER, data=REGISTRATION)
            self.pending.append((view.id, CONSENTER.format(cadre=cadre_id)))
        self.next_cadre += n

    def fire(self, n: int) -> None:
        """n persisted transitions: consent on n registered cases, oldest first."""
        batch, self.pending = self.pending[:n], self.pending[n:]
        if len(batch) < n:
            raise RuntimeError("not enough registered cases: open more before firing")
        for case_id, consenter in batch:
            self.engine.fire(case_id, "consent", actor=consenter, data=CONSENT)

    def close(self) -> None:
        self.engine.close()
        self.db.dispose()


RAW_SCHEMA = """
CREATE TABLE cases (
    id INTEGER PRIMARY KEY,
    definition_id INTEGER NOT NULL,
    cadre_id VARCHAR(64) NOT NULL,
    county VARCHAR(100) NOT NULL,
    agency VARCHAR(200) NOT NULL,
    state VARCHAR(64) NOT NULL,
    terminal BOOLEAN NOT NULL,
    version INTEGER NOT NULL,
    evidence JSON NOT NULL,
    opened_at DATETIME NOT NULL,
    updated_at DATETIME NOT NULL
);
CREATE INDEX ix_cases_state ON cases (state);
CREATE INDEX ix_cases_cadre_id ON cases (cadre_id);
CREATE INDEX ix_cases_county_agency ON cases (county, agency);
CREATE TABLE history (
    id INTEGER PRIMARY KEY,
    case_id INTEGER NOT NULL REFERENCES cases (id),
    seq INTEGER NOT NULL,
    "trigger" VARCHAR(64) NOT NULL,
    from_state VARCHAR(64),
    to_state VARCHAR(64) NOT NULL,
    actor VARCHAR(200) NOT NULL,
    role VARCHAR(64) NOT NULL,
    at DATETIME NOT NULL,
    data JSON NOT NULL,
    reason TEXT,
    UNIQUE (case_id, seq)
);
"""


class RawSide:
    """The floor: the same rows written with bare ``sqlite3``, one explicit transaction each."""

    def __init__(self, path: Path, synchronous: str) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA busy_timeout = 30000")
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute(f"PRAGMA synchronous = {synchronous}")
        self.conn.execute("PRAGMA foreign_keys = ON")
        self.conn.executescript(RAW_SCHEMA)
        self.next_cadre = 0
        self.pending: list[tuple[int, int, dict[str, Any]]] = []  # (id, version, evidence)
        self.now = START.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")

    def open_cases(self, n: int) -> None:
        conn, now = self.conn, self.now
        for number in range(self.next_cadre, self.next_cadre + n):
            evidence = dict(REGISTRATION)
            conn.execute("BEGIN IMMEDIATE")
            case_id = conn.execute(
                "INSERT INTO cases (definition_id, cadre_id, county, agency, state, terminal,"
                " version, evidence, opened_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    1,
                    cadre_record(number)["id"],
                    "东昌府区",
                    "东昌府区军休所",
                    "registered",
                    0,
                    1,
                    json.dumps(evidence, ensure_ascii=False, sort_keys=True),
                    now,
                    now,
                ),
            ).lastrowid
            conn.execute(
                'INSERT INTO history (case_id, seq, "trigger", from_state, to_state, actor,'
                " role, at, data, reason) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    case_id,
                    1,
                    "open",
                    None,
                    "registered",
                    "王芳",
                    "agency_officer",
                    now,
                    json.dumps(evidence, ensure_ascii=False, sort_keys=True),
                    None,
                ),
            )
            conn.execute("COMMIT")
            assert case_id is not None
            self.pending.append((case_id, 1, evidence))
        self.next_cadre += n

    def fire(self, n: int) -> None:
        """n transactions of one compare-and-set UPDATE plus one history INSERT."""
        batch, self.pending = self.pending[:n], self.pending[n:]
        if len(batch) < n:
            raise RuntimeError("not enough registered cases: open more before firing")
        conn, now = self.conn, self.now
        for case_id, version, evidence in batch:
            fields = dict(CONSENT)
            merged = {**evidence, **fields}
            conn.execute("BEGIN IMMEDIATE")
            moved = conn.execute(
                "UPDATE cases SET state=?, terminal=?, version=?, evidence=?, updated_at=?"
                " WHERE id=? AND version=?",
                (
                    "family_consented",
                    0,
                    version + 1,
                    json.dumps(merged, ensure_ascii=False, sort_keys=True),
                    now,
                    case_id,
                    version,
                ),
            ).rowcount
            if moved != 1:
                conn.execute("ROLLBACK")
                raise RuntimeError(f"case {case_id} moved under us")
            conn.execute(
                'INSERT INTO history (case_id, seq, "trigger", from_state, to_state, actor,'
                " role, at, data, reason) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    case_id,
                    version + 1,
                    "consent",
                    "registered",
                    "family_consented",
                    "张丽",
                    "family",
                    now,
                    json.dumps(fields, ensure_ascii=False, sort_keys=True),
                    None,
                ),
            )
            conn.execute("COMMIT")

    def close(self) -> None:
        self.conn.close()


def timed(action: Callable[[int], None], n: int) -> float:
    """Calls per second of ``action(n)``."""
    started = time.perf_counter()
    action(n)
    return n / (time.perf_counter() - started)


@dataclass
class Rates:
    engine: list[float]
    raw: list[float]

    @property
    def ratio(self) -> float:
        return statistics.median(self.engine) / statistics.median(self.raw)


def measure(n: int, rounds: int, warmup: int, engine: EngineSide, raw: RawSide) -> dict[str, Rates]:
    for side in (engine, raw):
        side.open_cases(warmup)
        side.fire(warmup)
    results = {"fire": Rates([], []), "open_case": Rates([], [])}
    for _ in range(rounds):
        for name, side in (("engine", engine), ("raw", raw)):
            opened = timed(side.open_cases, n)
            fired = timed(side.fire, n)
            getattr(results["open_case"], name).append(opened)
            getattr(results["fire"], name).append(fired)
    return results


def report(results: dict[str, Rates], args: argparse.Namespace) -> float:
    print(
        f"synchronous={args.synchronous}  n={args.n} per round  rounds={args.rounds}  "
        f"sqlite {sqlite3.sqlite_version}  python {sys.version.split()[0]}"
    )
    print(
        f"{'operation':<10} {'engine/s':>9} {'raw/s':>9} {'ratio':>6} {'per round':>11}"
        "   engine/s by round"
    )
    for name, rates in results.items():
        pairs = [e / r for e, r in zip(rates.engine, rates.raw, strict=True)]
        spread = " ".join(f"{r:.0f}" for r in rates.engine)
        print(
            f"{name:<10} {statistics.median(rates.engine):>9.0f} "
            f"{statistics.median(rates.raw):>9.0f} {rates.ratio:>6.2f} "
            f"{min(pairs):>5.2f}-{max(pairs):<5.2f}   {spread}"
        )
    ratio = results["fire"].ratio
    print(f"ratio engine/raw = {ratio:.2f} (target >= {TARGET:.2f})")
    return ratio


def profile(engine: EngineSide, n: int) -> None:
    engine.open_cases(n)
    profiler = cProfile.Profile()
    profiler.enable()
    engine.fire(n)
    profiler.disable()
    print(f"\ncProfile of {n} engine fire calls, top 25 by cumulative time:")
    pstats.Stats(profiler, stream=sys.stdout).sort_stats("cumulative").print_stats(25)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=2000, help="timed calls per round (2000)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (5)")
    parser.add_argument("--warmup", type=int, default=200, help="untimed calls first (200)")
    parser.add_argument(
        "--synchronous",
        type=str.upper,
        choices=["FULL", "NORMAL"],
        default="FULL",
        help="PRAGMA synchronous for both sides (FULL, the engine's default)",
    )
    parser.add_argument(
        "--check", action="store_true", help=f"exit 1 if the fire ratio is below {TARGET:.2f}"
    )
    parser.add_argument(
        "--profile", action="store_true", help="also print a cProfile of one engine fire round"
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="a tiny run (--n 50 --rounds 1 --warmup 10) that only shows the benchmark still "
        "works; its ratio means nothing (the test suite runs it)",
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.n, args.rounds, args.warmup = 50, 1, 10
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="wf-bench-") as tmp:
        cadres = args.warmup + args.n * (args.rounds + (1 if args.profile else 0))
        engine = EngineSide(Path(tmp) / "engine.db", args.synchronous, cadres)
        raw = RawSide(Path(tmp) / "raw.db", args.synchronous)
        try:
            results = measure(args.n, args.rounds, args.warmup, engine, raw)
            ratio = report(results, args)
            if args.profile:
                profile(engine, args.n)
        finally:
            engine.close()
            raw.close()
    if args.check and ratio < TARGET:
        print(f"FAIL: engine/raw {ratio:.2f} is below {TARGET:.2f}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
