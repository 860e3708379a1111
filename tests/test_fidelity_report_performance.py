"""Issue 12, the A18.2 report on both databases: a contractor under the A18.3 exit line is
flagged, seat utilisation is shown and remarked on, budget stands beside actual cost per plan
(A16.1), charts leave out rows with nothing to draw and carry an axis with a scale, and the
batch roster prints the itinerary as text (A11.1)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from factories import AS_AGENCY, CONSENT, cadre
from plans_setup import batch, plan_and_contractor

from workflow import Engine, SimulatedClock
from workflow.clock import SHANGHAI
from workflow.plans import service
from workflow.reports import performance_report
from workflow.reports.html import performance_charts, render_performance, render_roster
from workflow.reports.roster import batch_roster

SEED_PLANS = False  # the report lists every plan: only the ones the tests make
SVG = "{http://www.w3.org/2000/svg}"


@dataclass(frozen=True)
class Year:
    plan_id: int
    poor: int  # the contractor evaluated below the exit line
    idle: int  # a contractor whose batch nobody was seated in
    poor_batch: int


def _year(engine: Engine, clock: SimulatedClock) -> Year:
    """A 2024 city plan: contractor "威海荣成疗养院" hosts a 50-seat batch with 2 cadres seated,
    evaluated at 40 (exit line 60) with its actual cost recorded; "泰山疗养中心" hosts a batch
    nobody was seated in."""
    plan_id, poor = plan_and_contractor(engine)
    idle = service.create_contractor(engine, name="泰山疗养中心", kind="partner_unit")["id"]
    service.add_qualification(
        engine, idle, name="许可证", valid_from=date(2024, 1, 1), valid_until=date(2026, 12, 31)
    )
    service.add_agreement(
        engine,
        idle,
        plan_id=plan_id,
        agreement_no="XY-2024-02",
        signed_on=date(2024, 3, 1),
        valid_from=date(2024, 3, 1),
        valid_until=date(2024, 12, 31),
    )
    seated = batch(
        engine,
        plan_id=plan_id,
        contractor_id=poor,
        capacity=50,
        staff_count=5,
        itinerary=[{"day": 1, "plan": "报到、体检"}, {"day": 2, "plan": "红色教育基地参观"}],
    )
    batch(engine, plan_id=plan_id, contractor_id=idle, capacity=10, staff_count=2)
    for n in (1, 2):
        cadre_id = f"LC-DCF-{n:04d}"
        engine.put_cadres([cadre(cadre_id)])
        case = engine.open_case(
            cadre_id, actor=f"cadre:张建国@{cadre_id}", data={"plan_level": "city"}
        )
        engine.fire(case.id, "consent", actor=f"family:张丽@{cadre_id}", data=CONSENT)
        engine.fire(case.id, "approve", actor=AS_AGENCY, data={"batch_id": seated["id"]})
    service.update_batch(engine, seated["id"], staff_count=1)  # 2 seated: 1 staff (A12.1)
    service.start_batch(engine, seated["id"])
    clock.set(datetime(2024, 6, 12, 9, 0, tzinfo=SHANGHAI))
    service.evaluate_contractor(engine, seated["id"], score=40, by="市局评估组")
    service.record_actual_cost(engine, seated["id"], actual_cost=Decimal("4800.00"))
    return Year(plan_id, poor, idle, seated["id"])


def test_A18_3_the_report_flags_a_contractor_below_the_exit_line(
    engine: Engine, clock: SimulatedClock
) -> None:
    year = _year(engine, clock)
    report = performance_report(engine, 2024)
    poor = next(f for f in report.by_contractor if f.key == f"contractor:{year.poor}")
    idle = next(f for f in report.by_contractor if f.key == f"contractor:{year.idle}")
    assert (poor.standing_score, poor.exit_threshold, poor.below_exit_line) == (40.0, 60.0, True)
    assert idle.standing_score is None
    assert not idle.below_exit_line
    assert [f.key for f in report.below_exit_line] == [poor.key]
    body = report.to_json()["by_contractor"]
    assert [c["below_exit_line"] for c in body] == [True, False]
    html = render_performance(report)
    notice = html[html.index('id="exit-line"') :]
    assert "威海荣成疗养院" in notice[: notice.index("</div>")]
    assert "⚠ 威海荣成疗养院（低于退出线 below exit line）" in html
    assert "退出线 exit 60" in html  # the exit line drawn on the A18.3 chart


def test_A18_2_the_report_shows_seat_utilisation(engine: Engine, clock: SimulatedClock) -> None:
    _year(engine, clock)
    report = performance_report(engine, 2024)
    assert (report.total.planned, report.total.capacity) == (2, 60)
    assert report.total.seat_utilisation == 2 / 60
    assert report.total.low_utilisation
    html = render_performance(report)
    row = html[html.index('id="seat-use"') :]
    row = row[: row.index("</td>")]
    assert "名额大多未用" in row
    assert "3.3%" in row
    assert report.to_json()["total"]["seat_utilisation"] == 2 / 60


def test_A16_1_A18_2_budget_against_actual_cost_per_plan(
    engine: Engine, clock: SimulatedClock
) -> None:
    year = _year(engine, clock)
    report = performance_report(engine, 2024)
    (plan,) = report.plan_budgets
    assert plan.plan_id == year.plan_id
    assert (plan.budget, plan.batches, plan.batch_budget) == (
        Decimal("500000.00"),
        2,
        Decimal("120000.00"),
    )
    assert (plan.actual_cost, plan.costed_batches) == (Decimal("4800.00"), 1)
    assert plan.share_spent == float(Decimal("4800") / Decimal("500000"))
    assert report.total.actual_cost == Decimal("4800.00")
    html = render_performance(report)
    section = html[html.index('id="budgets"') :]
    assert "4800.00" in section[: section.index("</section>")]
    assert report.to_json()["plan_budgets"][0]["actual_cost"] == "4800.00"


def test_A18_2_charts_leave_out_empty_rows_and_have_an_axis_with_a_scale(
    engine: Engine, clock: SimulatedClock
) -> None:
    _year(engine, clock)
    report = performance_report(engine, 2024)
    idle = next(f for f in report.by_contractor if f.label == "泰山疗养中心")
    assert (idle.planned, idle.attended) == (0, 0)  # in the table, not in a chart
    charts = performance_charts(report)
    planned = next(c for c in charts if "按承办单位" in c.title)
    assert [label.text for label in planned.labels] == ["威海荣成疗养院"]
    for chart in charts:
        assert chart.ticks, chart.title
        assert chart.ticks[0].text in ("0", "0.0")
        assert chart.axis_label
    html = render_performance(report)
    root = ET.fromstring(html.replace("<!DOCTYPE html>", ""))
    svgs = list(root.iter(f"{SVG}svg"))
    assert len(svgs) == len(charts)
    for svg in svgs:
        ticks = [t for t in svg.iter(f"{SVG}text") if t.get("class") == "tick"]
        assert len(ticks) >= 2
    assert "泰山疗养中心" in html  # the table keeps the 0/0 row


def test_A11_1_the_roster_prints_the_itinerary_as_text(
    engine: Engine, clock: SimulatedClock
) -> None:
    year = _year(engine, clock)
    roster = batch_roster(engine, year.poor_batch)
    assert roster.itinerary_lines == ("第1天：报到、体检", "第2天：红色教育基地参观")
    html = render_roster(roster)
    shown = html[html.index('id="itinerary"') :]
    shown = shown[: shown.index("</dd>")]
    assert "第1天：报到、体检" in shown
    assert "day" not in shown
    assert "{" not in shown
    assert "plan:" not in shown
    assert roster.to_json()["itinerary_text"] == list(roster.itinerary_lines)
