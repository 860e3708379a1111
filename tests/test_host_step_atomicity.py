"""A step inside a host's own connection is all or nothing, whatever the host does next.

Found by review: the step's statements run on the driver's cursor, which does not autobegin,
so a host connection with no transaction begun yet got every statement committed on its own
(SQLite) or none kept (PostgreSQL); and a step that failed after claiming the cycle (A9.2) left
the claim behind when the host caught the error and committed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from factories import APPROVAL, AS_AGENCY, AS_FAMILY, CONSENT, REGISTRATION, cadre

from workflow import ConflictError, Engine, RuleRefused
from workflow.store.schema import participations

SEED_BATCH = True  # approval takes a seat in batch 1 (conftest.engine)
WITHDRAWAL = {"for_health": False}


def _consented(engine: Engine) -> int:
    engine.put_cadres([cadre()])
    case = engine.open_case("LC-DCF-0001", actor=AS_AGENCY, data=REGISTRATION)
    return engine.fire(case.id, "consent", actor=AS_FAMILY, data=CONSENT).id


def _claims(engine: Engine) -> list[tuple[int, str | None]]:
    with engine.db.connect() as connection:
        rows = connection.execute(sa.select(participations.c.case_id, participations.c.claim))
        return [(int(r.case_id), r.claim) for r in rows]


def _registered(engine: Engine) -> int:
    engine.put_cadres([cadre()])
    return engine.open_case("LC-DCF-0001", actor=AS_AGENCY, data=REGISTRATION).id


def test_a_step_on_a_host_connection_not_yet_begun_rolls_back_with_it(engine: Engine) -> None:
    """A plain step (consent) runs only prepared statements: nothing else autobegins."""
    case_id = _registered(engine)
    with engine.db.connect() as host:
        assert not host.in_transaction()
        moved = engine.fire(case_id, "consent", actor=AS_FAMILY, data=CONSENT, within=host)
        assert moved.state == "family_consented"
        assert host.in_transaction()
        host.rollback()
    after = engine.case(case_id)
    assert (after.state, after.version) == ("registered", 1)
    assert len(engine.history(case_id)) == 1


def test_a_step_on_a_host_connection_not_yet_begun_commits_with_it(engine: Engine) -> None:
    case_id = _registered(engine)
    with engine.db.connect() as host:
        engine.fire(case_id, "consent", actor=AS_FAMILY, data=CONSENT, within=host)
        host.commit()  # SQLAlchemy 2.0's commit-as-you-go
    assert engine.case(case_id).state == "family_consented"
    assert len(engine.history(case_id)) == 2


def _concurrently(
    engine: Engine,
    first: Callable[[sa.Connection], object],
    second: Callable[[sa.Connection], object],
) -> BaseException | None:
    """``first`` runs in a host transaction left open; ``second`` starts in another thread's
    host transaction (it blocks on ``first``'s rows), then ``first`` commits; the second's host
    catches what the step raised and commits anyway. Returns what the second step raised."""
    raised: list[BaseException | None] = []
    with engine.db.connect() as holder:
        holder.begin()
        first(holder)

        def run() -> None:
            with engine.db.connect() as other:
                other.begin()
                try:
                    second(other)
                    raised.append(None)
                except (ConflictError, RuleRefused) as error:
                    raised.append(error)
                other.commit()  # the host goes on after the step's error

        thread = threading.Thread(target=run)
        thread.start()
        thread.join(timeout=1.0)  # the second step now waits on the first's rows
        holder.commit()
        thread.join(timeout=60)
        assert not thread.is_alive()
    return raised[0]


@pytest.mark.slow
def test_a9_2_a_claim_taken_by_a_step_that_then_lost_the_case_is_not_kept(
    engine: Engine, db_url: str
) -> None:
    """PostgreSQL: a withdrawal and an approval of one case at once; the approval claims the
    cycle, then finds the withdrawal's history row and gets ConflictError. Its host commits:
    no claim may be left for a withdrawn case (it would refuse every later approval)."""
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite takes the write lock up front: the two steps cannot interleave")
    case_id = _consented(engine)
    error = _concurrently(
        engine,
        lambda host: engine.fire(
            case_id, "withdraw", actor=AS_AGENCY, data=WITHDRAWAL, reason="本人申请", within=host
        ),
        lambda host: engine.fire(case_id, "approve", actor=AS_AGENCY, data=APPROVAL, within=host),
    )
    assert isinstance(error, ConflictError)
    assert engine.case(case_id).state == "withdrawn"
    assert _claims(engine) == []


@pytest.mark.slow
def test_two_approvals_of_one_case_at_once_are_a_conflict_not_an_a9_2_refusal(
    engine: Engine, db_url: str
) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite takes the write lock up front: the two steps cannot interleave")
    case_id = _consented(engine)

    def approve(host: sa.Connection) -> object:
        return engine.fire(case_id, "approve", actor=AS_AGENCY, data=APPROVAL, within=host)

    error = _concurrently(engine, approve, approve)
    assert isinstance(error, ConflictError), error
    assert engine.case(case_id).state == "agency_approved"
    assert _claims(engine) == [(case_id, "A9.2")]
