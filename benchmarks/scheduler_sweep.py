"""Do the scheduler's sweeps stay set-based at a million cadres? (A9.3; issue 5, point 4)

Builds a SQLite file with N cadres and N honor_convalescence cases (one history row each, as
a case has right after it entered its state), bulk-inserted with the standard library's
``sqlite3``: 90 % evaluated, 5 % registered recently (no timer due), ``--due`` registered three
weeks ago (remind and escalate due), ``--unable`` unable to attend and as many withdrawn for
health (condolence visits to open), the rest withdrawn for other reasons. Then it times, in this
one process:

* baseline: ``SELECT count(*)`` over cases joined to history (the least a sweep must read);
* the timer sweep and the condolence sweep, first run (they create the due work) and steady
  state (run again: nothing left to do, the cost every period pays);

and reports each against the baseline, with tracemalloc's peak for the sweeps, for each size.

    python benchmarks/scheduler_sweep.py --sizes 100000 1000000
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

# benchmarks/transitions.py shares its name with the `transitions` library the engine uses, and
# running a script puts benchmarks/ first on sys.path: drop that entry before importing.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _HERE]

from workflow import Engine  # noqa: E402
from workflow.audit.chain import GENESIS, history_hash  # noqa: E402
from workflow.clock import SHANGHAI, SimulatedClock  # noqa: E402
from workflow.plans import service  # noqa: E402
from workflow.scheduler import sweep_condolence, sweep_timers  # noqa: E402

NOW = datetime(2024, 6, 17, 9, 0, tzinfo=SHANGHAI)
STAMP = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores a naive UTC datetime on SQLite


def utc(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(tzinfo=None).strftime(STAMP)


def build(path: Path, n: int, due: int, unable: int) -> None:
    url = f"sqlite:///{path}"
    clock = SimulatedClock(NOW - timedelta(days=40))
    with Engine(url, clock=clock) as engine:
        engine.upgrade_schema()
        engine.put_cadres([_record("B-0000000")])
        service.create_plan(  # the year's plan the registration names (A3.2)
            engine, year=2024, organiser_level="city", budget=Decimal(1), cycle="2024-2025"
        )
        engine.open_case(
            "B-0000000", actor="agency_officer:王@冠县军休所", data={"plan_level": "city"}
        )
    connection = sqlite3.connect(path)
    (definition_id,) = connection.execute("SELECT id FROM definitions").fetchone()
    recent, old = utc(NOW - timedelta(days=1)), utc(NOW - timedelta(days=21))
    moments = {recent: NOW - timedelta(days=1), old: NOW - timedelta(days=21)}
    record = json.dumps(_record("x"), ensure_ascii=False)

    def plan(i: int) -> tuple[str, bool, str, str]:
        if i < due:
            return "registered", False, old, "{}"
        if i < due + unable:
            return "unable_to_attend", True, old, '{"cause": "健康原因"}'
        if i < due + 2 * unable:
            return "withdrawn", True, old, '{"for_health": true}'
        if i % 20 == 0:
            return "registered", False, recent, "{}"
        if i % 20 == 1:
            return "withdrawn", True, old, '{"for_health": false}'
        return "evaluated", True, old, "{}"

    with connection:
        connection.executemany(
            "INSERT INTO cadres (id, name, county, agency, birth_date, record, updated_at) "
            "VALUES (?, '张', '冠县', '冠县军休所', '1950-01-01', ?, ?)",
            ((f"C{i:08d}", record, old) for i in range(n)),
        )
        # Each case's one history row is the head of its A19.1 hash chain (prev_hash is the
        # genesis, the case row keeps the row's hash), exactly as `open_case` writes it: the
        # schema refuses a history row without its link, and `audit verify` passes on this file.
        rows = [(i + 10, *plan(i)) for i in range(n)]
        heads = {
            case_id: history_hash(
                GENESIS,
                {
                    "case_id": case_id,
                    "seq": 1,
                    "trigger": "open",
                    "from_state": None,
                    "to_state": state,
                    "actor": "王",
                    "role": "agency_officer",
                    "at": moments[at],
                    "data": {},
                },
            )
            for case_id, state, _terminal, at, _evidence in rows
        }
        connection.executemany(
            "INSERT INTO cases (id, definition_id, cadre_id, county, agency, state, terminal, "
            "version, chain_head, evidence, opened_at, updated_at, cycle) VALUES "
            "(?, ?, ?, '冠县', '冠县军休所', ?, ?, 1, ?, ?, ?, ?, '2024-2025')",
            (
                (case_id, definition_id, f"C{case_id - 10:08d}", s, t, heads[case_id], ev, at, at)
                for case_id, s, t, at, ev in rows
            ),
        )
        connection.executemany(
            "INSERT INTO history (case_id, seq, trigger, from_state, to_state, actor, role, at, "
            "data, prev_hash, hash) VALUES (?, 1, 'open', NULL, ?, '王', 'agency_officer', ?, "
            "'{}', ?, ?)",
            ((case_id, s, at, GENESIS, heads[case_id]) for case_id, s, _t, at, _e in rows),
        )
    connection.close()


def _record(cadre_id: str) -> dict[str, Any]:
    return {
        "id": cadre_id,
        "name": "张",
        "gender": "男",
        "birth_date": "1950-01-01",
        "category": "退休干部",
        "branch": "PLA",
        "county": "冠县",
        "agency": "冠县军休所",
        "placed_on": "2008-09-01",
        "merits": [{"class": 2, "wartime": False, "year": 1979}],
        "honours": [],
        "recommendation": None,
        # the family member who consents is the roster's contact (A5.2)
        "family_contact": {"name": "张丽", "relation": "女儿", "phone": "13800001234"},
        "health": {"self_care": True, "infectious": False, "mental": False, "critical": False},
    }


def timed(action: Callable[[], Any]) -> tuple[float, int, Any]:
    tracemalloc.start()
    start = time.perf_counter()
    result = action()
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return seconds, peak, result


def measure(n: int, due: int, unable: int) -> Iterator[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "sweep.db"
        start = time.perf_counter()
        build(path, n, due, unable)
        yield {"n": n, "step": "build", "seconds": round(time.perf_counter() - start, 2)}
        with Engine(f"sqlite:///{path}", clock=SimulatedClock(NOW)) as engine:

            def baseline() -> Any:
                with engine.db.connect() as c:
                    return c.exec_driver_sql(
                        "SELECT count(*) FROM cases JOIN history ON history.case_id = cases.id"
                    ).scalar()

            base, _, _ = timed(baseline)
            yield {"n": n, "step": "baseline count(*) join", "seconds": round(base, 3)}
            for name, sweep in (
                ("condolence sweep", lambda: sweep_condolence(engine)),
                ("timer sweep", lambda: sweep_timers(engine)),
            ):
                for run in ("first", "steady"):
                    seconds, peak, result = timed(sweep)
                    yield {
                        "n": n,
                        "step": f"{name} ({run})",
                        "seconds": round(seconds, 3),
                        "vs_baseline": round(seconds / base, 2),
                        "peak_mib": round(peak / 2**20, 1),
                        "result": result.to_json(),
                    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--due", type=int, default=200, help="registered cases with timers due")
    parser.add_argument(
        "--unable",
        type=int,
        default=100,
        help="unable to attend (and as many withdrawn for health)",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="--sizes 2000 --due 20 --unable 10: only shows the benchmark still works; its "
        "ratios mean nothing (the test suite runs it)",
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.sizes, args.due, args.unable = [2000], 20, 10
    for n in args.sizes:
        steady: dict[str, float] = {}
        for row in measure(n, args.due, args.unable):
            print(json.dumps(row, ensure_ascii=False), flush=True)
            if str(row["step"]).endswith("(steady)"):
                steady[str(row["step"]).split(" ")[0]] = row["vs_baseline"]
        print(
            f"ratio steady sweep / count(*) join at {n} cases: "
            + ", ".join(f"{name} {ratio:.2f}" for name, ratio in steady.items()),
            flush=True,
        )


if __name__ == "__main__":
    sys.exit(main())
