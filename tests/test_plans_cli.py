"""``convalescence plans | contractors | batches`` end to end on a SQLite file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from workflow.cli.main import main


@pytest.fixture
def url(tmp_path: Path) -> str:
    address = f"sqlite:///{tmp_path / 'plans.db'}"
    upgraded = CliRunner().invoke(main, ["--db", address, "db", "upgrade"])  # only it creates one
    assert upgraded.exit_code == 0, upgraded.output
    return address


CITY = "city_officer:赵敏"


def cli(url: str, *args: str, actor: str | None = CITY) -> Result:
    """Run a command; the plans commands take ``--as`` (the city officer unless the test
    gives its own, or ``actor=None`` for none)."""
    who = ["--as", actor] if actor and "--as" not in args and args[0] != "db" else []
    command = ["--db", url, "--now", "2024-05-06T09:30", *args, *who]
    return CliRunner().invoke(main, command, catch_exceptions=False)


def ok(url: str, *args: str) -> Any:
    result = cli(url, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _plan_and_contractor(url: str) -> tuple[int, int]:
    plan = ok(
        url,
        "plans",
        "create",
        "--year",
        "2024",
        "--level",
        "city",
        "--budget",
        "500000",
        "--cycle",
        "2024-2025",
    )
    contractor = ok(
        url, "contractors", "create", "--name", "威海荣成疗养院", "--kind", "own_resource"
    )
    cid = str(contractor["id"])
    ok(
        url,
        "contractors",
        "qualify",
        cid,
        "--name",
        "医疗机构执业许可证",
        "--from",
        "2024-01-01",
        "--until",
        "2026-12-31",
    )
    ok(
        url,
        "contractors",
        "agree",
        cid,
        "--plan",
        str(plan["id"]),
        "--no",
        "XY-1",
        "--signed",
        "2024-03-01",
        "--from",
        "2024-03-01",
        "--until",
        "2024-12-31",
    )
    return plan["id"], contractor["id"]


def _batch_args(plan_id: int, contractor_id: int, *extra: str) -> list[str]:
    return [
        "batches",
        "add",
        "--plan",
        str(plan_id),
        "--contractor",
        str(contractor_id),
        "--place",
        "威海市荣成",
        "--start",
        "2024-06-03",
        "--end",
        "2024-06-09",
        "--capacity",
        "40",
        "--staff",
        "4",
        "--organiser-contact",
        "王芳:0635-1234567",
        *extra,
    ]


def test_a_batch_is_added_shown_and_listed(url: str) -> None:
    plan_id, contractor_id = _plan_and_contractor(url)
    batch = ok(url, *_batch_args(plan_id, contractor_id))
    shown = ok(url, "batches", "show", str(batch["id"]))
    assert shown["organiser_contacts"] == [{"name": "王芳", "phone": "0635-1234567"}]
    assert [b["id"] for b in ok(url, "batches", "list", "--plan", str(plan_id))] == [batch["id"]]
    table = cli(url, "batches", "show", str(batch["id"]))
    assert table.exit_code == 0
    assert "威海市荣成" in table.stdout


def test_an_eight_day_batch_is_refused_citing_the_article(url: str) -> None:
    plan_id, contractor_id = _plan_and_contractor(url)
    args = _batch_args(plan_id, contractor_id)
    args[args.index("2024-06-09")] = "2024-06-10"
    result = cli(url, *args)
    assert result.exit_code == 1
    assert "A6.2" in result.stderr
    assert ok(url, "batches", "list") == []


def test_start_without_plans_is_refused_then_an_incident_is_logged(url: str) -> None:
    plan_id, contractor_id = _plan_and_contractor(url)
    batch = ok(url, *_batch_args(plan_id, contractor_id))
    refused = cli(url, "batches", "start", str(batch["id"]))
    assert refused.exit_code == 1
    assert "A13.1" in refused.stderr
    ok(url, "batches", "incident", str(batch["id"]), "--description", "晕车", "--by", "李强")
    evaluate = ("batches", "evaluate", str(batch["id"]), "--score", "88", "--as", CITY)
    assert cli(url, *evaluate).exit_code == 1  # before the batch ended (A18.3)
    after = CliRunner().invoke(main, ["--db", url, "--now", "2024-06-10T09:00", *evaluate])
    assert after.exit_code == 0, after.output
    contractor = ok(url, "contractors", "show", str(contractor_id))
    assert contractor["average_score"] == 88


def test_out_of_province_needs_an_approved_exception(url: str) -> None:
    plan_id, contractor_id = _plan_and_contractor(url)
    args = _batch_args(plan_id, contractor_id, "--province", "江苏")
    assert cli(url, *args).exit_code == 1
    batch = ok(
        url,
        *args,
        "--exception",
        "out_of_province",
        "--reason",
        "省内疗养院检修",
    )
    exceptions = ok(url, "batches", "show", str(batch["id"]))["exceptions"]
    assert [e["rule"] for e in exceptions] == ["out_of_province"]


def test_unknown_batch_exits_4(url: str) -> None:
    assert cli(url, "batches", "show", "99").exit_code == 4


# -- database errors mapped once, on both databases ---------------------------------------------


@pytest.mark.parametrize(
    ("args", "field", "named"),
    [
        pytest.param(
            ("contractors", "create", "--name", "威海荣成疗养院", "--kind", "own_resource"),
            "name",
            "威海荣成疗养院",
            id="contractor-name",
        ),
    ],
)
def test_a_duplicate_is_exit_2_naming_it_not_a_traceback(
    db_url: str, args: tuple[str, ...], field: str, named: str
) -> None:
    """The unique index decides (two officers may type the same name at once); the officer
    reads which value clashed, in Chinese, and the exit code is an input error's (2)."""
    assert cli(db_url, "db", "upgrade").exit_code == 0  # a server database is not auto-created
    first = cli(db_url, *args)
    assert first.exit_code == 0, first.output
    second = CliRunner().invoke(
        main, ["--db", db_url, "--now", "2024-05-06T09:30", *args, "--as", CITY]
    )
    assert second.exit_code == 2, second.output
    assert isinstance(second.exception, SystemExit)  # no IntegrityError escaped
    assert "Traceback" not in second.output
    assert "IntegrityError" not in second.output
    assert named in second.stderr
    assert "已有同名承办单位" in second.stderr
    as_json = CliRunner().invoke(
        main, ["--db", db_url, "--now", "2024-05-06T09:30", *args, "--as", CITY, "--json"]
    )
    assert as_json.exit_code == 2
    assert json.loads(as_json.stdout)["field"] == field
    assert [c["name"] for c in ok(db_url, "contractors", "list")] == [named]


def test_a_duplicate_agreement_number_is_exit_2_naming_the_number(url: str) -> None:
    plan_id, contractor_id = _plan_and_contractor(url)
    again = cli(
        url,
        "contractors",
        "agree",
        str(contractor_id),
        "--plan",
        str(plan_id),
        "--no",
        "XY-1",
        "--signed",
        "2024-03-01",
        "--from",
        "2024-03-01",
        "--until",
        "2024-12-31",
    )
    assert again.exit_code == 2
    assert "XY-1" in again.stderr
    assert "协议编号" in again.stderr


# -- the definition's permissions, as the API applies them (A5.2) -------------------------------

PLAN = ("plans", "create", "--year", "2024", "--budget", "100000", "--cycle", "2024-2025")


def test_with_as_the_cli_applies_the_definitions_permissions(url: str) -> None:
    """The same table as the API's tokens: a county officer writes only its own county's plans,
    contractors are the city's, and a refusal cites A5.2 and writes nothing (exit 1)."""
    county = "--as", "county_officer:李娜@东昌府区"
    refused = cli(url, *PLAN, "--level", "city", *county)
    assert refused.exit_code == 1
    assert "A5.2" in refused.stderr
    assert "plans:write@市级" in refused.stderr
    other = cli(url, *PLAN, "--level", "county", "--county", "茌平区", *county)
    assert other.exit_code == 1
    assert ok(url, "plans", "list") == []
    own = ok(url, *PLAN, "--level", "county", "--county", "东昌府区", *county)
    assert own["county"] == "东昌府区"
    staff = cli(
        url, "contractors", "create", "--name", "x", "--kind", "own_resource",
        "--as", "contractor_staff:李强@1",
    )  # fmt: skip
    assert staff.exit_code == 1
    assert "contractors:write" in staff.stderr
    auditor = cli(url, *PLAN, "--level", "city", "--as", "auditor:审计员")
    assert auditor.exit_code == 1
    assert "plans:write" in auditor.stderr


def test_contractor_staff_see_and_report_only_their_own_batches(url: str) -> None:
    plan_id, contractor_id = _plan_and_contractor(url)
    batch = ok(url, *_batch_args(plan_id, contractor_id, "--as", "city_officer:赵敏"))
    own = "--as", f"contractor_staff:李强@{contractor_id}"
    other = "--as", f"contractor_staff:孙丽@{contractor_id + 1}"
    assert [b["id"] for b in ok(url, "batches", "list", *own)] == [batch["id"]]
    assert ok(url, "batches", "list", *other) == []
    assert cli(url, "batches", "show", str(batch["id"]), *other).exit_code == 1
    refused = cli(url, "batches", "incident", str(batch["id"]), "--description", "晕车", *other)
    assert refused.exit_code == 1
    assert "incidents:write" in refused.stderr
    logged = ok(url, "batches", "incident", str(batch["id"]), "--description", "晕车", *own)
    assert logged["reported_by"] == f"contractor_staff:李强@{contractor_id}"
    # the auditor reads but never writes (A5.1)
    assert cli(url, "batches", "show", str(batch["id"]), "--as", "auditor:审计员").exit_code == 0
    evaluate = cli(
        url, "batches", "evaluate", str(batch["id"]), "--score", "80", "--as", "auditor:a"
    )
    assert evaluate.exit_code == 1


def test_without_as_an_evaluation_is_a_usage_error_and_by_is_gone_A5_2(url: str) -> None:
    """The evaluator is the checked --as actor; a typed --by name is no longer accepted."""
    plan_id, contractor_id = _plan_and_contractor(url)
    batch = ok(url, *_batch_args(plan_id, contractor_id))
    evaluate = ("batches", "evaluate", str(batch["id"]), "--score", "80")
    assert cli(url, *evaluate, actor=None).exit_code == 2
    assert cli(url, *evaluate, "--by", "市局").exit_code == 2
