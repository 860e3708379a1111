"""Test data: a cadre who passes every rule, and the evidence of each step of art. 7."""

from __future__ import annotations

from typing import Any


def cadre(cadre_id: str = "LC-DCF-0001", **overrides: Any) -> dict[str, Any]:
    """A roster record (shared/policy/roster-format.md) that passes every rule by default."""
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
    }
    record.update(overrides)
    return record


REGISTRATION = {"plan_level": "city"}  # the default cadre holds a class-2 merit: city tier
CONSENT = {"family_member": "张丽", "relation": "女儿"}
APPROVAL = {
    "batch_start": "2024-06-03",
    "batch_end": "2024-06-09",
    "destination": "威海市荣成",
    "province": "山东",
    "batch_size": 40,
}
AGREEMENT = {"agreement_no": "LC-2024-001", "signed_on": "2024-05-20"}
INSURANCE = {
    "insurer": "中国人寿聊城分公司",
    "policy_no": "P-2024-0001",
    "covered_from": "2024-06-03",
    "covered_until": "2024-06-09",
}

# (trigger, actor, data) from registered to evaluated, in the order of art. 7 (A7.1)
HAPPY_PATH: list[tuple[str, str, dict[str, Any]]] = [
    ("consent", "family:张丽", CONSENT),
    ("approve", "agency_officer:王芳", APPROVAL),
    ("sign_agreement", "agency_officer:王芳", AGREEMENT),
    ("insure", "agency_officer:王芳", INSURANCE),
    ("attend", "contractor_staff:李强", {"checked_in_on": "2024-06-03"}),
    ("evaluate", "cadre:张建国", {"satisfaction": 5}),
]
