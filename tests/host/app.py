"""A sample back office embedding the engine as a host would: its own tables (a work log and
payments) in the same database, its own SQLAlchemy engine and sessions, and one host
transaction per request that the engine's steps join with ``within=session``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from factories import CONSENT, REGISTRATION
from sqlalchemy.orm import Session, sessionmaker

from workflow import CaseView, Engine, begin_write

metadata = sa.MetaData()
work_log = sa.Table(
    "host_work_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("case_id", sa.Integer, nullable=False),
    sa.Column("officer", sa.String(100), nullable=False),
    sa.Column("note", sa.String(200), nullable=False),
)
payments = sa.Table(
    "host_payments",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("case_id", sa.Integer, nullable=False),
    sa.Column("amount", sa.Numeric(10, 2), nullable=False),
)


class HostFailure(Exception):
    """Something of the host's own fails after the engine's step: the request rolls back."""


class BackOffice:
    def __init__(self, db: sa.Engine, engine: Engine) -> None:
        self.db, self.engine = db, engine
        self.sessions = sessionmaker(db)

    @contextmanager
    def request(self, *, writer: bool = True) -> Iterator[Session]:
        """One host transaction: committed when the block ends, rolled back if it raises.
        ``writer`` begins it with `begin_write` (BEGIN IMMEDIATE on SQLite)."""
        with self.sessions() as session, session.begin():
            if writer:
                begin_write(session)
            yield session

    def logged(self, session: Session) -> int:
        """The host reads its own table before the step, as a real request does."""
        return int(session.scalar(sa.select(sa.func.count()).select_from(work_log)) or 0)

    def open_case(self, cadre_id: str, *, fail: bool = False, writer: bool = True) -> CaseView:
        with self.request(writer=writer) as session:
            self.logged(session)
            case = self.engine.open_case(
                cadre_id, actor=f"cadre:张建国@{cadre_id}", data=REGISTRATION, within=session
            )
            session.execute(
                sa.insert(work_log).values(case_id=case.id, officer="窗口", note="登记")
            )
            if fail:
                raise HostFailure(case.id)
        return case

    def consent(
        self,
        case: CaseView,
        *,
        fail: bool = False,
        expected_version: int | None = None,
        writer: bool = True,
    ) -> CaseView:
        cadre_id = case.cadre_id
        with self.request(writer=writer) as session:
            self.logged(session)
            moved = self.engine.fire(
                case.id,
                "consent",
                actor=f"family:张丽@{cadre_id}",
                data=CONSENT,
                expected_version=expected_version,
                within=session,
            )
            session.execute(sa.insert(payments).values(case_id=case.id, amount=1200))
            if fail:
                raise HostFailure(case.id)
        return moved

    def counts(self) -> dict[str, Any]:
        with self.db.connect() as connection:
            return {
                table.name: connection.scalar(sa.select(sa.func.count()).select_from(table))
                for table in (work_log, payments)
            }
