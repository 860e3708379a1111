"""The canonical form of an append-only record and its SHA-256, for the tamper-evident history
(A19.1).

Pure functions, no database: the store calls them when it writes a row, the migration when it
backfills old rows, and `workflow.audit.verify` when it re-reads them, so all three agree by
construction. The canonical form is computed from the values as the database gives them back
(instants in UTC with microseconds, JSON numbers as JSON reads them), which is why the writer
normalises before hashing instead of hashing whatever Python object it happened to hold.

Changing anything here changes every hash already stored: a new canonical form needs a new
chain version and a migration, never an edit in place.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

GENESIS = "0" * 64
"""The ``prev_hash`` of the first record of a chain: nothing came before it."""

EXCEPTIONS_APPLIED = "_exceptions_applied"
"""The history ``data`` key under which a step records the exceptions it relied on (the same
name as `workflow.steps.EXCEPTIONS_APPLIED`): part of the step's record, not of the case's
evidence."""

RECORD_ONLY = "_"
"""History ``data`` keys starting with this are the row's own record, never the case's evidence:
the exceptions a step relied on, a correction's previous values, a rebook's batches (issue 13).
Declared fields are identifiers (``^[a-z]…``), so none can start with it."""

HISTORY_FIELDS = (
    "case_id",
    "seq",
    "trigger",
    "from_state",
    "to_state",
    "actor",
    "role",
    "on_behalf_of",
    "at",
    "data",
    "reason",
)
CASE_EXCEPTION_FIELDS = (
    "case_id",
    "seq",
    "rule",
    "article",
    "approver_role",
    "approver_name",
    "reason",
    "at",
)
BATCH_EXCEPTION_FIELDS = (
    "batch_id",
    "rule",
    "article",
    "approver_role",
    "approver_name",
    "reason",
    "at",
)


def canonical(row: Mapping[str, Any], fields: tuple[str, ...]) -> str:
    """One text for the row's content: sorted keys, no spaces, Chinese kept as is, instants as
    ISO UTC with microseconds. A field missing from ``row`` is hashed as null, like the NULL a
    database would store for it."""
    content = {name: _plain(row.get(name)) for name in fields}
    return json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def chained_hash(prev_hash: str, row: Mapping[str, Any], fields: tuple[str, ...]) -> str:
    """The row's hash, bound to the one before it: editing or removing an earlier row breaks
    every later link."""
    return hashlib.sha256((prev_hash + canonical(row, fields)).encode()).hexdigest()


def history_hash(prev_hash: str, row: Mapping[str, Any]) -> str:
    return chained_hash(prev_hash, row, HISTORY_FIELDS)


def case_exception_hash(row: Mapping[str, Any]) -> str:
    """Case exceptions are not chained among themselves: each one is pinned to the history row
    that granted it (same case and seq), and that row is in the case's chain."""
    return hashlib.sha256(canonical(row, CASE_EXCEPTION_FIELDS).encode()).hexdigest()


def batch_exception_hash(prev_hash: str, row: Mapping[str, Any]) -> str:
    return chained_hash(prev_hash, row, BATCH_EXCEPTION_FIELDS)


def evidence_after(evidence: Mapping[str, Any], data: Mapping[str, Any]) -> dict[str, Any]:
    """The case's evidence once a step whose history ``data`` is given has run: each step adds
    its fields (and the batch's facts) to what the case already had."""
    return {**evidence, **{k: v for k, v in data.items() if not k.startswith(RECORD_ONLY)}}


def same_content(left: Any, right: Any) -> bool:
    """Whether two values are the same record content as the database gives them back (an
    integral float equals its int, an instant equals itself in any zone)."""
    return bool(_plain(left) == _plain(right))


_AS_IS = frozenset({str, int, bool, type(None)})


def _plain(value: Any) -> Any:
    """JSON-native values as the database returns them.

    Integral floats become ints because PostgreSQL's JSONB keeps numbers as ``numeric`` and may
    hand ``1e20`` back as an int; a hash must not depend on which database stored the row.
    """
    kind = type(value)
    if kind in _AS_IS:  # most of a record: checked first, by exact type, as it is hashed per step
        return value
    if kind is dict:
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous; the store only keeps aware ones")
        # the same text as strftime("%Y-%m-%dT%H:%M:%S.%fZ") for years from 1000, a few times
        # faster
        utc = value.astimezone(UTC).replace(tzinfo=None)
        return utc.isoformat(timespec="microseconds") + "Z"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    raise TypeError(f"{type(value).__name__} is not part of a stored record")
