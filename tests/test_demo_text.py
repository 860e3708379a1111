"""The demo's closing summary reads as plain Chinese (issue 19 item 10): no internal counter or
rule names, no figure parted from its unit by a line break however narrow the terminal, and
command lines that open the demo's database and work as printed.

Fast: the summary is a `DemoSummary` built here and printed by the command's own printer; the
command lines run against a small real SQLite database (one cadre, one case), not a demo run.
"""

from __future__ import annotations

import io
import re
import shlex
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from factories import AS_AGENCY, REGISTRATION, cadre
from plans_setup import seed_plans
from rich.console import Console

from workflow import Engine, SimulatedClock
from workflow.audit.verify import Report
from workflow.cli.demo import SCHEDULER_PHRASES, _print_summary
from workflow.cli.main import main
from workflow.demo.run import DemoSummary
from workflow.demo.successor import SuccessorSummary
from workflow.i18n import set_language
from workflow.publishing import Published

REFUSALS = {
    "A4.4 eligible_for_plan_level": 5,
    "A5.2 out_of_scope": 1,
    "A8.2 under_age_limit_on_first_day": 3,
    "A12.1 staff_ratio": 21,
    "A18.3 contractor_exit": 28,
}
UNITS = "次个件名人份条"


def summary(database: Path, *, cases: int = 39) -> DemoSummary:
    """A summary as a 40-cadre demo leaves it, every scheduler counter included."""
    successor = SuccessorSummary(
        today=date(2026, 12, 1),
        draft_file=database.parent / "honor_convalescence-v2.yaml",
        published=Published(
            name="honor_convalescence",
            version=2,
            definition_id=3,
            content_hash="0" * 64,
            effective_from=date(2026, 1, 1),
            effective_until=date(2027, 12, 31),
        ),
        roster=40,
        closed_folder=database.parent / "cycle-2024-2025",
        new_cases=[(31, "family_consented"), (32, "family_consented"), (33, "registered")],
        visits_version=3,
    )
    return DemoSummary(
        directory=database.parent,
        database=database,
        cadres=40,
        cases=cases,
        transitions=182,
        final_states={
            "registered": ("已报名", 1),
            "family_consented": ("家属已同意", 8),
            "evaluated": ("已完成满意度评价", 21),
            "rejected": ("未获批准", 9),
        },
        refusals=Counter(REFUSALS),
        tiers=Counter(city=26, county=9, none=5),
        exceptions=Counter({"A8.2": 3}),
        on_behalf=6,
        simulated_until=date(2026, 1, 17),
        notices_dir=database.parent / "notices",
        notices=200,
        plans=18,
        batches=99,
        evaluations=99,
        contractors_dropped=("聊城安康旅游服务公司",),
        visits=Counter({key: 10 + n for n, key in enumerate(SCHEDULER_PHRASES)}),
        report=database.parent / "performance-2024.html",
        audit=Report(records=206, cases=39, batches=6, digest="0" * 64, broken=None),
        successor=successor,
    )


def printed(value: DemoSummary, width: int) -> str:
    out = io.StringIO()
    _print_summary(Console(file=out, width=width, color_system=None), value)
    return out.getvalue()


@pytest.fixture
def english() -> Iterator[None]:
    set_language("en")
    yield
    set_language(None)


@pytest.mark.parametrize("width", [40, 60, 80, 120])
def test_no_figure_is_parted_from_its_unit(width: int, tmp_path: Path) -> None:
    text = printed(summary(tmp_path / "convalescence.db"), width)
    assert not re.search(rf"\d[ \t]*\n[ \t│]*[{UNITS}]", text), text
    lines = text.splitlines()
    for whole in (
        "承办单位评价：99 次",
        "年度计划：18 个",
        "疗养批次：99 个",
        "案件：39 个，状态变更 182 次",
        "花名册：40 名军休干部",
        "  206 条记录，39 个案件，6 个批次",
    ):
        assert whole in lines, (whole, text)
    # a table keeps each count on the row of its words
    assert any("办理期限提醒" in line and "10" in line for line in lines), text
    assert any("已完成满意度" in line and "21" in line for line in lines), text


def test_no_internal_counter_rule_or_state_name_is_shown_as_words(tmp_path: Path) -> None:
    text = printed(summary(tmp_path / "convalescence.db"), 80)
    for key in SCHEDULER_PHRASES:
        assert key not in text
    assert not re.search(r"\b(timers|condolence|visits)\.[a-z_]+", text)
    for key in REFUSALS:
        assert key.split()[1] not in text
    assert "开启的重点走访慰问（A9.3）" in text
    assert "案件已办结而关闭的待办" in text
    assert "疗养首日已满80周岁" in text
    # the cases under the new version are told by their state's label, not its code
    assert "    家属已同意：案件 31、32" in text
    assert "    已报名：案件 33" in text
    assert "family_consented" not in text.split("政策变更")[1]


def test_in_english_too(tmp_path: Path, english: None) -> None:
    text = printed(summary(tmp_path / "convalescence.db"), 80)
    assert "Tasks closed as their case moved on" in text
    assert "over 80 on the batch's first day" in text
    assert "Look at the demo's database from the command line:" in text


def test_the_command_lines_printed_open_the_demo_database(
    tmp_path: Path, clock: SimulatedClock
) -> None:
    database = tmp_path / "convalescence.db"
    with Engine(f"sqlite:///{database}", clock=clock) as engine:
        engine.upgrade_schema()
        engine.put_cadres([cadre("LC-DCF-0001", name="张建国")])
        seed_plans(engine)
        engine.open_case("LC-DCF-0001", actor=AS_AGENCY, data=REGISTRATION)
    text = printed(summary(database, cases=1), 60)
    commands = [
        line.strip() for line in text.splitlines() if line.strip().startswith("convalescence ")
    ]
    assert f"convalescence --db sqlite:///{database} cases list --open" in commands
    assert any(" cadres list --as county_officer:" in c for c in commands)
    assert len(commands) >= 4
    for command in commands:
        args = shlex.split(command)[1:]
        result = CliRunner().invoke(main, args, catch_exceptions=False)
        assert result.exit_code == 0, (command, result.output)
        if " cadres list " in command or " cases " in command:
            assert "张建国" in result.stdout, (command, result.stdout)
