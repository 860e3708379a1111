"""The engine on both databases: whole cases, refusals that write nothing, pinned versions,
host transactions, optimistic concurrency (A7.1, A7.2, A19.1, A21.1)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from factories import (
    APPROVAL,
    AS_AGENCY,
    AS_CADRE,
    AS_FAMILY,
    CONSENT,
    HAPPY_PATH,
    REGISTRATION,
    cadre,
)
from plans_setup import seed_plans, start_batch
from sqlalchemy.orm import Session

from definitions import bundled_directory
from workflow import (
    ConflictError,
    DatabaseNotReadyError,
    DefinitionError,
    Engine,
    InputError,
    NotFoundError,
    RuleRefused,
    SimulatedClock,
    TransitionNotAllowed,
)
from workflow.clock import SHANGHAI
from workflow.machine import Actor
from workflow.store.schema import batches, cases, definitions, history

SEED_BATCH = True  # approval takes a seat in batch 1 (conftest.engine)


def _rows(engine: Engine, table: sa.Table) -> int:
    with engine.db.connect() as connection:
        return int(connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def test_a_case_runs_from_registration_to_evaluation(engine: Engine) -> None:
    engine.put_cadres([cadre()])
    case = engine.open_case("LC-DCF-0001", actor=AS_CADRE, data=REGISTRATION)
    assert (case.state, case.version, case.definition_version) == ("registered", 1, 1)
    for trigger, actor, data in HAPPY_PATH:
        if trigger == "attend":
            start_batch(engine)  # attendance only in a started batch (A13.1)
        case = engine.fire(case.id, trigger, actor=actor, data=data, expected_version=case.version)
    assert case.state == "evaluated"
    assert case.terminal
    assert case.next_steps == ()
    assert case.evidence["policy_no"] == "P-2024-0001"  # A7.2: evidence accumulates
    steps = engine.history(case.id)
    assert [h.to_state for h in steps] == [
        "registered",
        "family_consented",
        "agency_approved",
        "agreement_signed",
        "insured",
        "attended",
        "evaluated",
    ]
    assert [h.seq for h in steps] == list(range(1, 8))
    assert steps[1].data == CONSENT
    assert steps[1].role == "family"
    assert steps[1].actor == "张丽"
    assert steps[0].at.tzinfo is not None
    assert steps[0].at.utcoffset() == timedelta(hours=8)


def test_times_are_stored_as_instants_and_read_back_in_shanghai(
    engine: Engine, clock: SimulatedClock
) -> None:
    engine.put_cadres([cadre()])
    clock.set(datetime(2024, 12, 31, 23, 30, tzinfo=SHANGHAI))
    case = engine.open_case("LC-DCF-0001", actor=AS_CADRE, data=REGISTRATION)
    assert case.opened_at == datetime(2024, 12, 31, 23, 30, tzinfo=SHANGHAI)
    assert case.opened_at.date().isoformat() == "2024-12-31"


def test_a_refused_step_writes_nothing_and_cites_its_articles(engine: Engine) -> None:
    engine.put_cadres([cadre(birth_date="1943-06-03")])  # 81 on the batch's first day
    case = engine.open_case("LC-DCF-0001", actor=AS_CADRE, data=REGISTRATION)
    case = engine.fire(case.id, "consent", actor=AS_FAMILY, data=CONSENT)
    with engine.transaction(write=True) as connection:  # the batch edited to 8 days after
        connection.execute(sa.update(batches).values(end_date=date(2024, 6, 10)))
    with pytest.raises(RuleRefused) as refused:
        engine.fire(case.id, "approve", actor=AS_AGENCY, data=APPROVAL)
    assert refused.value.articles == ("A8.2", "A6.2")
    assert "80周岁" in str(refused.value)
    after = engine.case(case.id)
    assert (after.state, after.version) == ("family_consented", 2)
    assert len(engine.history(case.id)) == 2


def test_steps_out_of_order_are_refused_citing_article_7(engine: Engine) -> None:
    engine.put_cadres([cadre()])
    case = engine.open_case("LC-DCF-0001", actor=AS_CADRE, data=REGISTRATION)
    with pytest.raises(TransitionNotAllowed) as refused:
        engine.fire(case.id, "approve", actor=AS_AGENCY, data=APPROVAL)
    assert refused.value.articles == ("A7.1",)
    assert "consent" in refused.value.allowed


def test_a_role_not_declared_for_the_step_is_refused(engine: Engine) -> None:
    engine.put_cadres([cadre()])
    case = engine.open_case("LC-DCF-0001", actor=AS_CADRE, data=REGISTRATION)
    with pytest.raises(RuleRefused) as refused:
        engine.fire(case.id, "consent", actor="city_officer:钱处长", data=CONSENT)
    assert refused.value.articles == ("A5.2",)
    assert "缺少权限 consent" in str(refused.value)


def test_missing_evidence_is_bad_input_naming_the_field(engine: Engine) -> None:
    engine.put_cadres([cadre()])
    case = engine.open_case("LC-DCF-0001", actor=AS_CADRE, data=REGISTRATION)
    with pytest.raises(InputError) as bad:
        engine.fire(case.id, "consent", actor=AS_FAMILY, data={"family_member": "张丽"})
    assert bad.value.field == "relation"
    assert len(engine.history(case.id)) == 1


def test_opening_outside_the_policy_window_cites_article_21(
    engine: Engine, clock: SimulatedClock
) -> None:
    engine.put_cadres([cadre()])
    clock.set(datetime(2026, 1, 1, 8, 0, tzinfo=SHANGHAI))
    with pytest.raises(RuleRefused) as refused:
        engine.open_case("LC-DCF-0001", actor=AS_CADRE, data=REGISTRATION)
    assert refused.value.articles == ("A21.1",)
    assert _rows(engine, cases) == 0


def test_an_open_case_finishes_after_its_policy_expires(
    engine: Engine, clock: SimulatedClock
) -> None:
    """A21.1: cases already open finish under the version they started with."""
    engine.put_cadres([cadre()])
    clock.set(datetime(2025, 12, 31, 16, 0, tzinfo=SHANGHAI))
    seed_plans(engine)  # the 2025 plans the registration names (A3.2)
    case = engine.open_case("LC-DCF-0001", actor=AS_CADRE, data=REGISTRATION)
    clock.set(datetime(2026, 1, 2, 9, 0, tzinfo=SHANGHAI))
    case = engine.fire(case.id, "consent", actor=AS_FAMILY, data=CONSENT)
    assert case.state == "family_consented"


def test_an_expected_version_that_is_stale_is_a_conflict_and_writes_nothing(
    engine: Engine,
) -> None:
    engine.put_cadres([cadre()])
    case = engine.open_case("LC-DCF-0001", actor=AS_CADRE, data=REGISTRATION)
    engine.fire(case.id, "consent", actor=AS_FAMILY, data=CONSENT)
    with pytest.raises(ConflictError) as conflict:
        engine.fire(
            case.id,
            "withdraw",
            actor=AS_CADRE,
            data={"for_health": "否"},
            expected_version=1,
        )
    assert (conflict.value.expected_version, conflict.value.actual_version) == (1, 2)
    assert engine.case(case.id).state == "family_consented"
    assert _rows(engine, history) == 2


def test_unknown_case_and_cadre_are_not_found(engine: Engine) -> None:
    with pytest.raises(NotFoundError):
        engine.case(999)
    with pytest.raises(NotFoundError):
        engine.fire(999, "consent", actor=AS_FAMILY, data=CONSENT)
    with pytest.raises(NotFoundError):
        engine.open_case("nobody", actor=AS_CADRE, data=REGISTRATION)


def test_a_host_transaction_that_rolls_back_leaves_no_trace(engine: Engine) -> None:
    engine.put_cadres([cadre()])
    case = engine.open_case("LC-DCF-0001", actor=AS_CADRE, data=REGISTRATION)
    with Session(engine.db) as session:
        moved = engine.fire(case.id, "consent", actor=AS_FAMILY, data=CONSENT, within=session)
        assert moved.state == "family_consented"
        session.rollback()
    assert engine.case(case.id).state == "registered"
    assert len(engine.history(case.id)) == 1


def test_a_first_open_rolled_back_by_the_host_does_not_poison_the_engine(
    engine: Engine,
) -> None:
    """Issue 16 item 1: the stored definition row of a rolled-back first open is not
    remembered, so the next open stores it again instead of pointing at a missing row."""
    engine.put_cadres([cadre("A-1"), cadre("A-2")])
    with Session(engine.db) as session:
        engine.open_case("A-1", actor="cadre:张建国@A-1", data=REGISTRATION, within=session)
        session.rollback()
    case = engine.open_case("A-2", actor="cadre:张建国@A-2", data=REGISTRATION)
    assert engine.case(case.id).state == "registered"
    assert [c.id for c in engine.cases()] == [case.id]


def test_a_host_transaction_that_commits_keeps_the_move(engine: Engine) -> None:
    engine.put_cadres([cadre()])
    with engine.db.connect() as connection:
        case = engine.open_case("LC-DCF-0001", actor=AS_CADRE, data=REGISTRATION, within=connection)
        engine.fire(case.id, "consent", actor=AS_FAMILY, data=CONSENT, within=connection)
        connection.commit()
    assert engine.case(case.id).state == "family_consented"
    assert len(engine.history(case.id)) == 2


def test_listing_filters_by_state_and_county(engine: Engine) -> None:
    engine.put_cadres([cadre("A-1"), cadre("A-2", county="冠县", agency="冠县军休所")])
    first = engine.open_case("A-1", actor="cadre:张建国@A-1", data=REGISTRATION)
    engine.open_case(
        "A-2",
        actor="agency_officer:李敏@冠县军休所",
        data={**REGISTRATION, "registered_on_paper": "是"},
    )
    engine.fire(first.id, "consent", actor="family:张丽@A-1", data=CONSENT)
    assert [c.cadre_id for c in engine.cases(county="冠县")] == ["A-2"]
    assert [c.cadre_id for c in engine.cases(state="family_consented")] == ["A-1"]
    assert len(engine.cases(open_only=True)) == 2
    assert [c.id for c in engine.cases(limit=1, offset=1)] == [first.id + 1]
    assert engine.count_by_state() == {"registered": 1, "family_consented": 1}


def test_an_engine_on_an_unmigrated_database_says_how_to_fix_it(
    db_url: str, clock: SimulatedClock
) -> None:
    with Engine(db_url, clock=clock) as fresh, pytest.raises(DatabaseNotReadyError) as err:
        fresh.cases()
    assert "convalescence db upgrade" in str(err.value)


def test_a_successor_policy_takes_over_while_old_cases_finish_on_their_version(
    db_url: str, clock: SimulatedClock, tmp_path: Path
) -> None:
    """A21.1: a successor policy is a new versioned file; open cases keep their version."""
    text = (bundled_directory() / "honor_convalescence.yaml").read_text(encoding="utf-8")
    successor = (
        text.replace("version: 1", "version: 2")
        .replace("effective_from: 2023-03-23", "effective_from: 2026-01-01")
        .replace("effective_until: 2025-12-31", "effective_until: 2027-12-31")
        .replace("label: 已报名", "label: 已报名（2026）")
        .replace('- {id: "2023", start: 2023-03-23, end: 2023-12-31}', "")
        .replace(
            "{id: 2024-2025, start: 2024-01-01, end: 2025-12-31}",
            "{id: 2026-2027, start: 2026-01-01, end: 2027-12-31}",
        )
    )
    extra = tmp_path / "successor"
    extra.mkdir()
    (extra / "honor_convalescence_2026.yaml").write_text(successor, encoding="utf-8")
    with Engine(db_url, clock=clock, definition_dirs=[extra]) as engine:
        engine.upgrade_schema()
        engine.put_cadres([cadre("A-1"), cadre("A-2")])
        seed_plans(engine)  # each year's plans the registrations name (A3.2)
        old = engine.open_case("A-1", actor="cadre:张建国@A-1", data=REGISTRATION)
        clock.set(datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI))
        seed_plans(engine)  # under the successor's 2026-2027 cycle
        new = engine.open_case("A-2", actor="cadre:张建国@A-2", data=REGISTRATION)
        assert (old.definition_version, old.state_label) == (1, "已报名")
        assert (new.definition_version, new.state_label) == (2, "已报名（2026）")
        assert (old.cycle, new.cycle) == ("2024-2025", "2026-2027")
        moved = engine.fire(old.id, "consent", actor="family:张丽@A-1", data=CONSENT)
        assert moved.definition_version == 1


def test_a_stored_version_whose_text_changed_is_refused(engine: Engine) -> None:
    """A21.1: a stored version's text is what its cases finish under; edits need a new version."""
    engine.put_cadres([cadre("A-1"), cadre("A-2")])
    engine.open_case("A-1", actor="cadre:张建国@A-1", data=REGISTRATION)
    with engine.db.begin() as connection:  # as if an older build had stored other text as v1
        connection.execute(sa.update(definitions).values(content_hash="0" * 64))
    with Engine(engine.db, clock=engine.clock) as other, pytest.raises(DefinitionError) as err:
        other.open_case("A-2", actor="cadre:张建国@A-2", data=REGISTRATION)
    assert "另编版本号" in str(err.value)  # A21.1: a changed text needs a new version


def test_overlapping_policy_windows_are_a_definition_error(tmp_path: Path) -> None:
    text = (bundled_directory() / "honor_convalescence.yaml").read_text(encoding="utf-8")
    extra = tmp_path / "overlap"
    extra.mkdir()
    (extra / "v2.yaml").write_text(
        text.replace("version: 1", "version: 2").replace(
            "effective_from: 2023-03-23", "effective_from: 2025-07-01"
        ),
        encoding="utf-8",
    )
    with pytest.raises(DefinitionError) as err:
        Engine(f"sqlite:///{tmp_path / 'x.db'}", definition_dirs=[extra])
    (problem,) = err.value.problems
    assert problem.file.endswith("v2.yaml")
    assert problem.line == text.splitlines().index("  effective_from: 2023-03-23") + 1
    assert "有效期重叠（A21.1）" in problem.message


def test_a_role_the_workflow_does_not_declare_reads_none_of_its_cases(engine: Engine) -> None:
    """A5.2: a cadre's or family's token must not open a condolence visit (the health cause of
    another cadre); the visit workflow declares officers, the auditor and the scheduler only."""
    engine.put_cadres([cadre(), cadre("LC-DCF-0002")])
    visit = engine.open_case(
        "LC-DCF-0002",
        actor="scheduler:定时任务",
        definition="condolence_visit",
        data={"cycle": "2024-2025", "source_case_id": 1, "cause": "身体健康原因"},
    )
    for outsider in (AS_CADRE, "cadre:李振华@LC-DCF-0002", AS_FAMILY, "contractor_staff:李强@1"):
        with pytest.raises(RuleRefused) as refused:
            engine.case(visit.id, viewer=Actor.parse(outsider))
        assert [r.rule for r in refused.value.refusals] == ["role_not_in_workflow"]
        with pytest.raises(RuleRefused):
            engine.history(visit.id, viewer=Actor.parse(outsider))
    assert engine.case(visit.id, viewer=Actor.parse("auditor:审计")).id == visit.id
    assert engine.case(visit.id, viewer=Actor.parse(AS_AGENCY)).id == visit.id


def test_a_step_outside_the_callers_scope_reveals_nothing_of_the_case(engine: Engine) -> None:
    """Scope is checked before the step: no TransitionNotAllowed naming the state, no county."""
    engine.put_cadres([cadre()])
    case = engine.open_case("LC-DCF-0001", actor=AS_CADRE, data=REGISTRATION)
    with pytest.raises(RuleRefused) as refused:
        engine.fire(case.id, "approve", actor="agency_officer:李敏@冠县军休所", data=APPROVAL)
    assert [r.rule for r in refused.value.refusals] == ["out_of_scope"]
    assert "东昌府区" not in str(refused.value)
    assert "registered" not in str(refused.value)


@pytest.mark.parametrize("raw", ["+1", " 1 ", 1])
def test_a_batch_id_the_field_rule_accepts_is_the_batch_the_seat_is_taken_in(
    engine: Engine, raw: object
) -> None:
    engine.put_cadres([cadre()])
    case = engine.open_case("LC-DCF-0001", actor=AS_CADRE, data=REGISTRATION)
    engine.fire(case.id, "consent", actor=AS_FAMILY, data=CONSENT)
    approved = engine.fire(case.id, "approve", actor=AS_AGENCY, data={"batch_id": raw})
    assert approved.evidence["batch_id"] == 1
    assert approved.evidence["batch_start"] == "2024-06-03"


@pytest.mark.parametrize("raw", ["²", "1.5", "一", None])
def test_a_batch_id_the_field_rule_refuses_is_bad_input_naming_it(
    engine: Engine, raw: object
) -> None:
    engine.put_cadres([cadre()])
    case = engine.open_case("LC-DCF-0001", actor=AS_CADRE, data=REGISTRATION)
    engine.fire(case.id, "consent", actor=AS_FAMILY, data=CONSENT)
    with pytest.raises(InputError) as bad:
        engine.fire(case.id, "approve", actor=AS_AGENCY, data={"batch_id": raw})
    assert "batch_id" in str(bad.value)
    assert engine.case(case.id).version == 2
