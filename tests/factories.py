"""Test data: a cadre who passes every rule, and the evidence of each step of art. 7."""

from __future__ import annotations

from typing import Any


def cadre(cadre_id: str = "LC-DCF-0001", **overrides: Any) -> dict[str, Any]:
    """A roster record (docs/roster-formats.md) that passes every rule by default."""
    record: dict[str, Any] = {
        "id": cadre_id,
        "name": "张建国",
        "gender": "男",
        "birth_date": "1950-03-12",
        "category": "退休干部",
        "branch": "PLA",
        "county": "东昌府区",
        "agency": "东昌府区军休所",
        "placed_on": "2008-09-01",
        "merits": [{"class": 2, "wartime": False, "year": 1979}],
        "honours": [],
        "recommendation": None,
        "health": {"self_care": True, "infectious": False, "mental": False, "critical": False},
        # the roster's family contact: who may act as ``family`` on this cadre (issue 17)
        "family_contact": {"name": "张丽", "relation": "女儿", "phone": "13800001234"},
    }
    record.update(overrides)
    return record


# Actors in the default cadre's scope (A5.2): ROLE:NAME@SCOPE
AS_CADRE = "cadre:张建国@LC-DCF-0001"
AS_FAMILY = "family:张丽@LC-DCF-0001"
AS_AGENCY = "agency_officer:王芳@东昌府区军休所"
AS_COUNTY = "county_officer:赵局长@东昌府区"

REGISTRATION = {"plan_level": "city"}  # the default cadre holds a class-2 merit: city tier
CONSENT = {"family_member": "张丽", "relation": "女儿"}
# The approval names a batch; its dates (2024-06-03 to 06-09), place and province are copied
# from the batch row (A6.2). Tests seed that batch with plans_setup.seed_batch.
APPROVAL: dict[str, Any] = {"batch_id": 1}
BATCH_START, BATCH_END = "2024-06-03", "2024-06-09"
AGREEMENT = {"agreement_no": "LC-2024-001", "signed_on": "2024-05-20"}
INSURANCE = {
    "insurer": "中国人寿聊城分公司",
    "policy_no": "P-2024-0001",
    "covered_from": "2024-06-03",
    "covered_until": "2024-06-09",
}

# (trigger, actor, data) from registered to evaluated, in the order of art. 7 (A7.1)
HAPPY_PATH: list[tuple[str, str, dict[str, Any]]] = [
    ("consent", AS_FAMILY, CONSENT),
    ("approve", AS_AGENCY, APPROVAL),
    ("sign_agreement", AS_AGENCY, AGREEMENT),
    ("insure", AS_AGENCY, INSURANCE),
    ("attend", AS_AGENCY, {"checked_in_on": "2024-06-03"}),
    ("evaluate", AS_CADRE, {"satisfaction": 5}),
]
