"""What the engine hands back to callers: plain, typed, JSON-ready views of stored rows.

A step returns the case as it wrote it, with what the case keeps beside it (the exceptions
granted on it, the eligibility explanation stored at registration), so a caller prints the case
from the step's answer without reading it again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any


@dataclass(frozen=True)
class ExceptionView:
    """An exception granted on a case (A8.2, A9.2): which rule, under which article, who
    approved it and why; ``seq`` is the history row that granted it (A19.1)."""

    case_id: int
    seq: int
    rule: str
    article: str
    approver_role: str
    approver_name: str
    reason: str
    at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "article": self.article,
            "approver": f"{self.approver_role}:{self.approver_name}",
            "approver_role": self.approver_role,
            "approver_name": self.approver_name,
            "reason": self.reason,
            "at": self.at.isoformat(),
            "seq": self.seq,
        }

    def as_row(self) -> dict[str, Any]:
        """The stored columns by name, as `Engine.exceptions` hands them out."""
        return {
            "case_id": self.case_id,
            "seq": self.seq,
            "rule": self.rule,
            "article": self.article,
            "approver_role": self.approver_role,
            "approver_name": self.approver_name,
            "reason": self.reason,
            "at": self.at,
        }


@dataclass(frozen=True)
class NextStep:
    trigger: str
    label: str
    dest: str
    roles: tuple[str, ...]


@dataclass(frozen=True)
class CaseView:
    """A case as stored at ``version``; pass ``version`` back as ``expected_version`` to make
    sure nobody changed it in between (optimistic concurrency)."""

    id: int
    definition: str
    definition_version: int
    cadre_id: str
    county: str
    agency: str
    state: str
    state_label: str
    terminal: bool
    version: int
    evidence: dict[str, Any]
    opened_at: datetime
    updated_at: datetime
    next_steps: tuple[NextStep, ...] = field(default=())
    # the cadre's name in the roster as it is now (issue 19 item 5), from the reads (`Reader`)
    # and from the record a step holds; None only if the record has none
    cadre_name: str | None = None
    cycle: str | None = None  # A9.1
    tier: str | None = None  # A4.2, as computed when the case was opened
    exceptions: tuple[ExceptionView, ...] = ()  # granted on the case, oldest first (A19.1)
    # the A4.2 explanation as stored (JSON text): decoded on first use by `eligibility`, since
    # most callers of a step never look at it and it is the largest value of the row
    eligibility_json: str | None = field(default=None, repr=False, compare=False)

    @cached_property
    def eligibility(self) -> Mapping[str, Any] | None:
        """The eligibility explanation stored when the case was opened (A4.2), if any."""
        if self.eligibility_json is None:
            return None
        decoded: Mapping[str, Any] = json.loads(self.eligibility_json)
        return decoded

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "definition": self.definition,
            "definition_version": self.definition_version,
            "cadre_id": self.cadre_id,
            "cadre_name": self.cadre_name,
            "county": self.county,
            "agency": self.agency,
            "state": self.state,
            "state_label": self.state_label,
            "terminal": self.terminal,
            "version": self.version,
            "evidence": self.evidence,
            "opened_at": self.opened_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "cycle": self.cycle,
            "tier": self.tier,
            "next_steps": [
                {"trigger": s.trigger, "label": s.label, "dest": s.dest, "roles": list(s.roles)}
                for s in self.next_steps
            ],
        }


@dataclass(frozen=True)
class HistoryEntry:
    """One append-only history row (A19.1): who moved the case, when, from where to where, why."""

    case_id: int
    seq: int
    trigger: str
    from_state: str | None
    to_state: str
    actor: str
    role: str
    at: datetime
    data: dict[str, Any]
    reason: str | None
    on_behalf_of: str | None = None  # whom the actor acted for (paper consent, A7.2)

    def to_json(self) -> dict[str, Any]:
        return {
            "case_id": self.case_id,
            "seq": self.seq,
            "trigger": self.trigger,
            "from_state": self.from_state,
            "to_state": self.to_state,
            "actor": self.actor,
            "role": self.role,
            "at": self.at.isoformat(),
            "data": self.data,
            "reason": self.reason,
            "on_behalf_of": self.on_behalf_of,
        }
