"""What a step costs the database: statements and transactions of open_case, fire and approve.

A step is three moves in one transaction (gather once, decide, write once); these counts pin
that, so a change that adds a read or splits a step into more transactions fails here. Before
issue 11 approve cost 13 statements in 5 transactions and fire 3 in 2.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa
from factories import APPROVAL, AS_AGENCY, AS_FAMILY, CONSENT, REGISTRATION, cadre

from workflow import CaseView, Engine

SEED_BATCH = True  # approval takes a seat in batch 1 (conftest.engine)


@dataclass
class Costs:
    statements: list[str] = field(default_factory=list)
    transactions: int = 0
    checkouts: int = 0


@pytest.fixture
def costs(engine: Engine) -> Iterator[Callable[[Callable[[], CaseView]], tuple[CaseView, Costs]]]:
    seen = Costs()

    def statement(_c: Any, _cursor: Any, sql: str, *_: Any) -> None:
        seen.statements.append(sql.split(maxsplit=1)[0].upper())

    def begin(_c: Any) -> None:
        seen.transactions += 1

    def checkout(*_: Any) -> None:
        seen.checkouts += 1

    def measure(step: Callable[[], CaseView]) -> tuple[CaseView, Costs]:
        seen.statements.clear()
        seen.transactions = seen.checkouts = 0
        view = step()
        return view, Costs(list(seen.statements), seen.transactions, seen.checkouts)

    sa.event.listen(engine.db, "before_cursor_execute", statement)
    sa.event.listen(engine.db, "begin", begin)
    sa.event.listen(engine.db.pool, "checkout", checkout)
    try:
        yield measure
    finally:
        sa.event.remove(engine.db, "before_cursor_execute", statement)
        sa.event.remove(engine.db, "begin", begin)
        sa.event.remove(engine.db.pool, "checkout", checkout)


def test_open_fire_and_approve_each_run_in_one_transaction(
    engine: Engine, costs: Callable[[Callable[[], CaseView]], tuple[CaseView, Costs]]
) -> None:
    engine.put_cadres([cadre(), cadre("LC-DCF-0002")])
    engine.open_case("LC-DCF-0002", actor=AS_AGENCY, data=REGISTRATION)  # definition stored

    case, opened = costs(
        lambda: engine.open_case("LC-DCF-0001", actor=AS_AGENCY, data=REGISTRATION)
    )
    # read (and on PostgreSQL lock) the cadre; the year's annual plans (A3.2); the cadre's
    # live registrations in the cycle (A9.2); insert the case, its first history row, its
    # chain head, its two notices (one prepared INSERT each: cheaper than SQLAlchemy's batch
    # of two)
    assert opened.statements == [
        *("SELECT", "SELECT", "SELECT"),
        *("INSERT", "INSERT", "UPDATE"),
        *("INSERT", "INSERT"),
    ]
    assert (opened.transactions, opened.checkouts) == (1, 1)

    case, fired = costs(lambda: engine.fire(case.id, "consent", actor=AS_FAMILY, data=CONSENT))
    # one read of all the step decides on; the history row, then the compare-and-set
    assert fired.statements == ["SELECT", "INSERT", "UPDATE"]
    assert (fired.transactions, fired.checkouts) == (1, 1)

    case, approved = costs(lambda: engine.fire(case.id, "approve", actor=AS_AGENCY, data=APPROVAL))
    # the case read and the batch read, then the cycle's participation (A9.2), history,
    # case, the two notices, and the seat (A6.2)
    assert approved.statements[:7] == [
        *("SELECT", "SELECT"),
        *("INSERT", "INSERT", "UPDATE"),
        *("INSERT", "INSERT"),
    ]
    assert len(approved.statements) <= 10
    assert (approved.transactions, approved.checkouts) == (1, 1)
    assert case.state == "agency_approved"


def test_a_printed_case_needs_no_read_after_its_step(
    engine: Engine, costs: Callable[[Callable[[], CaseView]], tuple[CaseView, Costs]]
) -> None:
    """The step's view carries the stored eligibility and the exceptions (what `cases fire`
    prints), so showing the case costs the database nothing more."""
    engine.put_cadres([cadre()])
    case = engine.open_case("LC-DCF-0001", actor=AS_AGENCY, data=REGISTRATION)
    case = engine.fire(case.id, "consent", actor=AS_FAMILY, data=CONSENT)

    def shown() -> CaseView:
        assert case.eligibility is not None
        assert case.eligibility["level"] == "city"
        assert case.exceptions == ()
        return case

    _, printing = costs(shown)
    assert printing.statements == []
    assert printing.checkouts == 0
