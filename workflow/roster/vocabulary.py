"""The roster's words: every enumeration a cadre record may use, in one place.

The record format (docs/roster-formats.md) fixes these values; the roster importer
validates against them (`workflow.roster.record`), the eligibility profile check reads them
(`workflow.profile_check`), and the demo draws its generated cadres from them
(`workflow.demo.roster`). A value added here is accepted, checked and generated everywhere at
once. Pure data: importing it loads nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Final, Literal, get_args

GENDERS: Final = ("男", "女")
# art. 2 / art. 20: who counts as a retired cadre under the rules
CATEGORIES: Final = ("离休干部", "退休干部", "退休军士", "退休警士")
BRANCHES: Final = ("PLA", "PAP")
# art. 2 / art. 20: NCOs of the PLA are 军士, those of the PAP are 警士
CATEGORY_BRANCH: Final[dict[str, str]] = {"退休军士": "PLA", "退休警士": "PAP"}
MERIT_CLASSES: Final = (1, 2, 3)  # 一等功, 二等功, 三等功 (art. 4 tiers)
HONOUR_KINDS: Final = ("commendation", "advanced_cadre")
HONOUR_LEVELS: Final = ("county", "city", "province", "national", "military")
RECOMMENDERS: Final = ("county_dept", "agency")  # A4.3: who may recommend a cadre
# the health facts of art. 8 (A8.1), with the value a record that says nothing is read as
HealthKey = Literal["self_care", "infectious", "mental", "critical"]
HEALTH_KEYS: Final[tuple[HealthKey, ...]] = get_args(HealthKey)
HEALTH_DEFAULTS: Final[Mapping[str, bool]] = {
    "self_care": True,
    "infectious": False,
    "mental": False,
    "critical": False,
}
# the counties of Liaocheng (聊城市) and their administrative region codes (GB/T 2260), the
# first six digits of a resident ID number issued there
COUNTIES: Final[Mapping[str, str]] = {
    "东昌府区": "371502",
    "茌平区": "371503",
    "阳谷县": "371521",
    "莘县": "371522",
    "东阿县": "371524",
    "冠县": "371525",
    "高唐县": "371526",
    "临清市": "371581",
}
# the administrative list the roster's county and agency are checked against (A5.2: a cadre
# filed under a county or agency no officer holds would fall outside every real scope): each
# county's veterans' service agency (军休所) and the county it serves
AGENCIES: Final[Mapping[str, str]] = {f"{county}军休所": county for county in COUNTIES}


@dataclass(frozen=True)
class AdminList:
    """The administrative list a roster's county and agency are checked against: each county
    and the agencies serving it. `ADMIN_LIST` is the shipped one (the counties above and their
    军休所); an office extends or replaces it with a file (`workflow.roster.admin_list`)."""

    counties: Mapping[str, tuple[str, ...]]
    source: str = "built-in"

    @cached_property
    def agencies(self) -> Mapping[str, str]:
        """Agency -> the county it serves."""
        return {agency: county for county, names in self.counties.items() for agency in names}


ADMIN_LIST: Final = AdminList({county: (f"{county}军休所",) for county in COUNTIES})
