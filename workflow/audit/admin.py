"""The admin log's canonical form (A19.1, A18.3): every write on plans, contractors, their
papers, batches, contractor evaluations and incidents is one entry in a single hash chain.

Pure, like `workflow.audit.chain`: the store writes entries with these functions, the migration
backfills rows written before the log existed, and `workflow.audit.verify` re-reads both the
chain and the rows, so all three agree by construction. An entry's ``data`` is the row *as
written* (`record`); a row whose current content differs from its last entry was changed
without one, which the check names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from workflow.audit.chain import GENESIS, chained_hash

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

# entity -> the table it lives in (`workflow.store.audit` streams them by these names). Entries
# about other entities (a published definition version) record an event whose own row is
# guarded otherwise (a stored definition by its content hash), and are only chained.
ENTITIES = {
    "plan": "plans",
    "contractor": "contractors",
    "qualification": "contractor_qualifications",
    "agreement": "contractor_agreements",
    "batch": "batches",
    "evaluation": "contractor_evaluations",
    "incident": "incidents",
    # a closed cycle (A9.1, A18.2): a closing deleted or rewritten behind the engine's back
    # would unfreeze its cycle, so its row is checked against its entry like the rest
    "cycle": "cycle_closures",
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
    """Whether a row still is what its last log entry recorded. Only the columns the entry
    holds are compared: a column added by a later revision is not in older entries."""
    current = record(entity, row)
    return all(key in current and current[key] == value for key, value in logged.items())


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


@dataclass(frozen=True)
class AdminProblem:
    """Where the admin log or a row it covers does not hold (`workflow.audit.verify` names it)."""

    table: str  # admin_log, or the entity's table
    key: int  # the log entry's seq, or the row's id
    problem: str  # relinked | edited | missing | unlogged | unrecorded | vanished


@dataclass(frozen=True)
class AdminCheck:
    records: int
    head: str
    problem: AdminProblem | None


def check(log: Iterable[Any], rows: Callable[[str], Iterable[Any]]) -> AdminCheck:
    """Check the admin log's chain (seq without gaps, each link, each hash), then every row of
    every logged table against the last entry about it: changed without an entry (unlogged),
    never logged (unrecorded), or logged and gone (vanished).

    ``log`` are the entries in seq order and ``rows(table)`` a table's rows in id order, each
    with ``_mapping``. The last entry per row is kept in memory: plans, contractors and batches
    number in the thousands, not millions.
    """
    prev, expected, count = GENESIS, 1, 0
    latest: dict[tuple[str, int], Mapping[str, Any]] = {}
    for entry in log:
        if entry.seq != expected:
            return AdminCheck(count, prev, AdminProblem("admin_log", expected, "missing"))
        if entry.prev_hash != prev:
            return AdminCheck(count, prev, AdminProblem("admin_log", entry.seq, "relinked"))
        if admin_hash(entry.prev_hash, entry._mapping) != entry.hash:
            return AdminCheck(count, prev, AdminProblem("admin_log", entry.seq, "edited"))
        if entry.entity in ENTITIES:  # other entries record events, not a row's content
            latest[(entry.entity, entry.entity_id)] = entry.data
        prev, expected, count = entry.hash, expected + 1, count + 1
    for entity, table in ENTITIES.items():
        for row in rows(table):
            logged = latest.pop((entity, row.id), None)
            if logged is None:
                return AdminCheck(count, prev, AdminProblem(table, row.id, "unrecorded"))
            if not matches(entity, row._mapping, logged):
                return AdminCheck(count, prev, AdminProblem(table, row.id, "unlogged"))
            count += 1
    if latest:
        entity, key = min(latest)
        return AdminCheck(count, prev, AdminProblem(ENTITIES[entity], key, "vanished"))
    return AdminCheck(count, prev, None)
