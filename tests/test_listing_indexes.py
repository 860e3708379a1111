"""Every listing filter is a range on an index, on both databases (issue 14 item 2).

Each listing below is run for real (the engine's, the task store's, the outbox's), the SELECT it
sends is caught on its way to the driver, and the database is asked how it would run that very
statement with those very parameters:

* SQLite (EXPLAIN QUERY PLAN): no ``SCAN`` of cases, tasks or outbox (a full pass over the
  table or one of its indexes), the table searched through an index on the filter's column (or
  through the named partial index), and no ``TEMP B-TREE FOR ORDER BY`` (which reads every
  matching row to sort them, where the index gives them in the listing's order);
* PostgreSQL (EXPLAIN, sequential scans, sorts and bitmap scans switched off, so the planner
  takes an index whenever one serves, whatever the table's size): no ``Seq Scan`` and no
  ``Sort``, and an index condition on the filter's column.

So a migration that drops an index, or a listing rewritten so its filter no longer matches its
index (the open filter written unlike the partial index's predicate), fails here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from workflow import Engine
from workflow.clock import SHANGHAI
from workflow.store.cases import SqlCaseTransaction
from workflow.store.outbox import SqlOutbox
from workflow.store.tasks import insert_tasks, read_tasks

NOW = datetime(2024, 5, 6, 9, 30, tzinfo=SHANGHAI)
TODAY = NOW.date()
WATCHED = ("cases", "tasks", "outbox")


@dataclass(frozen=True)
class Listing:
    """A listing as a caller runs it, the table it reads and what must bound the read: a
    range on ``column`` (an index whose first column it is), or an ``index`` (a pattern of its
    name: the partial index of open rows, or on SQLite an index that is one in effect)."""

    name: str
    table: str
    read: Callable[[Engine], object]
    column: str | None = None
    index: str | None = None
    sorts: bool = False  # the rows of one case, few enough to sort


def _cases(**filters: Any) -> Callable[[Engine], object]:
    return lambda engine: engine.cases(limit=20, **filters)


def _contractor_cases(after: int | None) -> Callable[[Engine], object]:
    def read(engine: Engine) -> object:
        with engine.transaction() as connection:
            return SqlCaseTransaction(connection).cases(contractor_id="1", after=after)

    return read


def _tasks(**filters: Any) -> Callable[[Engine], object]:
    return lambda engine: read_tasks(engine.db, today=TODAY, limit=20, **filters)


def _notices(**filters: Any) -> Callable[[Engine], object]:
    def read(engine: Engine) -> object:
        query = {"status": None, "case_id": None, **filters}
        return SqlOutbox(engine.db).entries(limit=20, **query)

    return read


def _listings() -> Iterator[Listing]:
    for after in (None, 5):
        page = "" if after is None else " after 5"
        for column, value in (
            ("state", "registered"),
            ("county", "东昌府区"),
            ("agency", "东昌府区军休所"),
            ("cadre_id", "LC-DCF-0001"),
        ):
            yield Listing(
                f"cases by {column}{page}",
                "cases",
                _cases(after=after, **{column: value}),
                column,
                sorts=column == "cadre_id",  # a cadre's few cases
            )
        yield Listing(
            f"open cases{page}",
            "cases",
            _cases(after=after, open_only=True),
            index="ix_cases_open_id",
        )
        yield Listing(
            f"a contractor's cases{page}", "batch_seats", _contractor_cases(after), "batch_id"
        )
    for after in (None, 1):
        page = "" if after is None else " after task 1"
        for column, option, value in (
            ("assignee_role", "role", "agency_officer"),
            ("county", "county", "东昌府区"),
            ("agency", "agency", "东昌府区军休所"),
        ):
            yield Listing(
                f"open tasks by {option}{page}",
                "tasks",
                _tasks(after=after, **{option: value}),
                column,
            )
            yield Listing(
                f"all tasks by {option}{page}",
                "tasks",
                _tasks(after=after, include_done=True, **{option: value}),
                column,
                # all of a role's tasks, done or not, are sorted: an audit's rare read
                sorts=option == "role",
            )
        yield Listing(
            f"open tasks{page}",
            "tasks",
            _tasks(after=after),
            index=r"ix_tasks_(open_due_on_id|done_at_due_on)",
        )
        yield Listing(
            f"open tasks due before{page}", "tasks", _tasks(after=after, due_before=TODAY), "due_on"
        )
        yield Listing(f"overdue tasks{page}", "tasks", _tasks(after=after, overdue=True), "due_on")
        yield Listing(
            f"all tasks due before{page}",
            "tasks",
            _tasks(after=after, include_done=True, due_before=TODAY),
            "due_on",
        )
        yield Listing(
            f"a case's tasks{page}", "tasks", _tasks(after=after, case_id=1), "case_id", sorts=True
        )
    for after in (None, 9):
        page = "" if after is None else " after 9"
        yield Listing(
            f"notices by status{page}", "outbox", _notices(after=after, status="dead"), "status"
        )
        yield Listing(
            f"a case's notices{page}",
            "outbox",
            _notices(after=after, case_id=1),
            "case_id",
            sorts=True,
        )


LISTINGS = list(_listings())


@pytest.fixture
def listed(engine: Engine) -> Engine:
    """Tasks to page after, of other counties and cases than the listings ask for: the
    planner's estimates come from rows (PostgreSQL, analysed), and an empty table's make a walk
    of every open task look as cheap as a case's own few (plans need no other rows)."""
    rows = [
        {
            "key": f"calendar:{n}",
            "kind": "calendar",
            "case_id": None,
            "state": None,
            "assignee_role": "city_officer",
            "county": f"县{n % 7}",
            "agency": f"县{n % 7}军休所",
            "title": "任务",
            "article": None,
            "due_on": date(2025, 1, 1 + n % 28),
            "created_at": NOW,
            "done_at": NOW if n % 2 else None,
        }
        for n in range(400)
    ]
    with engine.transaction(write=True) as connection:
        insert_tasks(connection, rows)
    if engine.db.dialect.name == "postgresql":
        with engine.db.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT")
            connection.exec_driver_sql("ANALYZE tasks")
    return engine


@contextmanager
def caught(db: sa.Engine) -> Iterator[list[tuple[str, Any]]]:
    """The SELECTs sent to the driver meanwhile, with their parameters."""
    statements: list[tuple[str, Any]] = []

    def catch(_c: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    sa.event.listen(db, "before_cursor_execute", catch)
    try:
        yield statements
    finally:
        sa.event.remove(db, "before_cursor_execute", catch)


def _listing_statement(engine: Engine, listing: Listing) -> tuple[str, Any]:
    with caught(engine.db) as statements:
        listing.read(engine)
    found = [s for s in statements if re.search(r"\bFROM (cases|tasks|outbox)\b", s[0])]
    assert found, f"{listing.name}: no SELECT on {WATCHED} was sent"
    return found[-1]  # a cursor's own lookup (the task's due date) comes first


def test_every_listing_filter_is_a_range_on_an_index(listed: Engine) -> None:
    """All listings in one database (a database per listing cost a minute): each failing
    listing is named with its plan and statement."""
    failures = []
    for listing in LISTINGS:
        statement, parameters = _listing_statement(listed, listing)
        check = _check_sqlite_plan if listed.db.dialect.name == "sqlite" else _check_postgresql_plan
        try:
            check(listed, listing, statement, parameters)
        except AssertionError as failed:
            failures.append(str(failed))
    assert not failures, "\n\n".join(failures)


def _check_sqlite_plan(engine: Engine, listing: Listing, statement: str, parameters: Any) -> None:
    with engine.db.connect() as connection:
        plan = [
            row[3]
            for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
        ]
    shown = f"{listing.name}: {plan}\n{statement}"
    scans = [line for line in plan if re.match(rf"SCAN ({'|'.join(WATCHED)})\b", line)]
    if listing.index is not None:  # a partial index holds only the rows the filter wants
        used = re.compile(rf"INDEX {listing.index}\b")
        scans = [line for line in scans if not used.search(line)]
        assert any(used.search(line) for line in plan), shown
    assert not scans, shown
    if listing.column is not None:
        searched = (
            rf"^SEARCH {listing.table} USING (COVERING )?INDEX \w+ \([^)]*\b{listing.column}[=<>]"
        )
        assert any(re.match(searched, line) for line in plan), shown
    if not listing.sorts:
        assert not any("TEMP B-TREE FOR ORDER BY" in line for line in plan), shown


def _check_postgresql_plan(
    engine: Engine, listing: Listing, statement: str, parameters: Any
) -> None:
    with engine.db.connect() as connection, connection.begin():
        # a listing allowed to sort keeps sorting on: without it the planner would walk the
        # whole table in the listing's order to avoid sorting a case's few rows
        for setting in (
            "enable_seqscan",
            "enable_bitmapscan",
            *(() if listing.sorts else ("enable_sort",)),
        ):
            connection.exec_driver_sql(f"SET LOCAL {setting} = off")
        (plan,) = connection.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {statement}", parameters).one()
    nodes = list(_nodes((json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]))
    shown = f"{listing.name}: {json.dumps(plan, ensure_ascii=False)}\n{statement}"
    assert not [
        n for n in nodes if n["Node Type"] == "Seq Scan" and n["Relation Name"] in WATCHED
    ], shown
    if not listing.sorts:
        assert not [n for n in nodes if n["Node Type"] in ("Sort", "Incremental Sort")], shown
    on_table = [n for n in nodes if n.get("Relation Name") == listing.table and "Index Name" in n]
    if listing.index is not None:
        assert any(re.fullmatch(listing.index, n["Index Name"]) for n in on_table), shown
    if listing.column is not None:
        condition = re.compile(rf"\b{listing.column}\)?(::\w+)? [=<>]")
        assert any(condition.search(n.get("Index Cond", "")) for n in on_table), shown


def _nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from _nodes(child)
