"""The ``convalescence`` command: every command, and the documented exit codes (0 ok, 1 refused
with the article, 2 bad input or usage, 3 conflict, 4 not found), on real SQLite files.

Most runs go through click's test runner; a few run the installed console script in a real
process, to prove the exit status an officer's shell sees and that no traceback reaches it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from factories import (
    APPROVAL,
    AS_AGENCY,
    AS_CADRE,
    AS_FAMILY,
    CONSENT,
    HAPPY_PATH,
    cadre,
)
from plans_setup import seed_batch

from definitions import bundled_directory
from workflow import SHANGHAI, Engine, SimulatedClock
from workflow.cli.main import main
from workflow.contrib.mermaid import to_mermaid
from workflow.definition.loader import load_definition_file
from workflow.i18n import set_language
from workflow.store.migrate import head_revision

NOW = "2024-05-01T09:00"
CADRE = "LC-DCF-0001"
OLD_CADRE = "LC-DCF-0002"  # 81 on 2024-06-03, the first day of the batch in APPROVAL
SCRIPT = Path(sys.executable).parent / "convalescence"
BUNDLED = bundled_directory() / "honor_convalescence.yaml"


@pytest.fixture
def url(tmp_path: Path) -> str:
    """A SQLite file holding two cadres, written through the engine as a roster import would."""
    address = f"sqlite:///{tmp_path / 'cli.db'}"
    # plans and batches are created while the policy is in force (A21.1)
    planning = SimulatedClock(datetime(2024, 5, 6, 9, 30, tzinfo=SHANGHAI))
    with Engine(address, auto_upgrade=True, clock=planning) as engine:
        engine.put_cadres([cadre(CADRE), cadre(OLD_CADRE, name="李振华", birth_date="1943-06-01")])
        seed_batch(engine)  # the batch APPROVAL names
    return address


def cli(url: str, *args: str, now: str | None = NOW) -> Result:
    clock = ["--now", now] if now else []
    return CliRunner().invoke(main, ["--db", url, *clock, *args], catch_exceptions=False)


def data(values: dict[str, Any]) -> list[str]:
    return [arg for key, value in values.items() for arg in ("--data", f"{key}={value}")]


def fire(url: str, case_id: int, trigger: str, actor: str, *extra: str) -> Result:
    return cli(url, "cases", "fire", str(case_id), trigger, "--as", actor, *extra)


def start_seeded_batch(url: str) -> None:
    """The organiser fits the staff to the one cadre seated (A12.1) and starts the batch
    APPROVAL names (A13.1), as an officer would at the command line."""
    batch, officer = str(APPROVAL["batch_id"]), "city_officer:赵敏"
    for args in (("update", batch, "--staff", "1"), ("start", batch)):
        result = cli(url, "batches", *args, "--as", officer)
        assert result.exit_code == 0, (args, result.stderr)


def as_json(result: Result) -> Any:
    return json.loads(result.stdout)


def open_case(url: str, cadre_id: str = CADRE, *, now: str = NOW) -> dict[str, Any]:
    result = cli(
        url,
        "cases",
        "open",
        "--cadre",
        cadre_id,
        "--as",
        AS_AGENCY,  # the agency registers any of its cadres (a cadre only under his own name)
        "--data",
        "plan_level=city",
        "--json",
        now=now,
    )
    assert result.exit_code == 0, result.stderr
    return dict(as_json(result))


def consented_case(url: str, cadre_id: str = CADRE) -> int:
    case_id = int(open_case(url, cadre_id)["id"])
    result = fire(url, case_id, "consent", f"family:张丽@{cadre_id}", *data(CONSENT))
    assert result.exit_code == 0, result.stderr
    return case_id


# -- the group ----------------------------------------------------------------------------


def test_help_documents_the_exit_codes() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for line in (
        "0  成功",
        "1  被规则拒绝（消息引用条款）",
        "2  输入或用法有误",
        "3  冲突",
        "4  找不到",
    ):
        assert line in result.stdout
    for command in ("db", "definitions", "cases"):
        assert command in result.stdout
    english = CliRunner().invoke(main, ["--help", "--lang", "en"])
    for line in (
        "0  ok",
        "1  refused by a rule (message cites the article)",
        "2  bad input or usage",
        "3  conflict",
        "4  not found",
    ):
        assert line in english.stdout


def test_database_comes_from_the_environment_then_the_working_directory(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    open_case(url)
    from_env = CliRunner(env={"CONVALESCENCE_DB": url}).invoke(main, ["cases", "list", "--json"])
    assert [case["cadre_id"] for case in json.loads(from_env.stdout)] == [CADRE]

    elsewhere = tmp_path / "office"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.delenv("CONVALESCENCE_DB", raising=False)
    missing = CliRunner().invoke(main, ["cases", "list", "--json"])
    assert missing.exit_code == 2, "only db upgrade and demo create a database (issue 17)"
    assert not (elsewhere / "convalescence.db").exists()
    assert CliRunner().invoke(main, ["db", "upgrade"]).exit_code == 0
    default = CliRunner().invoke(main, ["cases", "list", "--json"])
    assert default.exit_code == 0, default.stderr
    assert json.loads(default.stdout) == []


def test_a_bad_now_is_a_usage_error(url: str) -> None:
    result = cli(url, "cases", "list", now="yesterday")
    assert result.exit_code == 2
    assert "'yesterday' 不是日期时间" in result.stderr


# -- db -----------------------------------------------------------------------------------


def test_db_upgrade_reports_before_and_after(tmp_path: Path) -> None:
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    first = cli(fresh, "db", "upgrade", "--json")
    assert first.exit_code == 0, first.stderr
    assert as_json(first) == {
        "url": fresh,
        "before": None,
        "after": head_revision(),
        "changed": True,
    }
    again = cli(fresh, "db", "upgrade", "--json")
    assert as_json(again)["before"] == as_json(again)["after"] == head_revision()
    assert as_json(again)["changed"] is False
    text = cli(fresh, "db", "upgrade")
    assert f"库结构已是修订版本 {head_revision()}" in text.stdout


def test_an_unreachable_database_is_one_line_with_the_password_masked() -> None:
    secret = "postgresql://officer:s3cret-pw@127.0.0.1:1/cases"
    result = cli(secret, "cases", "list")
    assert result.exit_code == 7  # database unavailable (issue 17), not bad input
    assert "s3cret-pw" not in result.stderr + result.stdout
    assert "postgresql://officer:***@127.0.0.1:1/cases" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1

    as_data = cli(secret, "cases", "list", "--json")
    assert as_json(as_data)["error"] == "database_unreachable"
    assert "s3cret-pw" not in as_data.stdout


def test_a_sqlite_file_that_cannot_be_created_is_bad_input(tmp_path: Path) -> None:
    result = cli(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.db'}", "cases", "list")
    assert result.exit_code == 2
    assert "不存在" in result.stderr  # only db upgrade and demo create a database
    upgrade = cli(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.db'}", "db", "upgrade")
    assert upgrade.exit_code == 2
    assert "不存在" in upgrade.stderr


@pytest.mark.postgres
def test_postgres_needs_an_explicit_upgrade(pg_url: str) -> None:
    """A shared database changes schema only when an officer asks (A19.1: nothing silent)."""
    refused = cli(pg_url, "cases", "list")
    assert refused.exit_code == 2
    assert "convalescence db upgrade" in refused.stderr
    upgraded = cli(pg_url, "db", "upgrade", "--json")
    assert upgraded.exit_code == 0, upgraded.stderr
    assert as_json(upgraded)["after"] == head_revision()
    assert as_json(cli(pg_url, "cases", "list", "--json")) == []


# -- definitions --------------------------------------------------------------------------


def test_validate_checks_the_bundled_definitions_by_default() -> None:
    result = CliRunner().invoke(main, ["definitions", "validate"])
    assert result.exit_code == 0, result.stdout
    assert f"{BUNDLED}：通过（honor_convalescence v1" in result.stdout
    report = json.loads(CliRunner().invoke(main, ["definitions", "validate", "--json"]).stdout)
    assert report["valid"] is True
    assert report["problems"] == []
    assert {"file": str(BUNDLED), "valid": True, "name": "honor_convalescence", "version": 1} in (
        report["files"]
    )
    assert all(entry["valid"] for entry in report["files"])
    assert {entry["name"] for entry in report["files"]} == {
        "honor_convalescence",
        "condolence_visit",
    }


BROKEN = """\
name: broken_flow
version: 1
title: 损坏的流程
policy:
  title: 测试政策
  document: 测试〔2023〕1号
  effective_from: 2023-02-30
  effective_until: 2025-12-31
roles:
  cadre: 军休干部本人
  agency_officer: 军休机构工作人员
initial: registered
open:
  label: 报名
  roles: [cadre]
states:
  - name: registered
    label: 已报名
    colour: red
  - name: approved
    label: 已批准
  - name: stuck
    label: 卡住
  - name: done
    label: 完成
    terminal: true
transitions:
  - trigger: approve
    label: 批准
    source: registered
    dest: approved
    roles: [agency_officer]
    guards: [no_such_rule]
  - trigger: approve
    label: 再批准
    source: registered
    dest: done
    roles: [agency_officer]
  - trigger: finish
    label: 完成
    source: approved
    dest: done
    roles: [agency_officer]
  - trigger: skip
    label: 跳过
    source: approved
    dest: finished
    roles: [agency_officer]
"""

# (line, column, message start) of every problem in BROKEN, in file order
BROKEN_PROBLEMS = [
    (7, 19, "'2023-02-30' is not a real date"),
    (19, 5, "unknown key 'colour'"),
    (22, 11, "non-terminal state 'stuck' has no transition any role may fire"),
    (22, 11, "state 'stuck' is unreachable from initial 'registered'"),
    (33, 14, "unknown guard 'no_such_rule'"),
    (
        36,
        13,
        "duplicate transition: trigger 'approve' from state 'registered' is already "
        "defined on line 30",
    ),
    (47, 11, "unknown state 'finished'"),
]


def test_validate_locates_every_problem_of_a_broken_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(BROKEN, encoding="utf-8")
    chinese = CliRunner().invoke(main, ["definitions", "validate", str(broken)])
    assert chinese.exit_code == 2
    assert f"{broken}:47:11: 未知状态 'finished'" in chinese.stdout
    # the table above is the English translation (--lang en), in file order
    result = CliRunner().invoke(main, ["--lang", "en", "definitions", "validate", str(broken)])
    set_language(None)
    assert result.exit_code == 2
    lines = result.stdout.splitlines()
    assert len(lines) == len(BROKEN_PROBLEMS), lines
    for line, (row, column, message) in zip(lines, BROKEN_PROBLEMS, strict=True):
        assert line.startswith(f"{broken}:{row}:{column}: {message}"), line

    report = json.loads(
        CliRunner().invoke(main, ["definitions", "validate", "--json", str(broken)]).stdout
    )
    assert report["valid"] is False
    located = [(p["line"], p["column"]) for p in report["problems"]]
    assert located == [(row, column) for row, column, _ in BROKEN_PROBLEMS]
    assert {p["file"] for p in report["problems"]} == {str(broken)}


def test_validate_expands_directories_and_keeps_valid_files_ok(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text(BROKEN, encoding="utf-8")
    (tmp_path / "good.yaml").write_text(BUNDLED.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "notes.txt").write_text("not a definition", encoding="utf-8")
    result = CliRunner().invoke(main, ["definitions", "validate", str(tmp_path)])
    assert result.exit_code == 2
    assert f"{tmp_path / 'good.yaml'}：通过" in result.stdout
    assert "notes.txt" not in result.stdout


def test_validate_reports_versions_whose_windows_overlap(tmp_path: Path) -> None:
    """A21.1: two versions in force on the same day would leave the rules undecided."""
    text = BUNDLED.read_text(encoding="utf-8")
    (tmp_path / "v1.yaml").write_text(text, encoding="utf-8")
    successor = text.replace("version: 1", "version: 2").replace(
        "effective_from: 2023-03-23", "effective_from: 2025-06-01"
    )
    (tmp_path / "v2.yaml").write_text(successor, encoding="utf-8")
    result = CliRunner().invoke(main, ["definitions", "validate", str(tmp_path)])
    assert result.exit_code == 2
    line = next(n for n, row in enumerate(successor.splitlines(), 1) if "effective_from:" in row)
    overlap = [row for row in result.stdout.splitlines() if "有效期重叠" in row]
    assert len(overlap) == 1, result.stdout
    where = f"{tmp_path / 'v2.yaml'}:{line}:3"
    assert overlap[0].startswith(f"{where}: honor_convalescence v2 自 2025-06-01 起生效")
    assert f"{tmp_path / 'v1.yaml'}：通过" in result.stdout


def test_validate_with_no_yaml_in_the_directory_is_bad_input(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["definitions", "validate", str(tmp_path)])
    assert result.exit_code == 2
    assert "没有 *.yaml 流程定义文件" in result.stderr


def test_show_json_is_the_definition_summary() -> None:
    result = CliRunner().invoke(main, ["definitions", "show", "--json"])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == load_definition_file(BUNDLED).summary()


def test_show_text_has_policy_states_and_steps() -> None:
    result = CliRunner().invoke(main, ["definitions", "show", "honor_convalescence"])
    assert result.exit_code == 0
    for expected in (
        "聊退役军人发〔2023〕2号",
        "2025-12-31",
        "已完成满意度评价",
        "终态",
        "under_age_limit_on_first_day",  # a guard
        "batch_id:integer",  # a field
        "agency_officer",  # a role
    ):
        assert expected in result.stdout


def test_show_reads_a_file_named_by_path(tmp_path: Path) -> None:
    draft = tmp_path / "draft.yaml"
    draft.write_text(
        BUNDLED.read_text(encoding="utf-8").replace("version: 1", "version: 7"), encoding="utf-8"
    )
    result = CliRunner().invoke(main, ["definitions", "show", str(draft), "--json"])
    assert json.loads(result.stdout)["version"] == 7
    mismatch = CliRunner().invoke(main, ["definitions", "show", str(draft), "--version", "2"])
    assert mismatch.exit_code == 2


@pytest.mark.parametrize(
    "args", [["nope"], ["honor_convalescence", "--version", "9"]], ids=["name", "version"]
)
def test_show_an_unknown_definition_is_not_found(args: list[str]) -> None:
    result = CliRunner().invoke(main, ["definitions", "show", *args, "--json"])
    assert result.exit_code == 4
    assert json.loads(result.stdout)["error"] == "not_found"


def test_diagram_prints_the_mermaid_text() -> None:
    result = CliRunner().invoke(main, ["definitions", "diagram"])
    assert result.exit_code == 0
    assert result.stdout == to_mermaid(load_definition_file(BUNDLED))
    assert result.stdout.startswith("stateDiagram-v2\n")
    named = CliRunner().invoke(main, ["definitions", "diagram", "honor_convalescence"])
    assert named.stdout == result.stdout


# -- cases: the whole of art. 7 -----------------------------------------------------------


def test_a_case_runs_from_registration_to_evaluation(url: str) -> None:
    case = open_case(url)
    assert (case["state"], case["version"], case["cadre_id"]) == ("registered", 1, CADRE)
    for trigger, actor, values in HAPPY_PATH:
        if trigger == "attend":  # attendance only in a started batch (A13.1)
            start_seeded_batch(url)
        version = ["--expect-version", str(case["version"])]
        result = fire(url, case["id"], trigger, actor, *data(values), *version, "--json")
        assert result.exit_code == 0, (trigger, result.stderr)
        case = as_json(result)
    assert (case["state"], case["terminal"], case["version"]) == ("evaluated", True, 7)
    assert case["evidence"]["agreement_no"] == "LC-2024-001"
    assert case["evidence"]["satisfaction"] == 5
    assert case["next_steps"] == []

    history = as_json(cli(url, "cases", "history", str(case["id"]), "--json"))
    assert [row["trigger"] for row in history] == ["open", *(step[0] for step in HAPPY_PATH)]
    assert [row["seq"] for row in history] == list(range(1, 8))
    assert history[2]["role"] == "agency_officer"
    assert history[2]["data"]["batch_id"] == APPROVAL["batch_id"]
    assert history[2]["data"]["batch_start"] == "2024-06-03"  # copied from the batch (A6.2)
    assert all(row["at"].startswith("2024-05-01T09:00:00+08:00") for row in history)

    shown = cli(url, "cases", "show", str(case["id"]))
    assert "evaluated（已完成满意度评价）" in shown.stdout
    assert "LC-2024-001" in shown.stdout
    assert as_json(cli(url, "cases", "show", str(case["id"]), "--json")) == case


def test_show_lists_the_next_steps_and_who_may_take_them(url: str) -> None:
    case_id = consented_case(url)
    shown = as_json(cli(url, "cases", "show", str(case_id), "--json"))
    approve = next(step for step in shown["next_steps"] if step["trigger"] == "approve")
    assert approve == {
        "trigger": "approve",
        "label": "军休机构批准",
        "dest": "agency_approved",
        "roles": ["agency_officer"],
    }
    text = cli(url, "cases", "show", str(case_id)).stdout
    assert "family_consented（家属已同意）" in text
    assert "approve" in text
    assert "agency_officer" in text


def test_history_text_prints_markup_literally(url: str) -> None:
    """Officers type free text; rich must not swallow '[red]' as a style tag."""
    case_id = int(open_case(url)["id"])
    reason = "[red]家属电话确认[/red]"
    fired = fire(url, case_id, "consent", AS_FAMILY, *data(CONSENT), "--reason", reason)
    assert fired.exit_code == 0, fired.stderr
    text = cli(url, "cases", "history", str(case_id)).stdout
    assert reason in text
    assert "relation=女儿" in text


def test_list_filters_and_pages(url: str) -> None:
    first = int(open_case(url)["id"])
    second = consented_case(url, OLD_CADRE)

    def ids(*args: str) -> list[int]:
        result = cli(url, "cases", "list", "--json", *args)
        assert result.exit_code == 0, result.stderr
        return [case["id"] for case in as_json(result)]

    assert ids() == [first, second]
    assert ids("--state", "family_consented") == [second]
    assert ids("--cadre", CADRE) == [first]
    assert ids("--county", "东昌府区", "--agency", "东昌府区军休所") == [first, second]
    assert ids("--county", "冠县") == []
    assert ids("--limit", "1") == [first]
    assert ids("--limit", "1", "--offset", "1") == [second]
    assert fire(url, first, "withdraw", AS_CADRE, "--data", "for_health=否").exit_code == 0
    assert ids("--open") == [second]
    text = cli(url, "cases", "list").stdout
    assert "withdrawn" in text
    assert "2 件案件" in text
    assert "更新时间" in text
    try:  # one voice (issue 11): the same listing in English when asked
        english = cli(url, "--lang", "en", "cases", "list").stdout
    finally:
        set_language(None)
    assert "2 cases" in english
    assert "updated" in english
    assert "更新时间" not in english


# -- cases: refusals and errors -----------------------------------------------------------


def test_approval_into_a_batch_that_does_not_exist_is_bad_input_naming_the_field(url: str) -> None:
    case_id = consented_case(url, CADRE)
    result = fire(url, case_id, "approve", AS_AGENCY, "--data", "batch_id=2")
    assert result.exit_code == 2
    assert "批次 2 不存在" in result.stderr
    assert "batch_id" in result.stderr
    assert as_json(cli(url, "cases", "show", str(case_id), "--json"))["version"] == 2


@pytest.mark.parametrize(
    ("cadre_id", "approval", "article", "phrase"),
    [
        pytest.param(OLD_CADRE, APPROVAL, "A8.2", "年满81周岁", id="aged-81-on-first-day"),
    ],
)
def test_a_rule_refusal_exits_1_citing_the_article(
    url: str, cadre_id: str, approval: dict[str, str], article: str, phrase: str
) -> None:
    case_id = consented_case(url, cadre_id)
    args = ["cases", "fire", str(case_id), "approve", "--as", AS_AGENCY]
    result = cli(url, *args, *data(approval))
    assert result.exit_code == 1
    assert f"依据{article}" in result.stderr
    assert phrase in result.stderr
    assert "Traceback" not in result.stderr

    refused = cli(url, *args, *data(approval), "--json")
    assert refused.exit_code == 1
    body = as_json(refused)
    assert body["error"] == "refused"
    assert body["case_id"] == case_id
    assert [r["article"] for r in body["refusals"]] == [article]
    assert set(body["refusals"][0]) == {"article", "rule", "message"}
    unchanged = as_json(cli(url, "cases", "show", str(case_id), "--json"))
    assert (unchanged["state"], unchanged["version"]) == ("family_consented", 2)


def test_opening_after_the_policy_expired_is_refused_citing_article_21(url: str) -> None:
    """A21.1: the 2023 rules are in force until 2025-12-31 only."""
    args = [
        "cases",
        "open",
        "--cadre",
        CADRE,
        "--as",
        AS_CADRE,
        "--data",
        "plan_level=city",
    ]
    result = cli(url, *args, now="2026-01-05T09:00")
    assert result.exit_code == 1
    assert "依据A21.1" in result.stderr
    assert "2026-01-05" in result.stderr
    body = as_json(cli(url, *args, "--json", now="2026-01-05T09:00"))
    assert body["refusals"][0]["article"] == "A21.1"
    assert body["case_id"] is None
    assert as_json(cli(url, "cases", "list", "--json")) == []


def test_opening_without_the_years_plan_is_refused_citing_a3_2(url: str) -> None:
    """A3.2: the database holds the 2024 plans only; a registration in 2025 names none until
    the city makes the year's plan."""
    args = ["cases", "open", "--cadre", CADRE, "--as", AS_CADRE, "--data", "plan_level=city"]
    result = cli(url, *args, now="2025-02-03T09:00")
    assert result.exit_code == 1
    assert "依据A3.2" in result.stderr
    assert "尚无2025 年度市级荣誉疗养计划（周期 2024-2025）" in result.stderr
    assert "Traceback" not in result.stderr
    assert as_json(cli(url, "cases", "list", "--json")) == []

    plan = ["plans", "create", "--year", "2025", "--level", "city", "--budget", "500000"]
    made = cli(url, *plan, "--cycle", "2024-2025", "--as", "city_officer:赵敏")
    assert made.exit_code == 0, made.stderr
    assert cli(url, *args, now="2025-02-03T09:00").exit_code == 0


def test_a_role_that_may_not_take_the_step_is_refused_citing_a5_2(url: str) -> None:
    case_id = consented_case(url)
    result = fire(url, case_id, "approve", AS_FAMILY, *data(APPROVAL), "--json")
    assert result.exit_code == 1
    assert as_json(result)["refusals"][0]["article"] == "A5.2"
    assert "依据A5.2" in result.stderr


def test_a_step_out_of_order_is_refused_citing_a7_1(url: str) -> None:
    case_id = int(open_case(url)["id"])
    result = fire(url, case_id, "evaluate", AS_CADRE, "--data", "satisfaction=5", "--json")
    assert result.exit_code == 1
    body = as_json(result)
    assert body["refusals"][0]["article"] == "A7.1"
    assert body["state"] == "registered"
    assert "consent" in body["allowed"]


def test_a_stale_expected_version_is_a_conflict_and_writes_nothing(url: str) -> None:
    case_id = consented_case(url)  # now at version 2
    args = ["cases", "fire", str(case_id), "approve", "--as", AS_AGENCY]
    result = cli(url, *args, *data(APPROVAL), "--expect-version", "1")
    assert result.exit_code == 3
    assert "期望版本 1，当前版本 2" in result.stderr
    body = as_json(cli(url, *args, *data(APPROVAL), "--expect-version", "1", "--json"))
    assert body == {
        "error": "conflict",
        "message": body["message"],
        "case_id": case_id,
        "expected_version": 1,
        "actual_version": 2,
    }
    assert as_json(cli(url, "cases", "show", str(case_id), "--json"))["version"] == 2


@pytest.mark.parametrize(
    "args",
    [
        ["cases", "show", "999"],
        ["cases", "history", "999"],
        ["cases", "fire", "999", "consent", "--as", AS_FAMILY, *data(CONSENT)],
        [
            "cases",
            "open",
            "--cadre",
            "LC-NOBODY",
            "--as",
            "cadre:无名",
            "--data",
            "plan_level=city",
        ],
    ],
    ids=["show", "history", "fire", "open-unknown-cadre"],
)
def test_an_unknown_case_or_cadre_is_not_found(url: str, args: list[str]) -> None:
    result = cli(url, *args)
    assert result.exit_code == 4
    assert "找不到" in result.stderr
    assert as_json(cli(url, *args, "--json"))["error"] == "not_found"


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (["--data", "relation"], "'relation' 应形如 KEY=VALUE"),
        (["--data", "=女儿"], "'=女儿' 应形如 KEY=VALUE"),
        (["--data", "relation=女儿", "--data", "relation=儿子"], "'relation' 给出了不止一次"),
    ],
    ids=["no-equals", "no-key", "twice"],
)
def test_a_bad_data_item_is_a_usage_error_naming_it(url: str, extra: list[str], named: str) -> None:
    case_id = int(open_case(url)["id"])
    result = fire(url, case_id, "consent", AS_FAMILY, *extra)
    assert result.exit_code == 2
    assert named in result.stderr
    assert "--data" in result.stderr


def test_a_bad_actor_is_a_usage_error(url: str) -> None:
    result = cli(url, "cases", "open", "--cadre", CADRE, "--as", "cadre")
    assert result.exit_code == 2
    assert "应写作 ROLE:NAME 或 ROLE:NAME@SCOPE" in result.stderr


def test_an_unknown_trigger_is_bad_input(url: str) -> None:
    case_id = int(open_case(url)["id"])
    args = ["cases", "fire", str(case_id), "teleport", "--as", AS_AGENCY]
    result = cli(url, *args)
    assert result.exit_code == 2
    assert "“teleport”不是流程 honor_convalescence 的步骤" in result.stderr
    body = as_json(cli(url, *args, "--json"))
    assert (body["error"], body["field"]) == ("bad_input", "trigger")


def test_missing_evidence_is_bad_input_naming_the_field(url: str) -> None:
    case_id = int(open_case(url)["id"])
    result = fire(url, case_id, "consent", AS_FAMILY, "--data", "family_member=张丽")
    assert result.exit_code == 2
    assert "字段 'relation'" in result.stderr


# -- the installed script, in a real process ----------------------------------------------


APPROVE = ["cases", "fire", "{case}", "approve", "--as", AS_AGENCY]


@pytest.fixture
def refused_case(url: str) -> int:
    """A consented case of the cadre who is 80 on the batch's first day."""
    return consented_case(url, OLD_CADRE)


@pytest.mark.parametrize(
    ("args", "code", "stderr_has"),
    [
        (["cases", "list", "--json"], 0, ""),
        ([*APPROVE, *data(APPROVAL)], 1, "依据A8.2"),
        ([*APPROVE, "--data", "x"], 2, "KEY=VALUE"),
        (
            ["cases", "fire", "{case}", "teleport", "--as", AS_AGENCY],
            2,
            "teleport",
        ),
        ([*APPROVE, *data(APPROVAL), "--expect-version", "1"], 3, "期望版本 1"),
        (["cases", "show", "999"], 4, "找不到案件：999"),
    ],
    ids=["ok", "refused", "bad-data", "unknown-trigger", "conflict", "not-found"],
)
def test_the_installed_script_exits_with_the_documented_code(
    url: str, refused_case: int, args: list[str], code: int, stderr_has: str
) -> None:
    argv = [str(SCRIPT), "--db", url, "--now", NOW]
    argv += [arg.format(case=refused_case) for arg in args]
    result = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=120)
    assert result.returncode == code, result.stderr
    assert stderr_has in result.stderr
    assert "Traceback" not in result.stderr


def test_the_installed_script_reports_an_unreachable_database_without_a_traceback() -> None:
    argv = [str(SCRIPT), "--db", "postgresql://officer:pw-123@127.0.0.1:1/x", "cases", "list"]
    result = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=120)
    assert result.returncode == 7  # database unavailable (issue 17)
    assert "Traceback" not in result.stderr
    assert "pw-123" not in result.stderr
    assert result.stderr.count("\n") == 1
