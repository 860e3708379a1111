"""Art. 6 (A6.2): 山东, 山东省 and Shandong are one province, so a batch in Weihai needs no
out-of-province exception however the officer spells the province; a province elsewhere still
does. One normaliser (`workflow.policy.province_name`) serves the batch rule, the stored batch
and the approval's in-province guard. Scenarios on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from factories import AS_AGENCY, AS_FAMILY, CONSENT, REGISTRATION, cadre
from plans_setup import batch

from workflow import Engine
from workflow.errors import RuleRefused
from workflow.policy import province_name, same_province


@pytest.mark.parametrize(
    ("written", "name"),
    [
        ("山东", "山东"),
        ("山东省", "山东"),
        (" Shandong ", "山东"),
        ("SHANDONG PROVINCE", "山东"),
        ("Shandong Sheng", "山东"),
        ("广西壮族自治区", "广西"),
        ("北京市", "北京"),
        ("Shaanxi", "陕西"),
        ("Shanxi", "山西"),
        ("浙江省", "浙江"),
        ("Atlantis", "Atlantis"),  # unknown: trimmed, otherwise as written
    ],
)
def test_a6_2_province_names_normalise(written: str, name: str) -> None:
    assert province_name(written) == name


def test_a6_2_same_province_is_symmetric_and_strict() -> None:
    assert same_province("Shandong", "山东省")
    assert same_province("山东省", "Shandong")
    assert not same_province("山西", "陕西")
    assert not same_province("山东", "浙江")


@pytest.mark.parametrize("written", ["山东省", "Shandong", "shandong province"])
def test_a6_2_a_batch_in_shandong_however_spelt_needs_no_exception(
    engine: Engine, written: str
) -> None:
    made = batch(engine, province=written, capacity=3)
    assert made["province"] == "山东"  # stored normalised
    engine.put_cadres([cadre()])
    case = engine.open_case("LC-DCF-0001", actor=AS_AGENCY, data=REGISTRATION)
    engine.fire(case.id, "consent", actor=AS_FAMILY, data=CONSENT)
    approved = engine.fire(case.id, "approve", actor=AS_AGENCY, data={"batch_id": made["id"]})
    assert approved.state == "agency_approved"
    assert approved.evidence["province"] == "山东"


def test_a6_2_a_batch_elsewhere_still_needs_its_exception(engine: Engine) -> None:
    with pytest.raises(RuleRefused) as refused:
        batch(engine, province="Zhejiang Province")
    assert refused.value.articles == ("A6.2",)
