"""Corrections without pretending (issue 13 item 7) through the engine, on both databases.

``rebook`` moves a case's seat to another batch of the same plan, ``correct`` amends recorded
evidence; each is one history row in the case's chain with a reason and both values, the state
unchanged, and ``audit verify`` still holds. Every refusal names its article and writes nothing:
the case's version, its evidence, its history and both batches' seats are compared before and
after.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from corrections_setup import (
    FIRST,
    LATER_DATES,
    NEW_COVER,
    OTHER_AGENCY,
    assert_verified,
    case_at,
    later_batch,
    record,
    seated,
)
from factories import (
    AGREEMENT,
    AS_AGENCY,
    AS_CADRE,
    AS_COUNTY,
    HAPPY_PATH,
    INSURANCE,
    REGISTRATION,
    cadre,
)
from plans_setup import batch, start_batch, walk

from workflow import Engine
from workflow.corrections import allowed
from workflow.definition.loader import load_definition_text
from workflow.errors import ConflictError, DefinitionError, InputError, RuleRefused
from workflow.machine import Actor
from workflow.plans import service
from workflow.reports.performance import performance_report
from workflow.reports.roster import batch_roster
from workflow.snapshot import CaseRow

SEED_BATCH = True  # batch 1 of plan 1 (the city plan), 2024-06-03 to 06-09, room for 50
# -- rebook -----------------------------------------------------------------------------------


def test_rebook_moves_the_seat_and_the_batch_facts_in_one_history_row(engine: Engine) -> None:
    later = later_batch(engine)
    case_id = case_at(engine, 2)  # agency_approved, seated in batch 1
    before = engine.case(case_id)

    moved = engine.rebook(case_id, later, actor=AS_AGENCY, reason="本人要求改到下一期")

    assert (moved.state, moved.version) == ("agency_approved", before.version + 1)
    assert moved.evidence["batch_id"] == later
    assert (moved.evidence["batch_start"], moved.evidence["batch_end"]) == (
        "2024-06-10",
        "2024-06-16",
    )
    assert moved.evidence["batch_size"] == 1
    assert engine.case(case_id).evidence == moved.evidence  # what views show from now on
    assert seated(engine, FIRST) == (0, [])
    assert seated(engine, later) == (1, [case_id])
    row = engine.history(case_id)[-1]
    assert (row.trigger, row.from_state, row.to_state) == (
        "rebook",
        "agency_approved",
        "agency_approved",
    )
    assert row.data["_rebook"] == {"from_batch": FIRST, "to_batch": later}
    assert (row.role, row.actor, row.reason) == ("agency_officer", "王芳", "本人要求改到下一期")
    assert "_rebook" not in moved.evidence  # the row's own record, not the case's evidence
    assert_verified(engine)
    # the case goes on from the new batch: the agreement, then insurance covering its dates
    engine.fire(case_id, "sign_agreement", actor=AS_AGENCY, data=AGREEMENT)
    with pytest.raises(RuleRefused) as refused:  # the old batch's cover no longer does (A7.3)
        engine.fire(case_id, "insure", actor=AS_AGENCY, data=INSURANCE)
    assert refused.value.articles == ("A7.3",)
    engine.fire(case_id, "insure", actor=AS_AGENCY, data={**INSURANCE, **NEW_COVER})


def test_a7_3_an_insured_case_moves_only_with_insurance_covering_the_new_batch(
    engine: Engine,
) -> None:
    later = later_batch(engine)
    case_id = case_at(engine, 4)  # insured for 06-03 to 06-09
    kept = record(engine, case_id, FIRST, later)
    with pytest.raises(RuleRefused) as refused:
        engine.rebook(case_id, later, actor=AS_AGENCY, reason="改期")
    assert refused.value.articles == ("A7.3",)
    assert record(engine, case_id, FIRST, later) == kept

    moved = engine.rebook(
        case_id, later, actor=AS_AGENCY, reason="改期，保险随之延至新批次", fields=NEW_COVER
    )
    assert moved.state == "insured"
    assert moved.evidence["covered_until"] == "2024-06-16"
    row = engine.history(case_id)[-1]
    assert row.data["_corrected"] == {
        "covered_from": {"before": "2024-06-03", "after": "2024-06-10"},
        "covered_until": {"before": "2024-06-09", "after": "2024-06-16"},
    }
    assert_verified(engine)


def test_the_refusals_of_a_rebook_cite_their_articles_and_write_nothing(engine: Engine) -> None:
    later = later_batch(engine, capacity=1)
    case_id = case_at(engine, 2)
    service.add_agreement(  # the contractor may host the county plan's batches too (A14.1)
        engine,
        1,
        plan_id=2,
        agreement_no="XY-2024-02",
        signed_on=date(2024, 3, 1),
        valid_from=date(2024, 3, 1),
        valid_until=date(2024, 12, 31),
    )
    county_batch = int(batch(engine, plan_id=2, contractor_id=1, **LATER_DATES)["id"])
    kept = record(engine, case_id, FIRST, later, county_batch)

    def refused(batch_id: int, actor: str = AS_AGENCY, **kwargs: Any) -> RuleRefused:
        with pytest.raises(RuleRefused) as caught:
            engine.rebook(case_id, batch_id, actor=actor, reason=kwargs.pop("reason", "改期"))
        assert record(engine, case_id, FIRST, later, county_batch) == kept
        return caught.value

    another_plan = refused(county_batch)
    assert [(r.article, r.rule) for r in another_plan.refusals] == [("A3.2", "rebook_same_plan")]
    assert "同一计划" in str(another_plan)
    role = refused(later, actor=AS_COUNTY)
    assert role.articles == ("A5.2",)
    assert "缺少权限 rebook" in str(role)
    scope = refused(later, actor=OTHER_AGENCY)
    assert [r.rule for r in scope.refusals] == ["out_of_scope"]
    with pytest.raises(InputError) as reason:
        engine.rebook(case_id, later, actor=AS_AGENCY, reason="  ")
    assert reason.value.field == "reason"
    assert "A19.1" in str(reason.value)
    with pytest.raises(InputError) as same:
        engine.rebook(case_id, FIRST, actor=AS_AGENCY, reason="改期")
    assert same.value.field == "batch_id"
    with pytest.raises(InputError) as missing:
        engine.rebook(case_id, 99, actor=AS_AGENCY, reason="改期")
    assert missing.value.field == "batch_id"
    with pytest.raises(InputError) as not_allowed:  # rebook amends only what it declares
        engine.rebook(case_id, later, actor=AS_AGENCY, reason="改期", fields={"nonsense": "1"})
    assert not_allowed.value.field == "nonsense"
    assert record(engine, case_id, FIRST, later, county_batch) == kept

    # the last seat of the later batch goes to another case: a full batch (A6.2)
    other = case_at(engine, 2, "LC-DCF-0002")
    engine.rebook(other, later, actor=AS_AGENCY, reason="另一位同志改期")
    kept = record(engine, case_id, FIRST, later, county_batch)
    full = refused(later)
    assert [(r.article, r.rule) for r in full.refusals] == [("A6.2", "batch_full")]
    assert_verified(engine)


def test_a13_1_neither_batch_may_have_started(engine: Engine) -> None:
    later = later_batch(engine)
    case_id = case_at(engine, 2)
    mover = case_at(engine, 2, "LC-DCF-0002")
    engine.rebook(mover, later, actor=AS_AGENCY, reason="改期")
    start_batch(engine, later)  # the later batch is under way
    with pytest.raises(RuleRefused) as into_started:
        engine.rebook(case_id, later, actor=AS_AGENCY, reason="改期")
    assert [(r.article, r.rule) for r in into_started.value.refusals] == [
        ("A13.1", "rebook_not_started")
    ]
    start_batch(engine, FIRST)  # and the first too: the case is on its trip
    third = int(
        batch(
            engine,
            plan_id=1,
            contractor_id=1,
            start_date=date(2024, 7, 1),
            end_date=date(2024, 7, 7),
        )["id"]
    )
    with pytest.raises(RuleRefused) as out_of_started:
        engine.rebook(case_id, third, actor=AS_AGENCY, reason="改期")
    assert out_of_started.value.articles == ("A13.1",)
    assert "已于" in str(out_of_started.value)


def test_rebook_only_in_its_declared_states(engine: Engine) -> None:
    later = later_batch(engine)
    case_id = case_at(engine, 1)  # family_consented: no seat yet, approval names the batch
    with pytest.raises(RuleRefused) as refused:
        engine.rebook(case_id, later, actor=AS_AGENCY, reason="改期")
    assert [(r.article, r.rule) for r in refused.value.refusals] == [("A6.2", "rebook_state")]
    assert "agency_approved" in str(refused.value)


def test_a_stale_version_is_a_conflict_with_nothing_written(engine: Engine) -> None:
    later = later_batch(engine)
    case_id = case_at(engine, 2)
    stale = engine.case(case_id).version
    engine.correct(case_id, {"relation": "长女"}, actor=AS_AGENCY, reason="关系写得不准确")
    kept = record(engine, case_id, FIRST, later)
    with pytest.raises(ConflictError) as conflict:
        engine.rebook(case_id, later, actor=AS_AGENCY, reason="改期", expected_version=stale)
    assert (conflict.value.expected_version, conflict.value.actual_version) == (stale, stale + 1)
    with pytest.raises(ConflictError):
        engine.correct(
            case_id, {"relation": "女儿"}, actor=AS_AGENCY, reason="改回", expected_version=stale
        )
    assert record(engine, case_id, FIRST, later) == kept


# -- correct ----------------------------------------------------------------------------------


def test_correct_amends_the_evidence_and_the_history_keeps_both_values(engine: Engine) -> None:
    case_id = case_at(engine, 3)  # agreement_signed
    before = engine.case(case_id)
    fixed = engine.correct(
        case_id, {"agreement_no": "LC-2024-010"}, actor=AS_AGENCY, reason="协议编号录入错误"
    )
    assert (fixed.state, fixed.version) == ("agreement_signed", before.version + 1)
    assert fixed.evidence == {**before.evidence, "agreement_no": "LC-2024-010"}
    assert engine.case(case_id).evidence["agreement_no"] == "LC-2024-010"
    row = engine.history(case_id)[-1]
    assert (row.trigger, row.from_state, row.to_state) == (
        "correct",
        "agreement_signed",
        "agreement_signed",
    )
    assert row.data == {
        "agreement_no": "LC-2024-010",
        "_corrected": {"agreement_no": {"before": "LC-2024-001", "after": "LC-2024-010"}},
    }
    assert row.reason == "协议编号录入错误"
    # the county department may correct too, a date is checked as a date (A7.2)
    engine.correct(case_id, {"signed_on": "2024-05-21"}, actor=AS_COUNTY, reason="日期笔误")
    with pytest.raises(InputError) as bad_date:
        engine.correct(case_id, {"signed_on": "5月21日"}, actor=AS_AGENCY, reason="日期")
    assert bad_date.value.field == "signed_on"
    assert_verified(engine)
    # the case goes on as usual after corrections
    engine.fire(case_id, "insure", actor=AS_AGENCY, data=INSURANCE)


def test_the_refusals_of_a_correction_cite_their_articles_and_write_nothing(
    engine: Engine,
) -> None:
    case_id = case_at(engine, 4)  # insured
    kept = record(engine, case_id, FIRST)

    def refused(fields: dict[str, Any], actor: str = AS_AGENCY) -> RuleRefused:
        with pytest.raises(RuleRefused) as caught:
            engine.correct(case_id, fields, actor=actor, reason="更正")
        assert record(engine, case_id, FIRST) == kept
        return caught.value

    # a batch is changed by a rebook, a score or a registration's level not at all (A7.2)
    batch_id = refused({"batch_id": 2})
    assert [(r.article, r.rule) for r in batch_id.refusals] == [("A7.2", "correctable_fields")]
    # the corrected record still passes the rules of its step: insurance covers the stay (A7.3)
    uncovered = refused({"covered_until": "2024-06-08"})
    assert uncovered.articles == ("A7.3",)
    assert refused({"policy_no": "P-2"}, actor=AS_CADRE).articles == ("A5.2",)
    assert [r.rule for r in refused({"policy_no": "P-2"}, actor=OTHER_AGENCY).refusals] == [
        "out_of_scope"
    ]
    for fields, field in (
        ({"policy_no": "P-2024-0001"}, "policy_no"),  # the same value corrects nothing
        ({"no_such_field": "x"}, "no_such_field"),
        ({}, "data"),
    ):
        with pytest.raises(InputError) as bad:
            engine.correct(case_id, fields, actor=AS_AGENCY, reason="更正")
        assert bad.value.field == field
    with pytest.raises(InputError) as reason:
        engine.correct(case_id, {"policy_no": "P-2"}, actor=AS_AGENCY, reason="")
    assert reason.value.field == "reason"
    assert record(engine, case_id, FIRST) == kept


def test_a_field_not_yet_recorded_and_a_state_not_declared_are_refused(engine: Engine) -> None:
    signed = case_at(engine, 3)
    with pytest.raises(RuleRefused) as not_yet:
        engine.correct(signed, {"policy_no": "P-1"}, actor=AS_AGENCY, reason="更正")
    assert [(r.article, r.rule) for r in not_yet.value.refusals] == [("A7.2", "not_recorded")]
    engine.put_cadres([cadre("LC-DCF-0002")])
    registered = engine.open_case(
        "LC-DCF-0002", actor="cadre:张建国@LC-DCF-0002", data=REGISTRATION
    )
    with pytest.raises(RuleRefused) as state:
        engine.correct(registered.id, {"relation": "子"}, actor=AS_AGENCY, reason="更正")
    assert [r.rule for r in state.value.refusals] == ["correct_state"]


def test_a_definition_without_corrections_refuses_them_as_bad_input(engine: Engine) -> None:
    case_id = case_at(engine, 2)
    visit = next(d for d in engine.catalog if d.name == "condolence_visit")
    assert visit.corrections.rebook is None  # the A9.3 visit declares none
    with pytest.raises(InputError) as undeclared:
        allowed(visit, "rebook", Actor.parse(AS_AGENCY), engine_row(engine, case_id), "改期")
    assert undeclared.value.field == "kind"


def engine_row(engine: Engine, case_id: int) -> CaseRow:
    view = engine.case(case_id)
    return CaseRow(
        id=view.id,
        definition_id=1,
        cadre_id=view.cadre_id,
        county=view.county,
        agency=view.agency,
        state=view.state,
        terminal=view.terminal,
        version=view.version,
        chain_head=None,
        evidence=view.evidence,
        opened_at=view.opened_at,
        updated_at=view.updated_at,
        cycle=view.cycle,
        tier=view.tier,
    )


# -- the report and the definition --------------------------------------------------------------


def test_a18_2_a_rebooked_case_counts_once_and_completes(engine: Engine) -> None:
    """A rebook is no withdrawal: the case is planned in its new batch only and, once it has
    attended, complete; the old way (withdraw and a new case) would count a non-completion."""
    later = later_batch(engine)
    case_id = case_at(engine, 2)
    engine.rebook(case_id, later, actor=AS_AGENCY, reason="本人要求改期")
    engine.correct(case_id, {"relation": "长女"}, actor=AS_AGENCY, reason="关系更正")
    path = [(t, a, d) for t, a, d in HAPPY_PATH[2:]]
    path[1] = ("insure", AS_AGENCY, {**INSURANCE, **NEW_COVER})
    path[2] = ("attend", AS_AGENCY, {"checked_in_on": "2024-06-10"})
    walk(engine, case_id, path, batch_id=later)
    total = performance_report(engine, 2024).total
    assert (total.planned, total.attended, total.evaluated) == (1, 1, 1)
    assert total.completion_rate == pytest.approx(1.0)
    assert [r.case_id for r in batch_roster(engine, later).entries] == [case_id]
    assert batch_roster(engine, FIRST).entries == ()
    assert_verified(engine)


def test_the_corrections_block_is_checked_where_it_is_written() -> None:
    from definitions import bundled_directory  # noqa: PLC0415

    text = (bundled_directory() / "honor_convalescence.yaml").read_text(encoding="utf-8")
    loaded = load_definition_text(text, "ok.yaml")
    assert loaded.corrections.rebook is not None
    assert loaded.corrections.rebook.states == ("agency_approved", "agreement_signed", "insured")
    broken = (
        text.replace(
            "    roles: [agency_officer]               # who", "    roles: [janitor]  # who"
        )
        .replace("states: [agency_approved, agreement_signed, insured]", "states: [nowhere]")
        .replace("fields: [insurer, policy_no, covered_from", "fields: [batch_id, policy_no, bogus")
    )
    with pytest.raises(DefinitionError) as problems:
        load_definition_text(broken, "broken.yaml", trust_cache=False)
    lines = [str(p) for p in problems.value.problems]
    assert any("janitor" in p for p in lines), lines
    assert any("nowhere" in p for p in lines), lines
    assert any("batch_id" in p and "rebook" in p for p in lines), lines
    assert any("bogus" in p for p in lines), lines
    assert all(p.startswith("broken.yaml:") for p in lines), lines
