"""The annual performance report (A18.2), the batch roster and the condolence-visit list (A9.3),
checked against the hand-counted year of `reports_scenario` on SQLite and PostgreSQL.

Every expected number below is counted from the scenario's table, not read back from the code:
planned = cases approved into a 2024 batch (1-8), attended = 1-4, 6, 7, satisfaction
5+4+3+2+5 over five evaluations, and so on.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path

import plans_setup
import pytest
from openpyxl import load_workbook
from reports_scenario import (
    AS_OF,
    CYCLE,
    ID_CARD,
    Scenario,
    scenario_database,
)

from workflow import Engine, SimulatedClock
from workflow.errors import InputError, NotFoundError
from workflow.reports import (
    Figures,
    batch_roster,
    performance_report,
    visit_list,
    write_performance_report,
)
from workflow.reports.html import render_performance, render_roster, render_visits
from workflow.reports.xlsx import performance_xlsx, roster_xlsx, visits_xlsx

SVG = "{http://www.w3.org/2000/svg}svg"


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def built(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Scenario]]:
    with scenario_database(request.param, tmp_path_factory.mktemp("reports")) as result:
        yield result


@pytest.fixture
def engine(built: tuple[str, Scenario]) -> Iterator[Engine]:
    """An engine on the shared scenario (overriding conftest's fresh database), its clock at
    `AS_OF`; tests here must only read. A test that writes makes its own from ``db_url``."""
    with Engine(built[0], clock=SimulatedClock(AS_OF)) as engine:
        yield engine


@pytest.fixture
def scenario(built: tuple[str, Scenario]) -> Scenario:
    return built[1]


def counts(f: Figures) -> tuple[int, int, int, int]:
    return f.planned, f.attended, f.evaluated, f.satisfaction_total


def visits(f: Figures) -> tuple[int, int, int, int]:
    return f.visits.due, f.visits.done, f.visits.on_time, f.visits.overdue


def parse(html: str) -> ET.Element:
    """A strict XML parse: an unclosed tag or a stray ``&`` fails the test."""
    return ET.fromstring(html)


def by_id(root: ET.Element, key: str) -> str:
    found = root.find(f".//*[@id='{key}']")
    assert found is not None, key
    return "".join(found.itertext())


# -- A18.2 figures ------------------------------------------------------------------------------


def test_totals_of_the_year(engine: Engine) -> None:
    report = performance_report(engine, 2024)
    total = report.total
    assert report.plans == 2
    assert report.as_of == AS_OF.date()
    assert (total.batches, total.capacity) == (3, 80)
    assert counts(total) == (8, 6, 5, 19)
    assert total.completion_rate == pytest.approx(0.75)
    assert total.mean_satisfaction == pytest.approx(3.8)
    # the A8.2 age exception of case 4 and the A6.2 over-50 exception of batch B1
    assert dict(total.exceptions) == {"A6.2": 1, "A8.2": 1}
    # A9.3: case 5's visit on time, case 8's after the cycle, case 9's never (overdue)
    assert visits(total) == (3, 2, 1, 1)
    assert total.visits.on_time_rate == pytest.approx(1 / 3)
    assert report.policy.document == "聊退役军人发〔2023〕2号"  # A1.1


def test_per_organiser(engine: Engine) -> None:
    city, county = performance_report(engine, 2024).by_organiser
    assert (city.key, county.key) == ("city", "county:东昌府区")
    assert counts(city) == (6, 5, 4, 14)
    assert city.completion_rate == pytest.approx(5 / 6)
    assert city.mean_satisfaction == pytest.approx(3.5)
    assert (city.batches, city.capacity) == (2, 70)
    assert dict(city.exceptions) == {"A6.2": 1, "A8.2": 1}
    assert visits(city) == (1, 1, 1, 0)
    assert counts(county) == (2, 1, 1, 5)
    assert (county.batches, county.capacity) == (1, 10)
    assert dict(county.exceptions) == {}
    # cases 8 and 9 registered for the county plan; 9 never reached a batch but is still its
    assert visits(county) == (2, 1, 0, 1)


def test_per_county(engine: Engine) -> None:
    dong, lin = performance_report(engine, 2024).by_county
    assert (dong.label, lin.label) == ("东昌府区", "临清市")
    assert counts(dong) == (5, 3, 3, 14)
    assert dong.completion_rate == pytest.approx(0.6)
    assert dong.mean_satisfaction == pytest.approx(14 / 3)
    assert visits(dong) == (3, 2, 1, 1)
    assert counts(lin) == (3, 3, 2, 5)
    assert lin.completion_rate == pytest.approx(1.0)
    assert dict(lin.exceptions) == {"A8.2": 1}  # a batch's A6.2 belongs to no county
    assert visits(lin) == (0, 0, 0, 0)
    assert lin.visits.on_time_rate is None
    assert (dong.batches, dong.capacity) == (None, None)


def test_per_contractor(engine: Engine, scenario: Scenario) -> None:
    a, b = performance_report(engine, 2024).by_contractor
    assert (a.key, b.key) == (
        f"contractor:{scenario.contractor_a}",
        f"contractor:{scenario.contractor_b}",
    )
    assert a.label == "威海荣成疗养院"
    assert counts(a) == (6, 5, 4, 17)
    assert a.mean_satisfaction == pytest.approx(4.25)
    assert (a.batches, a.capacity) == (2, 70)
    assert dict(a.exceptions) == {"A6.2": 1, "A8.2": 1}
    assert a.contractor_score == pytest.approx(85.0)  # A18.3: B1 90 and B3 80
    assert visits(a) == (1, 1, 0, 0)  # case 8's visit, made after the cycle
    # contractor B's 2025 batch (case 11) is not part of 2024
    assert counts(b) == (2, 1, 1, 2)
    assert (b.batches, b.capacity) == (1, 10)
    assert b.contractor_score == pytest.approx(70.0)
    assert visits(b) == (1, 1, 1, 0)


def test_another_year_counts_only_its_own_plans(engine: Engine) -> None:
    report = performance_report(engine, 2025)
    assert report.plans == 1
    assert counts(report.total) == (1, 0, 0, 0)
    assert report.total.completion_rate == 0.0
    assert report.total.mean_satisfaction is None
    assert visits(report.total) == (0, 0, 0, 0)  # the visits were opened in 2024
    assert [f.label for f in report.by_contractor] == ["泰山疗养中心"]


def test_empty_year(engine: Engine) -> None:
    report = performance_report(engine, 2023)  # a cycle of the policy, but nothing planned
    assert report.empty
    assert report.plans == 0
    assert counts(report.total) == (0, 0, 0, 0)
    assert report.total.completion_rate is None
    assert report.total.mean_satisfaction is None
    assert (report.by_organiser, report.by_county, report.by_contractor) == ((), (), ())
    root = parse(render_performance(report))
    assert "No plans, cases or condolence visits for 2023" in by_id(root, "empty")
    assert by_id(root, "completion") == "—"
    assert root.find(f".//{SVG}") is None
    book = load_workbook(BytesIO(performance_xlsx(report)))
    sheet = book["组织单位 By organiser"]
    assert sheet["A1"].value == "组织单位 organiser"
    assert sheet["A2"].value == "合计 total"
    assert sheet["D2"].value == 0  # planned
    assert sheet["F2"].value is None  # no completion rate: an empty cell, not a dash


def test_year_out_of_range_is_bad_input(engine: Engine) -> None:
    with pytest.raises(InputError, match="--year 1899") as raised:
        performance_report(engine, 1899)
    assert raised.value.field == "year"


# -- rendering ---------------------------------------------------------------------------------


def test_html_is_self_contained_well_formed_and_shows_the_figures(engine: Engine) -> None:
    html = render_performance(performance_report(engine, 2024))
    root = parse(html)
    assert (by_id(root, "planned"), by_id(root, "attended")) == ("8", "6")
    assert by_id(root, "completion") == "75.0%"
    assert by_id(root, "satisfaction").startswith("3.80")
    assert by_id(root, "exceptions") == "A6.2: 1；A8.2: 1"
    assert "逾期 overdue 1" in by_id(root, "visits")
    organisers = by_id(root, "organiser")
    assert "县级 county · 东昌府区" in organisers
    assert "83.3%" in organisers  # city completion 5/6
    assert "85.00" in by_id(root, "contractor")  # A18.3 score
    assert "聊退役军人发〔2023〕2号" in html  # A1.1
    charts = root.findall(f".//{SVG}")
    assert len(charts) == 6  # planned vs attended x3, satisfaction, A18.3 standing, visits
    lowered = html.lower()
    assert "<script" not in lowered
    assert "http://" not in lowered.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in lowered
    assert "@page" in html  # printable


def test_xlsx_has_a_sheet_per_breakdown_with_numbers(engine: Engine) -> None:
    book = load_workbook(BytesIO(performance_xlsx(performance_report(engine, 2024))))
    assert book.sheetnames == [
        "概要 Summary",
        "组织单位 By organiser",
        "区县 By county",
        "承办单位 By contractor",
    ]
    summary = {
        row[0]: row[1] for row in book["概要 Summary"].iter_rows(min_row=2, values_only=True)
    }
    assert summary["计划人数 planned"] == 8
    assert summary["完成率 completion rate"] == pytest.approx(0.75)
    assert summary["例外 exceptions A8.2"] == 1
    sheet = book["组织单位 By organiser"]
    assert sheet.freeze_panes == "A2"
    header = [c.value for c in sheet[1]]
    assert header[:8] == [
        "组织单位 organiser",
        "批次 batches",
        "名额 seats",
        "计划 planned",
        "参加 attended",
        "完成率 completion",
        "评价 evaluated",
        "满意度 satisfaction",
    ]
    assert {"例外 A6.2", "例外 A8.2"} <= set(header)
    city = [c.value for c in sheet[2]]
    assert city[:8] == ["市级 city", 2, 70, 6, 5, pytest.approx(5 / 6), 4, pytest.approx(3.5)]
    assert sheet["F2"].number_format == "0.0%"
    assert sheet["H2"].number_format == "0.00"
    assert [c.value for c in sheet[4]][:5] == ["合计 total", 3, 80, 8, 6]
    contractors = book["承办单位 By contractor"]
    assert contractors.cell(row=1, column=contractors.max_column).value == "评分 score (A18.3)"
    assert contractors.cell(row=2, column=contractors.max_column).value == pytest.approx(85.0)


def test_write_performance_report_for_the_demo(
    engine: Engine, scenario: Scenario, tmp_path: Path
) -> None:
    path = write_performance_report(engine, 2024, tmp_path / "out")
    assert path == (tmp_path / "out" / "performance-2024.html").resolve()
    assert by_id(parse(path.read_text(encoding="utf-8")), "planned") == "8"
    assert [p.name for p in path.parent.iterdir()] == ["performance-2024.html"]  # no temp left


# -- batch roster ------------------------------------------------------------------------------


def test_batch_roster(engine: Engine, scenario: Scenario) -> None:
    roster = batch_roster(engine, scenario.batches["B1"])
    assert [e.case_id for e in roster.entries] == [scenario.cases[n] for n in (1, 2, 3, 4)]
    first = roster.entries[0]
    assert first.id_card == f"{ID_CARD[:6]}********{ID_CARD[-4:]}"
    assert ID_CARD not in str(roster.to_json())
    assert (first.agreement_no, first.insurer) == ("LC-2024-001", "中国人寿聊城分公司")
    assert first.policy_no == f"P-{scenario.cases[1]:04d}"
    assert first.state_label == "已完成满意度评价"
    assert roster.entries[1].id_card == ""  # no ID number on record
    assert (roster.contractor, roster.contractor_agreement_no) == ("威海荣成疗养院", "XY-A-1")
    # planned for 60 with 6 staff; started with the 4 seated and 1 staff (A12.1, A13.1)
    assert (roster.capacity, roster.seats_taken, roster.staff_count) == (60, 4, 1)
    assert roster.started_at is not None
    root = parse(render_roster(roster))
    assert by_id(root, "dates") == "2024-06-03 — 2024-06-09"
    assert "干部04" in by_id(root, "cadres")
    assert "0631-7654321" in "".join(root.itertext())  # the contractor's named contact (A15.1)
    book = load_workbook(BytesIO(roster_xlsx(roster)))
    assert book.sheetnames == ["名单 Roster", "批次 Batch"]
    sheet = book["名单 Roster"]
    assert sheet.freeze_panes == "A2"
    assert [c.value for c in sheet[2]][:3] == [scenario.cases[1], "干部01", first.id_card]


def test_roster_leaves_out_a_released_seat(engine: Engine, scenario: Scenario) -> None:
    roster = batch_roster(engine, scenario.batches["B2"])  # case 5 withdrew: seat given back
    assert [e.case_id for e in roster.entries] == [scenario.cases[6]]


def test_roster_escapes_what_people_typed(db_url: str, clock: SimulatedClock) -> None:
    with Engine(db_url, clock=clock) as fresh:
        fresh.upgrade_schema()
        odd = plans_setup.batch(fresh, place="荣成<海滨>&疗养")
        root = parse(render_roster(batch_roster(fresh, odd["id"])))
    assert by_id(root, "destination") == "山东 · 荣成<海滨>&疗养"
    assert "尚无人员" in by_id(root, "cadres")


def test_unknown_batch_is_not_found(engine: Engine) -> None:
    with pytest.raises(NotFoundError, match="批次"):
        batch_roster(engine, 999)


# -- condolence visits (A9.3) ------------------------------------------------------------------


def test_visit_list(engine: Engine, scenario: Scenario) -> None:
    listing = visit_list(engine, cycle=CYCLE)
    source = {e.case_id: e for e in listing.entries}
    assert len(source) == 3
    by_name = {e.name: e for e in listing.entries}
    on_time, late, never = by_name["干部05"], by_name["干部08"], by_name["干部09"]
    assert (on_time.on_time, late.on_time, never.on_time) == (True, False, None)
    assert str(on_time.due_on) == "2025-12-31"
    assert (on_time.visited_by, str(on_time.visited_on)) == ("王芳", "2024-09-01")
    assert [never.overdue(listing.as_of), late.overdue(listing.as_of)] == [True, False]
    overdue = visit_list(engine, overdue=True)
    assert [e.name for e in overdue.entries] == ["干部09"]
    assert overdue.to_json()["visits"][0]["overdue"] is True
    root = parse(render_visits(listing))
    shown = by_id(root, "visits")
    assert "逾期 overdue" in shown
    assert "迟 late" in shown
    book = load_workbook(BytesIO(visits_xlsx(listing)))
    sheet = book["慰问 Visits"]
    assert sheet.max_row == 4
    assert sheet.freeze_panes == "A2"
    assert sheet["G2"].number_format == "yyyy-mm-dd"


def test_visit_list_refuses_an_unknown_cycle(engine: Engine) -> None:
    with pytest.raises(InputError, match="--cycle '2099'") as raised:
        visit_list(engine, cycle="2099")
    assert raised.value.field == "cycle"
