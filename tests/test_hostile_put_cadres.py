"""One validation for every way in (issue 17): `Engine.put_cadres` refuses what ``cadres
import`` refuses (a category 外星人, a class-9 merit from 2090, a county off the administrative
list), with the same fields named, and stores a record as the importer does; nothing written
on a refusal; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from factories import cadre

from workflow import Engine, InputError
from workflow.cli.main import main
from workflow.errors import NotFoundError

BAD = [
    pytest.param({"category": "外星人"}, {"category"}, id="category"),
    pytest.param(
        {"merits": [{"class": 9, "wartime": False, "year": 2090}]},
        {"merits[1].class", "merits[1].year"},
        id="merit-class-9-from-2090",
    ),
    pytest.param({"county": "火星区"}, {"county"}, id="county-off-the-list"),
    pytest.param({"birth_date": "1950-02-30"}, {"birth_date"}, id="no-such-day"),
]


@pytest.mark.parametrize(("changes", "fields"), BAD)
def test_put_cadres_refuses_what_cadres_import_refuses(
    engine: Engine, db_url: str, tmp_path: Path, changes: dict[str, Any], fields: set[str]
) -> None:
    record = cadre(**changes)
    with pytest.raises(InputError) as refused:
        engine.put_cadres([cadre("LC-DCF-0009"), record])
    named = {field for field in fields if f"{field}:" in refused.value.message}
    assert named == fields, refused.value.message
    with pytest.raises(NotFoundError):
        engine.cadre("LC-DCF-0009")  # all or nothing: the good record was not written either

    path = tmp_path / "roster.json"
    path.write_text(json.dumps([record], ensure_ascii=False), encoding="utf-8")
    imported = CliRunner().invoke(
        main, ["--db", db_url, "--now", "2024-05-06T09:30", "cadres", "import", str(path)]
    )
    assert imported.exit_code == 2, imported.output
    for field in fields:
        assert f": {field}: " in imported.output


def test_put_cadres_stores_the_normal_form_the_importer_stores(engine: Engine) -> None:
    engine.put_cadres([cadre("ＬＣ－ＤＣＦ－０００１")])  # full-width: NFKC makes it LC-DCF-0001
    stored = engine.cadre("LC-DCF-0001")
    assert stored["id"] == "LC-DCF-0001"
    assert stored["health"] == {
        "self_care": True,
        "infectious": False,
        "mental": False,
        "critical": False,
    }
