"""Every SQL statement on definitions, cadres, cases, history and case exceptions.

`SqlCaseStore` opens transactions (the host's own when it passes ``within=``); a
`CaseTransaction` is the one object a step or a read talks to inside it, and speaks in the
typed values of `workflow.snapshot` and `workflow.views`, never in rows. Nothing here commits
on its own: the caller's transaction decides, so a state change, its history row, its notices
and its seat land together or not at all. Database errors that mean something to a caller are
mapped here, once: a second exception to the same rule is `InputError` naming the field ``rule``,
a seat taken by a concurrent step is `ConflictError`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from workflow.audit.chain import GENESIS, case_exception_hash, history_hash
from workflow.clock import shanghai_date
from workflow.errors import ConflictError, InputError
from workflow.snapshot import BatchRow, CadreFiling, CaseRow, CycleClosure, JsonText, Snapshot
from workflow.store import keyset, seats
from workflow.store.database import Database, DriverTransaction, Within
from workflow.store.prepared import On, Prepared, insert_of
from workflow.store.schema import (
    batch_exceptions,
    batch_seats,
    batches,
    cadres,
    case_exceptions,
    case_state_counts,
    cases,
    cycle_closures,
    definitions,
    history,
    outbox,
    participations,
    plans,
)
from workflow.views import ExceptionView, HistoryEntry

Record = sa.Row[*tuple[Any, ...]]

# Statements on the hot path of every step are built once: constructing a SQLAlchemy statement
# costs more than executing it against SQLite (benchmarks/transitions.py).

# every column of the case but the eligibility explanation, which comes as its JSON text:
# decoding the largest value of the row is left to the one caller who reads it (`cases show`)
_CASE_COLUMNS = [c for c in cases.c if c.name != "eligibility"]
_ELIGIBILITY_TEXT = sa.cast(cases.c.eligibility, sa.Text).label("eligibility_json")
_EXCEPTION_COLUMNS = [
    case_exceptions.c.seq.label("x_seq"),
    case_exceptions.c.rule.label("x_rule"),
    case_exceptions.c.article.label("x_article"),
    case_exceptions.c.approver_role.label("x_approver_role"),
    case_exceptions.c.approver_name.label("x_approver_name"),
    case_exceptions.c.reason.label("x_reason"),
    case_exceptions.c.at.label("x_at"),
]
_others = cases.alias("others")
_CLOSURE_COLUMNS = [
    cycle_closures.c.cycle.label("closed_cycle"),
    cycle_closures.c.closed_by,
    cycle_closures.c.role.label("closed_role"),
    cycle_closures.c.closed_at,
]


def _snapshot_query(*, participations: bool) -> sa.Select[Any]:
    """One SELECT for all a step reads about its case: the row, the cadre's record, the seat
    and its contractor, every exception granted (one result row each), the closing of the
    case's cycle if it was closed (A9.1, A18.2) and, when a rule needs them, the cadre's other
    cases in the cycle that count as taking part (A9.2)."""
    joined = (
        cases.join(cadres, cadres.c.id == cases.c.cadre_id)
        .outerjoin(batch_seats, batch_seats.c.case_id == cases.c.id)
        .outerjoin(batches, batches.c.id == batch_seats.c.batch_id)
        .outerjoin(case_exceptions, case_exceptions.c.case_id == cases.c.id)
        .outerjoin(cycle_closures, cycle_closures.c.cycle == cases.c.cycle)
    )
    columns: list[Any] = [
        *_CASE_COLUMNS,
        _ELIGIBILITY_TEXT,
        cadres.c.record.label("cadre_record"),
        batch_seats.c.batch_id.label("seat_batch"),
        batches.c.contractor_id.label("seat_contractor"),
        batches.c.started_at.label("seat_batch_started_at"),
        *_EXCEPTION_COLUMNS,
        *_CLOSURE_COLUMNS,
    ]
    order = [case_exceptions.c.seq]
    if participations:
        joined = joined.outerjoin(
            _others,
            sa.and_(
                _others.c.cadre_id == cases.c.cadre_id,
                _others.c.cycle == cases.c.cycle,
                _others.c.id != cases.c.id,
                _others.c.state.in_(sa.bindparam("states", expanding=True)),
            ),
        )
        columns.append(_others.c.id.label("other_id"))
        order.append(_others.c.id)
    return (
        sa.select(*columns)
        .select_from(joined)
        .where(cases.c.id == sa.bindparam("case_id"))
        .order_by(*order)
    )


_SNAPSHOT = Prepared(_snapshot_query(participations=False))
_SNAPSHOT_WITH_PARTICIPATIONS = _snapshot_query(participations=True)
_CASE = (
    sa.select(*_CASE_COLUMNS, _ELIGIBILITY_TEXT, *_EXCEPTION_COLUMNS)
    .select_from(cases.outerjoin(case_exceptions, case_exceptions.c.case_id == cases.c.id))
    .where(cases.c.id == sa.bindparam("case_id"))
    .order_by(case_exceptions.c.seq)
)
_CASE_CONTRACTOR = (
    sa.select(batches.c.contractor_id)
    .join(batch_seats, batch_seats.c.batch_id == batches.c.id)
    .where(batch_seats.c.case_id == sa.bindparam("case_id"))
)
# The batch an approval names (A6.2), its plan, and its own exceptions, one row per exception.
# On PostgreSQL the batch row is locked as the seat's UPDATE would lock it: an edit of the
# batch waits until the approval has committed, so the facts the rules ran on stay true until
# then (SQLite has one writer at a time, and a step reads inside its write transaction).
_BATCH = (
    sa.select(
        batches.c.id,
        batches.c.start_date,
        batches.c.end_date,
        batches.c.place,
        batches.c.province,
        batches.c.seats_taken,
        batches.c.contractor_id,
        plans.c.organiser_level,
        plans.c.county.label("plan_county"),
        plans.c.cycle.label("plan_cycle"),
        batch_exceptions.c.rule.label("exception_rule"),
    )
    .select_from(
        batches.join(plans, plans.c.id == batches.c.plan_id).outerjoin(
            batch_exceptions, batch_exceptions.c.batch_id == batches.c.id
        )
    )
    .where(batches.c.id == sa.bindparam("batch_id"))
    .with_for_update(key_share=True, of=batches)
)
_OTHER_CASES_IN_CYCLE = (
    sa.select(cases.c.id)
    .where(
        cases.c.cadre_id == sa.bindparam("cadre_id"),
        cases.c.cycle == sa.bindparam("cycle"),
        cases.c.state.in_(sa.bindparam("states", expanding=True)),
        cases.c.id != sa.bindparam("excluding"),
    )
    .order_by(cases.c.id)
)
_MOVE_CASE = Prepared(
    sa.update(cases)
    .where(cases.c.id == sa.bindparam("b_case_id"), cases.c.version == sa.bindparam("b_version"))
    .values(
        state=sa.bindparam("b_state"),
        terminal=sa.bindparam("b_terminal"),
        version=sa.bindparam("b_new_version"),
        evidence=sa.bindparam("b_evidence", type_=cases.c.evidence.type),
        updated_at=sa.bindparam("b_updated_at", type_=cases.c.updated_at.type),
        chain_head=sa.bindparam("b_chain_head"),
        # a step that keeps an open case's state keeps the stay's sweep day (its timers count
        # from the entry); on an ended case (a correction) the sweeps look again (revision 0021)
        sweep_on=sa.case(
            (
                sa.and_(cases.c.state == sa.bindparam("b_state"), cases.c.terminal == sa.false()),
                cases.c.sweep_on,
            ),
            else_=sa.bindparam("b_sweep_on", type_=sa.Date),
        ),
    )
)
_CASE_VERSION = sa.select(cases.c.version).where(cases.c.id == sa.bindparam("case_id"))
_INSERT_HISTORY = sa.insert(history)


# A step's history row goes in before the case row moves, so the database can refuse a case
# change that comes without one (the A19.1 trigger); seq is the version the row creates, and a
# row already there means a concurrent step moved the case first: nothing is inserted, and no
# error aborts the transaction (a host's own keeps working after a ConflictError).
# (RETURNING says whether it went in: psycopg reports no row count for such an insert.)
def _insert_unless_there(
    table: sa.Table, keys: Sequence[str], *, on: Sequence[str] | None = None
) -> dict[str, Prepared]:
    """Per dialect, an INSERT of one row that does nothing when a unique key (``on``, else any)
    already holds it, and returns the new id so the caller knows which happened (psycopg
    reports no row count for such an insert)."""
    return {
        dialect.__name__.rsplit(".", 1)[-1]: Prepared(
            dialect.insert(table)
            .on_conflict_do_nothing(index_elements=list(on) if on else None)
            .returning(table.c.id),
            keys,
        )
        for dialect in (sqlite, postgresql)
    }


_HISTORY_KEYS = [c.name for c in history.c if c.name != "id"]
_APPEND_HISTORY = _insert_unless_there(history, _HISTORY_KEYS, on=("case_id", "seq"))
_SET_CHAIN_HEAD = Prepared(
    sa.update(cases)
    .where(cases.c.id == sa.bindparam("b_case_id"))
    .values(chain_head=sa.bindparam("b_chain_head"))
)
# The hash of the row a new history row follows (A19.1), for a case row without a chain head
# (none since revision 0007 filled them in); read after the compare-and-set on the version.
_PREV_HASH = sa.select(history.c.hash).where(
    history.c.case_id == sa.bindparam("case_id"), history.c.seq == sa.bindparam("seq")
)


@functools.cache
def _case_insert(keys: tuple[str, ...], dialect: str) -> Prepared:
    """An opening's INSERT whose eligibility explanation comes as JSON text already
    (`workflow.snapshot.JsonText`): bound as text, cast to JSONB on PostgreSQL (SQLite keeps
    JSON as text; its CAST to JSON would read it as a number)."""
    text = sa.bindparam("eligibility", type_=sa.Text)
    value = sa.cast(text, postgresql.JSONB) if dialect == "postgresql" else text
    statement = sa.insert(cases).values(eligibility=value).returning(cases.c.id)
    return Prepared(statement, [key for key in keys if key != "eligibility"])


_INSERT_EXCEPTION = sa.insert(case_exceptions)
_INSERT_CASE = sa.insert(cases)
_INSERT_NOTICES = sa.insert(outbox)
# On PostgreSQL the cadre's row is locked until the opening commits, so two registrations of
# one cadre at the same moment take turns and the second sees the first (A9.2 at open). The
# same read says whether the cycle the case would be filed under is closed (A9.1, A18.2);
# closing a cycle locks the cadres table against this lock, so an opening and a closing take
# turns too (`workflow.store.cycles`).
_CADRE_FILED = Prepared(
    sa.select(cadres.c.county, cadres.c.agency, cadres.c.record, *_CLOSURE_COLUMNS)
    .select_from(cadres.outerjoin(cycle_closures, cycle_closures.c.cycle == sa.bindparam("cycle")))
    .where(cadres.c.id == sa.bindparam("cadre_id"))
    # FOR NO KEY UPDATE: serialises openings of one cadre without blocking the rows that only
    # refer to the cadre (participations, visit keys) for the length of the opening
    .with_for_update(of=cadres, key_share=True)
)
# The plans of the registration day's year (A3.2), as `plan_facts.annual_plans` reads them for
# the carry-over and the what-if; prepared here, since every registration asks.
_ANNUAL_PLANS = Prepared(
    sa.select(
        plans.c.id, plans.c.organiser_level, plans.c.county, plans.c.year, plans.c.cycle
    ).where(plans.c.year == sa.bindparam("year"))
)
# The cadre's registrations still under way in a cycle, under the same workflow: a second one
# is refused at open (A9.2), before the family is asked to consent twice.
_LIVE_REGISTRATIONS = Prepared(
    sa.select(cases.c.id)
    .join(definitions, definitions.c.id == cases.c.definition_id)
    .where(
        cases.c.cadre_id == sa.bindparam("cadre_id"),
        cases.c.cycle == sa.bindparam("cycle"),
        definitions.c.name == sa.bindparam("workflow"),
        cases.c.terminal.is_(False),
    )
    .order_by(cases.c.id)
)
# A participation claims the cycle for its cadre; a claim already held stops it without an
# error that would abort a host's transaction (RETURNING: psycopg reports no row count here).
_CLAIM_PARTICIPATION = _insert_unless_there(
    participations, ("cadre_id", "cycle", "case_id", "claim", "taken_at")
)
_CLAIM_HOLDER = sa.select(participations.c.case_id).where(
    participations.c.cadre_id == sa.bindparam("cadre_id"),
    participations.c.cycle == sa.bindparam("cycle"),
    participations.c.claim == sa.bindparam("claim"),
)
_RELEASE_PARTICIPATION = sa.delete(participations).where(
    participations.c.case_id == sa.bindparam("case_id")
)
_DEFINITION_BY_ID = sa.select(definitions.c.source_text, definitions.c.source_name).where(
    definitions.c.id == sa.bindparam("definition_id")
)
_FIND_DEFINITION = sa.select(definitions.c.id, definitions.c.content_hash).where(
    definitions.c.name == sa.bindparam("name"), definitions.c.version == sa.bindparam("version")
)


class SqlCaseStore:
    """Transactions over the case tables; ``within`` joins the host's own (never committed
    here)."""

    def __init__(self, database: Database) -> None:
        self.database = database

    @contextmanager
    def transaction(
        self, within: Within = None, *, write: bool = False, single_read: bool = False
    ) -> Iterator[SqlCaseTransaction]:
        if write and within is None:
            # a step's own write transaction: on the driver, unless someone listens
            own = self.database.driver_write()
            if own is not None:
                with own:
                    yield SqlCaseTransaction(own)
                return
        with self.database.transaction(within, write=write, single_read=single_read) as c:
            yield SqlCaseTransaction(c)


class SqlCaseTransaction:
    """The reads and writes of one transaction, on a connection the caller owns: a SQLAlchemy
    connection, or the engine's own write transaction on the driver (`DriverTransaction`),
    whose prepared statements skip SQLAlchemy's execution layer."""

    def __init__(self, on: sa.Connection | DriverTransaction) -> None:
        self._on = on

    @property
    def connection(self) -> sa.Connection:
        """A SQLAlchemy connection in this transaction, for statements not prepared."""
        on = self._on
        return on.connection if isinstance(on, DriverTransaction) else on

    # -- reads a step decides on ------------------------------------------------------------

    def snapshot(
        self, case_id: int, *, participation_states: Sequence[str] | None = None
    ) -> Snapshot | None:
        """The case and all it is decided on, in one statement; None if there is no such case.
        ``participation_states`` also gathers the cadre's other cases in the cycle in those
        states (A9.2)."""
        rows: Sequence[Any]
        if participation_states is None:
            rows = _SNAPSHOT.rows(self._on, {"case_id": case_id})
        else:
            rows = self.connection.execute(
                _SNAPSHOT_WITH_PARTICIPATIONS,
                {"case_id": case_id, "states": list(participation_states)},
            ).all()
        if not rows:
            return None
        first = rows[0]
        participations = None
        if participation_states is not None:
            participations = tuple(sorted({r.other_id for r in rows if r.other_id is not None}))
            if first.cycle is None:
                participations = ()
        seat_contractor = first.seat_contractor
        return Snapshot(
            case=_case_row(first),
            cadre=first.cadre_record or {},
            exceptions=_exceptions(case_id, rows),
            seat_batch=first.seat_batch,
            seat_contractor=None if seat_contractor is None else str(seat_contractor),
            seat_batch_started_at=first.seat_batch_started_at,
            participations=participations,
            closure=_closure(first),
        )

    def participations(
        self, *, cadre_id: str, cycle: str, states: Sequence[str], excluding: int
    ) -> tuple[int, ...]:
        """Ids of the cadre's other cases in ``cycle`` that count as taking part (A9.2)."""
        found = self.connection.execute(
            _OTHER_CASES_IN_CYCLE,
            {"cadre_id": cadre_id, "cycle": cycle, "states": list(states), "excluding": excluding},
        ).scalars()
        return tuple(int(case_id) for case_id in found)

    def batch(self, batch_id: int) -> BatchRow | None:
        """The batch an approval names, locked against edits until the step commits."""
        rows = self.connection.execute(_BATCH, {"batch_id": batch_id}).all()
        if not rows:
            return None
        row = rows[0]
        return BatchRow(
            id=row.id,
            start_date=row.start_date,
            end_date=row.end_date,
            place=row.place,
            province=row.province,
            seats_taken=row.seats_taken,
            contractor_id=row.contractor_id,
            plan_level=row.organiser_level,
            plan_county=row.plan_county,
            plan_cycle=row.plan_cycle,
            exception_rules=frozenset(r.exception_rule for r in rows if r.exception_rule),
        )

    def cadre_filing(self, cadre_id: str, cycle: str | None = None) -> CadreFiling | None:
        """The cadre's record with the county and agency a case is filed under, and whether
        ``cycle`` (the one it would be filed under) is closed, in one read."""
        row = _CADRE_FILED.first(self._on, {"cadre_id": cadre_id, "cycle": cycle})
        if row is None:
            return None
        return CadreFiling(cadre_id, row.county, row.agency, dict(row.record), _closure(row))

    def annual_plans(self, year: int) -> list[dict[str, Any]]:
        """The plans of ``year`` a registration is checked against (A3.2): the columns of
        `plan_facts.annual_plans`, as a statement prepared for the registration step."""
        return [row._asdict() for row in _ANNUAL_PLANS.rows(self._on, {"year": year})]

    def live_registrations(self, *, cadre_id: str, cycle: str, workflow: str) -> tuple[int, ...]:
        """Ids of the cadre's cases in ``cycle`` under ``workflow`` that are not closed."""
        found = _LIVE_REGISTRATIONS.rows(
            self._on, {"cadre_id": cadre_id, "cycle": cycle, "workflow": workflow}
        )
        return tuple(int(row.id) for row in found)

    # -- writes of a step -------------------------------------------------------------------

    def take_part(self, *, case: CaseRow, claim: str | None, now: datetime) -> int | None:
        """Record that ``case`` takes part in its cycle (A9.2). With ``claim`` set, only one
        case per cadre and cycle may hold it: returns None when this case took part, else the
        id of the other case that holds the claim (nothing written). `ConflictError` when the
        case's own row is already there (the same step, concurrently)."""
        taken = _CLAIM_PARTICIPATION[self._on.dialect.name].first(
            self._on,
            {
                "cadre_id": case.cadre_id,
                "cycle": case.cycle,
                "case_id": case.id,
                "claim": claim,
                "taken_at": now,
            },
        )
        if taken is not None:
            return None
        holder = None
        if claim is not None:
            holder = self.connection.execute(
                _CLAIM_HOLDER, {"cadre_id": case.cadre_id, "cycle": case.cycle, "claim": claim}
            ).scalar()
        if holder is None or int(holder) == case.id:
            # the case's own row was there: the same step ran at the same moment and won
            raise self._lost(case)
        return int(holder)

    def leave(self, case_id: int) -> None:
        """The case no longer takes part in its cycle (withdrawn, unable to attend)."""
        self.connection.execute(_RELEASE_PARTICIPATION, {"case_id": case_id})

    def insert_case(self, values: Mapping[str, Any]) -> int:
        """Insert a case row; its ``eligibility`` may come as `JsonText`, written as it is.
        Without a ``sweep_on`` the sweeps look at the case from the day it opened."""
        on = self._on
        if "sweep_on" not in values:
            values = {**values, "sweep_on": shanghai_date(values["opened_at"])}
        if type(values.get("eligibility")) is JsonText:
            insert = _case_insert(tuple(values), on.dialect.name)
        else:
            insert = insert_of(cases, tuple(values), "id")
        inserted = insert.first(on, values)
        assert inserted is not None, "an INSERT of one row returns its id"
        return int(inserted.id)

    def start_chain(self, case_id: int, first: Mapping[str, Any]) -> str:
        """The first history row of a case just opened, and the case's chain head set to it
        (the row needs the case's id, so the head is set after the insert)."""
        row = chained(first, GENESIS)
        insert_of(history, tuple(row)).count(self._on, row)
        _SET_CHAIN_HEAD.count(self._on, {"b_case_id": case_id, "b_chain_head": row["hash"]})
        return str(row["hash"])

    def move_case(
        self,
        *,
        case: CaseRow,
        state: str,
        terminal: bool,
        evidence: Mapping[str, Any],
        history_row: Mapping[str, Any],
        sweep_on: date | Literal["step day"] | None = "step day",
    ) -> str:
        """Append the case's history row, linked to its chain head (A19.1), then compare-and-set
        the case on its version; returns the new head. `ConflictError` with nothing written
        when someone moved the case first. ``sweep_on``: the new state's sweep day
        (`workflow.sweep_on`); by default the sweeps look at the case from the step's day."""
        prev_hash = case.chain_head or self._previous_hash(case.id, int(history_row["seq"]))
        row = chained(history_row, prev_hash)
        appended = _APPEND_HISTORY[self._on.dialect.name].first(self._on, row)
        if appended is None:
            raise self._lost(case)
        moved = _MOVE_CASE.count(
            self._on,
            {
                "b_case_id": case.id,
                "b_version": case.version,
                "b_state": state,
                "b_terminal": terminal,
                "b_new_version": case.version + 1,
                "b_evidence": dict(evidence),
                "b_updated_at": history_row["at"],
                "b_chain_head": row["hash"],
                "b_sweep_on": (
                    shanghai_date(history_row["at"]) if sweep_on == "step day" else sweep_on
                ),
            },
        )
        if moved != 1:
            raise self._lost(case)
        return str(row["hash"])

    def _previous_hash(self, case_id: int, seq: int) -> str:
        if seq == 1:
            return GENESIS
        found = self.connection.execute(_PREV_HASH, {"case_id": case_id, "seq": seq - 1})
        return str(found.scalar_one())

    def _lost(self, case: CaseRow) -> ConflictError:
        """Someone moved ``case`` since this step read it: nothing of the step is written."""
        return ConflictError(
            case_id=case.id,
            expected_version=case.version,
            actual_version=self.case_version(case.id),
        )

    def case_version(self, case_id: int) -> int | None:
        return self.connection.execute(_CASE_VERSION, {"case_id": case_id}).scalar_one_or_none()

    def insert_notices(self, rows: Sequence[Mapping[str, Any]]) -> None:
        insert_notices(self._on, rows)

    def insert_exception(self, values: Mapping[str, Any]) -> None:
        """Record a granted exception with the hash of its content; `audit verify` checks it
        against the grant's history row, which the case's chain protects (A19.1). Two
        identical grants at once: the case's compare-and-set lets one through, and the unique
        (case, rule) index is the last line."""
        row = dict(values)
        row["hash"] = case_exception_hash(row)
        try:
            self.connection.execute(_INSERT_EXCEPTION, row)
        except IntegrityError as exc:
            raise InputError(
                f"案件 {row['case_id']} 已有规则 {row['rule']} 的例外，不能重复批准"
                f"（case {row['case_id']} already has an exception to '{row['rule']}'）",
                field="rule",
            ) from exc

    def take_seat(self, *, batch_id: int, case_id: int, version: int, now: datetime) -> None:
        """A seat in the batch, in the step's own transaction (A6.2); the same case seated by
        a concurrent step is a conflict (`seats.take_seat` raises it)."""
        seats.take_seat(
            self.connection, batch_id=batch_id, case_id=case_id, now=now, expected_version=version
        )

    def release_seat(self, *, batch_id: int, case_id: int) -> None:
        seats.release_seat(self.connection, batch_id=batch_id, case_id=case_id)

    # -- definitions ------------------------------------------------------------------------

    def definition_text(self, definition_id: int) -> tuple[str, str] | None:
        """The stored text of a definition version and its file name, to compile it."""
        row = self.connection.execute(_DEFINITION_BY_ID, {"definition_id": definition_id}).first()
        return None if row is None else (row.source_text, row.source_name)

    def find_definition(self, name: str, version: int) -> tuple[int, str] | None:
        """The id and content hash stored for ``name`` version ``version``, if any."""
        row = self.connection.execute(_FIND_DEFINITION, {"name": name, "version": version}).first()
        return None if row is None else (int(row.id), str(row.content_hash))

    def insert_definition(self, values: Mapping[str, Any]) -> int | None:
        """Store a definition version; None if another process stored it first."""
        try:
            with self.connection.begin_nested():
                return _new_id(self.connection.execute(sa.insert(definitions).values(**values)))
        except IntegrityError:
            return None

    # -- reads for callers ------------------------------------------------------------------

    def case(self, case_id: int) -> tuple[CaseRow, tuple[ExceptionView, ...]] | None:
        """A case with its exceptions, in one statement."""
        rows = self.connection.execute(_CASE, {"case_id": case_id}).all()
        if not rows:
            return None
        return _case_row(rows[0]), _exceptions(case_id, rows)

    def case_contractor(self, case_id: int) -> str | None:
        """The contractor of the batch holding the case's seat: contractor staff's scope."""
        found = self.connection.execute(_CASE_CONTRACTOR, {"case_id": case_id})
        value = found.scalar_one_or_none()
        return None if value is None else str(value)

    def cases(
        self,
        *,
        state: str | None = None,
        county: str | None = None,
        agency: str | None = None,
        cadre_id: str | None = None,
        contractor_id: str | None = None,
        open_only: bool = False,
        limit: int = 100,
        offset: int = 0,
        after: int | None = None,
    ) -> list[CaseRow]:
        """Cases by filter, by id. ``after`` continues after that case id (keyset paging): each
        filter is a range on an index ending in ``id`` (revision 0017), so a page deep in the
        table and a filter matching nothing cost what a first page does. ``offset`` skips rows
        the database still reads one by one: the slow path, kept for old callers."""
        query = sa.select(*_CASE_COLUMNS, _ELIGIBILITY_TEXT)
        for column, value in (
            (cases.c.state, state),
            (cases.c.county, county),
            (cases.c.agency, agency),
            (cases.c.cadre_id, cadre_id),
        ):
            if value is not None:
                query = query.where(column == value)
        if contractor_id is not None:
            query = query.where(_in_batch_of(contractor_id))
        if open_only:
            query = query.where(_OPEN_CASE)
        cursor = None if after is None else [after]
        query = keyset.page_after(query, [cases.c.id], cursor, limit=limit).offset(offset)
        return [_case_row(row) for row in self.connection.execute(query)]

    def history(self, case_id: int) -> list[HistoryEntry]:
        query = sa.select(history).where(history.c.case_id == case_id).order_by(history.c.seq)
        return [
            HistoryEntry(
                case_id=r.case_id,
                seq=r.seq,
                trigger=r.trigger,
                from_state=r.from_state,
                to_state=r.to_state,
                actor=r.actor,
                role=r.role,
                at=r.at,
                data=dict(r.data),
                reason=r.reason,
                on_behalf_of=r.on_behalf_of,
            )
            for r in self.connection.execute(query)
        ]

    def cadre_names(self, cadre_ids: Sequence[str]) -> dict[str, str]:
        """The roster name of each of these cadres, in one statement (a page of a listing
        shows whom each case is about without a read per case)."""
        if not cadre_ids:
            return {}
        query = sa.select(cadres.c.id, cadres.c.name).where(cadres.c.id.in_(set(cadre_ids)))
        return {str(row.id): str(row.name) for row in self.connection.execute(query)}

    def cadre_record(self, cadre_id: str) -> dict[str, Any] | None:
        query = sa.select(cadres.c.record).where(cadres.c.id == cadre_id)
        record = self.connection.execute(query).scalar_one_or_none()
        return dict(record) if record is not None else None

    def upsert_cadre(self, row: Mapping[str, Any], now: datetime) -> None:
        values = {**row, "updated_at": now}
        dialect = postgresql if self.connection.dialect.name == "postgresql" else sqlite
        insert: Any = dialect.insert
        statement = insert(cadres).values(**values)
        updated = {key: statement.excluded[key] for key in values if key != "id"}
        self.connection.execute(
            statement.on_conflict_do_update(index_elements=["id"], set_=updated)
        )

    def count_by_state(self) -> dict[str, int]:
        """Cases per state (states without a case left out), from the totals revision 0017
        keeps: a dozen rows, where counting a million index entries took 47 ms (SQLite) and
        141 ms (PostgreSQL). On PostgreSQL the moves the steps appended since the last count
        are folded into the totals first, one count at a time (the lock), so a count reads
        what was committed when it got the lock: each move is counted once."""
        if self.connection.dialect.name == "sqlite":
            counts = case_state_counts.c
            query = sa.select(counts.state, counts.total).where(counts.total > 0)
            return {state: int(count) for state, count in self.connection.execute(query)}
        self.connection.execute(_LOCK_COUNTS)
        return {state: int(count) for state, count in self.connection.execute(_FOLD_MOVES)}


def chained(values: Mapping[str, Any], prev_hash: str) -> dict[str, Any]:
    """The history row linked after ``prev_hash`` (A19.1), with its own hash."""
    row = dict(values)
    row["prev_hash"] = prev_hash
    row["hash"] = history_hash(prev_hash, row)
    return row


def insert_notices(on: On, rows: Sequence[Mapping[str, Any]]) -> None:
    """Outbox rows in the caller's transaction (a step's or a timer's)."""
    for row in rows:  # a step's one or two notices: cheaper one by one than as a batch
        insert_of(outbox, tuple(row)).count(on, row)


def _case_row(row: Any) -> CaseRow:
    return CaseRow(
        id=row.id,
        definition_id=row.definition_id,
        cadre_id=row.cadre_id,
        county=row.county,
        agency=row.agency,
        state=row.state,
        terminal=bool(row.terminal),
        version=row.version,
        chain_head=row.chain_head,
        evidence=row.evidence,
        opened_at=row.opened_at,
        updated_at=row.updated_at,
        cycle=row.cycle,
        tier=row.tier,
        eligibility_json=row.eligibility_json,
    )


def _closure(row: Any) -> CycleClosure | None:
    """The closing of a cycle a read joined in (`_CLOSURE_COLUMNS`), if there was one."""
    if row.closed_cycle is None:
        return None
    return CycleClosure(row.closed_cycle, row.closed_by, row.closed_role, row.closed_at)


def _exceptions(case_id: int, rows: Sequence[Any]) -> tuple[ExceptionView, ...]:
    """The exceptions among the joined rows, each once, by the seq that granted them."""
    seen: dict[int, ExceptionView] = {}
    for r in rows:
        if r.x_seq is not None and r.x_seq not in seen:
            seen[r.x_seq] = ExceptionView(
                case_id=case_id,
                seq=r.x_seq,
                rule=r.x_rule,
                article=r.x_article,
                approver_role=r.x_approver_role,
                approver_name=r.x_approver_name,
                reason=r.x_reason,
                at=r.x_at,
            )
    return tuple(seen[seq] for seq in sorted(seen))


# PostgreSQL's state counts (revision 0017): one folder at a time, then the moves appended
# since the last count added to the totals in one statement that also returns the sums
_LOCK_COUNTS = sa.text("LOCK TABLE case_state_counts IN SHARE ROW EXCLUSIVE MODE")
_FOLD_MOVES = sa.text(
    "WITH moved AS (DELETE FROM case_state_moves RETURNING state, delta), "
    "net AS (SELECT state, sum(delta) AS delta FROM moved GROUP BY state), "
    "folded AS (INSERT INTO case_state_counts (state, total) SELECT state, delta FROM net "
    "ON CONFLICT (state) DO UPDATE SET total = case_state_counts.total + excluded.total) "
    "SELECT state, sum(total) FROM (SELECT state, total FROM case_state_counts "
    "UNION ALL SELECT state, delta FROM net) AS counted GROUP BY state HAVING sum(total) > 0"
)
# the listing's "open" filter, written as the partial index ix_cases_open_id is (revision 0017)
_OPEN_CASE = cases.c.terminal.is_(False)


def _in_batch_of(contractor_id: str) -> sa.ColumnElement[bool]:
    """The cases seated in a batch of the contractor (contractor staff's scope, A5.2): the
    contractor's batches by their index, their seats by (batch_id, case_id), not a probe per
    case."""
    if not contractor_id.isdigit():
        return sa.false()
    seated = (
        sa.select(batch_seats.c.case_id)
        .join(batches, batches.c.id == batch_seats.c.batch_id)
        .where(batches.c.contractor_id == int(contractor_id))
    )
    return cases.c.id.in_(seated)


def _new_id(result: sa.CursorResult[Any]) -> int:
    key = result.inserted_primary_key
    assert key is not None, "an INSERT of one row always has a primary key"
    return int(key[0])
