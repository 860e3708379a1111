"""The policy inside the workflow, on both databases: eligibility guards registration and
approval (A4.4, A8.1), exceptions for "in principle" rules (A8.2, A9.2), acting on behalf of a
family member (A7.2), and the explanation stored with the case (A4.2)."""

from __future__ import annotations

import threading
import time
from datetime import date, datetime
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
    BATCH_END,
    CONSENT,
    HAPPY_PATH,
    INSURANCE,
    REGISTRATION,
    cadre,
)
from plans_setup import walk

from workflow import Engine, InputError, RuleRefused, SimulatedClock
from workflow.clock import SHANGHAI
from workflow.engine import EXCEPTIONS_APPLIED, GRANT_EXCEPTION
from workflow.plans import service
from workflow.store.schema import batches

SEED_BATCH = True  # approval takes a seat in batch 1 (conftest.engine)

OLD = "1943-06-03"  # 81 on APPROVAL's first day, 2024-06-03, over A8.2's 80


def consented(engine: Engine, cadre_id: str = "LC-DCF-0001") -> int:
    case = engine.open_case(cadre_id, actor=AS_CADRE, data=REGISTRATION)
    return engine.fire(case.id, "consent", actor=AS_FAMILY, data=CONSENT).id


def test_registration_stores_the_eligibility_explanation_and_cycle(engine: Engine) -> None:
    engine.put_cadres([cadre()])
    case = engine.open_case("LC-DCF-0001", actor=AS_CADRE, data=REGISTRATION)
    assert (case.cycle, case.tier) == ("2024-2025", "city")
    stored = engine.eligibility(case.id)
    assert stored is not None
    assert stored["eligible"] is True
    assert stored["tier"] == "city"
    assert any(
        r["rule"] == "merit_second_class_or_higher" and r["passed"] for r in stored["reasons"]
    )


def test_registration_for_a_level_the_tier_does_not_reach_is_refused(engine: Engine) -> None:
    """A4.4: a county-tier cadre (class-3 merit) may not join a city-level programme."""
    engine.put_cadres([cadre(merits=[{"class": 3, "wartime": False, "year": 1979}])])
    with pytest.raises(RuleRefused) as refused:
        engine.open_case("LC-DCF-0001", actor=AS_CADRE, data={"plan_level": "city"})
    assert refused.value.articles == ("A4.4",)
    assert "县级对象" in str(refused.value)
    case = engine.open_case("LC-DCF-0001", actor=AS_CADRE, data={"plan_level": "county"})
    assert case.tier == "county"


@pytest.mark.parametrize(
    ("changes", "article"),
    [
        pytest.param({"merits": [], "honours": []}, "A4.4", id="no-tier"),
        pytest.param({"health": {"self_care": False}}, "A8.1", id="not-self-caring"),
        # a category art. 2 does not cover (文职人员) no longer gets in: put_cadres refuses it as
        # cadres import does (issue 17); tests/test_hostile_put_cadres.py
    ],
)
def test_registration_refusals_cite_their_article(
    engine: Engine, changes: dict[str, Any], article: str
) -> None:
    engine.put_cadres([cadre(**changes)])
    with pytest.raises(RuleRefused) as refused:
        engine.open_case("LC-DCF-0001", actor=AS_CADRE, data=REGISTRATION)
    assert article in refused.value.articles
    assert engine.cases() == []


def test_registration_before_the_policy_cites_a21_1(engine: Engine, clock: SimulatedClock) -> None:
    engine.put_cadres([cadre()])
    clock.set(datetime(2023, 3, 22, 9, 0, tzinfo=SHANGHAI))  # the day before it was issued
    with pytest.raises(RuleRefused) as refused:
        engine.open_case("LC-DCF-0001", actor=AS_CADRE, data=REGISTRATION)
    assert refused.value.articles == ("A21.1",)


def test_a8_2_an_exception_lets_an_81_year_old_go_and_the_history_shows_it(
    engine: Engine,
) -> None:
    engine.put_cadres([cadre(birth_date=OLD)])
    case_id = consented(engine)
    with pytest.raises(RuleRefused) as refused:
        engine.fire(case_id, "approve", actor=AS_AGENCY, data=APPROVAL)
    assert refused.value.articles == ("A8.2",)
    with pytest.raises(RuleRefused) as not_an_approver:
        engine.grant_exception(
            case_id,
            "under_age_limit_on_first_day",
            actor=AS_AGENCY,
            reason="体检合格",
        )
    assert not_an_approver.value.articles == ("A5.2",)
    with pytest.raises(InputError):
        engine.grant_exception(
            case_id,
            "under_age_limit_on_first_day",
            actor=AS_COUNTY,
            reason="  ",
        )
    granted = engine.grant_exception(
        case_id,
        "under_age_limit_on_first_day",
        actor=AS_COUNTY,
        reason="体检合格，家属陪同",
    )
    assert (granted.state, granted.version) == ("family_consented", 3)
    approved = engine.fire(case_id, "approve", actor=AS_AGENCY, data=APPROVAL)
    assert approved.state == "agency_approved"
    steps = engine.history(case_id)
    grant = steps[2]
    assert (grant.trigger, grant.from_state, grant.to_state) == (
        GRANT_EXCEPTION,
        "family_consented",
        "family_consented",
    )
    assert grant.data == {"rule": "under_age_limit_on_first_day", "article": "A8.2"}
    assert grant.reason == "体检合格，家属陪同"
    applied = steps[3].data[EXCEPTIONS_APPLIED]
    assert [a["article"] for a in applied] == ["A8.2"]
    (record,) = engine.exceptions(case_id)
    assert (record["approver_role"], record["approver_name"], record["seq"]) == (
        "county_officer",
        "赵局长",
        3,
    )


def test_an_exception_for_a_hard_rule_is_bad_input(engine: Engine) -> None:
    """A6.2's seven days is a hard limit; only "in principle" rules admit exceptions."""
    engine.put_cadres([cadre()])
    case_id = consented(engine)
    with pytest.raises(InputError) as bad:
        engine.grant_exception(
            case_id, "stay_within_seven_days", actor="city_officer:钱处长", reason="行程安排"
        )
    assert "不允许例外" in str(bad.value)
    assert len(engine.history(case_id)) == 2


def test_a9_2_a_second_participation_in_the_cycle_needs_an_exception(engine: Engine) -> None:
    engine.put_cadres([cadre()])
    first = engine.open_case("LC-DCF-0001", actor=AS_CADRE, data=REGISTRATION)
    walk(engine, first.id, HAPPY_PATH)  # the batch starts before attend (A13.1)
    second = consented(engine)
    with pytest.raises(RuleRefused) as refused:
        engine.fire(second, "approve", actor=AS_AGENCY, data=APPROVAL)
    assert refused.value.articles == ("A9.2",)
    assert f"案件 {first.id}" in str(refused.value)
    engine.grant_exception(
        second, "once_per_cycle", actor="city_officer:钱处长", reason="上期因故缩短行程，经研究同意"
    )
    approved = engine.fire(second, "approve", actor=AS_AGENCY, data=APPROVAL)
    assert approved.state == "agency_approved"


def test_a9_2_a_case_that_ended_without_taking_part_does_not_count(engine: Engine) -> None:
    engine.put_cadres([cadre()])
    first = engine.open_case("LC-DCF-0001", actor=AS_CADRE, data=REGISTRATION)
    engine.fire(first.id, "refuse_consent", actor=AS_FAMILY, data=CONSENT)
    second = consented(engine)
    assert engine.fire(second, "approve", actor=AS_AGENCY, data=APPROVAL).state == "agency_approved"


def test_paper_consent_recorded_on_behalf_keeps_both_names(engine: Engine) -> None:
    """Art. 7 consent given on paper: the officer acts, the family member consents (A7.2)."""
    engine.put_cadres([cadre()])
    case = engine.open_case("LC-DCF-0001", actor=AS_CADRE, data=REGISTRATION)
    with pytest.raises(RuleRefused) as refused:
        engine.fire(
            case.id,
            "consent",
            actor=AS_AGENCY,
            data=CONSENT,
            on_behalf_of="张丽",
        )
    assert refused.value.articles == ("A7.2",)
    engine.fire(
        case.id,
        "consent",
        actor=AS_AGENCY,
        on_behalf_of="张丽",
        data={**CONSENT, "consent_form_ref": "JSTY-2024-017"},
    )
    consent = engine.history(case.id)[1]
    assert (consent.actor, consent.role, consent.on_behalf_of) == ("王芳", "agency_officer", "张丽")
    assert consent.data["consent_form_ref"] == "JSTY-2024-017"
    assert engine.history(case.id)[0].on_behalf_of is None


def test_the_whole_path_still_runs_after_an_exception(engine: Engine) -> None:
    engine.put_cadres([cadre(birth_date=OLD)])
    case_id = consented(engine)
    engine.grant_exception(
        case_id, "under_age_limit_on_first_day", actor="city_officer:钱处长", reason="体检合格"
    )
    for trigger, actor, data in [
        ("approve", AS_AGENCY, APPROVAL),
        ("sign_agreement", AS_AGENCY, AGREEMENT),
        ("insure", AS_AGENCY, INSURANCE),
    ]:
        engine.fire(case_id, trigger, actor=actor, data=data)
    assert engine.case(case_id).state == "insured"


def _move_batch_out_of_province_and_fill(engine: Engine) -> None:
    """Batch 1 edited after creation (as a city office might): in 江苏 with 50 seats taken."""
    with engine.transaction(write=True) as connection:
        connection.execute(
            sa.update(batches)
            .where(batches.c.id == 1)
            .values(province="江苏", capacity=60, seats_taken=50)
        )


def test_a6_2_approval_rechecks_the_batch_it_seats_the_case_in(engine: Engine) -> None:
    """A6.2: province and size are read from the batch row at approval, not trusted from its
    creation; without exceptions both rules refuse and no seat is taken."""
    engine.put_cadres([cadre()])
    case_id = consented(engine)
    _move_batch_out_of_province_and_fill(engine)
    with pytest.raises(RuleRefused) as refused:
        engine.fire(case_id, "approve", actor=AS_AGENCY, data=APPROVAL)
    assert [r.rule for r in refused.value.refusals] == [
        "within_shandong",
        "at_most_fifty_per_batch",
    ]
    assert "江苏" in str(refused.value)
    assert "51人" in str(refused.value)
    assert service.show_batch(engine, 1)["seats_taken"] == 50


def test_a6_2_batch_exceptions_recorded_by_the_city_let_the_approval_pass(engine: Engine) -> None:
    engine.put_cadres([cadre()])
    case_id = consented(engine)
    _move_batch_out_of_province_and_fill(engine)
    for rule in ("out_of_province", "over_50"):
        service.record_exception(
            engine, 1, service.ExceptionGrant(rule, "city_officer", "钱处长", "经市局研究同意")
        )
    approved = engine.fire(case_id, "approve", actor=AS_AGENCY, data=APPROVAL)
    assert approved.state == "agency_approved"
    assert approved.evidence["province"] == "江苏"
    assert approved.evidence["batch_size"] == 51
    applied = engine.history(case_id)[-1].data[EXCEPTIONS_APPLIED]
    assert sorted(a["rule"] for a in applied) == ["at_most_fifty_per_batch", "within_shandong"]
    assert service.show_batch(engine, 1)["seats_taken"] == 51


def test_a6_2_a_case_exception_from_the_city_also_counts_but_not_from_a_county(
    engine: Engine,
) -> None:
    engine.put_cadres([cadre()])
    case_id = consented(engine)
    _move_batch_out_of_province_and_fill(engine)
    with pytest.raises(RuleRefused):
        engine.grant_exception(
            case_id, "within_shandong", actor=AS_COUNTY, reason="红色教育基地在省外"
        )
    for rule in ("within_shandong", "at_most_fifty_per_batch"):
        engine.grant_exception(case_id, rule, actor="city_officer:钱处长", reason="经市局研究同意")
    assert engine.fire(case_id, "approve", actor=AS_AGENCY, data=APPROVAL).state == (
        "agency_approved"
    )


@pytest.mark.parametrize("category", ["退休军士", "退休警士"])
def test_a20_1_retired_ncos_are_treated_exactly_as_cadres(engine: Engine, category: str) -> None:
    branch = "PAP" if category == "退休警士" else "PLA"
    engine.put_cadres([cadre(category=category, branch=branch)])
    case = engine.open_case("LC-DCF-0001", actor=AS_CADRE, data=REGISTRATION)
    stored = engine.eligibility(case.id)
    assert stored is not None
    scope = next(r for r in stored["reasons"] if r["rule"] == "category_covered")
    assert (scope["clause"], scope["passed"], stored["eligible"]) == ("A20.1", True, True)
    case = walk(engine, case.id, HAPPY_PATH)  # the batch starts before attend (A13.1)
    assert case.state == "evaluated"


def test_the_same_exception_granted_twice_is_bad_input_with_one_record(engine: Engine) -> None:
    engine.put_cadres([cadre(birth_date=OLD)])
    case_id = consented(engine)
    grant: dict[str, Any] = {"actor": "city_officer:钱处长", "reason": "体检合格"}
    engine.grant_exception(case_id, "under_age_limit_on_first_day", **grant)
    with pytest.raises(InputError) as again:
        engine.grant_exception(case_id, "under_age_limit_on_first_day", **grant)
    assert again.value.field == "rule"
    assert len(engine.exceptions(case_id)) == 1


def test_a_batch_edited_while_the_approval_is_decided_waits_for_it(engine: Engine) -> None:
    """The rules run on the batch as the approval's own transaction read it, and the batch
    stays so until the approval commits: an officer's edit of its dates waits (PostgreSQL locks
    the batch row, SQLite has one writer), so the case never records facts that were no longer
    true when it was approved (A6.2, A7.3)."""
    engine.put_cadres([cadre()])
    case_id = consented(engine)
    edited = threading.Event()
    editors: list[threading.Thread] = []
    seen_at_commit: list[bool] = []

    def edit() -> None:
        with engine.db.connect() as other, other.begin():
            other.execute(
                sa.update(batches).where(batches.c.id == 1).values(end_date=date(2024, 6, 8))
            )
        edited.set()

    def edit_after_the_batch_is_read(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if not editors and "FROM batches JOIN plans" in statement:
            editors.append(threading.Thread(target=edit))
            editors[0].start()
            time.sleep(0.5)  # the edit is under way while the approval decides

    def note_commit(_conn: Any) -> None:
        if editors and not seen_at_commit:
            seen_at_commit.append(edited.is_set())

    sa.event.listen(engine.db, "after_cursor_execute", edit_after_the_batch_is_read)
    sa.event.listen(engine.db, "commit", note_commit)
    try:
        approved = engine.fire(case_id, "approve", actor=AS_AGENCY, data=APPROVAL)
    finally:
        sa.event.remove(engine.db, "after_cursor_execute", edit_after_the_batch_is_read)
        sa.event.remove(engine.db, "commit", note_commit)
    editors[0].join(timeout=30)
    assert seen_at_commit == [False]  # the edit had not gone through when the approval committed
    assert edited.is_set()
    assert approved.evidence["batch_end"] == BATCH_END  # as the batch was when approved
    assert service.show_batch(engine, 1)["end_date"] == date(2024, 6, 8)
    assert service.show_batch(engine, 1)["seats_taken"] == 1
