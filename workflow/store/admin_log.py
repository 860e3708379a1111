"""Appending to the admin log's hash chain (A19.1): the one statement sequence every
administrative write ends with — plans, contractors and batches (`workflow.store.plans`),
published definitions (`workflow.store.definitions`), closed cycles.

Kept apart from the plans aggregate so that an aggregate of its own does not borrow
`PlanStore` to write its entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from workflow.audit.admin import admin_hash, record
from workflow.audit.chain import GENESIS
from workflow.store.schema import admin_log


@dataclass(frozen=True)
class Author:
    """Who writes (A19.1): recorded with every entry of the admin log."""

    role: str
    name: str
    scope: str | None = None


def append_entry(
    connection: sa.Connection,
    *,
    author: Author,
    now: datetime | None,
    entity: str,
    key: int,
    action: str,
    row: Mapping[str, Any],
    reason: str | None = None,
) -> None:
    """Append one entry to the admin log's chain. PostgreSQL: the table lock (which readers do
    not wait for) orders concurrent writers, so two cannot link to the same predecessor; SQLite
    writers are serialised by BEGIN IMMEDIATE already."""
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("LOCK TABLE admin_log IN SHARE ROW EXCLUSIVE MODE"))
    last = connection.execute(
        sa.select(admin_log.c.seq, admin_log.c.hash).order_by(admin_log.c.seq.desc()).limit(1)
    ).first()
    prev_hash, seq = (GENESIS, 1) if last is None else (str(last.hash), int(last.seq) + 1)
    entry: dict[str, Any] = {
        "seq": seq,
        "entity": entity,
        "entity_id": key,
        "action": action,
        "actor": author.name[:200],
        "role": author.role[:64],
        "scope": None if author.scope is None else author.scope[:200],
        "at": now or datetime.now(UTC),
        "data": record(entity, row),
        "reason": reason,
        "prev_hash": prev_hash,
    }
    entry["hash"] = admin_hash(prev_hash, entry)
    connection.execute(sa.insert(admin_log).values(**entry))
