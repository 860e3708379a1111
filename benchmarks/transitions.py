"""How much does the engine cost on top of the bare database writes it must make anyway?

Every persisted transition has an irreducible price: the rows it writes, committed durably in
one SQLite write transaction. This benchmark puts the engine's ``fire`` (and ``open_case``) next
to exactly those rows written with the standard library's ``sqlite3`` on the engine's own schema
(created by its migrations: the same indexes, the A19.1 append-only and case-row triggers), with
the same journal mode and ``synchronous`` setting: a step's history row with its SHA-256 link
and the case's compare-and-set with its new chain head; an opening's case row, first history
row, chain head and notices (the same eligibility text and notice bodies the engine wrote). So
the ratio engine/raw says how much of the database's speed the engine's reads, rules, scopes,
SQLAlchemy and bookkeeping leave. Targets (issue 11): fire >= 0.40 at synchronous=FULL and >=
0.25 at NORMAL, open_case >= 0.30.

Run from the repository root::

    python benchmarks/transitions.py --n 2000 --synchronous FULL
    python benchmarks/transitions.py --n 2000 --synchronous NORMAL --check
    python benchmarks/transitions.py --n 500 --profile   # cProfile of one engine fire round

Both sides run in this one process, on fresh files in one temporary directory, warmed up first,
then measured in rounds; within a round the two sides take turns every ``--block`` calls, so
load from elsewhere on the machine falls on both alike. The ratio is the median over rounds of
each round's engine/raw; the CPU columns (this thread's CPU time per call, the database's work
included) show what the engine adds without the waiting, which a loaded machine inflates.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import json
import pstats
import sqlite3
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

# This file shares its name with the `transitions` library the engine is built on, and running
# it as a script puts benchmarks/ first on sys.path: drop that entry before importing the engine.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _HERE]

from workflow import Engine, SimulatedClock  # noqa: E402
from workflow.clock import SHANGHAI  # noqa: E402
from workflow.plans import service  # noqa: E402
from workflow.store.database import create_engine  # noqa: E402

TARGETS = {"FULL": 0.40, "NORMAL": 0.25}  # fire / raw, by PRAGMA synchronous
OPEN_TARGET = 0.30
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
        # in service, before placement: at 30 (the roster check refuses a merit outside it)
        "merits": [{"class": 2, "wartime": False, "year": 1980 + number % 20}],
        "honours": [],
        "recommendation": None,
        # the family member who consents is the roster's contact (A5.2)
        "family_contact": {"name": "张丽", "relation": "女儿", "phone": "13800001234"},
        "health": {"self_care": True, "infectious": False, "mental": False, "critical": False},
    }


class EngineSide:
    """The engine on its own SQLite file, as a host would build it."""

    def __init__(self, path: Path, synchronous: str, cadres: int) -> None:
        self.db = create_engine(f"sqlite:///{path}", sqlite_synchronous=synchronous)
        self.engine = Engine(self.db, clock=SimulatedClock(START))
        self.engine.upgrade_schema()
        self.engine.put_cadres([cadre_record(i) for i in range(cadres)])
        service.create_plan(  # the year's plan every registration names (A3.2)
            self.engine, year=2024, organiser_level="city", budget=Decimal(1), cycle="2024-2025"
        )
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


@dataclass(frozen=True)
class Payload:
    """What the engine wrote for one opening, taken from its own database after the warm-up, so
    the raw side writes rows of the same size: the stored eligibility explanation (A4.2) and
    the notices of the opening step (outbox rows)."""

    eligibility: str
    notices: list[tuple[Any, ...]]

    @classmethod
    def of(cls, engine: EngineSide) -> Payload:
        with engine.db.connect() as connection:
            eligibility = connection.exec_driver_sql(
                "SELECT eligibility FROM cases ORDER BY id LIMIT 1"
            ).scalar_one()
            notices = connection.exec_driver_sql(
                "SELECT template, channel, recipient_role, recipient_name, address, subject,"
                " body, body_html FROM outbox WHERE case_id = (SELECT min(id) FROM cases)"
                " ORDER BY id"
            ).all()
        return cls(str(eligibility), [tuple(row) for row in notices])


class RawSide:
    """The floor: the rows the engine writes, written with bare ``sqlite3`` on the engine's own
    schema (its migrations: the same indexes and the A19.1 triggers), one explicit transaction
    each. An opening inserts the case, its first history row with its SHA-256 link, the case's
    chain head and the opening's notices; a step inserts the linked history row, then
    compare-and-sets the case with its new chain head (the order the cases trigger requires)."""

    def __init__(self, path: Path, synchronous: str, payload: Payload, cadres: int) -> None:
        schema = create_engine(f"sqlite:///{path}", sqlite_synchronous=synchronous)
        Engine(schema).upgrade_schema()
        schema.dispose()
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA busy_timeout = 30000")
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute(f"PRAGMA synchronous = {synchronous}")
        self.conn.execute("PRAGMA foreign_keys = ON")
        self.payload = payload
        self.now = START.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")
        self.conn.execute("BEGIN")
        self.conn.execute(
            "INSERT INTO definitions (id, name, version, content_hash, source_name, source_text,"
            " effective_from, stored_at) VALUES (1, 'raw', 1, ?, 'raw.yaml', '', ?, ?)",
            ("0" * 64, "2023-01-01", self.now),
        )
        self.conn.executemany(
            "INSERT INTO cadres (id, name, county, agency, birth_date, record, updated_at)"
            " VALUES (?,?,?,?,?,?,?)",
            [
                (
                    record["id"],
                    record["name"],
                    record["county"],
                    record["agency"],
                    record["birth_date"],
                    _json(record),
                    self.now,
                )
                for record in (cadre_record(i) for i in range(cadres))
            ],
        )
        self.conn.execute("COMMIT")
        self.next_cadre = 0
        # (id, version, evidence, chain head) of registered cases awaiting consent
        self.pending: list[tuple[int, int, dict[str, Any], str]] = []

    def _history(
        self,
        *,
        case_id: int,
        seq: int,
        trigger: str,
        states: tuple[str | None, str],
        actor: tuple[str, str],
        data: dict[str, Any],
        prev_hash: str,
    ) -> str:
        content = _json(
            {
                "case_id": case_id,
                "seq": seq,
                "trigger": trigger,
                "from_state": states[0],
                "to_state": states[1],
                "actor": actor[0],
                "role": actor[1],
                "on_behalf_of": None,
                "at": self.now,
                "data": data,
                "reason": None,
            }
        )
        digest = hashlib.sha256((prev_hash + content).encode()).hexdigest()
        self.conn.execute(
            'INSERT INTO history (case_id, seq, "trigger", from_state, to_state, actor, role,'
            " at, data, reason, on_behalf_of, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                case_id,
                seq,
                trigger,
                states[0],
                states[1],
                actor[0],
                actor[1],
                self.now,
                _json(data),
                None,
                None,
                prev_hash,
                digest,
            ),
        )
        return digest

    def open_cases(self, n: int) -> None:
        conn, now = self.conn, self.now
        for number in range(self.next_cadre, self.next_cadre + n):
            evidence = dict(REGISTRATION)
            conn.execute("BEGIN IMMEDIATE")
            case_id = conn.execute(
                "INSERT INTO cases (definition_id, cadre_id, county, agency, state, terminal,"
                " version, evidence, opened_at, updated_at, cycle, tier, eligibility)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    1,
                    cadre_record(number)["id"],
                    "东昌府区",
                    "东昌府区军休所",
                    "registered",
                    0,
                    1,
                    _json(evidence),
                    now,
                    now,
                    "2024-2025",
                    "city",
                    self.payload.eligibility,
                ),
            ).lastrowid
            assert case_id is not None
            head = self._history(
                case_id=case_id,
                seq=1,
                trigger="open",
                states=(None, "registered"),
                actor=("王芳", "agency_officer"),
                data=evidence,
                prev_hash="0" * 64,
            )
            conn.execute("UPDATE cases SET chain_head = ? WHERE id = ?", (head, case_id))
            for index, notice in enumerate(self.payload.notices):
                conn.execute(
                    "INSERT INTO outbox (idempotency_key, case_id, template, channel,"
                    " recipient_role, recipient_name, address, subject, body, body_html,"
                    " status, attempts, next_attempt_at, created_at)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?,'pending',0,?,?)",
                    (f"{case_id}:1:{index}", case_id, *notice, now, now),
                )
            conn.execute("COMMIT")
            self.pending.append((case_id, 1, evidence, head))
        self.next_cadre += n

    def fire(self, n: int) -> None:
        """n transactions of one linked history INSERT plus the case's compare-and-set."""
        batch, self.pending = self.pending[:n], self.pending[n:]
        if len(batch) < n:
            raise RuntimeError("not enough registered cases: open more before firing")
        conn, now = self.conn, self.now
        for case_id, version, evidence, head in batch:
            fields = dict(CONSENT)
            merged = {**evidence, **fields}
            conn.execute("BEGIN IMMEDIATE")
            new_head = self._history(
                case_id=case_id,
                seq=version + 1,
                trigger="consent",
                states=("registered", "family_consented"),
                actor=("张丽", "family"),
                data=fields,
                prev_hash=head,
            )
            moved = conn.execute(
                "UPDATE cases SET state=?, terminal=?, version=?, evidence=?, updated_at=?,"
                " chain_head=? WHERE id=? AND version=?",
                (
                    "family_consented",
                    0,
                    version + 1,
                    _json(merged),
                    now,
                    new_head,
                    case_id,
                    version,
                ),
            ).rowcount
            if moved != 1:
                conn.execute("ROLLBACK")
                raise RuntimeError(f"case {case_id} moved under us")
            conn.execute("COMMIT")

    def close(self) -> None:
        self.conn.close()


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


@dataclass
class Rates:
    """Calls per second of each side, one figure per round, with the CPU time the calls took
    in this thread (the database's work included: SQLite runs in the caller's thread)."""

    engine: list[float]
    raw: list[float]
    engine_cpu: list[float]
    raw_cpu: list[float]

    @property
    def pairs(self) -> list[float]:
        """Engine/raw per round: both sides ran in the same stretch of time, block by block."""
        return [e / r for e, r in zip(self.engine, self.raw, strict=True)]

    @property
    def ratio(self) -> float:
        return statistics.median(self.pairs)

    @property
    def cpu_ratio(self) -> float:
        """Engine/raw in CPU time: what the engine adds, less the time spent waiting (for the
        disk, for the other processes of a loaded machine)."""
        return statistics.median(r / e for e, r in zip(self.engine_cpu, self.raw_cpu, strict=True))


def measure(
    engine: EngineSide, raw: RawSide, *, n: int, rounds: int, warmup: int, block: int
) -> dict[str, Rates]:
    """``rounds`` rounds of ``n`` openings, then ``n`` steps, per side; within a round the sides
    take turns every ``block`` calls, so a burst of load from elsewhere on the machine falls on
    both rather than on whichever side happened to run then."""
    for side in (engine, raw):
        side.open_cases(warmup)
        side.fire(warmup)
    results = {"fire": Rates([], [], [], []), "open_case": Rates([], [], [], [])}
    sizes = [block] * (n // block) + ([n % block] if n % block else [])
    for _ in range(rounds):
        for name, operation in (("open_case", "open_cases"), ("fire", "fire")):
            wall = {"engine": 0.0, "raw": 0.0}
            cpu = {"engine": 0.0, "raw": 0.0}
            for size in sizes:
                for label, side in (("engine", engine), ("raw", raw)):
                    action = getattr(side, operation)
                    started, started_cpu = time.perf_counter(), time.thread_time()
                    action(size)
                    cpu[label] += time.thread_time() - started_cpu
                    wall[label] += time.perf_counter() - started
            rates = results[name]
            rates.engine.append(n / wall["engine"])
            rates.raw.append(n / wall["raw"])
            rates.engine_cpu.append(cpu["engine"] / n)
            rates.raw_cpu.append(cpu["raw"] / n)
    return results


def report(results: dict[str, Rates], args: argparse.Namespace) -> float:
    print(
        f"synchronous={args.synchronous}  n={args.n} per round  rounds={args.rounds}  "
        f"block={args.block}  sqlite {sqlite3.sqlite_version}  python {sys.version.split()[0]}"
    )
    print(
        f"{'operation':<10} {'engine/s':>9} {'raw/s':>9} {'ratio':>6} {'per round':>11}"
        f" {'cpu µs engine/raw':>18} {'cpu ratio':>9}"
    )
    for name, rates in results.items():
        pairs = rates.pairs
        cpu = (
            f"{statistics.median(rates.engine_cpu) * 1e6:.0f}/"
            f"{statistics.median(rates.raw_cpu) * 1e6:.0f}"
        )
        print(
            f"{name:<10} {statistics.median(rates.engine):>9.0f} "
            f"{statistics.median(rates.raw):>9.0f} {rates.ratio:>6.2f} "
            f"{min(pairs):>5.2f}-{max(pairs):<5.2f} {cpu:>18} {rates.cpu_ratio:>9.2f}"
        )
    ratio = results["fire"].ratio
    target = TARGETS[args.synchronous]
    opened = results["open_case"].ratio
    print(
        f"ratio engine/raw = {ratio:.2f} (target >= {target:.2f}); "
        f"open_case {opened:.2f} (target >= {OPEN_TARGET:.2f})"
    )
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
        "--block", type=int, default=50, help="calls per turn of a side within a round (50)"
    )
    parser.add_argument(
        "--synchronous",
        type=str.upper,
        choices=["FULL", "NORMAL"],
        default="FULL",
        help="PRAGMA synchronous for both sides (FULL, the engine's default)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="exit 1 if the fire ratio is below its target (0.40 FULL, 0.25 NORMAL)",
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
        cadres = 1 + args.warmup + args.n * (args.rounds + (1 if args.profile else 0))
        engine = EngineSide(Path(tmp) / "engine.db", args.synchronous, cadres)
        engine.open_cases(1)  # what an opening writes, for the raw side to write the same
        raw = RawSide(Path(tmp) / "raw.db", args.synchronous, Payload.of(engine), cadres)
        try:
            results = measure(
                engine, raw, n=args.n, rounds=args.rounds, warmup=args.warmup, block=args.block
            )
            ratio = report(results, args)
            if args.profile:
                profile(engine, args.n)
        finally:
            engine.close()
            raw.close()
    if args.check and ratio < TARGETS[args.synchronous]:
        target = TARGETS[args.synchronous]
        print(f"FAIL: engine/raw {ratio:.2f} is below {target:.2f}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
