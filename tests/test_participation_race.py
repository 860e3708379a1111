"""A9.2 (同一军休干部在一个疗养周期内原则上只参加一次) when two processes act at the same moment.

The rule reads the cadre's other cases before the step writes, and the version check guards only
the case being moved: two approvals of two cases of one cadre could both pass (found 25 of 25
times on SQLite, 24 of 25 on PostgreSQL). Now the approval also claims the cycle in the
``participations`` table, whose unique (cadre, cycle, claim) lets exactly one in; a second
registration is refused at open, and two registrations at the same moment take turns.
"""

from __future__ import annotations

import multiprocessing
from dataclasses import replace
from typing import Any

import pytest
import sqlalchemy as sa
from factories import AS_AGENCY, AS_FAMILY, CONSENT, REGISTRATION, cadre
from race_worker import step_after_barrier

from workflow import Engine, RuleRefused
from workflow.machine import Actor
from workflow.rules import RULES
from workflow.store.schema import participations

SEED_BATCH = True  # approval takes a seat in batch 1 (conftest.engine)
CADRE = "LC-DCF-0001"
CITY = "city_officer:李处长"
WITHDRAWAL = {"for_health": False}


def _race(url: str, targets: list[int | None]) -> list[str]:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(targets))
    results = context.Queue()
    workers = [
        context.Process(target=step_after_barrier, args=(url, target, CADRE, barrier, results))
        for target in targets
    ]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    return sorted(outcomes)


def _registered_before_open_checked(engine: Engine, like: int) -> int:
    """A second live registration of the cadre in the cycle, as a database written before
    A9.2 was checked at open may hold (the engine itself no longer makes one)."""
    store = engine._store  # the test writes what the engine refuses to
    with store.transaction(write=True) as tx:
        found = tx.case(like)
        assert found is not None
        row = found[0]
        values: dict[str, Any] = {
            "definition_id": row.definition_id,
            "cadre_id": row.cadre_id,
            "county": row.county,
            "agency": row.agency,
            "state": "registered",
            "terminal": False,
            "version": 1,
            "evidence": dict(REGISTRATION),
            "opened_at": row.opened_at,
            "updated_at": row.opened_at,
            "cycle": row.cycle,
            "tier": row.tier,
        }
        case_id = tx.insert_case(values)
        actor = Actor.parse(AS_AGENCY)
        tx.start_chain(
            case_id,
            {
                "on_behalf_of": None,
                "case_id": case_id,
                "seq": 1,
                "trigger": "open",
                "from_state": None,
                "to_state": "registered",
                "actor": actor.name,
                "role": actor.role,
                "at": row.opened_at,
                "data": dict(REGISTRATION),
                "reason": None,
            },
        )
    return case_id


def _consented_pair(engine: Engine) -> tuple[int, int]:
    engine.put_cadres([cadre(CADRE)])
    first = engine.open_case(CADRE, actor=AS_AGENCY, data=REGISTRATION).id
    second = _registered_before_open_checked(engine, first)
    for case_id in (first, second):
        engine.fire(case_id, "consent", actor=AS_FAMILY, data=CONSENT)
    return first, second


def _claims(engine: Engine) -> list[tuple[int, str | None]]:
    with engine.db.connect() as connection:
        rows = connection.execute(
            sa.select(participations.c.case_id, participations.c.claim).order_by(
                participations.c.case_id
            )
        )
        return [(int(r.case_id), r.claim) for r in rows]


@pytest.mark.slow
def test_a9_2_two_approvals_of_one_cadre_at_the_same_moment_let_exactly_one_in(
    engine: Engine, db_url: str
) -> None:
    first, second = _consented_pair(engine)
    outcomes = _race(db_url, [first, second])
    assert outcomes == ["refused:A9.2", "won"], outcomes
    states = sorted(engine.case(c).state for c in (first, second))
    assert states == ["agency_approved", "family_consented"]
    assert len(_claims(engine)) == 1


@pytest.mark.slow
def test_a9_2_two_registrations_of_one_cadre_at_the_same_moment_open_one_case(
    engine: Engine, db_url: str
) -> None:
    engine.put_cadres([cadre(CADRE)])
    outcomes = _race(db_url, [None, None])
    assert outcomes == ["refused:A9.2", "won"], outcomes
    assert len(engine.cases()) == 1


def test_a9_2_a_second_registration_in_the_cycle_is_refused_at_open(engine: Engine) -> None:
    engine.put_cadres([cadre(CADRE)])
    first = engine.open_case(CADRE, actor=AS_AGENCY, data=REGISTRATION)
    with pytest.raises(RuleRefused) as refused:
        engine.open_case(CADRE, actor=AS_AGENCY, data=REGISTRATION)
    assert refused.value.articles == ("A9.2",)
    assert f"案件 {first.id}" in str(refused.value)
    # once the first is closed, the cadre may register again
    engine.fire(
        first.id, "withdraw", actor=AS_AGENCY, data={"for_health": False}, reason="本人申请撤回"
    )
    assert engine.open_case(CADRE, actor=AS_AGENCY, data=REGISTRATION).state == "registered"


def test_a9_2_the_claim_is_refused_even_when_the_rule_read_saw_nothing(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database, not only the rule's read, refuses a second participation: approve the
    first, then the second with once-per-cycle's read blind (as a concurrent step's is)."""
    first, second = _consented_pair(engine)
    engine.fire(first, "approve", actor=AS_AGENCY, data={"batch_id": 1})
    blind = replace(RULES["once_per_cycle"], check=lambda _ctx: None)
    monkeypatch.setitem(RULES, "once_per_cycle", blind)
    with pytest.raises(RuleRefused) as refused:
        engine.fire(second, "approve", actor=AS_AGENCY, data={"batch_id": 1})
    assert refused.value.articles == ("A9.2",)
    assert f"案件 {first}" in str(refused.value)
    assert engine.case(second).state == "family_consented"
    assert engine.case(second).version == 2  # nothing of the step was written


def test_a9_2_an_exception_lets_a_second_participation_in_without_the_claim(
    engine: Engine,
) -> None:
    first, second = _consented_pair(engine)
    engine.fire(first, "approve", actor=AS_AGENCY, data={"batch_id": 1})
    engine.grant_exception(second, "once_per_cycle", actor=CITY, reason="烈士子女，经研究同意")
    assert engine.fire(second, "approve", actor=AS_AGENCY, data={"batch_id": 1}).state == (
        "agency_approved"
    )
    assert _claims(engine) == [(first, "A9.2"), (second, None)]


def test_a9_2_withdrawal_gives_the_cycle_back(engine: Engine) -> None:
    first, second = _consented_pair(engine)
    engine.fire(first, "approve", actor=AS_AGENCY, data={"batch_id": 1})
    engine.fire(
        first, "withdraw", actor=AS_AGENCY, data={"for_health": False}, reason="本人申请撤回"
    )
    assert _claims(engine) == []
    approved = engine.fire(second, "approve", actor=AS_AGENCY, data={"batch_id": 1})
    assert approved.state == "agency_approved"
    assert _claims(engine) == [(second, "A9.2")]
