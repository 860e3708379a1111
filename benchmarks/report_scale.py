"""The A18.2 performance report at a million cases (issue 14 items 1 and 5): the report against
one bare ``GROUP BY`` over the same year's rows, in the same run.

Builds, per size, a database holding ten plan years (2015-2024) of a province: N cases in all,
about 92 % honorary convalescence and the rest the condolence visits that followed the cadres
who could not go (A9.3). Each year has a city plan and a plan per county (18), batches of 40
cases at 24 contractors, and its cases opened in that year: 70 % evaluated (satisfaction 1-5),
8 % attended, 3 % insured, the rest withdrawn or unable after approval (their seats released,
the approval's batch kept in the evidence), rejected, refused by the family, withdrawn or unable
before approval. Every row is what the engine writes: the case with its evidence and its
eligibility explanation (~2 KB), its first and last history rows, the seats still held, the
case exceptions of one case in 50 (A8.2, A9.2), an A6.2 exception on one batch in 20, a
contractor evaluation per batch (A18.3), budgets and actual costs; the visits opened in their
year, most of them visited, some late, some no longer needed. The rows are generated in Python
and bulk-inserted (``executemany`` on SQLite, ``COPY`` on PostgreSQL) into a database migrated
by the engine, so every index and trigger is in place while they go in; PostgreSQL is
``VACUUM ANALYZE``d as autovacuum would have done, SQLite is left without statistics, as the
engine leaves it.

Then it times, in this one process, as the median of several runs:

* report: `workflow.reports.performance.performance_report` for 2024 (what ``report
  performance --year 2024``, its ``--format xlsx`` and ``GET /reports/performance/2024`` read),
  and the XLSX workbook made from it;
* bare SQL: one ``GROUP BY county, state`` over the year's approved cases (those whose
  ``approved_batch_id`` is a batch of the year's plans, revision 0020), the least a report of
  the year must read;
* once, the command line end to end (``convalescence report performance --format xlsx``, a
  process of its own: interpreter start-up included).

Each size prints JSON lines and a ratio line; the end prints the growth curve, the report's
cost at the largest size against the smallest. Sizes 1k/100k/1M on SQLite and 100k on
PostgreSQL by default ($CONVALESCENCE_TEST_PG or the machine's server, as in the tests; a
database of its own, dropped afterwards).

    python benchmarks/report_scale.py --sizes 1000 100000 1000000 --pg-sizes 100000
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg

# benchmarks/transitions.py shares its name with the `transitions` library the engine uses, and
# running a script puts benchmarks/ first on sys.path: drop that entry before importing.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _HERE]

from workflow import Engine, SimulatedClock  # noqa: E402
from workflow.clock import SHANGHAI  # noqa: E402
from workflow.reports import xlsx  # noqa: E402
from workflow.reports.performance import performance_report  # noqa: E402

ADMIN_URL = os.environ.get("CONVALESCENCE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
YEARS = tuple(range(2015, 2025))
YEAR = YEARS[-1]  # the year reported on
AS_OF = datetime(2026, 1, 5, 9, 0, tzinfo=SHANGHAI)  # after the 2024-2025 cycle ended
COUNTIES = tuple(f"县{n:02d}" for n in range(18))
CONTRACTORS = 24
PER_BATCH = 40  # cases per batch (about 35 approved, up to 33 seats held)
VISIT_SHARE = 0.087  # visits per honorary case: the 9 % who could not go, less a few
CHUNK = 20_000
HONOR, VISIT = "honor_convalescence", "condolence_visit"
HASH = "0" * 64

# outcome of honorary case j by j % 100: (state, version, trigger of the last step, approved,
# seat held); version = the case's history rows (open, consent, approve, sign, insure, attend,
# evaluate)
OUTCOMES: list[tuple[str, int, str, bool, bool]] = (
    [("evaluated", 7, "evaluate", True, True)] * 70
    + [("attended", 6, "attend", True, True)] * 8
    + [("insured", 5, "insure", True, True)] * 3
    + [("withdrawn", 4, "withdraw", True, False)] * 4
    + [("unable_to_attend", 4, "report_unable", True, False)] * 3
    + [("rejected", 3, "reject", False, False)] * 4
    + [("consent_refused", 2, "refuse_consent", False, False)] * 2
    + [("withdrawn", 3, "withdraw", False, False)] * 2
    + [("unable_to_attend", 3, "report_unable", False, False)] * 4
)
TERMINAL = {"evaluated", "withdrawn", "unable_to_attend", "rejected", "consent_refused"}


def _eligibility(tier: str) -> str:
    """An eligibility explanation (A4.2) of the size the engine stores (~2 KB)."""
    checks = [
        {
            "rule": rule,
            "article": article,
            "passed": True,
            "explanation": f"{rule}：符合第{article}条的规定，依据名册记录与登记信息核对无误。",
            "facts": {"checked_on": "2024-03-01", "source": "名册", "tier": tier},
        }
        for rule, article in (
            ("policy_in_force", "A21.1"),
            ("in_a_cycle", "A9.1"),
            ("category_covered", "A2.1"),
            ("eligible_for_plan_level", "A4.4"),
            ("fit_for_convalescence", "A8.1"),
            ("annual_plan_for_registration", "A3.2"),
            ("under_age_limit", "A8.2"),
            ("once_per_cycle", "A9.2"),
        )
    ]
    return json.dumps({"tier": tier, "eligible": True, "checks": checks}, ensure_ascii=False)


@dataclass
class Rows:
    """The rows of one table: its columns and a generator of value tuples."""

    table: str
    columns: tuple[str, ...]
    values: Iterable[tuple[Any, ...]]


@dataclass
class Province:
    """How N cases spread over the years, plans, batches and counties."""

    n: int
    honor_per_year: int = field(init=False)

    def __post_init__(self) -> None:
        self.honor_per_year = max(round(self.n / (1 + VISIT_SHARE) / len(YEARS)), PER_BATCH)

    @property
    def batches_per_year(self) -> int:
        return -(-self.honor_per_year // PER_BATCH)

    def plan_id(self, year: int, batch: int) -> int:
        """Plans are numbered year by year: the city's, then one per county."""
        return YEARS.index(year) * (1 + len(COUNTIES)) + batch % (1 + len(COUNTIES)) + 1

    def batch_id(self, year: int, batch: int) -> int:
        return YEARS.index(year) * self.batches_per_year + batch + 1

    def case_id(self, year: int, j: int) -> int:
        return YEARS.index(year) * self.honor_per_year + j + 1

    def county(self, j: int) -> str:
        plan = (j // PER_BATCH) % (1 + len(COUNTIES))
        return COUNTIES[plan - 1] if plan else COUNTIES[j % len(COUNTIES)]


def _utc(day: date, hour: int = 1) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def tables(p: Province, honor_id: int, visit_id: int) -> Iterator[Rows]:
    """Every row of the province, table by table, in an order the foreign keys accept."""
    created = _utc(date(YEARS[0] - 1, 12, 1))
    yield Rows(
        "contractors",
        ("id", "name", "kind", "why_purchased", "exit_threshold_override"),
        (
            (k + 1, f"疗养院{k:02d}", "own_resource", None, Decimal(70) if k == 0 else None)
            for k in range(CONTRACTORS)
        ),
    )
    yield Rows(
        "plans",
        ("id", "year", "organiser_level", "county", "budget", "cycle", "created_at"),
        (
            (
                p.plan_id(year, k),
                year,
                "county" if k else "city",
                COUNTIES[k - 1] if k else None,
                Decimal("2000000.00"),
                _cycle(year),
                created,
            )
            for year in YEARS
            for k in range(1 + len(COUNTIES))
        ),
    )
    yield Rows(
        "cadres",
        ("id", "name", "county", "agency", "birth_date", "record", "updated_at"),
        (
            (
                f"C{half}-{j}",
                f"干部{j}",
                p.county(j),
                f"{p.county(j)}军休所",
                date(1945 + j % 10, 1 + j % 12, 1 + j % 28),
                json.dumps({"id": f"C{half}-{j}", "category": "离休"}, ensure_ascii=False),
                created,
            )
            for half in (0, 1)
            for j in range(p.honor_per_year)
        ),
    )
    yield Rows("batches", BATCH_COLUMNS, _batches(p))
    yield Rows("cases", CASE_COLUMNS, _cases(p, honor_id, visit_id))
    yield Rows("history", HISTORY_COLUMNS, _history(p))
    yield Rows("batch_seats", ("batch_id", "case_id", "at"), _seats(p))
    yield Rows(
        "case_exceptions",
        (
            "case_id",
            "seq",
            "rule",
            "article",
            "approver_role",
            "approver_name",
            "reason",
            "at",
            "hash",
        ),
        _case_exceptions(p),
    )
    yield Rows(
        "batch_exceptions",
        (
            "batch_id",
            "rule",
            "article",
            "approver_role",
            "approver_name",
            "reason",
            "at",
            "prev_hash",
            "hash",
        ),
        (
            (
                p.batch_id(year, b),
                "over_50",
                "A6.2",
                "city_officer",
                "赵敏",
                "集中疗养，市局批准扩大批次",
                created,
                HASH,
                HASH,
            )
            for year in YEARS
            for b in range(0, p.batches_per_year, 20)
        ),
    )
    yield Rows(
        "contractor_evaluations",
        ("contractor_id", "batch_id", "score", "by", "at"),
        (
            (_contractor(year, b), p.batch_id(year, b), 60 + (b * 13) % 40, "市局评估组", created)
            for year in YEARS
            for b in range(p.batches_per_year)
        ),
    )


def _cycle(year: int) -> str:
    return "2024-2025" if year >= 2024 else str(year)


def _contractor(year: int, b: int) -> int:
    return (b * 7 + year) % CONTRACTORS + 1


BATCH_COLUMNS = (
    "id",
    "plan_id",
    "contractor_id",
    "province",
    "place",
    "start_date",
    "end_date",
    "capacity",
    "seats_taken",
    "staff_count",
    "safety_plan_ref",
    "emergency_plan_ref",
    "organiser_contacts",
    "contractor_contacts",
    "itinerary",
    "budget",
    "actual_cost",
    "started_at",
    "version",
)


def _batch_start(year: int, b: int) -> date:
    return date(year, 4, 1) + timedelta(days=(b * 3) % 200)


def _batches(p: Province) -> Iterator[tuple[Any, ...]]:
    contacts = json.dumps([{"name": "王芳", "phone": "0635-1234567"}], ensure_ascii=False)
    for year in YEARS:
        for b in range(p.batches_per_year):
            first = b * PER_BATCH
            held = sum(
                OUTCOMES[j % 100][4] for j in range(first, min(first + PER_BATCH, p.honor_per_year))
            )
            start = _batch_start(year, b)
            yield (
                p.batch_id(year, b),
                p.plan_id(year, b),
                _contractor(year, b),
                "山东",
                "威海市荣成",
                start,
                start + timedelta(days=6),
                50,
                held,
                8,
                "AQ-1",
                "YJ-1",
                contacts,
                contacts,
                "[]",
                Decimal("60000.00"),
                None if b % 5 == 0 else Decimal("57000.50"),
                _utc(start),
                2,
            )


CASE_COLUMNS = (
    "id",
    "definition_id",
    "cadre_id",
    "county",
    "agency",
    "state",
    "terminal",
    "version",
    "chain_head",
    "evidence",
    "opened_at",
    "updated_at",
    "cycle",
    "tier",
    "eligibility",
)


def _honor_evidence(p: Province, year: int, j: int) -> dict[str, Any]:
    state, _version, _trigger, approved, _held = OUTCOMES[j % 100]
    b = j // PER_BATCH
    level = "county" if b % (1 + len(COUNTIES)) else "city"
    evidence: dict[str, Any] = {"plan_level": level, "family_member": "张丽", "relation": "女儿"}
    if approved:
        start = _batch_start(year, b)
        evidence |= {
            "batch_id": p.batch_id(year, b),
            "batch_contractor_id": _contractor(year, b),
            "batch_cycle": _cycle(year),
            "batch_start": start.isoformat(),
            "batch_end": (start + timedelta(days=6)).isoformat(),
            "batch_plan_level": level,
            "batch_plan_county": p.county(j) if level == "county" else None,
            "batch_size": 35,
            "destination": "威海市荣成",
            "province": "山东",
        }
    if state in {"insured", "attended", "evaluated"}:
        start = _batch_start(year, b)
        evidence |= {
            "agreement_no": f"LC-{year}-{j:06d}",
            "signed_on": f"{year}-03-20",
            "insurer": "中国人寿聊城分公司",
            "policy_no": f"P-{year}-{j:06d}",
            "covered_from": start.isoformat(),
            "covered_until": (start + timedelta(days=6)).isoformat(),
        }
    if state in {"attended", "evaluated"}:
        evidence["checked_in_on"] = _batch_start(year, b).isoformat()
    if state == "evaluated":
        evidence["satisfaction"] = 1 + (j * 7) % 5
    if state == "withdrawn":
        evidence["for_health"] = j % 2 == 0
    if state == "unable_to_attend":
        evidence["cause"] = "健康原因"
    if state == "rejected":
        evidence["article"] = "A8.1"
    return evidence


def _visited(j: int) -> bool:
    """The honorary case j ended in a way that opens a visit (A9.3)."""
    state, _v, _t, approved, _h = OUTCOMES[j % 100]
    return state == "unable_to_attend" or (state == "withdrawn" and approved and j % 2 == 0)


def _cases(p: Province, honor_id: int, visit_id: int) -> Iterator[tuple[Any, ...]]:
    eligibility = {tier: _eligibility(tier) for tier in ("city", "county")}
    for year in YEARS:
        opened = _utc(date(year, 2, 1))
        for j in range(p.honor_per_year):
            state, version, _trigger, _approved, _held = OUTCOMES[j % 100]
            evidence = _honor_evidence(p, year, j)
            yield (
                p.case_id(year, j),
                honor_id,
                f"C{year % 2}-{j}",
                p.county(j),
                f"{p.county(j)}军休所",
                state,
                state in TERMINAL,
                version,
                HASH,
                json.dumps(evidence, ensure_ascii=False, sort_keys=True),
                opened + timedelta(minutes=j % 40_000),
                opened + timedelta(days=120),
                _cycle(year),
                evidence["plan_level"],
                eligibility[evidence["plan_level"]],
            )
    next_id = p.case_id(YEARS[-1], p.honor_per_year)
    for year in YEARS:
        for j in range(p.honor_per_year):
            if not _visited(j):
                continue
            next_id += 1
            yield _visit_case(p, year, j, next_id, visit_id)


def _visit_case(p: Province, year: int, j: int, visit: int, visit_id: int) -> tuple[Any, ...]:
    """A visit opened in ``year`` for honorary case j: most visited (one in ten after the
    cycle's end), one in ten no longer needed, the rest still waiting."""
    outcome = j % 10
    evidence: dict[str, Any] = {
        "cause": "健康原因",
        "cycle": _cycle(year),
        "source_case_id": p.case_id(year, j),
    }
    state, version = "flagged", 1
    if outcome < 7:
        late = outcome == 6
        day = date(2026, 1, 3) if late and year == YEARS[-1] else date(year, 9, 1)
        evidence |= {"visited_by": "王芳", "visited_on": day.isoformat(), "items_brought": "慰问金"}
        state, version = "visited", 3
    elif outcome == 7:
        state, version = "not_needed", 2
    opened = _utc(date(year, 6, 1)) + timedelta(minutes=j % 40_000)
    return (
        visit,
        visit_id,
        f"C{year % 2}-{j}",
        p.county(j),
        f"{p.county(j)}军休所",
        state,
        state in {"visited", "not_needed"},
        version,
        HASH,
        json.dumps(evidence, ensure_ascii=False, sort_keys=True),
        opened,
        opened + timedelta(days=30),
        _cycle(year),
        None,
        json.dumps({"visit": True}),
    )


HISTORY_COLUMNS = (
    "case_id",
    "seq",
    "trigger",
    "from_state",
    "to_state",
    "actor",
    "role",
    "at",
    "data",
    "reason",
    "on_behalf_of",
    "prev_hash",
    "hash",
)


LAST = (None, None, HASH, HASH)  # reason, on_behalf_of, prev_hash, hash


def _history(p: Province) -> Iterator[tuple[Any, ...]]:
    """Each honorary case's opening row and the row of its last step."""
    for year in YEARS:
        opened = _utc(date(year, 2, 1))
        for j in range(p.honor_per_year):
            state, version, trigger, _approved, _held = OUTCOMES[j % 100]
            case = p.case_id(year, j)
            data = json.dumps({"plan_level": "city"})
            yield (case, 1, "open", None, "registered", f"干部{j}", "cadre", opened, data, *LAST)
            yield (
                case,
                version,
                trigger,
                "family_consented" if version <= 4 else "insured",
                state,
                "王芳",
                "agency_officer",
                opened + timedelta(days=120),
                "{}",
                *LAST,
            )


def _seats(p: Province) -> Iterator[tuple[Any, ...]]:
    for year in YEARS:
        for j in range(p.honor_per_year):
            if OUTCOMES[j % 100][4]:
                at = _utc(date(year, 3, 1))
                yield (p.batch_id(year, j // PER_BATCH), p.case_id(year, j), at)


def _case_exceptions(p: Province) -> Iterator[tuple[Any, ...]]:
    """An A8.2 exception (over 80 on the first day) for one case in 50, and an A9.2 one (a
    second stay in the cycle) as well for one in 250, granted at the approval (seq 3)."""
    reason = "身体健康，本人坚持"
    for year in YEARS:
        at = _utc(date(year, 3, 1))
        for j in range(0, p.honor_per_year, 50):
            case = p.case_id(year, j)
            rules = [("under_age_limit_on_first_day", "A8.2")]
            if j % 250 == 0:
                rules.append(("once_per_cycle", "A9.2"))
            for rule, article in rules:
                yield (case, 3, rule, article, "city_officer", "赵敏", reason, at, HASH)


def write(url: str, rows: Rows) -> None:
    """Bulk-insert one table's rows: ``executemany`` in chunks on SQLite, ``COPY`` on
    PostgreSQL."""
    columns = ", ".join(rows.columns)
    if url.startswith("sqlite"):
        lite = sqlite3.connect(url.removeprefix("sqlite:///"))
        try:
            lite.execute("PRAGMA synchronous = OFF")
            marks = ", ".join("?" * len(rows.columns))
            statement = f"INSERT INTO {rows.table} ({columns}) VALUES ({marks})"
            with lite:  # one transaction
                for chunk in _chunks(rows.values):
                    lite.executemany(statement, [tuple(map(_sqlite, v)) for v in chunk])
        finally:
            lite.close()
        return
    with (
        psycopg.connect(_driver_url(url)) as pg,
        pg.cursor() as cursor,
        cursor.copy(f"COPY {rows.table} ({columns}) FROM STDIN") as copy,
    ):
        for values in rows.values:
            copy.write_row(values)


def _chunks(values: Iterable[tuple[Any, ...]]) -> Iterator[list[tuple[Any, ...]]]:
    chunk: list[tuple[Any, ...]] = []
    for value in values:
        chunk.append(value)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _sqlite(value: Any) -> Any:
    """A value as SQLAlchemy stores it on SQLite: naive UTC instants, ISO dates, numbers."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bool):
        return int(value)
    return value


def _driver_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def build(url: str, n: int) -> Province:
    """A province of about N cases in a freshly migrated database."""
    with Engine(url) as engine:
        engine.upgrade_schema()
        honor_id = engine.stored_definition_id(engine.catalog.get(HONOR))
        visit_id = engine.stored_definition_id(engine.catalog.get(VISIT))
    p = Province(n)
    for rows in tables(p, honor_id, visit_id):
        write(url, rows)
    if not url.startswith("sqlite"):  # what autovacuum would have done by the time anyone reads
        with psycopg.connect(_driver_url(url), autocommit=True) as c:
            c.execute("VACUUM ANALYZE")
    return p


def median_ms(action: Callable[[], Any], runs: int) -> tuple[float, Any]:
    """The median of ``runs`` timings (after one warm-up run), in milliseconds."""
    result = action()
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        result = action()
        timings.append((time.perf_counter() - start) * 1000)
    return statistics.median(timings), result


BARE_SQL = (
    "SELECT county, state, count(*) FROM cases WHERE approved_batch_id IN "
    "(SELECT b.id FROM batches b JOIN plans p ON p.id = b.plan_id WHERE p.year = {year}) "
    "GROUP BY county, state"
)


def measure(url: str, n: int, runs: int, directory: Path) -> Iterator[dict[str, Any]]:
    with Engine(url, clock=SimulatedClock(AS_OF)) as engine:
        with engine.db.connect() as c:
            total = c.exec_driver_sql("SELECT count(*) FROM cases").scalar_one()
        ms, report = median_ms(lambda: performance_report(engine, YEAR), runs)

        def bare() -> Sequence[Any]:
            with engine.db.connect() as c:
                return c.exec_driver_sql(BARE_SQL.format(year=YEAR)).all()

        bare_ms, grouped = median_ms(bare, runs)
        planned = sum(int(row[2]) for row in grouped)
        assert report.total.planned == planned, (report.total.planned, planned)
        yield {
            "step": "report",
            "cases": total,
            "planned": planned,
            "ms": round(ms, 2),
            "bare_sql_ms": round(bare_ms, 2),
            "ratio": round(ms / bare_ms, 2),
        }
        xlsx_ms, _book = median_ms(
            lambda: xlsx.performance_xlsx(performance_report(engine, YEAR)), runs
        )
        yield {"step": "report + xlsx", "cases": total, "ms": round(xlsx_ms, 2)}
    out = directory / "report.xlsx"
    command = [
        str(Path(sys.executable).with_name("convalescence")),
        "--db",
        url,
        "--now",
        AS_OF.isoformat(),
        "report",
        "performance",
        "--year",
        str(YEAR),
        "--format",
        "xlsx",
        "--out",
        str(out),
    ]
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    yield {"step": "cli xlsx", "cases": total, "ms": round((time.perf_counter() - start) * 1000)}


@contextmanager
def database(kind: str) -> Iterator[tuple[str, Path]]:
    """A fresh database and a scratch folder: a SQLite file in the folder, or a PostgreSQL
    database of its own, dropped afterwards."""
    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory)
        if kind == "sqlite":
            yield f"sqlite:///{folder / 'report.db'}", folder
            return
        name = f"cv_bench_report_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        try:
            base = ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
            yield f"{base}/{name}", folder
        finally:
            with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(kind: str, n: int, runs: int) -> dict[str, Any]:
    with database(kind) as (url, directory):
        start = time.perf_counter()
        build(url, n)
        built = round(time.perf_counter() - start, 1)
        print(json.dumps({"db": kind, "n": n, "step": "build", "seconds": built}), flush=True)
        rows = []
        for found in measure(url, n, runs, directory):
            rows.append(found)
            print(json.dumps({"db": kind, "n": n, **found}, ensure_ascii=False), flush=True)
    report = rows[0]
    print(
        f"ratio report / bare SQL at {report['cases']} cases ({kind}): {report['ratio']:.2f} "
        f"({report['ms']:.2f} ms against {report['bare_sql_ms']:.2f} ms; "
        f"{report['planned']} cases planned in {YEAR})",
        flush=True,
    )
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[1000, 100_000, 1_000_000])
    parser.add_argument("--pg-sizes", type=int, nargs="*", default=[100_000])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per measurement")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="2000 cases on SQLite and on PostgreSQL, 3 runs: only shows the benchmark still "
        "works; its figures mean nothing (the test suite runs it)",
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.sizes, args.pg_sizes, args.runs = [2000], [2000], 3
    reports = [run("sqlite", n, args.runs) for n in args.sizes]
    for n in args.pg_sizes:
        run("postgresql", n, args.runs)
    if len(reports) > 1:
        small, large = reports[0], reports[-1]
        print(
            f"growth report at {large['cases']} / at {small['cases']} cases (sqlite): "
            f"{large['ms'] / small['ms']:.1f}x the time for "
            f"{large['planned'] / small['planned']:.1f}x the year's cases",
            flush=True,
        )


if __name__ == "__main__":
    main()
