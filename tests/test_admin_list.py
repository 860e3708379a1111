"""The administrative list a roster's county and agency are checked against (issue 17, A5.2):
the shipped one by default, extended or replaced by an office's file (``--admin-list FILE`` or
$CONVALESCENCE_ADMIN_LIST) without a release; a bad file is exit 2 naming file:line. On SQLite
and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from factories import cadre

from workflow import Engine, InputError, SimulatedClock
from workflow.cli.settings import ADMIN_LIST_VAR
from workflow.errors import NotFoundError
from workflow.roster import admin_list
from workflow.roster.admin_list import AdminListFileError, read_admin_list
from workflow.roster.vocabulary import ADMIN_LIST

NEW_COUNTY = "聊城经济技术开发区"
NEW_AGENCY = "开发区军休所"
OFFICE_LIST = f"""\
# the office's additions to the shipped list
counties:
  {NEW_COUNTY}: [{NEW_AGENCY}]
  东昌府区: [东昌府区第二军休所]
"""


def office_file(tmp_path: Path, text: str = OFFICE_LIST, name: str = "admin.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def roster(tmp_path: Path, *records: dict[str, object]) -> Path:
    path = tmp_path / "roster.json"
    path.write_text(json.dumps(list(records), ensure_ascii=False), encoding="utf-8")
    return path


def run(db_url: str, *args: str, env: dict[str, str] | None = None) -> Result:
    from workflow.cli.main import main  # noqa: PLC0415

    return CliRunner().invoke(main, ["--db", db_url, *args], env=env)


@pytest.fixture
def upgraded(db_url: str) -> str:
    result = run(db_url, "db", "upgrade")
    assert result.exit_code == 0, result.output
    return db_url


def stored_county(db_url: str, cadre_id: str) -> str:
    with Engine(db_url) as engine:
        return str(engine.cadre(cadre_id)["county"])


def test_a5_2_cadres_import_accepts_a_county_and_agency_from_the_office_list(
    upgraded: str, tmp_path: Path
) -> None:
    path = roster(
        tmp_path,
        cadre("LC-KFQ-0001", county=NEW_COUNTY, agency=NEW_AGENCY),
        cadre("LC-DCF-0002", agency="东昌府区第二军休所"),
        cadre("LC-DCF-0003"),  # the shipped list still holds (an extension, not a replacement)
    )
    without = run(upgraded, "cadres", "import", str(path))
    assert without.exit_code == 2, without.output
    assert NEW_COUNTY in without.output
    listed = office_file(tmp_path)
    result = run(upgraded, "--admin-list", str(listed), "cadres", "import", str(path))
    assert result.exit_code == 0, result.output
    assert "新增 3" in result.stdout
    assert stored_county(upgraded, "LC-KFQ-0001") == NEW_COUNTY
    # the variable names the same file; the option may also follow the command
    by_env = run(upgraded, "cadres", "import", str(path), env={ADMIN_LIST_VAR: str(listed)})
    assert by_env.exit_code == 0, by_env.output
    after = run(upgraded, "cadres", "import", str(path), "--admin-list", str(listed))
    assert after.exit_code == 0, after.output


def test_a5_2_cadres_import_refuses_a_county_outside_the_list_naming_row_and_field(
    upgraded: str, tmp_path: Path
) -> None:
    path = roster(
        tmp_path,
        cadre("LC-DCF-0001"),
        cadre("LC-XX-0001", county="济南市历下区", agency=NEW_AGENCY),
    )
    listed = office_file(tmp_path)
    result = run(upgraded, "--admin-list", str(listed), "cadres", "import", str(path))
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"{path}:record 2 (line ")
    assert ": county: " in lines[0]
    assert "济南市历下区" in lines[0]
    assert NEW_COUNTY in lines[0]  # the list the county was checked against
    assert "Traceback" not in result.output
    with Engine(upgraded) as engine, pytest.raises(NotFoundError):
        engine.cadre("LC-DCF-0001")  # all or nothing: the good row was not written either


def test_a5_2_an_agency_of_another_county_on_the_list_is_refused(
    upgraded: str, tmp_path: Path
) -> None:
    path = roster(tmp_path, cadre("LC-DCF-0001", agency=NEW_AGENCY))  # 东昌府区, 开发区's agency
    listed = office_file(tmp_path)
    result = run(upgraded, "--admin-list", str(listed), "cadres", "import", str(path))
    assert result.exit_code == 2, result.output
    assert ": agency: " in result.stderr
    assert NEW_COUNTY in result.stderr


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("counties:\n  东昌府区: [a\n", 3, "YAML"),  # syntax: the parser's own position
        ("countys:\n  东昌府区: [x]\n", 1, "counties"),
        ("counties:\n  东昌府区: []\n", 2, "机构"),
        ("counties:\n  东昌府区: [x]\n  茌平区: [x]\n", 3, "只服务一个县"),
        ("counties:\n  东昌府区: [茌平区军休所]\n", 2, "只服务一个县"),  # a shipped agency
        ("counties:\n  东昌府区: [东昌\u200b府区军休所]\n", 2, "U+200B"),
        ("counties:\n  东昌府区: [x]\nreplace: yes please\n", 3, "replace"),
        ("counties:\n  东昌府区: [x]\nextra: 1\n", 3, "extra"),
    ],
)
def test_a_bad_admin_list_file_exits_2_naming_file_and_line(
    upgraded: str, tmp_path: Path, text: str, line: int, words: str
) -> None:
    listed = office_file(tmp_path, text)
    result = run(upgraded, "--admin-list", str(listed), "cases", "list")
    assert result.exit_code == 2, result.output
    assert f"{listed}:{line}:" in result.output
    assert words in result.output
    assert "Traceback" not in result.output


def test_a_missing_admin_list_file_exits_2_naming_it(upgraded: str, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.yaml"
    result = run(upgraded, "cases", "list", env={ADMIN_LIST_VAR: str(missing)})
    assert result.exit_code == 2, result.output
    assert f"{missing}:1:" in result.output


def test_replace_true_makes_the_file_the_whole_list(tmp_path: Path) -> None:
    assert admin_list.ADMIN_LIST_VAR == ADMIN_LIST_VAR  # the CLI and the API server read one
    replaced = read_admin_list(office_file(tmp_path, OFFICE_LIST + "replace: true\n"))
    assert set(replaced.counties) == {NEW_COUNTY, "东昌府区"}
    assert replaced.agencies == {NEW_AGENCY: NEW_COUNTY, "东昌府区第二军休所": "东昌府区"}
    extended = read_admin_list(office_file(tmp_path))
    assert set(extended.counties) == set(ADMIN_LIST.counties) | {NEW_COUNTY}
    assert extended.counties["东昌府区"] == ("东昌府区军休所", "东昌府区第二军休所")
    with pytest.raises(AdminListFileError):
        read_admin_list(office_file(tmp_path, "counties: 3\n"))


def test_engine_put_cadres_checks_the_engines_admin_list(
    db_url: str, clock: SimulatedClock, tmp_path: Path
) -> None:
    """One validation for every way in (issue 17): the host's put_cadres uses the same list."""
    record = cadre("LC-KFQ-0001", county=NEW_COUNTY, agency=NEW_AGENCY)
    with Engine(db_url, clock=clock) as shipped:
        shipped.upgrade_schema()
        with pytest.raises(InputError) as refused:
            shipped.put_cadres([record])
        assert refused.value.field == "county"
    office = read_admin_list(office_file(tmp_path))
    with Engine(db_url, clock=clock, admin_list=office) as engine:
        assert engine.put_cadres([record]) == 1
        assert engine.cadre("LC-KFQ-0001")["county"] == NEW_COUNTY
