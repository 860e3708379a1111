"""Issue 7: a role x trigger x scope matrix proves every cell is allowed or refused as declared.

The matrix is derived from the definition as the engine loads it (its ``roles:`` per step,
``scopes:`` per role and ``rules.exceptions`` approvers); a hand-written table of key cells
and scopes checks that derivation against the policy (A5.1, A5.2), so a YAML edit that widens
a permission fails here. Each cell brings a case to the step's source state along the happy
path and attempts the step as ``ROLE:NAME@SCOPE`` with the scope its own, another one's, or
missing. Refused attempts must cite A5.2 with the right rule and write nothing.

The step matrix runs on one module-scoped database per backend (SQLite and PostgreSQL) so the
whole file stays fast; the read checks use the per-test ``engine`` fixture on both backends.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest
from factories import AS_AGENCY, CONSENT, HAPPY_PATH, REGISTRATION, cadre
from pg_server import fresh_database
from plans_setup import seed_batch, start_batch, walk

from definitions import bundled_directory
from workflow import Engine, SimulatedClock
from workflow.clock import SHANGHAI
from workflow.definition.catalog import Catalog
from workflow.definition.model import Definition
from workflow.errors import Refusal, RuleRefused
from workflow.machine import Actor
from workflow.plans import service

SEED_BATCH = True  # the per-test ``engine`` fixture (read checks) gets batch 1

DEFINITION: Definition = Catalog.from_directories([bundled_directory()]).get("honor_convalescence")
ROLES: tuple[str, ...] = tuple(DEFINITION.roles)
SCOPES: dict[str, str] = dict(DEFINITION.scopes)
GRANT = "grant_exception"

OWN_COUNTY, OTHER_COUNTY = "东昌府区", "冠县"
OWN_AGENCY, OTHER_AGENCY = "东昌府区军休所", "冠县军休所"
OTHER_CADRE = "LC-GX-0001"

# Evidence an allowed attempt passes with, per trigger (happy path first, then the exits).
STEP_DATA: dict[str, dict[str, Any]] = {
    **{trigger: data for trigger, _, data in HAPPY_PATH},
    "refuse_consent": dict(CONSENT),
    "reject": {"article": "A19.1"},
    "withdraw": {"for_health": False},
    "report_unable": {"cause": "健康原因"},
}


def _happy_states() -> list[str]:
    states = [DEFINITION.initial]
    for trigger, _, _ in HAPPY_PATH:
        spec = DEFINITION.transition(trigger, states[-1])
        assert spec is not None, f"happy path step {trigger} not declared from {states[-1]}"
        states.append(spec.dest)
    return states


HAPPY_STATES = _happy_states()


def _seated_states() -> frozenset[str]:
    """States along the happy path in which the case holds a batch seat (A6.2)."""
    seated: set[str] = set()
    holding = False
    for state in HAPPY_STATES:
        if holding:
            seated.add(state)
        for spec in DEFINITION.transitions_from(state):
            if spec.batch == "take" and spec.dest in HAPPY_STATES:
                holding = True
    return frozenset(seated)


SEATED = _seated_states()


@dataclass(frozen=True)
class Step:
    kind: str  # "open", "fire" or "grant"
    name: str  # trigger, or the exception rule for a grant
    source: str | None
    roles: tuple[str, ...]
    dest: str | None

    @property
    def key(self) -> str:
        if self.kind == "grant":
            return f"{GRANT}:{self.name}"
        return self.name if self.source is None else f"{self.name}@{self.source}"


def _steps() -> list[Step]:
    steps = [Step("open", "open", None, DEFINITION.open.roles, DEFINITION.initial)]
    for spec in DEFINITION.transitions:
        for source in spec.sources:
            steps.append(Step("fire", spec.trigger, source, spec.roles, spec.dest))
    assert DEFINITION.rules is not None
    # an exception is granted before the approval it matters for; the case stays where it is
    grant_source = HAPPY_STATES[1]
    for rule in DEFINITION.rules.exceptions:
        steps.append(Step("grant", rule.rule, grant_source, rule.approvers, grant_source))
    return steps


STEPS = _steps()


def _variants(role: str) -> tuple[str, ...]:
    # unscoped roles carry no scope ("none"); a stray one ("stray") must not matter either
    return ("own", "other", "missing") if role in SCOPES else ("none", "stray")


CELLS = [
    pytest.param(step, role, variant, id=f"{step.key}-{role}-{variant}")
    for step in STEPS
    for role in ROLES
    for variant in _variants(role)
]

# PostgreSQL runs a slice: every role and scope for these steps (open, a family step, the
# seat-taking approval, the contractor's attendance, a contractor step without a seat, a grant)
PG_SLICE = {
    "open",
    "consent@registered",
    "approve@family_consented",
    "attend@insured",
    "report_unable@family_consented",
    f"{GRANT}:once_per_cycle",
}
PG_CELLS = [cell for cell in CELLS if cell.values[0].key in PG_SLICE]  # type: ignore[union-attr]


def expected_refusal(step: Step, role: str, variant: str) -> str | None:
    """The rule that must refuse the cell, or None if it is allowed (derived, A5.2). Scope is
    checked first, so a caller outside it learns nothing of the case, then the role."""
    kind = SCOPES.get(role)
    if kind is not None:
        if variant == "missing":
            return "scope_required"
        if variant == "other":
            return "out_of_scope"
        if kind == "contractor" and step.source not in SEATED:
            return "out_of_scope"  # no seat, no contractor: the case is in no contractor's scope
    if role not in step.roles:
        return "exception_approver" if step.kind == "grant" else "role_may_fire"
    return None


# -- the independent expectation: written from the policy, not from the YAML ---------------

KEY_CELLS: dict[tuple[str, str], bool] = {
    ("open", "cadre"): True,
    ("open", "agency_officer"): True,
    ("open", "family"): False,
    ("open", "county_officer"): False,
    ("open", "contractor_staff"): False,
    ("consent", "family"): True,
    ("consent", "agency_officer"): True,
    ("consent", "cadre"): False,
    ("refuse_consent", "family"): True,
    ("approve", "agency_officer"): True,
    ("approve", "family"): False,
    ("approve", "cadre"): False,
    ("approve", "county_officer"): False,
    ("approve", "city_officer"): False,
    ("approve", "contractor_staff"): False,
    ("reject", "county_officer"): True,
    ("reject", "city_officer"): True,
    ("reject", "family"): False,
    ("sign_agreement", "contractor_staff"): False,
    ("insure", "contractor_staff"): False,
    ("attend", "contractor_staff"): True,
    ("attend", "family"): False,
    ("evaluate", "cadre"): True,
    ("evaluate", "family"): False,
    ("evaluate", "contractor_staff"): False,
    ("withdraw", "cadre"): True,
    ("withdraw", "family"): False,
    # contractor staff report a cadre unable only once a seat in their batch exists
    ("report_unable@family_consented", "contractor_staff"): False,
    ("report_unable@insured", "contractor_staff"): True,
    ("report_unable", "family"): False,
    (f"{GRANT}:under_age_limit_on_first_day", "county_officer"): True,
    (f"{GRANT}:under_age_limit_on_first_day", "city_officer"): True,
    (f"{GRANT}:under_age_limit_on_first_day", "agency_officer"): False,
    (f"{GRANT}:once_per_cycle", "city_officer"): True,
    (f"{GRANT}:once_per_cycle", "county_officer"): False,
    (f"{GRANT}:within_shandong", "county_officer"): False,
    (f"{GRANT}:at_most_fifty_per_batch", "county_officer"): False,
}
KEY_SCOPES = {
    "county_officer": "county",
    "agency_officer": "agency",
    "contractor_staff": "contractor",
    "cadre": "cadre",
    "family": "cadre",
}
READ_ONLY = {"auditor"}
CONTRACTOR_STEPS = {"attend", "report_unable"}  # the only steps contractor staff may take


def _roles_of(name: str) -> set[tuple[str, ...]]:
    """Roles of every source of a trigger, or of one source written TRIGGER@SOURCE."""
    if name.startswith(f"{GRANT}:"):
        return {s.roles for s in STEPS if s.kind == "grant" and s.key == name}
    if "@" in name:
        return {s.roles for s in STEPS if s.kind != "grant" and s.key == name}
    return {s.roles for s in STEPS if s.kind != "grant" and s.name == name}


@pytest.mark.parametrize(
    ("name", "role", "allowed"),
    [pytest.param(n, r, a, id=f"{n}-{r}") for (n, r), a in KEY_CELLS.items()],
)
def test_key_cell_is_declared_as_the_policy_says(name: str, role: str, allowed: bool) -> None:
    declared = _roles_of(name)
    assert declared, f"{name} is no step of the definition"
    for roles in declared:  # every source of a multi-source trigger declares the same
        assert (role in roles) is allowed


def test_scopes_are_declared_as_the_policy_says() -> None:
    assert SCOPES == KEY_SCOPES
    assert "city_officer" not in SCOPES
    assert "auditor" not in SCOPES


def test_read_only_and_contractor_roles_fire_nothing_else() -> None:
    for step in STEPS:
        assert not READ_ONLY & set(step.roles), f"{step.key} lets a read-only role act"
        if step.kind == "fire" and step.name not in CONTRACTOR_STEPS:
            assert "contractor_staff" not in step.roles, step.key


def test_matrix_covers_every_step_role_and_source() -> None:
    assert {s.name for s in STEPS if s.kind == "fire"} == DEFINITION.triggers
    assert set(ROLES) == set(KEY_SCOPES) | {"city_officer", "auditor"}
    assert {s.source for s in STEPS if s.source is not None} <= set(HAPPY_STATES)
    assert DEFINITION.rules is not None
    assert {s.name for s in STEPS if s.kind == "grant"} == {
        e.rule for e in DEFINITION.rules.exceptions
    }


# -- the matrix ---------------------------------------------------------------------------


@dataclass
class Harness:
    engine: Engine
    own_contractor: str
    other_contractor: str
    numbers: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    shared: dict[str, int] = field(default_factory=dict)  # step key -> case for refusals
    open_cadre: str | None = None

    def new_cadre(self) -> str:
        cadre_id = f"LC-DCF-{next(self.numbers):04d}"
        self.engine.put_cadres([cadre(cadre_id)])
        return cadre_id

    def case_at(self, state: str) -> int:
        assert state in HAPPY_STATES, f"no route to {state} along the happy path"
        cadre_id = self.new_cadre()
        case = self.engine.open_case(cadre_id, actor=f"cadre:张建国@{cadre_id}", data=REGISTRATION)
        path = HAPPY_PATH[: HAPPY_STATES.index(state)]
        case = walk(self.engine, case.id, [(t, _rescoped(a, cadre_id), d) for t, a, d in path])
        assert case.state == state
        if DEFINITION.transition("attend", state) is not None:
            start_batch(self.engine)  # attend is tried here: only in a started batch (A13.1)
        return case.id

    def actor(self, role: str, variant: str, cadre_id: str) -> str:
        kind = SCOPES.get(role)
        # a cadre or family actor is who the roster says (A5.2 identity; factories.cadre):
        # the matrix is about roles and scopes, not names
        name = {"cadre": "张建国", "family": "张丽"}.get(role, "测试")
        if kind is None:
            return f"{role}:{name}" + ("@冠县" if variant == "stray" else "")
        if variant == "missing":
            return f"{role}:{name}"
        own = {
            "county": OWN_COUNTY,
            "agency": OWN_AGENCY,
            "cadre": cadre_id,
            "contractor": self.own_contractor,
        }
        other = {
            "county": OTHER_COUNTY,
            "agency": OTHER_AGENCY,
            "cadre": OTHER_CADRE,
            "contractor": self.other_contractor,
        }
        return f"{role}:{name}@{(own if variant == 'own' else other)[kind]}"


def _rescoped(actor: str, cadre_id: str) -> str:
    parsed = Actor.parse(actor)
    if SCOPES.get(parsed.role) == "cadre":
        return str(Actor(parsed.role, parsed.name, cadre_id))
    return actor


def _harness(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    with contextlib.ExitStack() as stack:
        if backend == "sqlite":
            url = f"sqlite:///{tmp_path_factory.mktemp('matrix') / 'cases.db'}"
        else:
            url = stack.enter_context(fresh_database("cv_matrix"))
        clock = SimulatedClock(datetime(2024, 5, 6, 9, 30, tzinfo=SHANGHAI))
        with Engine(url, clock=clock) as engine:
            engine.upgrade_schema()
            batch_id = seed_batch(engine)
            own = service.show_batch(engine, batch_id)
            other = service.create_contractor(engine, name="冠县疗养院", kind="own_resource")
            # the other cadre (冠县) is on the roster but has no case: "other" scopes see nothing
            engine.put_cadres([cadre(OTHER_CADRE, county=OTHER_COUNTY, agency=OTHER_AGENCY)])
            yield Harness(engine, str(own["contractor_id"]), str(other["id"]))


@pytest.fixture(scope="module")
def sqlite_harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    yield from _harness("sqlite", tmp_path_factory)


@pytest.fixture(scope="module")
def pg_harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    yield from _harness("postgresql", tmp_path_factory)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def harness(request: pytest.FixtureRequest) -> Harness:
    """Either module database, for the read checks that run on both backends."""
    chosen: Harness = request.getfixturevalue(
        f"{'pg' if request.param == 'postgresql' else 'sqlite'}_harness"
    )
    return chosen


def _attempt(h: Harness, step: Step, case_id: int | None, cadre_id: str, actor: str) -> Any:
    if step.kind == "open":
        return h.engine.open_case(cadre_id, actor=actor, data=REGISTRATION)
    assert case_id is not None
    if step.kind == "grant":
        return h.engine.grant_exception(case_id, step.name, actor=actor, reason="矩阵测试")
    return h.engine.fire(case_id, step.name, actor=actor, data=STEP_DATA[step.name])


def _footprint(h: Harness, case_id: int | None, cadre_id: str) -> tuple[int, ...]:
    if case_id is None:  # open: nothing may be filed for the cadre
        return (len(h.engine.cases(cadre_id=cadre_id)),)
    case = h.engine.case(case_id)
    return (case.version, len(h.engine.history(case_id)), len(h.engine.exceptions(case_id)))


@pytest.mark.parametrize(("step", "role", "variant"), CELLS)
def test_cell(sqlite_harness: Harness, step: Step, role: str, variant: str) -> None:
    _check_cell(sqlite_harness, step, role, variant)


@pytest.mark.postgres
@pytest.mark.parametrize(("step", "role", "variant"), PG_CELLS)
def test_cell_on_postgresql(pg_harness: Harness, step: Step, role: str, variant: str) -> None:
    _check_cell(pg_harness, step, role, variant)


def _check_cell(h: Harness, step: Step, role: str, variant: str) -> None:
    refused_by = expected_refusal(step, role, variant)
    case_id: int | None
    if step.kind == "open":
        if refused_by is None:
            cadre_id = h.new_cadre()
        else:
            h.open_cadre = h.open_cadre or h.new_cadre()
            cadre_id = h.open_cadre
        case_id = None
    elif refused_by is None:
        assert step.source is not None
        case_id = h.case_at(step.source)
        cadre_id = h.engine.case(case_id).cadre_id
    else:
        assert step.source is not None
        # taken out while in use: if the attempt wrongly succeeds, the moved case is not reused
        case_id = h.shared.pop(step.key, None) or h.case_at(step.source)
        cadre_id = h.engine.case(case_id).cadre_id
    actor = h.actor(role, variant, cadre_id)
    before = _footprint(h, case_id, cadre_id)

    if refused_by is None:
        result = _attempt(h, step, case_id, cadre_id, actor)
        assert result.state == step.dest
        after = _footprint(h, case_id, cadre_id)
        if case_id is None:
            assert after == (before[0] + 1,)
        else:
            assert after[:2] == (before[0] + 1, before[1] + 1)
            last = h.engine.history(case_id)[-1]
            assert last.trigger == (GRANT if step.kind == "grant" else step.name)
            assert last.actor == Actor.parse(actor).name
            assert last.role == role
        return

    with pytest.raises(RuleRefused) as caught:
        _attempt(h, step, case_id, cadre_id, actor)
    refusals = caught.value.refusals
    assert [r.rule for r in refusals] == [refused_by], caught.value
    assert caught.value.articles == ("A5.2",)
    assert "缺少权限" in refusals[0].message
    if refused_by in ("role_may_fire", "exception_approver"):
        assert step.name in refusals[0].message  # the trigger, or the rule to be waived
    elif refused_by == "out_of_scope":
        assert (GRANT if step.kind == "grant" else step.name) in refusals[0].message
    assert _footprint(h, case_id, cadre_id) == before, "a refused attempt wrote something"
    if case_id is not None:
        h.shared[step.key] = case_id


# -- reads (A5.2): the same scope as steps --------------------------------------------------

READERS = [
    pytest.param(role, variant, id=f"{role}-{variant}")
    for role in ROLES
    for variant in _variants(role)
    if variant != "missing"
]


def _visible(engine: Engine, case_id: int, viewer: str) -> bool:
    actor = Actor.parse(viewer)
    cadre_id = engine.case(case_id).cadre_id  # the listing is narrowed to it (limit 100)
    listed = [c.id for c in engine.cases(viewer=actor, cadre_id=cadre_id)]
    refusals: tuple[Refusal, ...] = ()
    try:
        engine.case(case_id, viewer=actor)
    except RuleRefused as refused:
        refusals = refused.refusals
    if not refusals:
        assert len(engine.history(case_id, viewer=actor)) >= 1
        assert case_id in listed
        return True
    assert [(r.article, r.rule) for r in refusals] == [("A5.2", "out_of_scope")]
    assert "缺少权限 read" in refusals[0].message
    with pytest.raises(RuleRefused):
        engine.history(case_id, viewer=actor)
    assert case_id not in listed
    return False


@pytest.mark.parametrize(("role", "variant"), READERS)
def test_reads_follow_scope(harness: Harness, role: str, variant: str) -> None:
    """Reads obey the step scopes: before approval no contractor sees the case, after it only
    the contractor of the batch; every "other" scope sees an empty list."""
    case_id = harness.case_at(HAPPY_STATES[1])
    cadre_id = harness.engine.case(case_id).cadre_id
    viewer = harness.actor(role, variant, cadre_id)
    seated_before = HAPPY_STATES[1] in SEATED
    expect = variant in ("own", "none", "stray")
    assert _visible(harness.engine, case_id, viewer) is (
        expect and (SCOPES.get(role) != "contractor" or seated_before)
    )
    harness.engine.fire(case_id, "approve", actor=AS_AGENCY, data=STEP_DATA["approve"])
    assert _visible(harness.engine, case_id, viewer) is expect
    if variant == "other":
        assert harness.engine.cases(viewer=Actor.parse(viewer)) == []


@pytest.mark.parametrize("role", sorted(SCOPES))
def test_scoped_reader_without_scope_is_refused(harness: Harness, role: str) -> None:
    case_id = harness.case_at(DEFINITION.initial)
    viewer = Actor(role, "无范围")
    for read in (
        lambda: harness.engine.case(case_id, viewer=viewer),
        lambda: harness.engine.history(case_id, viewer=viewer),
        lambda: harness.engine.cases(viewer=viewer),
    ):
        with pytest.raises(RuleRefused) as refused:
            read()
        assert [(r.article, r.rule) for r in refused.value.refusals] == [("A5.2", "scope_required")]
        assert "缺少权限" in refused.value.refusals[0].message


def test_listing_for_another_scope_than_ones_own_is_empty(engine: Engine) -> None:
    engine.put_cadres([cadre(), cadre(OTHER_CADRE, county=OTHER_COUNTY, agency=OTHER_AGENCY)])
    mine = engine.open_case("LC-DCF-0001", actor=AS_AGENCY, data=REGISTRATION)
    theirs = engine.open_case(OTHER_CADRE, actor=f"cadre:张建国@{OTHER_CADRE}", data=REGISTRATION)
    county = Actor.parse("county_officer:孙局长@冠县")
    assert [c.id for c in engine.cases(viewer=county)] == [theirs.id]
    assert engine.cases(viewer=county, county=OWN_COUNTY) == []
    with pytest.raises(RuleRefused):
        engine.case(mine.id, viewer=county)
    city = Actor.parse("city_officer:钱处长")
    assert [c.id for c in engine.cases(viewer=city)] == [mine.id, theirs.id]
    auditor = Actor.parse("auditor:审计员")
    assert [c.id for c in engine.cases(viewer=auditor)] == [mine.id, theirs.id]


def test_matrix_size_is_what_the_report_says() -> None:
    assert len(CELLS) == len(STEPS) * sum(len(_variants(r)) for r in ROLES)
    assert len(PG_CELLS) == len(PG_SLICE) * sum(len(_variants(r)) for r in ROLES)
