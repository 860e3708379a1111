"""What a step decides on, read once: the case row, its cadre, its exceptions, its seat, and
(for an approval) the batch it names, as frozen values.

The store fills these in one read at the start of the step's transaction; the rules then look
only at them, so deciding stays pure, and the write that follows is guarded by the case's
version, which proves nothing moved since the read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from workflow.views import ExceptionView


class JsonText(str):
    """A value already written as JSON text (`json_text`), which the store writes as it is.

    The A4.2 explanation an opening stores is the largest value a step writes, and the step
    needs its text anyway for the case it returns: written once, not once for the view and
    again by the column's type."""

    __slots__ = ()


def json_text(value: Any) -> JsonText:
    """``value`` as the store's JSON columns write it (`workflow.store.schema.json_dumps`:
    Chinese kept readable, keys sorted)."""
    return JsonText(json.dumps(value, ensure_ascii=False, sort_keys=True))


@dataclass(frozen=True)
class CaseRow:
    """A case row as stored; ``chain_head`` is the hash of its last history row (A19.1)."""

    id: int
    definition_id: int
    cadre_id: str
    county: str
    agency: str
    state: str
    terminal: bool
    version: int
    chain_head: str | None
    evidence: Mapping[str, Any]
    opened_at: datetime
    updated_at: datetime
    cycle: str | None
    tier: str | None
    eligibility_json: str | None = None  # the A4.2 explanation, undecoded

    def as_mapping(self) -> dict[str, Any]:
        """The columns by name, as notice templates and recipients read them."""
        return {
            "id": self.id,
            "definition_id": self.definition_id,
            "cadre_id": self.cadre_id,
            "county": self.county,
            "agency": self.agency,
            "state": self.state,
            "terminal": self.terminal,
            "version": self.version,
            "chain_head": self.chain_head,
            "evidence": self.evidence,
            "opened_at": self.opened_at,
            "updated_at": self.updated_at,
            "cycle": self.cycle,
            "tier": self.tier,
        }


@dataclass(frozen=True)
class CycleClosure:
    """A closed cycle (A9.1, A18.2; `workflow.cycles`): who closed it and when. No step moves
    a case filed under it any more, and no case is opened into it."""

    cycle: str
    closed_by: str
    role: str
    closed_at: datetime


@dataclass(frozen=True)
class CadreFiling:
    """The cadre a case is opened for: the county and agency it is filed under, and the record
    the rules read; ``closure`` if the cycle the case would be filed under is closed."""

    cadre_id: str
    county: str
    agency: str
    record: Mapping[str, Any]
    closure: CycleClosure | None = None


@dataclass(frozen=True)
class Snapshot:
    """Everything a step on one case may decide on, from one read.

    ``participations`` are the cadre's other cases in the case's cycle that count as taking
    part (A9.2); None when the read did not look for them (no rule of the step needs them)."""

    case: CaseRow
    cadre: Mapping[str, Any]
    exceptions: tuple[ExceptionView, ...]
    seat_batch: int | None  # the batch holding the case's seat (A6.2), if any
    seat_contractor: str | None  # that batch's contractor: contractor staff's scope (A5.2)
    participations: tuple[int, ...] | None = None
    # when that batch started (A13.1: attendance only in a started batch); None if not yet
    seat_batch_started_at: datetime | None = None
    closure: CycleClosure | None = None  # the case's cycle, if it was closed (A9.1, A18.2)

    @property
    def granted(self) -> frozenset[str]:
        """Rules the case holds an exception to (A8.2, A9.2)."""
        return frozenset(e.rule for e in self.exceptions)


@dataclass(frozen=True)
class BatchRow:
    """A batch as an approval into it reads it (A6.2), with its plan's level, county and cycle
    and the rules its own exceptions waive."""

    id: int
    start_date: date
    end_date: date
    place: str
    province: str
    seats_taken: int
    contractor_id: int
    plan_level: str
    plan_county: str | None
    plan_cycle: str | None
    exception_rules: frozenset[str]  # the batch's own A6.2 exceptions (over_50, …)

    def evidence(self) -> dict[str, Any]:
        """What the approval copies into the case (A19.1): the case keeps the dates and place
        it was approved for even if the batch is edited later."""
        return {
            "batch_start": self.start_date.isoformat(),
            "batch_end": self.end_date.isoformat(),
            "destination": self.place,
            "province": self.province,
            "batch_size": self.seats_taken + 1,  # with this case (A6.2 counts assigned cadres)
            "batch_contractor_id": self.contractor_id,
            "batch_plan_level": self.plan_level,
            "batch_plan_county": self.plan_county,
            "batch_cycle": self.plan_cycle,
        }
