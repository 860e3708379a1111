"""The main job: a reproducible cycle whose summary shows every ending and every refusal."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from workflow import Engine
from workflow.demo.run import run_demo

# the module's demo run takes ~15 s and the reproducibility check runs two more (~45 s)
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def summary(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return run_demo(tmp_path_factory.mktemp("demo"), cadres=150, seed=7)


def test_the_demo_ends_cases_in_every_kind_of_final_state(summary) -> None:  # type: ignore[no-untyped-def]
    ended = {state for state, (_label, count) in summary.final_states.items() if count}
    assert {"evaluated", "consent_refused", "rejected"} <= ended
    assert summary.final_states["evaluated"][1] > summary.cases // 2
    assert summary.cases <= summary.cadres
    assert summary.transitions >= summary.cases * 3


def test_the_demo_shows_refusals_with_their_articles(summary) -> None:  # type: ignore[no-untyped-def]
    articles = {key.split()[0] for key in summary.refusals}
    assert {"A4.4", "A5.2", "A6.2", "A7.3", "A8.1", "A8.2", "A21.1"} <= articles


def test_the_demo_writes_its_notices_as_files_an_officer_can_open(summary) -> None:  # type: ignore[no-untyped-def]
    assert summary.notices_dir is not None
    texts = sorted(summary.notices_dir.glob("*.txt"))
    assert len(texts) == summary.notices > summary.cases
    sample = texts[0].read_text(encoding="utf-8")
    assert "荣誉疗养" in sample


def test_the_demo_roster_exercises_every_tier_and_records_exceptions(summary) -> None:  # type: ignore[no-untyped-def]
    assert {"city", "county", "none"} <= set(summary.tiers)
    assert sum(summary.tiers.values()) == summary.cadres
    assert summary.exceptions["A8.2"] > 0
    assert summary.on_behalf > 0


def test_the_demo_plans_batches_drops_a_contractor_and_runs_the_scheduler(summary) -> None:  # type: ignore[no-untyped-def]
    """Issue 4/5/7 parts of the main job: plans and batches (A3, A6.2), a contractor leaving
    under A18.3, the scheduler's reminders and A9.3 visits, the A18.2 report, an intact chain."""
    assert summary.plans == 18
    assert summary.batches > 50
    assert summary.evaluations > 0
    assert summary.contractors_dropped == ("聊城安康旅游服务公司",)
    assert summary.refusals["A18.3 contractor_exit"] > 0
    assert summary.visits["timers.reminded"] > 0
    assert summary.visits["condolence.opened"] == summary.visits["visits.recorded"] > 0
    assert summary.report is not None
    assert summary.report.read_text(encoding="utf-8").count("<svg") >= 1
    assert summary.audit is not None
    assert summary.audit.intact


def test_the_demo_database_agrees_with_its_summary(summary) -> None:  # type: ignore[no-untyped-def]
    with Engine(f"sqlite:///{summary.database}") as engine:
        counts = engine.count_by_state()
        assert sum(counts.values()) == summary.cases
        for state, (_label, count) in summary.final_states.items():
            assert counts.get(state, 0) == count
        some_case = engine.cases(state="evaluated", limit=1)[0]
        steps = engine.history(some_case.id)
        assert [h.to_state for h in steps][-1] == "evaluated"


def test_the_same_seed_gives_the_same_run(tmp_path: Path, summary) -> None:  # type: ignore[no-untyped-def]
    again = run_demo(tmp_path / "again", cadres=150, seed=7)
    assert again.final_states == summary.final_states
    assert again.refusals == summary.refusals
    other = run_demo(tmp_path / "other", cadres=150, seed=8)
    assert other.final_states != summary.final_states


@pytest.mark.slow
def test_convalescence_demo_runs_as_a_command(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "convalescence"
    result = subprocess.run(
        [str(script), "demo", "--dir", str(tmp_path / "d"), "--cadres", "40", "--seed", "3"],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "案件最终状态" in result.stdout
    assert "evaluated" in result.stdout
    assert (tmp_path / "d" / "convalescence.db").exists()


def test_after_the_cycle_the_office_publishes_a_successor_and_carries_cases_over(summary) -> None:  # type: ignore[no-untyped-def]
    """A21.1: the 2023 rules expired; on today's date the demo drafts, checks (what-if),
    publishes the successor, moves the open registrations onto it, closes the old cycle and
    registers a few cadres under the new version."""
    change = summary.successor
    assert change is not None
    assert change.draft_file.exists()
    assert change.published.version == 2
    assert change.visits_version == 3
    assert change.roster == summary.cadres
    assert change.carried is not None
    assert change.carried.count("moved") > 0
    assert change.carried.count("refused") == 0
    assert change.closed_folder is not None, change.still_open
    assert (change.closed_folder / "manifest.json").exists()
    assert change.new_cases
    assert all(state == "family_consented" for _case, state in change.new_cases)
    with Engine(f"sqlite:///{summary.database}") as engine:
        for case_id, _state in change.new_cases:
            assert engine.case(case_id).definition_version == 2
    assert summary.audit.intact
