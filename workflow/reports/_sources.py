"""What every report takes from the definitions: the policy's title, the cycles' end dates
(A9.1), the state labels, and how an organiser is named.

The SQL the reports run, including the one subquery that says which batch a case was planned
into, is in `workflow.store.reports`; its names of definitions and states are re-exported here.
"""

from __future__ import annotations

from datetime import date

from workflow.definition.catalog import Catalog
from workflow.definition.policy_rules import PolicyRules
from workflow.errors import NotFoundError
from workflow.reports._model import PolicySource
from workflow.store.reports import (
    ATTENDED_STATES,
    EVALUATED,
    HONOR,
    VISIT,
    VISIT_NOT_NEEDED,
)

__all__ = [
    "ATTENDED_STATES",
    "EVALUATED",
    "HONOR",
    "VISIT",
    "VISIT_NOT_NEEDED",
    "cycle_ends",
    "organiser_key",
    "organiser_label",
    "policy_rules",
    "policy_source",
    "state_labels",
]


def policy_source(catalog: Catalog) -> PolicySource:
    """The latest honorary-convalescence policy's title and number (A1.1)."""
    policy = catalog.get(HONOR).policy
    return PolicySource(policy.title, policy.document)


def policy_rules(catalog: Catalog) -> PolicyRules | None:
    """The latest honorary-convalescence policy's rules (A18.3 exit score and the like)."""
    return catalog.get(HONOR).rules


def cycle_ends(catalog: Catalog) -> dict[str, date]:
    """Cycle id → last day, over every version of the policy (A9.1): a visit is due by then."""
    ends: dict[str, date] = {}
    for definition in catalog.versions(HONOR):
        for cycle in definition.rules.cycles if definition.rules else ():
            ends[cycle.id] = cycle.end
    return ends


def state_labels(catalog: Catalog, name: str) -> dict[str, str]:
    """State → label over every version of a definition; empty if it is not installed."""
    try:
        versions = catalog.versions(name)
    except NotFoundError:
        return {}
    return {state.name: state.label for d in versions for state in d.states}


def organiser_label(level: str | None, county: str | None) -> str:
    """How an officer names the organiser of a plan (art. 5: city dept or a county dept)."""
    if level == "city":
        return "市级 city"
    if level == "county":
        return f"县级 county · {county or '?'}"
    return "未关联 unlinked"


def organiser_key(level: str | None, county: str | None) -> str:
    if level == "county":
        return f"county:{county or ''}"
    return level or "unlinked"
