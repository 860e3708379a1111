"""Issue 12, explanations (art. 4, 8): `eligibility explain` leads with the route that decides
the tier, shows routes not taken only when the tier falls short, never tells a class-2 merit
holder of a missing A4.3 recommendation; A4.3 needs who recommended (the body by name and the
officer) and when, at registration on both databases as in the explanation; ``--on`` cites
A8.2."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from factories import cadre

from workflow import Engine
from workflow.cli.main import main
from workflow.errors import RuleRefused

FIRST_DAY = "2024-06-03"
THIRD_CLASS = [{"class": 3, "wartime": False, "year": 1979}]
RECOMMENDATION = {"by": "agency", "reason": "抗洪抢险事迹特别突出", "date": "2024-01-10"}
WHO = {"recommender_body": "东昌府区军休所", "recommender_officer": "王芳"}
WHO_OPTIONS = ("--recommender-body", "东昌府区军休所", "--recommender-officer", "王芳")


def _explain(tmp_path: Path, record: dict[str, Any], level: str, *extra: str) -> Result:
    path = tmp_path / "profile.json"
    path.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    args = ["eligibility", "explain", str(path), "--level", level, "--on", FIRST_DAY, *extra]
    return CliRunner().invoke(main, args, catch_exceptions=False)


def test_A4_2_an_eligible_cadre_hears_the_deciding_route_and_no_route_not_taken(
    tmp_path: Path,
) -> None:
    result = _explain(tmp_path, cadre(), "city")  # class-2 merit
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith("结论：2024-06-03 符合")
    assert lines[1].startswith("✓ 决定层级的途径：1979年荣立二等功")
    assert "A4.1" in lines[1]
    assert not [line for line in lines if line.startswith("✗")], lines
    assert "推荐" not in result.stdout  # A4.3 is no concern of a class-2 merit holder
    body = json.loads(_explain(tmp_path, cadre(), "city", "--json").stdout)
    assert body["decided_by"] == "merit_second_class_or_higher"
    a43 = next(r for r in body["reasons"] if r["rule"] == "recommended_third_class_merit")
    # the JSON keeps every check, without claiming a recommendation is missing
    assert "推荐记录" not in a43["message"]
    assert "未记录" not in a43["message"]


def test_A4_2_a_tier_short_of_the_plan_reads_out_only_the_routes_that_would_reach_it(
    tmp_path: Path,
) -> None:
    result = _explain(tmp_path, cadre(merits=THIRD_CLASS), "city")
    lines = result.stdout.splitlines()
    assert lines[1].startswith("✓ 决定层级的途径：1979年荣立三等功")
    missing = [line for line in lines if line.startswith("✗ 未满足的途径：")]
    assert len(missing) == 5  # the five city-tier routes, none of the county tier
    assert any(
        "A4.3" in line and "无县级退役军人事务部门或军休机构的推荐记录" in line for line in missing
    )
    assert any(line.startswith("✗") and "A4.4" in line for line in lines)
    county = _explain(tmp_path, cadre(merits=THIRD_CLASS), "county").stdout
    assert "未满足的途径" not in county


def test_A4_2_no_route_at_all_reads_out_every_route(tmp_path: Path) -> None:
    lines = _explain(tmp_path, cadre(merits=[]), "county").stdout.splitlines()
    assert "决定层级的途径" not in "\n".join(lines)
    assert len([line for line in lines if line.startswith("✗ 未满足的途径：")]) == 8


def test_A8_2_the_on_option_cites_the_age_limit_article() -> None:
    for lang in ("zh", "en"):
        args = ["--lang", lang, "eligibility", "explain", "--help"]
        result = CliRunner().invoke(main, args)
        on_help = result.stdout.split("--on")[1].split("--")[0]
        assert "A8.2" in on_help, on_help
        assert "A8.1" not in on_help


def test_A4_3_the_kind_of_body_alone_is_no_recommendation_in_the_explanation(
    tmp_path: Path,
) -> None:
    record = cadre(merits=THIRD_CLASS, recommendation=RECOMMENDATION)
    bare = json.loads(_explain(tmp_path, record, "city", "--json").stdout)
    assert (bare["eligible"], bare["tier"]) == (False, "county")
    a43 = next(r for r in bare["reasons"] if r["rule"] == "recommended_third_class_merit")
    assert "未记录推荐单位名称、推荐人" in a43["message"]
    named = json.loads(_explain(tmp_path, record, "city", *WHO_OPTIONS, "--json").stdout)
    assert (named["eligible"], named["tier"], named["decided_by"]) == (
        True,
        "city",
        "recommended_third_class_merit",
    )


def test_A4_3_registration_records_who_recommended_and_when(engine: Engine) -> None:
    """The same facts decide at registration as in the explanation above: the roster's kind
    of body and reason, and the registration's body, officer and (roster) date."""
    engine.put_cadres([cadre(merits=THIRD_CLASS, recommendation=RECOMMENDATION)])
    me = "cadre:张建国@LC-DCF-0001"
    with pytest.raises(RuleRefused) as refused:
        engine.open_case("LC-DCF-0001", actor=me, data={"plan_level": "city"})
    assert refused.value.articles == ("A4.4",)
    assert "未记录推荐单位名称、推荐人" in str(refused.value)
    with pytest.raises(RuleRefused):  # a body without a named officer is not enough
        engine.open_case(
            "LC-DCF-0001",
            actor=me,
            data={"plan_level": "city", "recommender_body": "东昌府区军休所"},
        )
    case = engine.open_case(
        "LC-DCF-0001",
        actor=me,
        data={"plan_level": "city", **WHO, "recommended_on": "2024-01-10"},
    )
    assert case.state == "registered"
    assert case.evidence["recommender_body"] == "东昌府区军休所"
    assert case.evidence["recommender_officer"] == "王芳"
    assert case.evidence["recommended_on"] == "2024-01-10"
