"""`workflow.invariants` (what ``benchmarks/soak.py`` checks after killing its nodes): a month's
kinds of cases leave every invariant intact, and each kind of damage done behind the engine's
back is named by the invariant it breaks, with the row that shows it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from click.testing import CliRunner
from factories import AS_AGENCY, CONSENT, HAPPY_PATH, REGISTRATION, cadre
from plans_setup import walk

from notifications.channels import FileChannel
from workflow import Engine
from workflow.cli.main import main
from workflow.invariants import InvariantReport, check_invariants
from workflow.scheduler import run_due
from workflow.scheduler.jobs import JobContext
from workflow.store.schema import batches, outbox, participations, visit_keys

SEED_BATCH = True  # the batch factories.APPROVAL names (conftest)
PAPER_CONSENT = {**CONSENT, "consent_form_ref": "TY-1"}


def month(engine: Engine, notices: Path) -> dict[str, int]:
    """One case the whole way, one approved then withdrawn for health (the condolence sweep
    opens its visit, A9.3), one approved and left seated."""
    ids = ["LC-DCF-0001", "LC-DCF-0002", "LC-DCF-0003"]
    engine.put_cadres([cadre(i) for i in ids])
    opened = {i: engine.open_case(i, actor=f"cadre:张建国@{i}", data=REGISTRATION) for i in ids}
    walk(engine, opened[ids[0]].id, HAPPY_PATH)
    for cadre_id in ids[1:]:
        case = opened[cadre_id]
        case = engine.fire(
            case.id, "consent", actor=AS_AGENCY, data=PAPER_CONSENT, on_behalf_of="张丽"
        )
        case = engine.fire(case.id, "approve", actor=AS_AGENCY, data={"batch_id": 1})
    engine.fire(opened[ids[1]].id, "withdraw", actor=AS_AGENCY, data={"for_health": True})
    # the day's jobs deliver the notices as files under the test's own folder, never the
    # working directory's ./notices
    run_due(engine, context=JobContext(channels={"file": FileChannel(notices)}))
    return {i: opened[i].id for i in ids}


def by_name(report: InvariantReport) -> dict[str, Any]:
    return {r.name: r for r in report.results}


def test_a_months_kinds_of_cases_break_nothing(engine: Engine, tmp_path: Path) -> None:
    month(engine, tmp_path / "notices")
    report = check_invariants(engine)
    assert report.violations == 0, report.to_json()
    found = by_name(report)
    assert found["version_is_history_length"].checked == 4  # three cases and the visit
    assert found["seats_match_their_rows"].checked == 1
    assert found["seats_are_participations"].checked == 3
    assert found["one_participation_per_cadre_and_cycle"].checked == 2
    assert found["one_visit_per_cadre_and_cycle"].checked == 1
    assert found["step_notices_in_outbox"].checked >= 10
    assert found["audit_verify"].checked > 0


def damage(engine: Engine, statement: sa.Executable) -> None:
    """A change made with the database's own tools, not through the engine."""
    with engine.db.begin() as connection:
        connection.execute(statement)


DAMAGE: list[tuple[str, sa.Executable]] = [
    ("seats_match_their_rows", sa.update(batches).values(seats_taken=batches.c.seats_taken + 1)),
    ("seats_are_participations", sa.delete(participations)),
    ("step_notices_in_outbox", sa.delete(outbox).where(outbox.c.template == "approval_notice")),
    ("one_visit_per_cadre_and_cycle", sa.delete(visit_keys)),
]


def test_damage_is_named_by_its_invariant(engine: Engine, tmp_path: Path) -> None:
    """Damage done one kind after another: each time exactly the invariant it breaks joins the
    broken ones, with an example row (one month, checked after each blow: fast)."""
    month(engine, tmp_path / "notices")
    expected: set[str] = set()
    for invariant, statement in DAMAGE:
        damage(engine, statement)
        expected.add(invariant)
        report = check_invariants(engine)
        found = by_name(report)
        assert found[invariant].violations >= 1, report.to_json()
        assert found[invariant].examples
        assert {r.name for r in report.results if r.violations} == expected, report.to_json()
        assert report.violations == sum(r.violations for r in report.results)


def test_audit_invariants_command(engine: Engine, db_url: str, tmp_path: Path) -> None:
    """``convalescence audit invariants``: exit 0 and every invariant listed; exit 6 naming the
    broken one and its row, in English with --lang en."""
    month(engine, tmp_path / "notices")
    runner = CliRunner()
    ok = runner.invoke(main, ["--db", db_url, "audit", "invariants", "--json"])
    assert ok.exit_code == 0, ok.output
    listed = json.loads(ok.stdout)
    assert listed["violations"] == 0
    assert {i["name"] for i in listed["invariants"]} >= {"seats_match_their_rows", "audit_verify"}
    damage(engine, DAMAGE[0][1])
    broken = runner.invoke(main, ["--db", db_url, "--lang", "en", "audit", "invariants"])
    assert broken.exit_code == 6, broken.output
    assert "seats_match_their_rows: {'batch_id': 1" in broken.stderr
    assert "1 invariant violations" in broken.stderr
