"""Publishing a successor definition and carrying open cases over to it (A21.1, issue 13).

The 2023 rules ended on 2025-12-31; an office publishes the 2026-2027 rules into the database
(no release), and the cases still open under the old rules move onto the new version with a
history row each, or stay where the new rules would refuse their next step.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from factories import AS_CADRE, AS_FAMILY, CONSENT, REGISTRATION, cadre
from plans_setup import seed_plans

from definitions import bundled_directory
from workflow import carry_over, publishing
from workflow.audit.verify import verify_database
from workflow.cli.main import main as cli
from workflow.clock import SHANGHAI, SimulatedClock
from workflow.engine import Engine
from workflow.errors import DefinitionError, InputError, RuleRefused
from workflow.machine import Actor

CITY = Actor.parse("city_officer:张伟@聊城市")
COUNTY = Actor.parse("county_officer:赵局长@东昌府区")
LATER = datetime(2026, 12, 1, 9, 0, tzinfo=SHANGHAI)
V1 = (bundled_directory() / "honor_convalescence.yaml").read_text(encoding="utf-8")
MAP_BOTH = {"registered": "registered", "family_consented": "family_consented"}


def successor(
    *,
    version: int = 2,
    start: str = "2026-01-01",
    until: str = "2027-12-31",
    states: dict[str, str] | None = None,
) -> str:
    """The bundled text as the 2026-2027 successor: new number, document, window and cycle."""
    text = V1.replace("version: 1\n", f"version: {version}\n", 1)
    text = text.replace("聊退役军人发〔2023〕2号", "聊退役军人发〔2026〕1号（样例）")
    text = text.replace(
        "effective_from: 2023-03-23\n  effective_until: 2025-12-31",
        f"effective_from: {start}\n  effective_until: {until}",
    )
    text = text.replace(
        "    - {id: 2024-2025, start: 2024-01-01, end: 2025-12-31}\n",
        "    - {id: 2024-2025, start: 2024-01-01, end: 2025-12-31}\n"
        "    - {id: 2026-2027, start: 2026-01-01, end: 2027-12-31}\n",
    )
    if states is not None:
        lines = "".join(f"    {old}: {new}\n" for old, new in states.items())
        text += f"\nmigrates_from:\n  version: 1\n  states:\n{lines}"
    return text


def open_three(engine: Engine) -> list[int]:
    """Three 2024 registrations; the first with the family's consent (A7.1)."""
    ids = ["LC-DCF-0001", "LC-DCF-0002", "LC-DCF-0003"]
    engine.put_cadres([cadre(i) for i in ids])
    opened = [engine.open_case(i, actor=f"cadre:张建国@{i}", data=REGISTRATION).id for i in ids]
    engine.fire(opened[0], "consent", actor=AS_FAMILY, data=CONSENT)
    return opened


def test_a_published_successor_is_in_force_and_cases_carry_over(
    engine: Engine, clock: SimulatedClock
) -> None:
    first, second, third = open_three(engine)
    clock.set(LATER)
    with pytest.raises(RuleRefused) as refused:  # the 2023 rules expired (A21.1)
        engine.open_case("LC-DCF-0004", actor=AS_CADRE, data=REGISTRATION)
    assert refused.value.articles == ("A21.1",)

    published = publishing.publish(engine, successor(states=MAP_BOTH), "v2.yaml", actor=CITY)
    assert (published.version, published.already) == (2, False)
    listing = {(row.name, row.version): row for row in publishing.versions(engine)}
    assert listing[("honor_convalescence", 2)].in_force
    assert listing[("honor_convalescence", 2)].published_by == "city_officer:张伟@聊城市"
    assert listing[("honor_convalescence", 1)].open_cases == 3

    dry = carry_over.carry_over(engine, "honor_convalescence@2", actor=CITY, dry_run=True)
    assert [m.outcome for m in dry.moves] == ["would_move"] * 3
    assert engine.case(first).definition_version == 1  # nothing written by a dry run

    with pytest.raises(InputError):  # a real move says why (A19.1)
        carry_over.carry_over(engine, "honor_convalescence@2", actor=CITY)
    done = carry_over.carry_over(
        engine,
        "honor_convalescence@2",
        actor=CITY,
        states=["registered"],
        reason="新细则施行，按新细则续办",
    )
    assert [(m.case_id, m.outcome) for m in done.moves] == [(second, "moved"), (third, "moved")]
    assert done.cycle == "2026-2027"
    moved = engine.case(second)
    assert (moved.definition_version, moved.state) == (2, "registered")
    last = engine.history(second)[-1]
    assert (last.trigger, last.actor, last.reason) == (
        "migrate",
        "张伟",
        "新细则施行，按新细则续办",
    )
    assert engine.case(first).definition_version == 1  # not in the chosen state
    assert verify_database(engine.db).intact

    # the carried case goes on under the new version; a new registration opens under it too
    engine.fire(second, "consent", actor="family:张丽@LC-DCF-0002", data=CONSENT)
    seed_plans(engine)  # the 2026 annual plans a registration names (A3.2)
    engine.put_cadres([cadre("LC-DCF-0004")])
    fresh = engine.open_case("LC-DCF-0004", actor="cadre:张建国@LC-DCF-0004", data=REGISTRATION)
    assert (fresh.definition_version, fresh.cycle) == (2, "2026-2027")
    assert verify_database(engine.db).intact


def test_an_unmapped_state_refuses_and_the_case_stays(
    engine: Engine, clock: SimulatedClock
) -> None:
    first, second, _third = open_three(engine)
    clock.set(LATER)
    publishing.publish(
        engine, successor(states={"registered": "registered"}), "v2.yaml", actor=CITY
    )
    report = carry_over.carry_over(engine, "honor_convalescence@2", actor=CITY, reason="新细则施行")
    outcomes = {m.case_id: m for m in report.moves}
    assert outcomes[first].outcome == "refused"
    assert outcomes[first].refusals[0].article == "A21.1"
    assert outcomes[second].outcome == "moved"
    assert engine.case(first).definition_version == 1
    # the old version still lets the case finish where it permits the step (A21.1)
    engine.fire(
        first,
        "withdraw",
        actor="cadre:张建国@LC-DCF-0001",
        data={"for_health": False},
        reason="改期",
    )
    assert engine.case(first).state == "withdrawn"


def test_publishing_refuses_what_would_confuse_the_day(
    engine: Engine, clock: SimulatedClock
) -> None:
    clock.set(LATER)
    with pytest.raises(RuleRefused) as refused:  # only the city office publishes (A5.2)
        publishing.publish(engine, successor(), "v2.yaml", actor=COUNTY)
    assert refused.value.articles == ("A5.2",)
    with pytest.raises(DefinitionError) as overlap:  # 2025 is still the old rules' (A21.1)
        publishing.publish(engine, successor(start="2025-07-01"), "v2.yaml", actor=CITY)
    problem = overlap.value.problems[0]
    assert problem.file == "v2.yaml"
    assert "A21.1" in problem.message
    assert "重叠" in problem.message
    assert problem.line > 1
    with pytest.raises(DefinitionError) as orphan:  # maps a state the old version lacks
        publishing.publish(
            engine, successor(states={"nowhere": "registered"}), "v2.yaml", actor=CITY
        )
    assert "nowhere" in orphan.value.problems[0].message
    assert publishing.versions(engine)[-1].version == 1  # nothing written

    cut = publishing.publish(
        engine,
        successor(start="2025-07-01"),
        "v2.yaml",
        actor=CITY,
        cut_short_reason="新细则提前施行",
    )
    assert cut.cut_short is not None
    assert cut.cut_short[1].isoformat() == "2025-06-30"
    first = {(r.name, r.version): r for r in publishing.versions(engine)}
    assert first[("honor_convalescence", 1)].cut_short
    assert str(first[("honor_convalescence", 1)].effective_until) == "2025-06-30"
    with pytest.raises(DefinitionError):  # the same number with other content
        publishing.publish(engine, successor(start="2025-07-02"), "v2b.yaml", actor=CITY)
    again = publishing.publish(engine, successor(start="2025-07-01"), "v2.yaml", actor=CITY)
    assert again.already
    assert verify_database(engine.db).intact


@pytest.mark.postgres
def test_a_second_node_sees_a_published_version_without_restart(pg_url: str) -> None:
    clock = SimulatedClock(LATER)
    with (
        Engine(pg_url, clock=clock, auto_upgrade=True) as first,
        Engine(pg_url, clock=clock, published_check_seconds=0) as second,
    ):
        first.upgrade_schema()
        assert second.catalog.in_force("honor_convalescence", LATER.date()) is None
        publishing.publish(first, successor(), "v2.yaml", actor=CITY)
        seen = second.catalog.in_force("honor_convalescence", LATER.date())
        assert seen is not None
        assert seen.version == 2


def test_the_command_line_publishes_lists_and_migrates(
    engine: Engine, clock: SimulatedClock, db_url: str, tmp_path: Path
) -> None:
    open_three(engine)
    draft = tmp_path / "honor-v2.yaml"
    draft.write_text(successor(states=MAP_BOTH), encoding="utf-8")
    base = ["--db", db_url, "--now", "2026-12-01T09:00"]
    runner = CliRunner()
    city = ["--as", "city_officer:张伟@聊城市"]
    bad = tmp_path / "bad.yaml"
    bad.write_text(successor(states={"nowhere": "registered"}), encoding="utf-8")
    refused = runner.invoke(cli, [*base, "definitions", "publish", str(bad), *city])
    assert refused.exit_code == 2, refused.output
    assert f"{bad}:" in refused.output
    assert "nowhere" in refused.output

    done = runner.invoke(cli, [*base, "definitions", "publish", str(draft), *city])
    assert done.exit_code == 0, done.output
    assert "第 2 版" in done.output
    listed = runner.invoke(cli, [*base, "definitions", "list", *city, "--json"])
    assert listed.exit_code == 0, listed.output
    versions = {(v["name"], v["version"]): v for v in json.loads(listed.output)}
    assert versions[("honor_convalescence", 2)]["source"] == "published"

    migrate = [*base, "cases", "migrate", "--to", "honor_convalescence@2", *city]
    dry = runner.invoke(cli, [*migrate, "--dry-run", "--json"])
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.output)["counts"]["would_move"] == 3
    real = runner.invoke(cli, [*migrate, "--reason", "新细则施行"])
    assert real.exit_code == 0, real.output
    assert "已迁移 3" in real.output
    again = runner.invoke(cli, [*migrate, "--reason", "新细则施行", "--json"])
    assert json.loads(again.output)["cases"] == []  # nothing left on version 1


def test_the_api_publishes_and_migrates(engine: Engine, clock: SimulatedClock) -> None:
    from fastapi.testclient import TestClient  # noqa: PLC0415

    from workflow.api.app import create_app  # noqa: PLC0415
    from workflow.api.tokens import TokenRegistry  # noqa: PLC0415

    open_three(engine)
    clock.set(LATER)
    tokens = {"t-city": "city_officer:赵敏", "t-county": "county_officer:刘伟@东昌府区"}
    city, county = {"Authorization": "Bearer t-city"}, {"Authorization": "Bearer t-county"}
    with TestClient(create_app(engine, TokenRegistry.from_tokens(tokens))) as client:
        body = {"text": successor(states=MAP_BOTH), "source_name": "v2.yaml"}
        assert client.post("/definitions/versions", json=body, headers=county).status_code == 403
        bad = {"text": successor(states={"nowhere": "registered"}), "source_name": "v2.yaml"}
        refused = client.post("/definitions/versions", json=bad, headers=city)
        assert refused.status_code == 422
        assert "nowhere" in refused.json()["problems"][0]["message"]
        made = client.post("/definitions/versions", json=body, headers=city)
        assert made.status_code == 201, made.text
        assert made.json()["version"] == 2
        listed = client.get("/definitions/versions", headers=county).json()
        assert any(v["version"] == 2 and v["in_force"] for v in listed)

        migrate = {"to": "honor_convalescence@2", "dry_run": True}
        dry = client.post("/cases/migrate", json=migrate, headers=city)
        assert dry.status_code == 200, dry.text
        assert dry.json()["counts"]["would_move"] == 3
        assert client.post("/cases/migrate", json=migrate, headers=county).status_code == 403
        real = client.post(
            "/cases/migrate", json={"to": "honor_convalescence@2", "reason": "新细则"}, headers=city
        )
        assert real.json()["counts"]["moved"] == 3
        assert client.post("/cases/migrate", json={"to": "nope"}, headers=city).status_code == 422


@pytest.mark.postgres
def test_two_officers_migrating_at_once_move_each_case_once(pg_url: str) -> None:
    """Two processes' worth of engines carry the same cohort over at the same moment: the
    compare-and-set lets each case move once; the loser reports it skipped or a conflict."""
    import threading  # noqa: PLC0415

    clock = SimulatedClock(datetime(2024, 5, 6, 9, 30, tzinfo=SHANGHAI))
    with Engine(pg_url, clock=clock, auto_upgrade=True) as engine:
        engine.upgrade_schema()
        seed_plans(engine)
        opened = open_three(engine)
        clock.set(LATER)
        publishing.publish(engine, successor(states=MAP_BOTH), "v2.yaml", actor=CITY)
    reports: list[carry_over.CarryOverReport] = []
    barrier = threading.Barrier(2)

    def migrate() -> None:
        with Engine(pg_url, clock=SimulatedClock(LATER)) as own:
            barrier.wait()
            reports.append(
                carry_over.carry_over(own, "honor_convalescence@2", actor=CITY, reason="新细则")
            )

    threads = [threading.Thread(target=migrate) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    moved = [m.case_id for r in reports for m in r.moves if m.outcome == "moved"]
    assert sorted(moved) == sorted(opened)
    others = {m.outcome for r in reports for m in r.moves if m.outcome != "moved"}
    assert others <= {"skipped", "conflict"}
    with Engine(pg_url, clock=SimulatedClock(LATER)) as engine:
        for case_id in opened:
            rows = [h for h in engine.history(case_id) if h.trigger == "migrate"]
            assert len(rows) == 1
        assert verify_database(engine.db).intact


def test_publishing_a_bundled_version_writes_nothing_new(engine: Engine) -> None:
    again = publishing.publish(engine, V1, "honor_convalescence.yaml", actor=CITY)
    assert again.already
    assert again.version == 1


def test_the_sample_successor_is_the_bundled_rules_drafted_forward() -> None:
    """examples/honor_convalescence-v2.yaml (the README and help examples publish it) is what
    `definitions draft` makes of the bundled rules today: it cannot drift from them."""
    from datetime import date  # noqa: PLC0415

    from workflow.definition.catalog import Catalog  # noqa: PLC0415
    from workflow.definition.draft import SuccessorTerms, draft_successor  # noqa: PLC0415

    sample = Path(__file__).resolve().parents[1] / "examples" / "honor_convalescence-v2.yaml"
    current = Catalog.from_directories([bundled_directory()]).get("honor_convalescence")
    terms = SuccessorTerms(
        version=2,
        document="聊退役军人发〔2026〕1号（样例）",
        effective_from=date(2026, 1, 1),
        effective_until=date(2027, 12, 31),
    )
    drafted = draft_successor(current, terms, today=date(2026, 12, 1)).text
    labelled = sample.read_text(encoding="utf-8").split("\n", 2)[2]  # after the sample's label
    assert labelled == drafted, "regenerate with definitions draft (see the file's header)"
