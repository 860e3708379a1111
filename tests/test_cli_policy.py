"""The policy on the command line: ``eligibility explain`` (art. 4, 8, 21 without a database),
acting on someone's behalf (A7.2), granting exceptions (A8.2 with A5.2 approvers) and what
``cases show`` reveals of a case's cycle, tier, stored explanation and exceptions.

Real SQLite files in ``tmp_path``; click's runner for most runs, and the installed console
script in a real process once, to prove what an officer's shell sees.
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
    AS_COUNTY,
    BATCH_START,
    CONSENT,
    cadre,
)
from plans_setup import seed_batch

from workflow import SHANGHAI, Engine, SimulatedClock
from workflow.cli.main import main
from workflow.clock import SystemClock, shanghai_date
from workflow.engine import EXCEPTIONS_APPLIED

NOW = "2024-05-06T09:30"  # inside the 2024-2025 cycle
FIRST_DAY = BATCH_START  # 2024-06-03, the first day of the seeded batch
CADRE = "LC-DCF-0001"  # class-2 merit: city tier
OLD_CADRE = "LC-DCF-0002"  # 81 on FIRST_DAY (A8.2: over 80)
SCRIPT = Path(sys.executable).parent / "convalescence"
AGE_RULE = "under_age_limit_on_first_day"

REASON_KEYS = {"article": int, "rule": str, "passed": bool, "message": str}


# -- helpers ------------------------------------------------------------------------------


def write_profile(tmp_path: Path, value: Any, name: str = "profile.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(value, ensure_ascii=False), encoding="utf-8")
    return path


def explain(path: Path, level: str, on: str, *extra: str) -> Result:
    """No ``--db``: the command must not need one."""
    args = ["eligibility", "explain", str(path), "--level", level, "--on", on, *extra]
    return CliRunner().invoke(main, args, catch_exceptions=False)


def explained(tmp_path: Path, level: str, on: str = FIRST_DAY, **overrides: Any) -> dict[str, Any]:
    """``explain --json`` on the factory cadre changed by ``overrides``; exit 0 either way."""
    result = explain(write_profile(tmp_path, cadre(**overrides)), level, on, "--json")
    assert result.exit_code == 0, result.stderr
    body: dict[str, Any] = json.loads(result.stdout)
    return body


def reason(body: dict[str, Any], rule: str) -> dict[str, Any]:
    found: dict[str, Any] = next(r for r in body["reasons"] if r["rule"] == rule)
    return found


def decisive_failures(body: dict[str, Any]) -> set[str]:
    """Failed clauses other than single art. 4 criteria (A4.1, A4.3): one matching criterion is
    enough, so an unmatched one is information; A4.4 says whether the tier fits the plan."""
    return {r["clause"] for r in body["reasons"] if not r["passed"]} - {"A4.1", "A4.3"}


THIRD_CLASS = [{"class": 3, "wartime": False, "year": 1979}]


# -- eligibility explain: art. 4 tiers ----------------------------------------------------


def test_a_class_2_merit_is_city_tier_and_the_json_has_the_documented_shape(
    tmp_path: Path,
) -> None:
    body = explained(tmp_path, "city")
    assert (body["eligible"], body["tier"]) == (True, "city")
    assert (body["level"], body["on"], body["definition"]) == (
        "city",
        FIRST_DAY,
        "honor_convalescence",
    )
    assert body["reasons"], "every fact and clause is listed (A4.2)"
    for item in body["reasons"]:
        for key, kind in REASON_KEYS.items():
            assert isinstance(item[key], kind), (key, item)
    merit = reason(body, "merit_second_class_or_higher")
    assert (merit["article"], merit["clause"], merit["passed"]) == (4, "A4.1", True)
    assert "二等功" in merit["message"]


def test_a_class_3_merit_without_recommendation_is_county_tier_only(tmp_path: Path) -> None:
    city = explained(tmp_path, "city", merits=THIRD_CLASS)
    assert (city["eligible"], city["tier"]) == (False, "county")
    admits = reason(city, "plan_admits_tier")
    assert (admits["clause"], admits["passed"]) == ("A4.4", False)
    assert decisive_failures(city) == {"A4.4"}
    assert "推荐记录" in reason(city, "recommended_third_class_merit")["message"]

    county = explained(tmp_path, "county", merits=THIRD_CLASS)
    assert (county["eligible"], county["tier"]) == (True, "county")
    assert reason(county, "plan_admits_tier")["passed"] is True


def test_a_recommendation_by_the_agency_with_a_reason_lifts_class_3_to_city(
    tmp_path: Path,
) -> None:
    """A4.3: recommender (body by name, officer, date) and reason on record."""
    recommendation = {"by": "agency", "reason": "抗洪抢险事迹突出", "date": "2024-03-01"}
    profile = write_profile(tmp_path, cadre(merits=THIRD_CLASS, recommendation=recommendation))
    who = ("--recommender-body", "东昌府区军休所", "--recommender-officer", "王芳")
    result = explain(profile, "city", FIRST_DAY, *who, "--json")
    assert result.exit_code == 0, result.stderr
    body = json.loads(result.stdout)
    assert (body["eligible"], body["tier"]) == (True, "city")
    recommended = reason(body, "recommended_third_class_merit")
    assert (recommended["clause"], recommended["passed"]) == ("A4.3", True)
    assert "抗洪抢险事迹突出" in recommended["message"]
    assert "东昌府区军休所（王芳）于2024-03-01推荐" in recommended["message"]


def test_a_wartime_class_3_merit_counts_as_class_2(tmp_path: Path) -> None:
    merits = [{"class": 3, "wartime": True, "year": 1979}]
    body = explained(tmp_path, "city", merits=merits)
    assert (body["eligible"], body["tier"]) == (True, "city")
    assert reason(body, "wartime_third_class_merit")["passed"] is True


def test_an_honour_in_the_year_of_placement_counts_with_the_benefit_of_the_doubt(
    tmp_path: Path,
) -> None:
    honours = [{"kind": "commendation", "level": "city", "year": 2008}]  # placed 2008-09-01
    body = explained(tmp_path, "city", merits=[], honours=honours)
    assert (body["eligible"], body["tier"]) == (True, "city")
    message = reason(body, "city_commendation_after_placement")["message"]
    assert "与移交安置同年" in message
    assert "有利于军休干部" in message


def test_an_honour_before_placement_does_not_count(tmp_path: Path) -> None:
    honours = [{"kind": "commendation", "level": "city", "year": 2007}]
    body = explained(tmp_path, "county", merits=[], honours=honours)
    assert (body["eligible"], body["tier"]) == (False, "none")
    commendation = reason(body, "county_commendation_after_placement")
    assert commendation["passed"] is False
    assert "移交安置之前" in commendation["message"]


# -- eligibility explain: art. 8 and art. 21 ----------------------------------------------


def test_a8_2_aged_exactly_80_is_eligible_and_81_is_not(tmp_path: Path) -> None:
    """A8.2 80周岁以下 includes 80 (以下 includes the number, as 三等功及以上 does in art. 4)."""
    eighty = explained(tmp_path, "city", on="2024-06-03", birth_date="1944-06-03")
    assert eighty["eligible"] is True
    assert "在80周岁以下（含80周岁）" in reason(eighty, AGE_RULE)["message"]
    born = "1943-06-03"
    eighty_one = explained(tmp_path, "city", on="2024-06-03", birth_date=born)
    assert (eighty_one["eligible"], eighty_one["tier"]) == (False, "city")
    age = reason(eighty_one, AGE_RULE)
    assert (age["article"], age["clause"], age["passed"]) == (8, "A8.2", False)
    assert "年满81周岁" in age["message"]
    assert decisive_failures(eighty_one) == {"A8.2"}
    day_before = explained(tmp_path, "city", on="2024-06-02", birth_date=born)
    assert day_before["eligible"] is True


def test_a_day_after_the_policy_expired_fails_a21_1_but_still_explains(tmp_path: Path) -> None:
    """The latest version answers, so the officer reads the expiry instead of an error."""
    body = explained(tmp_path, "city", on="2026-01-05")
    assert body["eligible"] is False
    expiry = reason(body, "policy_in_force")
    assert (expiry["article"], expiry["clause"], expiry["passed"]) == (21, "A21.1", False)
    assert "2025-12-31" in expiry["message"]
    assert decisive_failures(body) == {"A21.1"}


def test_the_text_is_the_chinese_sentences_one_per_line(tmp_path: Path) -> None:
    profile = write_profile(tmp_path, cadre(merits=THIRD_CLASS))
    result = explain(profile, "city", FIRST_DAY)
    assert result.exit_code == 0, "an ineligible cadre is an answer, not a refusal"
    lines = result.stdout.splitlines()
    assert lines[0].startswith("结论：")
    assert "不符合" in lines[0]
    assert "第四条" in result.stdout
    assert all(line.startswith(("✓", "✗")) for line in lines[1:]), lines
    assert any("第四条，A4.4" in line and line.startswith("✗") for line in lines)
    assert "第二十一条" in result.stdout


def test_a_one_record_roster_array_is_accepted(tmp_path: Path) -> None:
    path = write_profile(tmp_path, [cadre()])
    result = explain(path, "city", FIRST_DAY, "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["tier"] == "city"


def test_explain_needs_no_database(tmp_path: Path) -> None:
    unusable = f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.db'}"
    path = write_profile(tmp_path, cadre())
    args = ["--db", unusable, "eligibility", "explain", str(path), "--level", "city"]
    result = CliRunner().invoke(main, [*args, "--on", FIRST_DAY], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    assert not (tmp_path / "no").exists()


def test_on_defaults_to_the_global_now_then_to_today_in_shanghai(tmp_path: Path) -> None:
    """A8.2 counts the age on the day asked about; an officer on the telephone means today."""
    path = write_profile(tmp_path, cadre())
    args = ["eligibility", "explain", str(path), "--level", "city", "--json"]
    # 2024-06-02T17:00 UTC is already 3 June in Shanghai
    at_now = CliRunner().invoke(main, ["--now", "2024-06-02T17:00+00:00", *args])
    assert at_now.exit_code == 0, at_now.stderr
    assert json.loads(at_now.stdout)["on"] == "2024-06-03"
    after = CliRunner().invoke(main, [*args, "--now", "2024-06-02T17:00+00:00"])
    assert json.loads(after.stdout)["on"] == "2024-06-03"
    given = CliRunner().invoke(
        main, ["--now", "2024-06-02T17:00+00:00", *args, "--on", "2025-01-02"]
    )
    assert json.loads(given.stdout)["on"] == "2025-01-02"
    today = CliRunner().invoke(main, args)
    assert today.exit_code == 0, today.stderr
    assert json.loads(today.stdout)["on"] == shanghai_date(SystemClock().now()).isoformat()


# -- eligibility explain: bad input exits 2, naming the file and the key ------------------


def test_a_file_that_is_not_json_is_bad_input_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"birth_date": "1950-03-12",}', encoding="utf-8")
    result = explain(path, "city", FIRST_DAY)
    assert result.exit_code == 2
    assert str(path) in result.stderr
    assert "不是有效的 JSON" in result.stderr
    assert "第 1 行" in result.stderr
    body = json.loads(explain(path, "city", FIRST_DAY, "--json").stdout)
    assert (body["error"], body["field"]) == ("bad_input", "profile")


@pytest.mark.parametrize(
    ("profile", "named"),
    [
        pytest.param(
            {k: v for k, v in cadre().items() if k != "birth_date"},
            "birth_date: 缺失",
            id="no-birth-date",
        ),
        pytest.param(cadre(birth_date="1950-13-01"), "birth_date: '1950-13-01'", id="bad-date"),
        pytest.param(cadre(merits=[{"class": 4, "year": 1979}]), "merits[1].class", id="class-4"),
        pytest.param(
            cadre(honours=[{"kind": "commendation", "level": "town", "year": 2010}]),
            "honours[1].level",
            id="level",
        ),
        pytest.param(cadre(recommendation={"by": "mayor"}), "recommendation.by", id="recommender"),
        pytest.param(cadre(hobby="书法"), "hobby: 未知的键", id="unknown-key"),
        pytest.param([cadre(), cadre("LC-DCF-0002")], "含 2 条记录", id="two-records"),
        pytest.param("张建国", "须为一条干部记录", id="not-an-object"),
    ],
)
def test_an_invalid_profile_is_bad_input_naming_the_file_and_the_key(
    tmp_path: Path, profile: Any, named: str
) -> None:
    path = write_profile(tmp_path, profile)
    result = explain(path, "city", FIRST_DAY)
    assert result.exit_code == 2
    assert str(path) in result.stderr
    assert named in result.stderr
    assert result.stdout == ""


def test_a_duplicate_key_and_a_missing_file_are_bad_input(tmp_path: Path) -> None:
    twice = tmp_path / "twice.json"
    twice.write_text('{"birth_date": "1950-03-12", "birth_date": "1940-03-12"}', encoding="utf-8")
    assert "键 'birth_date' 在同一对象中出现了两次" in explain(twice, "city", FIRST_DAY).stderr
    missing = explain(tmp_path / "absent.json", "city", FIRST_DAY)
    assert missing.exit_code == 2
    assert "absent.json：文件不存在" in missing.stderr


@pytest.mark.parametrize(
    ("args", "code", "named"),
    [
        (
            ["--level", "town", "--on", FIRST_DAY],
            2,
            "'town' 不是 honor_convalescence v1 的计划级别",
        ),
        (["--level", "city", "--on", "2024-13-01"], 2, "'2024-13-01' 不是日期"),
        (["--level", "city", "--on", FIRST_DAY, "--definition", "nope"], 4, "找不到"),
    ],
    ids=["level", "date", "definition"],
)
def test_bad_options_are_refused(tmp_path: Path, args: list[str], code: int, named: str) -> None:
    path = write_profile(tmp_path, cadre())
    result = CliRunner().invoke(main, ["eligibility", "explain", str(path), *args])
    assert result.exit_code == code
    assert named in result.stderr


def test_the_installed_script_explains_and_reports_a_bad_file_without_a_traceback(
    tmp_path: Path,
) -> None:
    good = write_profile(tmp_path, cadre())
    argv = [str(SCRIPT), "eligibility", "explain", "--level", "city", "--on", FIRST_DAY]
    answered = subprocess.run(
        [*argv, str(good), "--json"], capture_output=True, text=True, check=False, timeout=120
    )
    assert answered.returncode == 0, answered.stderr
    assert json.loads(answered.stdout)["eligible"] is True

    bad = tmp_path / "bad.json"
    bad.write_text("[{", encoding="utf-8")
    refused = subprocess.run(
        [*argv, str(bad)], capture_output=True, text=True, check=False, timeout=120
    )
    assert refused.returncode == 2
    assert str(bad) in refused.stderr
    assert "Traceback" not in refused.stderr


# -- cases: on behalf of, exceptions, show ------------------------------------------------


@pytest.fixture
def url(tmp_path: Path) -> str:
    address = f"sqlite:///{tmp_path / 'policy.db'}"
    # plans and batches are created while the policy is in force (A21.1)
    planning = SimulatedClock(datetime(2024, 5, 6, 9, 30, tzinfo=SHANGHAI))
    with Engine(address, auto_upgrade=True, clock=planning) as engine:
        engine.put_cadres([cadre(CADRE), cadre(OLD_CADRE, name="李振华", birth_date="1943-06-01")])
        seed_batch(engine)  # the batch APPROVAL names
    return address


def cli(url: str, *args: str) -> Result:
    return CliRunner().invoke(main, ["--db", url, "--now", NOW, *args], catch_exceptions=False)


def data(values: dict[str, str]) -> list[str]:
    return [arg for key, value in values.items() for arg in ("--data", f"{key}={value}")]


def open_case(url: str, cadre_id: str = CADRE) -> int:
    args = ["cases", "open", "--cadre", cadre_id, "--as", AS_AGENCY]
    result = cli(url, *args, "--data", "plan_level=city", "--json")
    assert result.exit_code == 0, result.stderr
    return int(json.loads(result.stdout)["id"])


def consented(url: str, cadre_id: str) -> int:
    case_id = open_case(url, cadre_id)
    result = cli(
        url,
        "cases",
        "fire",
        str(case_id),
        "consent",
        "--as",
        f"family:张丽@{cadre_id}",
        *data(CONSENT),
    )
    assert result.exit_code == 0, result.stderr
    return case_id


def test_consent_recorded_on_behalf_of_a_family_member_needs_the_paper_form(url: str) -> None:
    case_id = open_case(url)
    consent = [
        "cases",
        "fire",
        str(case_id),
        "consent",
        "--as",
        AS_AGENCY,
    ]
    behalf = ["--on-behalf-of", "张丽", *data(CONSENT)]

    refused = cli(url, *consent, *behalf, "--json")
    assert refused.exit_code == 1
    assert [r["article"] for r in json.loads(refused.stdout)["refusals"]] == ["A7.2"]
    assert "依据A7.2" in refused.stderr

    recorded = cli(url, *consent, *behalf, "--data", "consent_form_ref=JSTY-1")
    assert recorded.exit_code == 0, recorded.stderr
    history = json.loads(cli(url, "cases", "history", str(case_id), "--json").stdout)
    assert [(h["trigger"], h["on_behalf_of"]) for h in history] == [
        ("open", None),
        ("consent", "张丽"),
    ]
    assert history[1]["actor"] == "王芳"
    assert history[1]["data"]["consent_form_ref"] == "JSTY-1"
    text = cli(url, "cases", "history", str(case_id)).stdout
    assert "代谁办理" in text
    assert "张丽" in text


def test_a_blank_on_behalf_of_is_a_usage_error(url: str) -> None:
    case_id = open_case(url)
    args = ["cases", "fire", str(case_id), "consent", "--as", AS_AGENCY]
    result = cli(url, *args, "--on-behalf-of", "  ", *data(CONSENT))
    assert result.exit_code == 2
    assert "须写明一个人的姓名" in result.stderr


def test_an_exception_granted_by_an_approver_lets_an_81_year_old_be_approved(url: str) -> None:
    """A8.2 in principle, A5.2 only the listed approvers, A19.1 the step records what it used."""
    case_id = consented(url, OLD_CADRE)
    approve = [
        "cases",
        "fire",
        str(case_id),
        "approve",
        "--as",
        AS_AGENCY,
    ]
    refused = cli(url, *approve, *data(APPROVAL))
    assert refused.exit_code == 1
    assert "依据A8.2" in refused.stderr

    grant = ["cases", "grant-exception", str(case_id), AGE_RULE]
    why = ["--reason", "身体健康，本人及家属坚持参加"]
    by_agency = cli(url, *grant, "--as", AS_AGENCY, *why, "--json")
    assert by_agency.exit_code == 1
    assert [r["article"] for r in json.loads(by_agency.stdout)["refusals"]] == ["A5.2"]

    granted = cli(url, *grant, "--as", AS_COUNTY, *why, "--expect-version", "2")
    assert granted.exit_code == 0, granted.stderr
    assert "赵局长" in granted.stdout

    approved = cli(url, *approve, *data(APPROVAL), "--expect-version", "3", "--json")
    assert approved.exit_code == 0, approved.stderr
    assert json.loads(approved.stdout)["state"] == "agency_approved"
    history = json.loads(cli(url, "cases", "history", str(case_id), "--json").stdout)
    assert [h["trigger"] for h in history] == ["open", "consent", "grant_exception", "approve"]
    applied = history[-1]["data"][EXCEPTIONS_APPLIED]
    assert [(a["article"], a["rule"]) for a in applied] == [("A8.2", AGE_RULE)]
    assert history[2]["reason"] == "身体健康，本人及家属坚持参加"
    assert EXCEPTIONS_APPLIED in cli(url, "cases", "history", str(case_id)).stdout


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (["stay_within_seven_days", "--reason", "路途远"], "不允许例外"),
        ([AGE_RULE, "--reason", "   "], "例外须说明理由"),
        ([AGE_RULE], "缺少选项 '--reason'"),  # click's own words, in Chinese too
    ],
    ids=["rule-admits-none", "blank-reason", "no-reason"],
)
def test_a_bad_grant_is_bad_input_and_writes_nothing(
    url: str, extra: list[str], named: str
) -> None:
    case_id = consented(url, OLD_CADRE)
    args = ["cases", "grant-exception", str(case_id), *extra, "--as", "city_officer:孙处长"]
    result = cli(url, *args)
    assert result.exit_code == 2
    assert named in result.stderr
    shown = json.loads(cli(url, "cases", "show", str(case_id), "--json").stdout)
    assert (shown["version"], shown["exceptions"]) == (2, [])


def test_a_grant_on_a_stale_version_is_a_conflict(url: str) -> None:
    case_id = consented(url, OLD_CADRE)
    args = [
        "cases",
        "grant-exception",
        str(case_id),
        AGE_RULE,
        "--as",
        AS_COUNTY,
    ]
    result = cli(url, *args, "--reason", "身体健康", "--expect-version", "1")
    assert result.exit_code == 3


def test_show_has_the_cycle_tier_stored_explanation_and_exceptions(url: str) -> None:
    case_id = consented(url, OLD_CADRE)
    grant = [
        "cases",
        "grant-exception",
        str(case_id),
        AGE_RULE,
        "--as",
        AS_COUNTY,
    ]
    assert cli(url, *grant, "--reason", "身体健康").exit_code == 0

    shown = json.loads(cli(url, "cases", "show", str(case_id), "--json").stdout)
    assert (shown["cycle"], shown["tier"]) == ("2024-2025", "city")
    eligibility = shown["eligibility"]
    assert (eligibility["eligible"], eligibility["tier"], eligibility["level"]) == (
        True,
        "city",
        "city",
    )
    assert eligibility["on"] == NOW[:10]
    assert {r["clause"] for r in eligibility["reasons"]} >= {"A4.1", "A4.4", "A8.2", "A21.1"}
    [exception] = shown["exceptions"]
    assert exception | {"at": None} == {
        "rule": AGE_RULE,
        "article": "A8.2",
        "approver": "county_officer:赵局长",
        "approver_role": "county_officer",
        "approver_name": "赵局长",
        "reason": "身体健康",
        "at": None,
        "seq": 3,
    }
    assert exception["at"].startswith(f"{NOW}:00+08:00")

    text = cli(url, "cases", "show", str(case_id)).stdout
    for expected in ("2024-2025", "city", "结论：", "第四条", "第二十一条", AGE_RULE, "赵局长"):
        assert expected in text, expected


def test_every_command_that_prints_a_case_prints_the_same_shape(url: str) -> None:
    case_id = consented(url, CADRE)
    args = ["cases", "fire", str(case_id), "approve", "--as", AS_AGENCY]
    fired = json.loads(cli(url, *args, *data(APPROVAL), "--json").stdout)
    assert fired == json.loads(cli(url, "cases", "show", str(case_id), "--json").stdout)
    assert fired["exceptions"] == []
    assert fired["eligibility"]["eligible"] is True
