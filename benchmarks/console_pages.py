"""Console pages at scale (issue 19, "Speed"): the first page of a county officer's inbox with
10,000 open tasks in scope, and of the case list over 100,000 cases, in server time.

The database is `benchmarks/listings.py`'s (N cadres and cases, N/10 tasks, written by the
database itself), plus ``--tasks`` open tasks of the officer's own county. Each page is requested
in this process through the real app (`create_app` with the console, a logged-in session, the
real templates), so the time is what the server spends: routing, the session check, the keyset
read, the views and Jinja2. It is set against the bare keyset SELECT of the same first page in
the same run. Target (SQLite): each page ≤ 150 ms.

    python benchmarks/console_pages.py                 # 100,000 cases, 10,000 open tasks
    python benchmarks/console_pages.py --smoke         # what the test suite runs
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from listings import build

from workflow.engine import Engine

COUNTY = "县0"  # the officer's county in `listings.build`'s data
TARGET_MS = 150.0


def median_ms(action: Callable[[], Any], runs: int) -> float:
    action()  # warm: templates compiled, statements prepared, pages of the file in the cache
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def add_open_tasks(engine: Engine, count: int, cases: int) -> None:
    """``count`` open reminders of cases in `COUNTY`, for its county officer (A9.3 timers)."""
    pg = engine.db.dialect.name == "postgresql"
    due = (
        "DATE '2024-06-01' + (i % 365)" if pg else "date('2024-06-01', '+' || (i % 365) || ' days')"
    )
    moment = "TIMESTAMPTZ '2024-06-01 01:00:00+00'" if pg else "'2024-06-01 01:00:00.000000'"
    numbers = (
        f"WITH RECURSIVE numbers(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM numbers "
        f"WHERE i < {count - 1}) "
    )
    with engine.db.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO tasks (key, kind, case_id, state, assignee_role, county, agency, "
            "title, article, due_on, created_at, done_at) "
            f"{numbers}SELECT 'open-' || i, 'remind', ((i % {cases // 18}) * 18) + 1, "
            "'registered', "
            f"'county_officer', '{COUNTY}', '{COUNTY}军休所0', '催办', 'A9.3', {due}, "
            f"{moment}, NULL FROM numbers"
        )


def run(n: int, tasks: int, runs: int) -> dict[str, float]:
    from fastapi.testclient import TestClient  # noqa: PLC0415

    from workflow.api.app import create_app  # noqa: PLC0415
    from workflow.api.tokens import TokenRegistry  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/console.db"
        build(url, n)
        with Engine(url) as engine:
            add_open_tasks(engine, tasks, n)
            officer = f"county_officer:赵局长@{COUNTY}"
            app = create_app(engine, TokenRegistry.from_tokens({"t-county": officer}))
            with TestClient(app) as client:
                page = client.get("/console/login")
                csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
                assert csrf is not None, page.text[:500]
                client.post(
                    "/console/login", data={"csrf": csrf.group(1), "token": "t-county", "next": ""}
                )

                def inbox() -> None:
                    answer = client.get("/console/inbox", follow_redirects=False)
                    assert answer.status_code == 200, answer.text[:500]
                    assert "赵局长" in answer.text  # the page itself, not the log-in page

                def cases() -> None:
                    answer = client.get("/console/cases", follow_redirects=False)
                    assert answer.status_code == 200, answer.text[:500]
                    assert "赵局长" in answer.text

                with engine.db.connect() as connection:

                    def bare_cases() -> None:
                        connection.exec_driver_sql(
                            "SELECT * FROM cases WHERE county = ? ORDER BY id DESC LIMIT 51",
                            (COUNTY,),
                        ).all()

                    def bare_tasks() -> None:
                        connection.exec_driver_sql(
                            "SELECT * FROM tasks WHERE done_at IS NULL AND county = ? "
                            "ORDER BY due_on, id LIMIT 51",
                            (COUNTY,),
                        ).all()

                    figures = {
                        "inbox": median_ms(inbox, runs),
                        "cases": median_ms(cases, runs),
                        "bare tasks": median_ms(bare_tasks, runs),
                        "bare cases": median_ms(bare_cases, runs),
                    }
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--tasks", type=int, default=10_000, help="open tasks in scope")
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--smoke", action="store_true", help="a small size for the test suite")
    args = parser.parse_args(argv)
    n, tasks, runs = (2000, 200, 3) if args.smoke else (args.cases, args.tasks, args.runs)
    figures = run(n, tasks, runs)
    print(f"{n} cases, {tasks} open tasks in the county officer's scope (SQLite)")
    for name, value in figures.items():
        print(f"  {name:<11} {value:8.1f} ms")
    print(
        f"ratio page / bare keyset SELECT: inbox {figures['inbox'] / figures['bare tasks']:.1f}x, "
        f"cases {figures['cases'] / figures['bare cases']:.1f}x; "
        f"target {TARGET_MS:.0f} ms: "
        + ("met" if max(figures["inbox"], figures["cases"]) <= TARGET_MS else "NOT met")
    )


if __name__ == "__main__":
    main()
