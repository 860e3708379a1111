"""Does the engine's memory grow with the number of open cases? It must not.

Cases are database rows, not Python objects: the engine keeps one compiled machine per
definition version and hands the `transitions` library a throw-away model per attempt, so a
process serving 100,000 open cases should need what one serving 1,000 needs. This benchmark
opens 1,000 cases in a fresh SQLite file, fires M transitions spread over them and measures the
process; then grows the database to 100,000 open cases, fires M transitions spread over those and
measures again. It reports Python heap (tracemalloc, current after ``gc.collect()`` and the peak
while firing), the number of live Python objects and the resident set size (VmRSS), per open case
and as a ratio between the two sizes.

Run from the repository root::

    python benchmarks/memory.py                       # 1,000 then 100,000 cases, M = 4,000
    python benchmarks/memory.py --large 20000 --transitions 3000

tracemalloc runs from before the first case is opened to the end, so any per-case object the
engine kept while opening cases would show; the baseline is taken once 20 warm-up cases have
gone through every step, so one-time caches (compiled machine, SQL statement cache) are in it.

Opening 100,000 cases one ``open_case`` call at a time is what a real system does over years;
if the rate measured on the first cases says it would take longer than ``--open-budget``
seconds, the remaining rows are inserted with SQLAlchemy Core in one transaction, copied from a
case the engine opened (the same columns and values ``open_case`` writes: the case row and its
first history row), and the output says so.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import math
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

# benchmarks/transitions.py shares its name with the `transitions` library the engine is built
# on, and running a script puts benchmarks/ first on sys.path: drop it before importing the engine.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _HERE]

import sqlalchemy as sa  # noqa: E402

from workflow import Engine, SimulatedClock  # noqa: E402
from workflow.cadres import cadre_row  # noqa: E402
from workflow.clock import SHANGHAI  # noqa: E402
from workflow.plans import service  # noqa: E402
from workflow.store.database import create_engine  # noqa: E402
from workflow.store.schema import cadres  # noqa: E402

START = datetime(2024, 5, 1, 9, 0, tzinfo=SHANGHAI)
OPENER = "agency_officer:王芳@东昌府区军休所"
REGISTRATION = {"plan_level": "city"}  # the record below holds a class-2 merit: city tier
CADRE_CHUNK = 10_000
BULK_CHUNK = 5_000
WARMUP = 20  # cases opened and walked before the baseline

# (trigger, actor, data) from registered to attended, as in tests/factories.py (A7.1); the last
# step, evaluate, is left out so every case stays open.
STEPS: list[tuple[str, str, dict[str, Any]]] = [
    ("consent", "family:张丽@{cadre}", {"family_member": "张丽", "relation": "女儿"}),
    ("approve", "agency_officer:王芳@东昌府区军休所", {"batch_id": "{batch}"}),
    (
        "sign_agreement",
        "agency_officer:王芳@东昌府区军休所",
        {"agreement_no": "LC-2024-001", "signed_on": "2024-05-20"},
    ),
    (
        "insure",
        "agency_officer:王芳@东昌府区军休所",
        {
            "insurer": "中国人寿聊城分公司",
            "policy_no": "P-2024-0001",
            "covered_from": "2024-06-03",
            "covered_until": "2024-06-09",
        },
    ),
    ("attend", "contractor_staff:李强@{contractor}", {"checked_in_on": "2024-06-03"}),
]
SEATS = 10_000  # one batch holds every walked case: an A6.2 over-50 exception, staff 1:10


def seat_pool(engine: Engine) -> tuple[int, int]:
    """A plan, a qualified contractor and one big batch every walked case is approved into."""
    plan = service.create_plan(
        engine, year=2024, organiser_level="city", budget=Decimal("1000000"), cycle="2024-2025"
    )
    contractor = service.create_contractor(engine, name="威海荣成疗养院", kind="own_resource")
    service.add_qualification(
        engine,
        contractor["id"],
        name="许可证",
        valid_from=date(2024, 1, 1),
        valid_until=date(2026, 12, 31),
    )
    service.add_agreement(
        engine,
        contractor["id"],
        plan_id=plan["id"],
        agreement_no="XY-2024-01",
        signed_on=date(2024, 3, 1),
        valid_from=date(2024, 3, 1),
        valid_until=date(2024, 12, 31),
    )
    made = service.create_batch(
        engine,
        plan_id=plan["id"],
        contractor_id=contractor["id"],
        province="山东",
        place="威海市荣成",
        start_date=date(2024, 6, 3),
        end_date=date(2024, 6, 9),
        capacity=SEATS,
        staff_count=SEATS // 10,
        # what the batch starts with (A13.1 plans, A15.1 service teams): attend needs it started
        safety_plan_ref="AQ-2024-01",
        emergency_plan_ref="YJ-2024-01",
        organiser_contacts=[{"name": "王芳", "phone": "0635-1234567"}],
        contractor_contacts=[{"name": "李强", "phone": "0631-7654321"}],
        exceptions=[service.ExceptionGrant("over_50", "city_officer", "钱处长", "基准测试")],
    )
    return int(made["id"]), int(contractor["id"])


def cadre_id(number: int) -> str:
    return f"LC-MEM-{number:06d}"


def cadre_record(number: int) -> dict[str, Any]:
    """A roster record that passes every rule (tests/factories.py has the annotated original)."""
    return {
        "id": cadre_id(number),
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


def proc_status() -> dict[str, int]:
    """The kB figures of /proc/self/status (Linux), in bytes: VmRSS, RssAnon, RssFile, ..."""
    values = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if rest.strip().endswith(" kB"):
            values[key] = int(rest.split()[0]) * 1024
    return values


def rss_bytes() -> int:
    return proc_status()["VmRSS"]


@dataclass
class Sample:
    open_cases: int
    traced: int  # tracemalloc current after gc
    peak: int  # tracemalloc peak while firing
    objects: int  # live objects the garbage collector tracks
    rss: int
    fire_rate: float
    rss_split: str  # RssAnon/RssFile/RssShmem in MiB


def _malloc_trim() -> None:
    """Hand free heap pages back to the OS (glibc), so RSS shows live memory rather than the
    allocator's high-water mark, e.g. after the bulk insert's row lists were freed."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def settle() -> tuple[int, int, int]:
    """(traced bytes, live gc objects, RSS) once garbage is collected."""
    gc.collect()
    _malloc_trim()
    return tracemalloc.get_traced_memory()[0], len(gc.get_objects()), rss_bytes()


class Bench:
    def __init__(self, path: Path, synchronous: str) -> None:
        self.db = create_engine(f"sqlite:///{path}", sqlite_synchronous=synchronous)
        self.engine = Engine(self.db, clock=SimulatedClock(START))
        self.engine.upgrade_schema()
        self.batch, self.contractor = seat_pool(self.engine)
        self.started = False  # the batch starts before the first check-in (A13.1)
        self.opened = 0  # cases get ids 1..opened; no per-case Python list to skew the figures
        self.templates: dict[str, dict[str, Any]] = {}  # stored rows of one opened case

    def put_cadres(self, count: int, *, by_engine: int) -> None:
        """The first ``by_engine`` cadres through put_cadres; the rest, which only need to exist,
        as the same rows (workflow.cadres.cadre_row) in one SQLAlchemy Core executemany."""
        self.engine.put_cadres([cadre_record(i) for i in range(by_engine)])
        now = self.engine.clock.now()
        with self.db.begin() as connection:
            for first in range(by_engine, count, CADRE_CHUNK):
                chunk = range(first, min(first + CADRE_CHUNK, count))
                rows = [{**cadre_row(cadre_record(i)), "updated_at": now} for i in chunk]
                connection.execute(sa.insert(cadres), rows)

    def open_with_engine(self, first: int, count: int) -> float:
        """Open cases for cadres first..first+count-1 with open_case; returns calls per second."""
        started = time.perf_counter()
        for number in range(first, first + count):
            view = self.engine.open_case(cadre_id(number), actor=OPENER, data=REGISTRATION)
            self.opened += 1
            if view.id != self.opened:
                raise RuntimeError(f"expected case id {self.opened}, got {view.id}")
        return count / (time.perf_counter() - started)

    def remember_template(self) -> None:
        """Keep the rows open_case wrote for the last case, as stored, before anything moves it."""
        with self.db.connect() as connection:
            for table in ("cases", "history"):
                column = "id" if table == "cases" else "case_id"
                result = connection.exec_driver_sql(
                    f"SELECT * FROM {table} WHERE {column} = ?", (self.opened,)
                )
                names = list(result.keys())
                self.templates[table] = dict(zip(names, result.one(), strict=True))
        del self.templates["history"]["id"]
        # a column the database computes from the evidence (migration 0020) is never written
        del self.templates["cases"]["approved_batch_id"]

    def open_in_bulk(self, first: int, count: int) -> float:
        """Insert what open_case writes (the case row and its first history row) for cadres
        first..first+count-1: the remembered rows, exactly as stored, with new ids, in one
        transaction through SQLAlchemy Core's connection; returns cases per second."""
        started = time.perf_counter()
        with self.db.begin() as connection:
            for offset in range(0, count, BULK_CHUNK):
                numbers = range(first + offset, first + min(offset + BULK_CHUNK, count))
                ids = range(self.opened + 1, self.opened + 1 + len(numbers))
                case_rows = [
                    {**self.templates["cases"], "id": case_id, "cadre_id": cadre_id(number)}
                    for case_id, number in zip(ids, numbers, strict=True)
                ]
                history_rows = [{**self.templates["history"], "case_id": i} for i in ids]
                for table, rows in (("cases", case_rows), ("history", history_rows)):
                    names = list(rows[0])
                    connection.exec_driver_sql(
                        f"INSERT INTO {table} ({', '.join(names)}) "
                        f"VALUES ({', '.join('?' * len(names))})",
                        [tuple(row[name] for name in names) for row in rows],
                    )
                self.opened += len(ids)
        return count / (time.perf_counter() - started)

    def fire_spread(self, chosen: list[int]) -> float:
        """Walk the chosen cases along STEPS, one step on every case per wave, so
        consecutive transitions touch cases far apart; returns transitions per second.
        Case ``i`` belongs to cadre ``i - 1``: the family acts in that cadre's scope (A5.2)."""
        waves = [
            (
                trigger,
                [
                    actor.format(cadre=cadre_id(case_id - 1), contractor=self.contractor)
                    for case_id in chosen
                ],
                {
                    k: v.format(batch=self.batch) if isinstance(v, str) else v
                    for k, v in data.items()
                },
            )
            for trigger, actor, data in STEPS
        ]
        started = time.perf_counter()
        fired = 0
        for trigger, actors, data in waves:
            if trigger == "attend" and not self.started:
                self.start_batch()  # once, in the warm-up walk
            for case_id, actor in zip(chosen, actors, strict=True):
                self.engine.fire(case_id, trigger, actor=actor, data=data)
                fired += 1
        return fired / (time.perf_counter() - started)

    def start_batch(self) -> None:
        """Attendance is recorded only in a started batch (A13.1): the organiser fits the staff
        to the cadres seated (A12.1, 1:5) and starts it; cases seated later join it started."""
        seated = service.show_batch(self.engine, self.batch)["seats_taken"]
        service.update_batch(self.engine, self.batch, staff_count=math.ceil(seated / 5))
        service.start_batch(self.engine, self.batch)
        self.started = True

    def close(self) -> None:
        self.engine.close()
        self.db.dispose()


def spread(pool: range, count: int) -> list[int]:
    """``count`` ids taken at an even stride across ``pool``."""
    if count > len(pool):
        raise ValueError(f"cannot spread {count} walks over {len(pool)} cases")
    step = len(pool) / count
    return [pool[int(i * step)] for i in range(count)]


def measure(bench: Bench, chosen: list[int], fire_rate: list[float]) -> Sample:
    gc.collect()
    tracemalloc.reset_peak()
    fire_rate.append(bench.fire_spread(chosen))
    peak = tracemalloc.get_traced_memory()[1]
    traced, objects, rss = settle()
    status = proc_status()
    split = "/".join(mib(status.get(key, 0)).strip() for key in ("RssAnon", "RssFile", "RssShmem"))
    return Sample(bench.opened, traced, peak, objects, rss, fire_rate[-1], split)


def mib(value: float) -> str:
    return f"{value / 2**20:8.1f}"


def report(baseline: tuple[int, int, int], samples: list[Sample], notes: list[str]) -> None:
    base_traced, base_objects, base_rss = baseline
    print(
        f"baseline after warm-up: traced {mib(base_traced).strip()} MiB, {base_objects} gc "
        f"objects, RSS {mib(base_rss).strip()} MiB; per case = (value - baseline) / open cases"
    )
    print(
        f"{'open cases':>10} {'traced MiB':>10} {'peak MiB':>9} {'RSS MiB':>8} {'gc objects':>10}"
        f" {'traced B/case':>13} {'objects/case':>12} {'fire/s':>7}"
    )
    for s in samples:
        print(
            f"{s.open_cases:>10} {mib(s.traced):>10} {mib(s.peak):>9} {mib(s.rss):>8}"
            f" {s.objects:>10} {(s.traced - base_traced) / s.open_cases:>13.1f}"
            f" {(s.objects - base_objects) / s.open_cases:>12.3f} {s.fire_rate:>7.0f}"
        )
    small, large = samples[0], samples[-1]
    added = large.open_cases - small.open_cases
    print(
        f"growth per added open case ({small.open_cases} -> {large.open_cases}): "
        f"traced {(large.traced - small.traced) / added:+.2f} B, "
        f"gc objects {(large.objects - small.objects) / added:+.4f}, "
        f"RSS {(large.rss - small.rss) / added:+.2f} B"
    )
    print(
        f"ratio {large.open_cases} / {small.open_cases} cases: traced "
        f"{large.traced / small.traced:.3f}, peak {large.peak / small.peak:.3f}, "
        f"gc objects {large.objects / small.objects:.3f}, RSS {large.rss / small.rss:.3f}"
    )
    print(
        "RSS anon/file/shmem MiB: "
        + ", ".join(f"{s.rss_split} at {s.open_cases} cases" for s in samples)
        + "; anon includes SQLite's page cache (2 MiB a connection by default) and allocator"
        " slack, so RSS moves by a few MiB between runs: compare the two sizes, not baselines"
    )
    for note in notes:
        print(f"note: {note}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--small", type=int, default=1_000, help="open cases, first (1000)")
    parser.add_argument("--large", type=int, default=100_000, help="open cases, then (100000)")
    parser.add_argument(
        "--transitions",
        type=int,
        default=4_000,
        help=f"M, transitions fired at each size, {len(STEPS)} per case walked (4000)",
    )
    parser.add_argument(
        "--synchronous", type=str.upper, choices=["FULL", "NORMAL"], default="NORMAL"
    )
    parser.add_argument(
        "--open-budget",
        type=float,
        default=180.0,
        help="seconds allowed for open_case calls before the rest is bulk-inserted (180)",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="a tiny run (60 then 120 cases, M = 40, the bulk insert path) that only shows the "
        "benchmark still works; its ratios mean nothing (the test suite runs it)",
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.small, args.large, args.transitions, args.open_budget = 60, 120, 40, 0.0
    walks = args.transitions // len(STEPS)
    if walks < 1 or walks > args.small - WARMUP or args.large <= args.small:
        parser.error(
            f"need {len(STEPS)} <= M <= {len(STEPS)} * (small - {WARMUP}) and large > small"
        )
    return args


def run(bench: Bench, args: argparse.Namespace) -> None:
    walks = args.transitions // len(STEPS)
    notes: list[str] = []
    started = time.perf_counter()
    bench.put_cadres(args.large, by_engine=args.small)
    notes.append(
        f"{args.large} cadres stored before tracemalloc started: {args.small} with put_cadres, "
        f"the rest as the same rows with one Core executemany "
        f"({time.perf_counter() - started:.0f} s)"
    )
    fire_rates: list[float] = []
    tracemalloc.start()
    # Warm-up: the first cases go through every step, so the definition row, the compiled
    # machine and SQLAlchemy's statement cache exist before the baseline is taken.
    bench.open_with_engine(0, WARMUP)
    bench.fire_spread(list(range(1, WARMUP + 1)))
    baseline = settle()

    open_rate = bench.open_with_engine(WARMUP, args.small - WARMUP)
    bench.remember_template()
    samples = [measure(bench, spread(range(WARMUP + 1, bench.opened + 1), walks), fire_rates)]

    remaining = args.large - args.small
    estimate = remaining / open_rate
    if estimate <= args.open_budget:
        bench.open_with_engine(args.small, remaining)
        notes.append(
            f"all {args.large} cases opened with open_case ({open_rate:.0f}/s under tracemalloc)"
        )
    else:
        bulk_rate = bench.open_in_bulk(args.small, remaining)
        notes.append(
            f"open_case ran at {open_rate:.0f}/s under tracemalloc, so {remaining} more calls "
            f"would take ~{estimate:.0f} s (> {args.open_budget:.0f} s): the first "
            f"{args.small} cases were opened with open_case, the other {remaining} inserted "
            f"through SQLAlchemy Core in one transaction ({bulk_rate:.0f} cases/s) as copies of "
            "the case row and first history row open_case wrote, exactly as stored"
        )
    # cases opened after the first measurement are all still at their first step
    samples.append(
        measure(bench, spread(range(args.small + 1, bench.opened + 1), walks), fire_rates)
    )
    tracemalloc.stop()
    notes.append(
        f"each size: {walks} cases walked through the {len(STEPS)} steps up to 'attended' "
        f"({walks * len(STEPS)} transitions, every case stays open), taken at an even stride "
        f"over the open cases; synchronous={args.synchronous}; SQLAlchemy pool: "
        f"{bench.db.pool.status()}; total {time.perf_counter() - started:.0f} s"
    )
    report(baseline, samples, notes)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="wf-mem-") as tmp:
        bench = Bench(Path(tmp) / "memory.db", args.synchronous)
        try:
            run(bench, args)
        finally:
            bench.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
