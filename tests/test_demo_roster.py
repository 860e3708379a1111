"""The generated roster is reproducible and every record is in the documented format."""

from __future__ import annotations

from datetime import date

import pytest

from workflow.demo.roster import check_digit, generate_roster

AS_OF = date(2024, 3, 1)
KEYS = {
    "id",
    "name",
    "gender",
    "birth_date",
    "category",
    "branch",
    "county",
    "agency",
    "placed_on",
    "merits",
    "honours",
    "recommendation",
    "health",
    "phone",
    "family_contact",
}


@pytest.mark.parametrize(
    ("first17", "digit"),
    [
        pytest.param("11010519491231002", "X", id="gb11643-standard-example"),
        pytest.param("44052418800101001", "4", id="second-known-number"),
    ],
)
def test_check_digit_follows_gb_11643(first17: str, digit: str) -> None:
    assert check_digit(first17) == digit


def test_the_same_seed_gives_the_same_roster() -> None:
    assert generate_roster(60, 5, as_of=AS_OF) == generate_roster(60, 5, as_of=AS_OF)
    assert generate_roster(60, 5, as_of=AS_OF) != generate_roster(60, 6, as_of=AS_OF)


def test_every_record_has_the_documented_shape() -> None:
    roster = generate_roster(300, 1, as_of=AS_OF)
    assert len({r["id"] for r in roster}) == 300
    for record in roster:
        assert set(record) - {"id_card"} == KEYS
        assert record["gender"] in {"男", "女"}
        assert record["category"] in {"离休干部", "退休干部", "退休军士", "退休警士"}
        assert record["branch"] in {"PLA", "PAP"}
        birth = date.fromisoformat(record["birth_date"])
        assert date.fromisoformat(record["placed_on"]) > birth
        for merit in record["merits"]:
            assert merit["class"] in {1, 2, 3}
        for honour in record["honours"]:
            assert honour["kind"] in {"commendation", "advanced_cadre"}
            assert honour["level"] in {"county", "city", "province", "national", "military"}
        if "id_card" in record:
            number = record["id_card"]
            assert len(number) == 18
            assert number[6:14] == birth.strftime("%Y%m%d")
            assert check_digit(number[:17]) == number[17]
            assert (int(number[16]) % 2 == 1) == (record["gender"] == "男")


def test_the_first_records_cover_every_path_and_refusal() -> None:
    roster = generate_roster(20, 9, as_of=AS_OF)
    merits = [m for r in roster for m in r["merits"]]
    assert {(m["class"], m["wartime"]) for m in merits} >= {
        (1, True),
        (2, False),
        (3, True),
        (3, False),
    }
    assert {r["recommendation"]["by"] for r in roster if r["recommendation"]} == {
        "county_dept",
        "agency",
    }
    assert any(not r["merits"] and not r["honours"] for r in roster)
    ages = [(AS_OF - date.fromisoformat(r["birth_date"])).days // 365 for r in roster]
    assert max(ages) >= 80
    problems = {k for r in roster for k, v in r["health"].items() if v is (k != "self_care")}
    assert problems == {"self_care", "infectious", "mental", "critical"}
    placement_year = [
        h for r in roster for h in r["honours"] if h["year"] == int(r["placed_on"][:4])
    ]
    assert placement_year
    assert {r["category"] for r in roster} >= {"退休干部", "离休干部", "退休军士", "退休警士"}
