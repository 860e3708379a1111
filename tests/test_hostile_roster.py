"""Hostile roster files are refused cleanly (issue 17, "Bad input gets a clean refusal"): an
XLSX whose XML declares entities (a billion-laughs bomb, an external entity reading a local
file) is one problem naming the file, exit 2, nothing imported, never a raw ParseError."""

from __future__ import annotations

import zipfile
from datetime import date
from pathlib import Path

import openpyxl
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from workflow.cli.main import main
from workflow.roster import RosterError, check_roster
from workflow.store.schema import cadres

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "roster.xlsx"
SHEET = "xl/worksheets/sheet1.xml"

BOMB = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol0 "lol">'
    + "".join(f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, 10))
    + "]>"
)
SECRET = "top-secret-line"
XXE = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file://{path}">]>'


def hostile_workbook(tmp_path: Path, prologue: str, entity: str) -> Path:
    """The example roster with ``prologue`` before the sheet's XML and ``&entity;`` in cell A2."""
    out = tmp_path / "hostile.xlsx"
    with zipfile.ZipFile(EXAMPLE) as source, zipfile.ZipFile(out, "w") as target:
        for member in source.namelist():
            data = source.read(member)
            if member == SHEET:
                text = data.decode("utf-8")
                if text.startswith("<?xml"):
                    text = text[text.index("?>") + 2 :]
                text = text.replace("<v>", f"<v>&{entity};", 1)
                data = (prologue + text).encode("utf-8")
            target.writestr(member, data)
    return out


def payloads(tmp_path: Path) -> dict[str, Path]:
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET, encoding="utf-8")
    return {
        "bomb": hostile_workbook(tmp_path, BOMB, "lol9"),
        "xxe": hostile_workbook(tmp_path, XXE.format(path=secret), "xxe"),
    }


def test_openpyxl_parses_through_defusedxml() -> None:
    assert openpyxl.DEFUSEDXML


@pytest.mark.parametrize("kind", ["bomb", "xxe"])
def test_an_xlsx_declaring_entities_is_one_problem_naming_the_file(
    tmp_path: Path, kind: str
) -> None:
    path = payloads(tmp_path)[kind]
    with pytest.raises(RosterError) as caught:
        check_roster(path, today=date(2024, 5, 6), shown_as="hostile.xlsx")
    (problem,) = caught.value.problems
    assert str(problem).startswith("hostile.xlsx: file: ")
    assert "DTD" in problem.reason
    assert SECRET not in str(caught.value)


@pytest.mark.parametrize("kind", ["bomb", "xxe"])
def test_cadres_import_of_a_hostile_xlsx_exits_2_and_imports_nothing(
    db_url: str, tmp_path: Path, kind: str
) -> None:
    runner = CliRunner()
    upgraded = runner.invoke(main, ["--db", db_url, "db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    path = payloads(tmp_path)[kind]
    result = runner.invoke(main, ["--db", db_url, "--lang", "zh", "cadres", "import", str(path)])
    assert result.exit_code == 2, result.output
    assert f"{path}: file: " in result.output
    assert "Traceback" not in result.output
    assert SECRET not in result.output
    engine = sa.create_engine(db_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as connection:
            assert connection.execute(sa.select(sa.func.count()).select_from(cadres)).scalar() == 0
    finally:
        engine.dispose()


def test_without_defusedxml_the_reader_refuses_rather_than_parse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OPENPYXL_DEFUSEDXML=False (or a missing package) leaves openpyxl on the plain parser:
    the reader then refuses every workbook instead of parsing unsafely."""
    monkeypatch.setattr(openpyxl, "DEFUSEDXML", False)
    with pytest.raises(RosterError) as caught:
        check_roster(EXAMPLE, today=date(2024, 5, 6), shown_as="roster.xlsx")
    assert "defusedxml" in str(caught.value)
