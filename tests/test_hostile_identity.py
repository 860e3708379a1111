"""County, agency and ids are what the A5.2 scopes compare (issue 17): a zero-width space, a
traditional variant or a look-alike letter put a cadre outside every real scope. The roster
check NFKC-normalises them, refuses invisible characters and checks county and agency against
the administrative list (`workflow.roster.vocabulary`); `cadres import` exits 2 naming the row,
nothing written, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from workflow.cli.main import main
from workflow.roster import InvalidRecord, parse_record
from workflow.roster.vocabulary import AGENCIES, COUNTIES
from workflow.store.schema import cadres

EXAMPLE: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[1] / "examples" / "roster.json").read_text("utf-8")
)[0]
TODAY = date(2024, 5, 6)


def problems(**changes: Any) -> list[str]:
    try:
        parse_record({**EXAMPLE, **changes}, today=TODAY)
    except InvalidRecord as invalid:
        return [problem.field for problem in invalid.problems]
    return []


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"county": "东昌府\u200b区"}, "county"),  # zero-width space
        ({"agency": "\ufeff东昌府区军休所"}, "agency"),  # a BOM from a pasted cell
        ({"agency": "东昌府区军休所\u200d"}, "agency"),  # zero-width joiner
        ({"id": "LC-DCF\u2060-0001"}, "id"),  # word joiner
        ({"id": "LC-DCF-0001\u202e"}, "id"),  # right-to-left override
        ({"county": "東昌府區"}, "county"),  # traditional variant: no such county in the list
        ({"county": "聊城市"}, "county"),
        ({"agency": "东昌府区军休中心"}, "agency"),  # not on the administrative list
        ({"agency": "冠县军休所"}, "agency"),  # an agency of another county
        ({"id": "LС-DCF-0001"}, "id"),  # a Cyrillic С among Latin letters
        ({"id": "张-0001"}, "id"),
    ],
)
def test_a5_2_scope_keys_that_only_look_right_are_refused(
    changes: dict[str, Any], field: str
) -> None:
    assert field in problems(**changes)


def test_compatibility_forms_are_normalised_nfkc() -> None:
    record = parse_record(
        {**EXAMPLE, "id": "ＬＣ－ＤＣＦ－０００１", "county": "东昌府区"}, today=TODAY
    )
    assert record.id == "LC-DCF-0001"


def test_the_list_covers_every_county_and_the_examples_and_demo_still_pass() -> None:
    assert set(AGENCIES.values()) == set(COUNTIES)
    assert problems() == []


def test_cadres_import_refuses_a_zero_width_county_and_writes_nothing(
    db_url: str, tmp_path: Path
) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["--db", db_url, "db", "upgrade"]).exit_code == 0
    path = tmp_path / "roster.json"
    bad = {**EXAMPLE, "county": "东昌府\u200b区"}
    path.write_text(json.dumps([bad], ensure_ascii=False), encoding="utf-8")
    result = runner.invoke(
        main, ["--db", db_url, "--now", "2024-05-06T09:00", "cadres", "import", str(path)]
    )
    assert result.exit_code == 2, result.output
    assert "county" in result.output
    assert "U+200B" in result.output
    engine = sa.create_engine(db_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as connection:
            assert connection.execute(sa.select(sa.func.count()).select_from(cadres)).scalar() == 0
    finally:
        engine.dispose()
