"""The A18.2 report reads its year through indexes (issue 14 item 1), on both databases.

``cases.approved_batch_id`` is the approval's ``batch_id`` as the database computes it from
the evidence (revision 0020): it follows an approval, a rebook and a withdrawal without any code
writing it. The report's statements read the cases only as index ranges (the seats of the
year's batches, the approved cases of those batches, the visits opened in the year), and the
year's case set once: a plan that scans the cases fails here before it costs ten seconds at a
million cases (benchmarks/report_scale.py).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from corrections_setup import FIRST, LATER_DATES, case_at, later_batch, seated
from factories import AS_AGENCY
from plans_setup import batch

from workflow import Engine
from workflow.plans import service
from workflow.reports.performance import performance_report
from workflow.store.schema import batch_seats, cases, metadata

SEED_BATCH = True  # batch 1 of the 2024 city plan (plan 1); plan 2 is 东昌府区's county plan
# tables the report must never read whole (aliases as the statements name them)
NOT_SCANNED = ("cases", "visit", "honor", "batch_seats", "case_exceptions")
RANGES = {
    "INTEGER PRIMARY KEY (rowid=?)",
    "INDEX ix_cases_approved_batch_id (approved_batch_id=?)",
    "INDEX ix_cases_definition_id_opened_at (definition_id=? AND opened_at>? AND opened_at<?)",
}


def approved_batch(engine: Engine, case_id: int) -> int | None:
    with engine.transaction() as connection:
        found = connection.execute(
            sa.select(cases.c.approved_batch_id).where(cases.c.id == case_id)
        ).scalar_one()
    return None if found is None else int(found)


def test_the_approved_batch_follows_the_evidence(engine: Engine) -> None:
    later = later_batch(engine)
    case_id = case_at(engine, 2)  # consented and approved into batch 1
    waiting = case_at(engine, 1, "LC-DCF-0002")  # consented, no batch yet
    assert (approved_batch(engine, case_id), approved_batch(engine, waiting)) == (FIRST, None)

    engine.rebook(case_id, later, actor=AS_AGENCY, reason="本人要求改到下一期")
    assert approved_batch(engine, case_id) == later
    engine.fire(case_id, "withdraw", actor=AS_AGENCY, data={"for_health": False})
    assert seated(engine, later) == (0, [])  # the seat went back (A6.2) ...
    assert approved_batch(engine, case_id) == later  # ... the approval's batch stays

    report = performance_report(engine, 2024)
    assert (report.total.planned, report.total.attended) == (1, 0)
    assert [(f.key, f.planned) for f in report.by_contractor] == [("contractor:1", 1)]


def test_a_seat_counts_in_its_own_batch_before_the_approvals(engine: Engine) -> None:
    """The seat says where a case sits; the approval's batch only covers a case without one.
    A seat moved by hand to a batch of another plan (no step does that: a rebook moves both)
    counts the case there, once, as the report always did."""
    service.add_agreement(  # the contractor hosts the county plan's batches too (A14.1)
        engine,
        1,
        plan_id=2,
        agreement_no="XY-2024-02",
        signed_on=date(2024, 3, 1),
        valid_from=date(2024, 3, 1),
        valid_until=date(2024, 12, 31),
    )
    county_batch = int(batch(engine, plan_id=2, contractor_id=1, **LATER_DATES)["id"])
    case_id = case_at(engine, 2)
    before = performance_report(engine, 2024).by_organiser
    assert [(f.key, f.planned) for f in before] == [("city", 1), ("county:东昌府区", 0)]

    with engine.transaction() as connection:
        connection.execute(
            sa.update(batch_seats)
            .where(batch_seats.c.case_id == case_id)
            .values(batch_id=county_batch)
        )

    report = performance_report(engine, 2024)
    assert approved_batch(engine, case_id) == FIRST
    assert report.total.planned == 1
    assert [(f.key, f.planned) for f in report.by_organiser] == [
        ("city", 0),
        ("county:东昌府区", 1),
    ]


@contextmanager
def statements(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """Every statement (and its parameters) sent to the database inside the block."""
    sent: list[tuple[str, Any]] = []

    def grab(*args: Any) -> None:
        sent.append((args[2], args[3]))

    sa.event.listen(engine.db, "before_cursor_execute", grab)
    try:
        yield sent
    finally:
        sa.event.remove(engine.db, "before_cursor_execute", grab)


def plans_of(engine: Engine, sent: list[tuple[str, Any]]) -> list[str]:
    """The query plan of each statement that reads cases: SQLite's EXPLAIN QUERY PLAN lines,
    PostgreSQL's EXPLAIN with sequential scans priced out (a table without a usable index is
    scanned anyway, and shows)."""
    found = []
    with engine.db.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if not sqlite:
            connection.exec_driver_sql("SET enable_seqscan = off")
        for statement, parameters in sent:
            if "cases" not in statement:
                continue
            prefix = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN "
            rows = connection.exec_driver_sql(prefix + statement, parameters).all()
            found.append("\n".join(str(row[-1] if sqlite else row[0]) for row in rows))
        connection.rollback()
    return found


def test_the_report_reads_the_cases_through_indexes_and_its_case_set_once(
    engine: Engine,
) -> None:
    case_at(engine, 2)
    with statements(engine) as sent:
        performance_report(engine, 2024)
    plans = plans_of(engine, sent)
    assert len(plans) == 2, plans  # the year's cases, then the year's visits
    text = "\n".join(plans)
    if engine.db.dialect.name == "sqlite":
        scans = re.findall(r"^SCAN (\w+)", text, re.MULTILINE)
        assert not set(scans) & set(NOT_SCANNED), text
        ways_in = re.findall(
            r"^SEARCH (?:cases|visit|honor) USING (.*?)(?: LEFT-JOIN)?$", text, re.M
        )
        assert set(ways_in) <= RANGES, text  # a row by its id, or one of the two ranges
        assert text.count("MATERIALIZE planned") == 1, text
        assert "USING INDEX ix_cases_approved_batch_id" in text
        assert "USING INDEX ix_cases_definition_id_opened_at" in text
    else:  # which index leads depends on statistics a test database of a few rows does not
        # have (benchmarks/report_scale.py reads the plan at 100,000 cases): no scans, one set
        scans = re.findall(r"Seq Scan on (\w+)(?: (\w+))?", text)
        assert not {alias or table for table, alias in scans} & set(NOT_SCANNED), text
        assert text.count("CTE planned") == 1, text
        visits = re.search(r"ix_cases_definition_id_opened_at on cases visit.*\n.*", text)
        assert visits is not None, text
        assert "opened_at >=" in visits.group(0), text


def test_the_declared_column_is_the_one_the_revision_made(engine: Engine) -> None:
    """Alembic warns, rather than fails, when a generated column's expression differs from the
    declared one: the warning is the failure here."""
    with engine.db.connect() as connection, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        compare_metadata(context, metadata)
    assert [str(w.message) for w in caught if "approved_batch_id" in str(w.message)] == []
