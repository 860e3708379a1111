"""The admin log's canonical form (A19.1, A18.3): every write on plans, contractors, their
papers, batches, contractor evaluations and incidents is one entry in a single hash chain.

Pure, like `workflow.audit.chain`: the store writes entries with these functions, the migration
backfills rows written before the log existed, and `workflow.audit.verify` re-reads both the
chain and the rows, so all three agree by construction. An entry's ``data`` is the row *as
written* (`record`); a row whose current content differs from its last entry was changed
without one, which the check names.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from workflow.audit.chain import chained_hash

ADMIN_FIELDS = (
    "seq",
    "entity",
    "entity_id",
    "action",
    "actor",
    "role",
    "scope",
    "at",
    "data",
    "reason",
)

# entity -> the table it lives in (`workflow.store.audit` streams them by these names)
ENTITIES = {
    "plan": "plans",
    "contractor": "contractors",
    "qualification": "contractor_qualifications",
    "agreement": "contractor_agreements",
    "batch": "batches",
    "evaluation": "contractor_evaluations",
    "incident": "incidents",
}

# columns a log entry does not pin: a batch's seat counter and version move with the cases'
# approval steps, which the cases' own chains record (A19.1)
UNLOGGED: Mapping[str, frozenset[str]] = {"batch": frozenset({"seats_taken", "version"})}

HOST = ("host", "宿主程序")
"""Role and name recorded when a host program calls the plans service without an actor."""


def admin_hash(prev_hash: str, row: Mapping[str, Any]) -> str:
    return chained_hash(prev_hash, row, ADMIN_FIELDS)


def record(entity: str, row: Mapping[str, Any]) -> dict[str, Any]:
    """The row as a log entry keeps it: JSON values only (money as decimal text, dates ISO,
    instants ISO UTC), without the columns other chains own (`UNLOGGED`)."""
    skip = UNLOGGED.get(entity, frozenset())
    return {key: _value(value) for key, value in row.items() if key not in skip}


def matches(entity: str, row: Mapping[str, Any], logged: Mapping[str, Any]) -> bool:
    """Whether a row still is what its last log entry recorded."""
    return record(entity, row) == dict(logged)


def _value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # aware, from the store
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_value(v) for v in value]
    return value
