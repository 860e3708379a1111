"""Stateful property test: no sequence of steps, by any role, with good or bad evidence, and
with the batch started at any moment or not at all, can break a case's invariants (A19.1: the
history explains the state exactly; A13.1: a case is attended only once its batch started)."""

from __future__ import annotations

import tempfile
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from factories import (
    AGREEMENT,
    APPROVAL,
    AS_AGENCY,
    AS_CADRE,
    AS_COUNTY,
    AS_FAMILY,
    CONSENT,
    HAPPY_PATH,
    INSURANCE,
    REGISTRATION,
    cadre,
)
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from plans_setup import seed_batch, start_batch

from workflow import Engine, InputError, RuleRefused, SimulatedClock
from workflow.clock import SHANGHAI
from workflow.plans import service
from workflow.store.schema import history

# hypothesis walks many step sequences through a real database: ~17 s
pytestmark = pytest.mark.slow

# each role acting in the case's own scope (A5.2), so steps can succeed, not only be refused;
# contractor 1 runs the batch seeded below
ACTORS = {
    "cadre": AS_CADRE,
    "family": AS_FAMILY,
    "agency_officer": AS_AGENCY,
    "county_officer": AS_COUNTY,
    "contractor_staff": "contractor_staff:李强@1",
    "auditor": "auditor:周审",
}
ROLES = sorted(ACTORS)
SEATED = {"agency_approved", "agreement_signed", "insured"}  # holding a seat, trip not begun
EVIDENCE: dict[str, dict[str, Any]] = {
    "consent": CONSENT,
    "refuse_consent": CONSENT,
    "approve": APPROVAL,
    "reject": {"article": "A8.2"},
    "sign_agreement": AGREEMENT,
    "insure": INSURANCE,
    "attend": {"checked_in_on": "2024-06-03"},
    "evaluate": {"satisfaction": 4},
    "withdraw": {"for_health": True},
    "report_unable": {"cause": "健康原因"},
}


class CaseLifecycle(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.directory = tempfile.TemporaryDirectory()
        clock = SimulatedClock(datetime(2024, 5, 6, 9, 0, tzinfo=SHANGHAI))
        self.engine = Engine(f"sqlite:///{Path(self.directory.name) / 'c.db'}", clock=clock)
        self.engine.upgrade_schema()
        seed_batch(self.engine)  # the batch APPROVAL names
        self.engine.put_cadres([cadre()])
        self.case = self.engine.open_case("LC-DCF-0001", actor=AS_CADRE, data=REGISTRATION)
        self.expected_version = 1
        self.clock = clock

    def teardown(self) -> None:
        self.engine.close()
        self.directory.cleanup()

    @rule(
        trigger=st.sampled_from(sorted(EVIDENCE)),
        role=st.sampled_from(ROLES),
        good_evidence=st.booleans(),
    )
    def attempt(self, trigger: str, role: str, good_evidence: bool) -> None:
        data = dict(EVIDENCE[trigger]) if good_evidence else {}
        self.clock.advance(timedelta(hours=3))
        before = self.engine.case(self.case.id)
        try:
            after = self.engine.fire(self.case.id, trigger, actor=ACTORS[role], data=data)
        except (RuleRefused, InputError):
            assert self.engine.case(self.case.id) == before  # a refusal writes nothing
            return
        self.expected_version += 1
        assert after.version == self.expected_version
        spec = next(
            t
            for t in self._definition().transitions
            if t.trigger == trigger and before.state in t.sources
        )
        assert role in spec.roles
        assert after.state == spec.dest

    @rule()
    def take_the_next_happy_step(self) -> None:
        """The next step of art. 7 as its officer would take it, so deep states are reached:
        it succeeds, except attendance before the batch started, refused citing A13.1 only.
        Nothing once the case has ended."""
        before = self.engine.case(self.case.id)
        step = next((s for s in HAPPY_PATH if s[0] in {n.trigger for n in before.next_steps}), None)
        if step is None:
            return
        trigger, actor, data = step
        self.clock.advance(timedelta(hours=3))
        started = service.show_batch(self.engine, APPROVAL["batch_id"])["started_at"]
        if trigger == "attend" and started is None:
            with pytest.raises(RuleRefused) as refused:
                self.engine.fire(self.case.id, trigger, actor=actor, data=data)
            assert refused.value.articles == ("A13.1",)
            assert self.engine.case(self.case.id) == before
            return
        after = self.engine.fire(self.case.id, trigger, actor=actor, data=data)
        self.expected_version += 1
        assert after.version == self.expected_version

    @rule()
    def start_the_batch(self) -> None:
        """The organiser starts the batch the case sits in (A13.1; a no-op once started, and
        nothing while the case holds no seat: a batch nobody sits in does not start)."""
        if self.engine.case(self.case.id).state in SEATED:
            self.clock.advance(timedelta(hours=3))
            start_batch(self.engine)

    @precondition(lambda self: self.engine.case(self.case.id).terminal)
    @rule()
    def terminal_cases_offer_no_step(self) -> None:
        assert self.engine.case(self.case.id).next_steps == ()

    @invariant()
    def history_explains_the_state(self) -> None:
        case = self.engine.case(self.case.id)
        steps = self.engine.history(self.case.id)
        assert case.version == len(steps) == self.expected_version
        assert [h.seq for h in steps] == list(range(1, len(steps) + 1))
        assert steps[-1].to_state == case.state
        for earlier, later in pairwise(steps):
            assert later.from_state == earlier.to_state
        with self.engine.db.connect() as connection:
            count = connection.execute(sa.select(sa.func.count()).select_from(history))
            assert count.scalar_one() == len(steps)

    @invariant()
    def attended_only_in_a_started_batch(self) -> None:
        attended = [h for h in self.engine.history(self.case.id) if h.trigger == "attend"]
        if attended:
            started_at = service.show_batch(self.engine, APPROVAL["batch_id"])["started_at"]
            assert started_at is not None
            assert started_at <= attended[0].at

    def _definition(self) -> Any:
        return self.engine.catalog.get("honor_convalescence")


CaseLifecycle.TestCase.settings = settings(
    max_examples=25,
    stateful_step_count=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_case_lifecycle = CaseLifecycle.TestCase
