"""How long does ``policy what-if`` take on a city's roster, and how far is it from the least any
what-if must spend? (issue 13 item 3: 100,000 cadres in under 30 s)

Builds a SQLite file with N generated cadres (`workflow.demo.roster.generate_roster`, the
records put in the roster's normal form by `workflow.cadres.cadre_row`, bulk-inserted with the
standard library's ``sqlite3``) and one open honorary-convalescence case for every tenth cadre,
spread over registered, family_consented, agency_approved and insured (bulk-inserted with their
first history row, the head of the case's A19.1 chain, as ``scheduler_sweep.py`` does). The
draft is the bundled definition as a 2026–2027 successor with an A8.2 age limit of 78 and no
wartime third-class route into the city tier (A4.1). Then it times, in this one process:

1. the what-if itself (`workflow.whatif.what_if`): roster read and compared, open cases checked;
2. baseline "raw read": ``SELECT`` of the cadres rows with the stdlib driver and ``json.loads``
   of each record, the least any what-if must read;
3. baseline "bare explain": `workflow.eligibility.explain` for every record already in memory,
   once per version at its broadest plan level (two calls a cadre, as the what-if makes), the
   least any what-if must evaluate without restating the policy;
4. writing the HTML (500 rows listed) and the XLSX report (every row) of the result.

It prints each and the ratio of (1) to (2) + (3). Run from the repository root::

    python benchmarks/whatif.py                 # 100,000 cadres
    python benchmarks/whatif.py --count 20000 --keep /tmp/whatif-bench
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

# benchmarks/transitions.py shares its name with the `transitions` library the engine is built
# on, and running a script puts benchmarks/ first on sys.path: drop it before importing the engine.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _HERE]

from definitions import bundled_directory  # noqa: E402
from workflow import Engine, SimulatedClock  # noqa: E402
from workflow.audit.chain import GENESIS, history_hash  # noqa: E402
from workflow.cadres import cadre_row  # noqa: E402
from workflow.clock import SHANGHAI  # noqa: E402
from workflow.demo.roster import generate_roster  # noqa: E402
from workflow.eligibility import explain  # noqa: E402
from workflow.plans import service  # noqa: E402
from workflow.whatif import load_draft_text, what_if  # noqa: E402
from workflow.whatif.render import render_html, render_xlsx  # noqa: E402
from workflow.whatif.roster import broadest_level  # noqa: E402

AS_OF = date(2024, 3, 1)
NOW = datetime(2024, 5, 6, 9, 30, tzinfo=SHANGHAI)
ON = date(2026, 3, 1)  # in the draft's window
STAMP = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores a naive UTC datetime on SQLite
OPEN_EVERY = 10  # one open case per this many cadres
T = TypeVar("T")

BATCH_EVIDENCE = {
    "batch_start": "2024-06-03",
    "batch_end": "2024-06-09",
    "destination": "威海市荣成",
    "province": "山东",
    "batch_size": 20,
    "batch_contractor_id": 1,
    "batch_plan_level": "county",
    "batch_plan_county": None,
    "batch_cycle": "2024-2025",
}
STATES: list[tuple[str, dict[str, Any]]] = [
    ("registered", {"plan_level": "county"}),
    ("family_consented", {"plan_level": "county", "family_member": "张丽", "relation": "女儿"}),
    ("agency_approved", {"plan_level": "county", "batch_id": 1, **BATCH_EVIDENCE}),
    (
        "insured",
        {
            "plan_level": "county",
            "batch_id": 1,
            **BATCH_EVIDENCE,
            "agreement_no": "XY-1",
            "signed_on": "2024-05-20",
            "covered_from": "2024-06-03",
            "covered_until": "2024-06-09",
        },
    ),
]


def draft_text() -> str:
    """The bundled definition as a 2026–2027 successor (see the module docstring)."""
    text = (bundled_directory() / "honor_convalescence.yaml").read_text(encoding="utf-8")
    swaps = [
        ("version: 1\n", "version: 2\n"),
        ("document: 聊退役军人发〔2023〕2号", "document: 聊退役军人发〔2026〕1号"),
        ("issued_on: 2023-03-23", "issued_on: 2025-12-01"),
        ("effective_from: 2023-03-23", "effective_from: 2026-01-01"),
        ("effective_until: 2025-12-31", "effective_until: 2027-12-31"),
        (
            '    - {id: "2023", start: 2023-03-23, end: 2023-12-31}\n'
            "    - {id: 2024-2025, start: 2024-01-01, end: 2025-12-31}",
            "    - {id: 2026-2027, start: 2026-01-01, end: 2027-12-31}",
        ),
        ("age_limit: 80 ", "age_limit: 78 "),
        (
            "        - id: wartime_third_class_merit\n"
            "          article: A4.1\n"
            "          clause: 服役期间荣立战时三等功（视同二等功）\n"
            "          merit: {max_class: 3, wartime: true}\n",
            "",
        ),
    ]
    for old, new in swaps:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


def timed(action: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    result = action()
    return result, time.perf_counter() - start


def utc(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(tzinfo=None).strftime(STAMP)


def build(path: Path, records: list[dict[str, Any]]) -> int:
    """The database: the schema and the stored v1 (one case opened through the engine), then
    the cadres and the open cases in bulk. Returns the number of open cases."""
    first = records[0]
    with Engine(f"sqlite:///{path}", clock=SimulatedClock(NOW)) as engine:
        engine.upgrade_schema()
        engine.put_cadres([first])
        service.create_plan(  # the year's plan the registration names (A3.2)
            engine, year=2024, organiser_level="county", county=first["county"],
            budget=Decimal(1), cycle="2024-2025",
        )  # fmt: skip
        engine.open_case(
            first["id"], actor=f"cadre:{first['name']}@{first['id']}", data={"plan_level": "county"}
        )
    rows = [cadre_row(r, today=NOW.date()) for r in records[1:]]
    stamp = utc(NOW)
    connection = sqlite3.connect(path)
    (definition_id,) = connection.execute("SELECT id FROM definitions").fetchone()
    opened = NOW - timedelta(days=3)
    cases = []
    for index, record in enumerate(records[1:], start=1):
        if index % OPEN_EVERY:
            continue
        state, evidence = STATES[(index // OPEN_EVERY) % len(STATES)]
        case_id = 10 + index
        head = history_hash(
            GENESIS,
            {
                "case_id": case_id,
                "seq": 1,
                "trigger": "open",
                "from_state": None,
                "to_state": state,
                "actor": record["name"],
                "role": "cadre",
                "at": opened,
                "data": {},
            },
        )
        cases.append((case_id, record, state, evidence, head))
    with connection:
        connection.executemany(
            "INSERT INTO cadres (id, name, county, agency, birth_date, record, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                (
                    r["id"],
                    r["name"],
                    r["county"],
                    r["agency"],
                    r["birth_date"].isoformat(),
                    json.dumps(r["record"], ensure_ascii=False, sort_keys=True),
                    stamp,
                )
                for r in rows
            ),
        )
        connection.executemany(
            "INSERT INTO cases (id, definition_id, cadre_id, county, agency, state, terminal, "
            "version, chain_head, evidence, opened_at, updated_at, cycle, tier) VALUES "
            "(?, ?, ?, ?, ?, ?, 0, 1, ?, ?, ?, ?, '2024-2025', NULL)",
            (
                (
                    case_id,
                    definition_id,
                    record["id"],
                    record["county"],
                    record["agency"],
                    state,
                    head,
                    json.dumps(evidence, ensure_ascii=False, sort_keys=True),
                    utc(opened),
                    utc(opened),
                )
                for case_id, record, state, evidence, head in cases
            ),
        )
        connection.executemany(
            "INSERT INTO history (case_id, seq, trigger, from_state, to_state, actor, role, at, "
            "data, prev_hash, hash) VALUES (?, 1, 'open', NULL, ?, ?, 'cadre', ?, '{}', ?, ?)",
            (
                (case_id, state, record["name"], utc(opened), GENESIS, head)
                for case_id, record, state, _evidence, head in cases
            ),
        )
    connection.close()
    return len(cases) + 1


def raw_read(path: Path) -> list[dict[str, Any]]:
    """Baseline (2): every cadres row with the stdlib driver, each record decoded."""
    connection = sqlite3.connect(path)
    rows = connection.execute(
        "SELECT id, name, county, agency, record FROM cadres ORDER BY id"
    ).fetchall()
    connection.close()
    return [json.loads(row[4]) for row in rows]


def bare_explain(records: list[dict[str, Any]], engine: Engine, draft_source: str) -> int:
    """Baseline (3): the engine's explainer, once per version at its broadest plan level."""
    versions = [engine.catalog.get("honor_convalescence", 1), load_draft_text(draft_source, "d")]
    calls = 0
    for definition in versions:
        rules = definition.rules
        assert rules is not None
        level = broadest_level(rules)
        for record in records:
            explain(record, rules=rules, policy=definition.policy, level=level, on=ON)
            calls += 1
    return calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100_000, help="cadres (default 100,000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="write the database and reports here")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="--count 300: only shows the benchmark still works; its ratio means nothing "
        "(the test suite runs it)",
    )
    args = parser.parse_args()
    if args.smoke:
        args.count = 300
    with tempfile.TemporaryDirectory() as scratch:
        where = args.keep or Path(scratch)
        where.mkdir(parents=True, exist_ok=True)
        run(args.count, args.seed, where)


def run(count: int, seed: int, where: Path) -> None:
    records, generating = timed(lambda: generate_roster(count, seed, as_of=AS_OF))
    path = where / "whatif.db"
    path.unlink(missing_ok=True)
    opened, building = timed(lambda: build(path, records))
    print(f"{count:,} cadres and {opened:,} open cases built in {generating + building:.1f} s")
    source = draft_text()
    with Engine(f"sqlite:///{path}", clock=SimulatedClock(NOW)) as engine:
        draft = load_draft_text(source, "draft.yaml")
        report, whatif_seconds = timed(lambda: what_if(engine, draft, on=ON))
        assert (report.roster, report.open_cases) == (count, opened), report.roster
        decoded, read_seconds = timed(lambda: raw_read(path))
        calls, explain_seconds = timed(lambda: bare_explain(decoded, engine, source))
    html, html_seconds = timed(lambda: render_html(report))
    (where / "whatif.html").write_text(html, encoding="utf-8")
    book, xlsx_seconds = timed(lambda: render_xlsx(report))
    (where / "whatif.xlsx").write_bytes(book)

    print(
        f"  {len(report.changes):,} cadres change eligibility; {report.refused_cases:,} open cases "
        f"refused at a next step, {report.unjudged_cases:,} with guards needing the step's data"
    )
    print(f"what-if, {count:,} cadres            {whatif_seconds:7.2f} s")
    print(f"raw read: SELECT + json.loads        {read_seconds:7.2f} s")
    print(f"bare explain: {calls:,} calls      {explain_seconds:7.2f} s")
    print(f"HTML report (500 rows listed)        {html_seconds:7.2f} s")
    print(f"XLSX report (every row)              {xlsx_seconds:7.2f} s")
    print(
        f"ratio what-if / (raw read + bare explain): "
        f"{whatif_seconds / (read_seconds + explain_seconds):.2f}x "
        f"(target: 100,000 cadres in under 30 s)"
    )


if __name__ == "__main__":
    main()
