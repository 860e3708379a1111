"""Notices are written in the same transaction as the step that causes them: a step that is
refused or rolled back leaves no notice behind (issue: notifications; A7.2 evidence)."""

from __future__ import annotations

from datetime import datetime

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
from plans_setup import seed_plans, walk
from sqlalchemy.orm import Session

from workflow import Engine, RuleRefused, SimulatedClock
from workflow.clock import SHANGHAI
from workflow.store.schema import outbox

SEED_BATCH = True  # approval takes a seat in batch 1 (conftest.engine)

FAMILY = {"name": "张丽", "relation": "女儿", "phone": "13900000000"}


def notices(engine: Engine) -> list[sa.Row]:  # type: ignore[type-arg]
    with engine.db.connect() as connection:
        return list(connection.execute(sa.select(outbox).order_by(outbox.c.id)))


def test_registration_writes_its_notices_with_the_rendered_text(engine: Engine) -> None:
    engine.put_cadres([cadre(phone="13800000000", family_contact=FAMILY)])
    case = engine.open_case("LC-DCF-0001", actor=AS_CADRE, data=REGISTRATION)
    rows = notices(engine)
    assert [(r.template, r.recipient_role) for r in rows] == [
        ("registration_received", "cadre"),
        ("consent_request", "family"),
    ]
    assert all(r.case_id == case.id and r.status == "pending" for r in rows)
    assert rows[0].address == "13800000000"
    assert (rows[1].recipient_name, rows[1].address) == ("张丽", "13900000000")
    assert "张建国" in rows[0].body
    assert rows[0].channel == "file"
    assert len({r.idempotency_key for r in rows}) == 2


def test_a_refused_step_leaves_no_notice(engine: Engine) -> None:
    engine.put_cadres([cadre(birth_date="1943-06-03", family_contact=FAMILY)])
    case = engine.open_case("LC-DCF-0001", actor=AS_CADRE, data=REGISTRATION)
    engine.fire(case.id, "consent", actor=AS_FAMILY, data=CONSENT)
    before = len(notices(engine))
    with pytest.raises(RuleRefused):
        engine.fire(case.id, "approve", actor=AS_AGENCY, data=APPROVAL)
    assert len(notices(engine)) == before


def test_a_rolled_back_host_transaction_leaves_no_notice(engine: Engine) -> None:
    engine.put_cadres([cadre(family_contact=FAMILY)])
    case = engine.open_case("LC-DCF-0001", actor=AS_CADRE, data=REGISTRATION)
    engine.fire(case.id, "consent", actor=AS_FAMILY, data=CONSENT)
    before = len(notices(engine))
    with Session(engine.db) as session:
        engine.fire(
            case.id,
            "approve",
            actor=AS_AGENCY,
            data=APPROVAL,
            within=session,
        )
        session.rollback()
    assert len(notices(engine)) == before
    engine.fire(case.id, "approve", actor=AS_AGENCY, data=APPROVAL)
    approvals = [r for r in notices(engine) if r.template == "approval_notice"]
    assert {r.recipient_role for r in approvals} == {"cadre", "family"}
    assert all("2024年6月3日" in r.body for r in approvals)
    assert all(r.body_html and "<" in r.body_html for r in approvals)


def test_a_whole_case_sends_each_declared_notice_once(engine: Engine) -> None:
    engine.put_cadres([cadre(family_contact=FAMILY)])
    case = engine.open_case("LC-DCF-0001", actor=AS_CADRE, data=REGISTRATION)
    walk(engine, case.id, HAPPY_PATH)  # the batch starts before attend (A13.1)
    templates = sorted(r.template for r in notices(engine))
    assert templates == sorted(
        [
            "registration_received",
            "consent_request",
            "approval_notice",
            "approval_notice",
            "agreement_and_insurance",
            "departure_notice",
        ]
    )


def test_routing_sends_a_role_through_another_channel(db_url: str) -> None:
    clock = SimulatedClock(datetime(2024, 5, 6, 9, 30, tzinfo=SHANGHAI))
    with Engine(db_url, clock=clock, notice_channels={"family": "webhook"}) as engine:
        engine.upgrade_schema()
        engine.put_cadres([cadre(family_contact=FAMILY)])
        seed_plans(engine)  # the year's plan the registration names (A3.2)
        engine.open_case("LC-DCF-0001", actor=AS_CADRE, data=REGISTRATION)
        assert {(r.recipient_role, r.channel) for r in notices(engine)} == {
            ("cadre", "file"),
            ("family", "webhook"),
        }
