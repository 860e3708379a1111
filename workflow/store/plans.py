"""Reads and writes of plans, contractors, their papers, batches, batch exceptions, evaluations
and incidents (art. 6, 9-18), on one connection in a transaction the caller owns.

`PlanStore` is the plans aggregate's only door to the database: `workflow.plans.service`
reads what a rule needs and writes what the rule allowed through it, inside one transaction
opened by `plan_store`, so a check and the write it allows see the same rows. Results are
plain dicts of column values (the shape ``--json`` prints and the API models read). Constraint
violations leave here as the engine's `InputError` naming the field (`workflow.store.errors`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from workflow.audit.admin import HOST
from workflow.audit.chain import GENESIS, batch_exception_hash
from workflow.errors import NotFoundError
from workflow.store.admin_log import Author, append_entry
from workflow.store.errors import integrity
from workflow.store.schema import (
    admin_log,
    batch_exceptions,
    batch_seats,
    batches,
    contractor_agreements,
    contractor_evaluations,
    contractor_qualifications,
    contractors,
    incidents,
    plans,
)

Row = dict[str, Any]
# what `Engine.transaction` is: a context manager giving a connection in a transaction
Transaction = Callable[..., AbstractContextManager[sa.Connection]]

_LABELS = {
    "name": "名称",
    "agreement_no": "协议编号",
    "rule": "例外规则",
    "batch_id": "批次",
    "case_id": "案件",
    "plan_id": "计划",
    "contractor_id": "承办单位",
    "score": "评分（0 至 100）",
    "seats": "已占名额",
}


@contextmanager
def plan_store(
    transaction: Transaction,
    *,
    write: bool = False,
    author: Author | None = None,
    now: datetime | None = None,
) -> Iterator[PlanStore]:
    """One transaction on the plans aggregate; ``write=True`` takes SQLite's write lock first
    (BEGIN IMMEDIATE) so a rule's read and the write it allows cannot be split by another
    writer. ``author`` is who every write of the transaction is logged as (a host program
    calling without one is logged as `workflow.audit.admin.HOST`), ``now`` when (the
    engine's clock)."""
    with transaction(write=write) as connection:
        yield PlanStore(connection, author, now)


class PlanStore:
    """The plans aggregate's statements on a connection; never commits. Every write appends
    the row as written to the admin log's hash chain, with the author (A19.1)."""

    def __init__(
        self, connection: sa.Connection, author: Author | None = None, now: datetime | None = None
    ) -> None:
        self.connection = connection
        self.author = author or Author(*HOST)
        self.now = now

    # -- the admin log (A19.1) --------------------------------------------------------------

    def _logged(self, entity: str, table: sa.Table, key: int, kind: str, action: str) -> Row:
        """Read the row just written and append it to the admin log; returns the row."""
        row = self._row(table, key, kind)
        self.log(entity, key, action, row)
        return row

    def log(
        self,
        entity: str,
        key: int,
        action: str,
        row: Mapping[str, Any],
        reason: str | None = None,
    ) -> None:
        """Append one entry to the admin log's chain (`workflow.store.admin_log`)."""
        append_entry(
            self.connection,
            author=self.author,
            now=self.now,
            entity=entity,
            key=key,
            action=action,
            row=row,
            reason=reason,
        )

    def log_entries(self, entity: str, key: int) -> list[Row]:
        """The admin log's entries about one row, oldest first (``show`` commands)."""
        return self._rows(
            sa.select(admin_log)
            .where(admin_log.c.entity == entity, admin_log.c.entity_id == key)
            .order_by(admin_log.c.seq)
        )

    # -- shared ---------------------------------------------------------------------------

    def _insert(self, table: sa.Table, values: Mapping[str, Any]) -> int:
        statement = sa.insert(table).values(**values).returning(table.c.id)
        return int(self.connection.execute(statement).scalar_one())

    def _row(self, table: sa.Table, key: int, kind: str) -> Row:
        row = self.connection.execute(sa.select(table).where(table.c.id == key)).mappings().first()
        if row is None:
            raise NotFoundError(kind, key)
        return dict(row)

    def _rows(self, query: sa.Select[Any]) -> list[Row]:
        return [dict(r) for r in self.connection.execute(query).mappings()]

    # -- plans ----------------------------------------------------------------------------

    def insert_plan(self, values: Mapping[str, Any]) -> Row:
        with integrity(labels=_LABELS):
            key = self._insert(plans, values)
        return self._logged("plan", plans, key, "计划", "create")

    def plan(self, plan_id: int) -> Row:
        return self._row(plans, plan_id, "计划")

    def plans(self, *, year: int | None = None) -> list[Row]:
        query = sa.select(plans).order_by(plans.c.id)
        if year is not None:
            query = query.where(plans.c.year == year)
        return self._rows(query)

    # -- contractors ----------------------------------------------------------------------

    def insert_contractor(self, values: Mapping[str, Any]) -> Row:
        name = values.get("name")
        with integrity({"name": f"已有同名承办单位“{name}”"}, labels=_LABELS):
            key = self._insert(contractors, values)
        return self._logged("contractor", contractors, key, "承办单位", "create")

    def contractor(self, contractor_id: int) -> Row:
        return self._row(contractors, contractor_id, "承办单位")

    def contractors(self) -> list[Row]:
        return self._rows(sa.select(contractors).order_by(contractors.c.id))

    def insert_qualification(self, values: Mapping[str, Any]) -> Row:
        with integrity(labels=_LABELS, foreign_key="contractor_id"):
            key = self._insert(contractor_qualifications, values)
        return self._logged("qualification", contractor_qualifications, key, "资质", "create")

    def qualifications(self, contractor_id: int) -> list[Row]:
        table = contractor_qualifications
        return self._rows(
            sa.select(table).where(table.c.contractor_id == contractor_id).order_by(table.c.id)
        )

    def insert_agreement(self, values: Mapping[str, Any]) -> Row:
        number = values.get("agreement_no")
        message = f"该承办单位在计划 {values.get('plan_id')} 已有协议编号 {number}"
        with integrity({"agreement_no": message}, labels=_LABELS):
            key = self._insert(contractor_agreements, values)
        return self._logged("agreement", contractor_agreements, key, "协议", "create")

    def agreements(self, contractor_id: int, *, plan_id: int | None = None) -> list[Row]:
        table = contractor_agreements
        query = sa.select(table).where(table.c.contractor_id == contractor_id)
        if plan_id is not None:
            query = query.where(table.c.plan_id == plan_id)
        return self._rows(query.order_by(table.c.id))

    def scores(self, contractor_id: int) -> list[int]:
        """Every A18.3 evaluation score of a contractor."""
        query = sa.select(contractor_evaluations.c.score).where(
            contractor_evaluations.c.contractor_id == contractor_id
        )
        return [int(s) for s in self.connection.execute(query).scalars()]

    # -- batches --------------------------------------------------------------------------

    def insert_batch(self, values: Mapping[str, Any]) -> int:
        with integrity(labels=_LABELS):
            key = self._insert(batches, values)
        self._logged("batch", batches, key, "批次", "create")
        return key

    def batch(self, batch_id: int, *, lock: bool = False) -> Row:
        """A batch; ``lock=True`` holds its row until the transaction ends (PostgreSQL; SQLite
        writers are serialised already), for a check and the update it allows."""
        if lock:
            self.connection.execute(
                sa.select(batches.c.id).where(batches.c.id == batch_id).with_for_update()
            )
        return self._row(batches, batch_id, "批次")

    def update_batch(self, batch_id: int, values: Mapping[str, Any]) -> Row:
        """Change a batch's correctable fields (staffing, plans, contacts, actual cost)."""
        self.connection.execute(
            sa.update(batches)
            .where(batches.c.id == batch_id)
            .values(**values, version=batches.c.version + 1)
        )
        return self._logged("batch", batches, batch_id, "批次", "update")

    def batches(self, *, plan_id: int | None = None) -> list[Row]:
        query = sa.select(batches).order_by(batches.c.id)
        if plan_id is not None:
            query = query.where(batches.c.plan_id == plan_id)
        return self._rows(query)

    def mark_started(self, batch_id: int, at: datetime) -> Row:
        self.connection.execute(
            sa.update(batches)
            .where(batches.c.id == batch_id)
            .values(started_at=at, version=batches.c.version + 1)
        )
        return self._logged("batch", batches, batch_id, "批次", "start")

    def seats(self, batch_id: int) -> list[Row]:
        return self._rows(
            sa.select(batch_seats.c.case_id, batch_seats.c.at)
            .where(batch_seats.c.batch_id == batch_id)
            .order_by(batch_seats.c.id)
        )

    # -- batch exceptions (A6.2), a hash chain per batch (A19.1) ---------------------------

    def exceptions(self, batch_id: int) -> list[Row]:
        table = batch_exceptions
        return self._rows(sa.select(table).where(table.c.batch_id == batch_id).order_by(table.c.id))

    def has_exception(self, batch_id: int, rule: str) -> bool:
        query = sa.select(batch_exceptions.c.id).where(
            batch_exceptions.c.batch_id == batch_id, batch_exceptions.c.rule == rule
        )
        return self.connection.execute(query).first() is not None

    def append_exception(self, batch_id: int, values: Mapping[str, Any]) -> Row:
        """Append an exception to the batch's hash chain and return the stored row.

        The batch row is locked first (PostgreSQL; SQLite writers are serialised already) so
        two grants on one batch cannot both link to the same predecessor and fork the chain.
        """
        self.connection.execute(
            sa.select(batches.c.id).where(batches.c.id == batch_id).with_for_update()
        )
        last = self.connection.execute(
            sa.select(batch_exceptions.c.hash)
            .where(batch_exceptions.c.batch_id == batch_id)
            .order_by(batch_exceptions.c.id.desc())
            .limit(1)
        ).scalar_one_or_none()
        prev_hash = GENESIS if last is None else str(last)
        row: dict[str, Any] = {"batch_id": batch_id, **values, "prev_hash": prev_hash}
        row["hash"] = batch_exception_hash(prev_hash, row)
        message = f"批次 {batch_id} 已有例外 {values.get('rule')}"
        with integrity({"rule": message}, labels=_LABELS):
            key = self._insert(batch_exceptions, row)
        return self._row(batch_exceptions, key, "批次例外")

    # -- evaluations (A18.3) and incidents (A13.2) ----------------------------------------

    def evaluations(self, batch_id: int) -> list[Row]:
        table = contractor_evaluations
        return self._rows(sa.select(table).where(table.c.batch_id == batch_id).order_by(table.c.id))

    def insert_evaluation(self, values: Mapping[str, Any]) -> Row:
        message = f"批次 {values.get('batch_id')} 已评价过承办单位"
        with integrity({"batch_id": message}, labels=_LABELS):
            key = self._insert(contractor_evaluations, values)
        return self._logged("evaluation", contractor_evaluations, key, "评价", "evaluate")

    def incidents(self, batch_id: int) -> list[Row]:
        table = incidents
        return self._rows(sa.select(table).where(table.c.batch_id == batch_id).order_by(table.c.id))

    def insert_incident(self, values: Mapping[str, Any]) -> Row:
        # the batch is read first, so a reference that fails is the case's
        message = f"没有案件 {values.get('case_id')}"
        with integrity({"case_id": message}, labels=_LABELS, foreign_key="case_id"):
            key = self._insert(incidents, values)
        return self._logged("incident", incidents, key, "事件", "create")
