"""The reads behind ``audit invariants`` (`workflow.invariants`): what must hold between the
case rows, their history, the batches' seats, the cycle participations, the condolence visits
and the outbox however steps interleave, nodes die or requests are retried (issue 18's soak
test checks them after SIGKILLing its processes).

Each function returns the rows that break one invariant (empty when it holds) and how many it
looked at, so a report can say "checked N, violations 0". The policy-specific inputs (which
states hold a participation, which steps send which notices) come from the caller, read from
the definitions; this module only knows tables. Every read is set-based except the notice
check, which compares keys case by case in pages (``chunk`` history rows at a time).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from workflow.store.schema import (
    batch_seats,
    batches,
    cases,
    definitions,
    history,
    outbox,
    participations,
    tasks,
    timer_marks,
    visit_keys,
)

CHUNK = 2000
SHOWN = 20  # rows returned per broken invariant: enough to reproduce, not the whole table

# (definition id, trigger, from_state) -> the (template, recipient role) pairs the step sends
ExpectedNotices = Mapping[tuple[int, str, str | None], Sequence[tuple[str, str]]]


@dataclass(frozen=True)
class Found:
    """How many subjects an invariant looked at, and the ones that break it (at most SHOWN)."""

    checked: int
    broken: list[dict[str, Any]]
    broken_count: int


def _found(checked: int, rows: Sequence[Any]) -> Found:
    return Found(checked, [dict(r._mapping) for r in rows[:SHOWN]], len(rows))


def stored_definitions(connection: sa.Connection) -> list[tuple[int, str, str, str]]:
    """Every stored definition text: (id, name, source name, text)."""
    query = sa.select(
        definitions.c.id, definitions.c.name, definitions.c.source_name, definitions.c.source_text
    ).order_by(definitions.c.id)
    return [(r.id, r.name, r.source_name, r.source_text) for r in connection.execute(query)]


def _count(connection: sa.Connection, table: sa.Table) -> int:
    return int(connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def version_is_history_length(connection: sa.Connection) -> Found:
    """A case's version is the number of its history rows, and its last row's seq (A19.1)."""
    per_case = (
        sa.select(
            history.c.case_id,
            sa.func.count().label("rows"),
            sa.func.max(history.c.seq).label("last_seq"),
        )
        .group_by(history.c.case_id)
        .subquery()
    )
    query = (
        sa.select(
            cases.c.id.label("case_id"), cases.c.version, per_case.c.rows, per_case.c.last_seq
        )
        .select_from(cases.outerjoin(per_case, per_case.c.case_id == cases.c.id))
        .where(
            sa.or_(
                per_case.c.rows.is_(None),
                per_case.c.rows != cases.c.version,
                per_case.c.last_seq != cases.c.version,
            )
        )
        .order_by(cases.c.id)
    )
    return _found(_count(connection, cases), connection.execute(query).all())


def state_is_last_history_row(connection: sa.Connection) -> Found:
    """A case's state is the ``to_state`` of its history row at its version."""
    query = (
        sa.select(
            cases.c.id.label("case_id"),
            cases.c.state,
            history.c.to_state.label("last_to_state"),
        )
        .select_from(
            cases.outerjoin(
                history, sa.and_(history.c.case_id == cases.c.id, history.c.seq == cases.c.version)
            )
        )
        .where(sa.or_(history.c.to_state.is_(None), history.c.to_state != cases.c.state))
        .order_by(cases.c.id)
    )
    return _found(_count(connection, cases), connection.execute(query).all())


def seats_match_their_rows(connection: sa.Connection) -> Found:
    """A batch's seat counter equals its seat rows and never exceeds its capacity (A6.2)."""
    held = (
        sa.select(batch_seats.c.batch_id, sa.func.count().label("held"))
        .group_by(batch_seats.c.batch_id)
        .subquery()
    )
    rows = sa.func.coalesce(held.c.held, 0)
    query = (
        sa.select(
            batches.c.id.label("batch_id"),
            batches.c.capacity,
            batches.c.seats_taken,
            rows.label("seat_rows"),
        )
        .select_from(batches.outerjoin(held, held.c.batch_id == batches.c.id))
        .where(sa.or_(batches.c.seats_taken != rows, batches.c.seats_taken > batches.c.capacity))
        .order_by(batches.c.id)
    )
    return _found(_count(connection, batches), connection.execute(query).all())


def seats_are_participations(
    connection: sa.Connection, participating: Mapping[int, Sequence[str]]
) -> Found:
    """A case of a cycle-keeping definition (``participating``: definition id -> the states
    that take part, A9.2) holds a participation exactly while it is in one of those states, and
    a seat exactly when it holds a participation (approval takes both, withdrawal and
    ``report_unable`` give both back)."""
    kept = list(participating)
    in_state = sa.or_(
        sa.false(),
        *(
            sa.and_(cases.c.definition_id == d, cases.c.state.in_(list(states)))
            for d, states in participating.items()
            if states
        ),
    )
    has_part = sa.exists().where(participations.c.case_id == cases.c.id)
    has_seat = sa.exists().where(batch_seats.c.case_id == cases.c.id)
    query = (
        sa.select(
            cases.c.id.label("case_id"),
            cases.c.state,
            has_part.label("participation"),
            has_seat.label("seat"),
        )
        .where(cases.c.definition_id.in_(kept))
        .where(
            sa.or_(
                sa.and_(in_state, sa.not_(has_part)),
                sa.and_(sa.not_(in_state), has_part),
                has_part != has_seat,
            )
        )
        .order_by(cases.c.id)
    )
    checked = connection.execute(
        sa.select(sa.func.count()).where(cases.c.definition_id.in_(kept))
    ).scalar_one()
    return _found(int(checked), connection.execute(query).all())


def one_participation_per_cadre_and_cycle(connection: sa.Connection) -> Found:
    """At most one participation per cadre and cycle holds the A9.2 claim; a second one exists
    only by a recorded exception (claim NULL), never two claims."""
    groups = (
        sa.select(participations.c.cadre_id, participations.c.cycle)
        .group_by(participations.c.cadre_id, participations.c.cycle)
        .subquery()
    )
    query = (
        sa.select(
            participations.c.cadre_id,
            participations.c.cycle,
            sa.func.count(participations.c.claim).label("claims"),
        )
        .group_by(participations.c.cadre_id, participations.c.cycle)
        .having(sa.func.count(participations.c.claim) > 1)
        .order_by(participations.c.cadre_id, participations.c.cycle)
    )
    checked = connection.execute(sa.select(sa.func.count()).select_from(groups)).scalar_one()
    return _found(int(checked), connection.execute(query).all())


def one_visit_per_cadre_and_cycle(
    connection: sa.Connection, visit_definitions: Sequence[int]
) -> Found:
    """One condolence visit per cadre and cycle (A9.3): one key row, and one visit case of the
    cadre for the cycle, the one the key names."""
    cycle = cases.c.evidence["cycle"].as_string()
    visits = (
        sa.select(
            cases.c.cadre_id,
            cycle.label("cycle"),
            sa.func.count().label("visits"),
            sa.func.min(cases.c.id).label("first_case"),
        )
        .where(cases.c.definition_id.in_(list(visit_definitions)))
        .group_by(cases.c.cadre_id, cycle)
        .subquery()
    )
    keys = (
        sa.select(
            visit_keys.c.cadre_id,
            visit_keys.c.cycle,
            sa.func.count().label("key_rows"),
            sa.func.min(visit_keys.c.case_id).label("key_case"),
        )
        .group_by(visit_keys.c.cadre_id, visit_keys.c.cycle)
        .subquery()
    )
    joined = keys.outerjoin(
        visits, sa.and_(visits.c.cadre_id == keys.c.cadre_id, visits.c.cycle == keys.c.cycle)
    )
    broken_keys = (
        sa.select(
            keys.c.cadre_id,
            keys.c.cycle,
            keys.c.key_rows,
            sa.func.coalesce(visits.c.visits, 0).label("visits"),
            keys.c.key_case,
            visits.c.first_case,
        )
        .select_from(joined)
        .where(
            sa.or_(
                keys.c.key_rows != 1,
                sa.func.coalesce(visits.c.visits, 0) != 1,
                keys.c.key_case != visits.c.first_case,
            )
        )
    )
    unkeyed = (
        sa.select(
            visits.c.cadre_id,
            visits.c.cycle,
            sa.literal(0).label("key_rows"),
            visits.c.visits,
            sa.null().label("key_case"),
            visits.c.first_case,
        )
        .select_from(
            visits.outerjoin(
                keys, sa.and_(keys.c.cadre_id == visits.c.cadre_id, keys.c.cycle == visits.c.cycle)
            )
        )
        .where(keys.c.cadre_id.is_(None))
    )
    rows = [*connection.execute(broken_keys).all(), *connection.execute(unkeyed).all()]
    checked = connection.execute(sa.select(sa.func.count()).select_from(keys)).scalar_one()
    return _found(int(checked), rows)


def _history_pages(
    connection: sa.Connection, triggers: Sequence[str], chunk: int
) -> Iterator[list[Any]]:
    after = 0
    while True:
        page = list(
            connection.execute(
                sa.select(
                    history.c.id,
                    history.c.case_id,
                    history.c.seq,
                    history.c.trigger,
                    history.c.from_state,
                    cases.c.definition_id,
                )
                .select_from(history.join(cases, cases.c.id == history.c.case_id))
                .where(history.c.id > after, history.c.trigger.in_(list(triggers)))
                .order_by(history.c.id)
                .limit(chunk)
            )
        )
        if not page:
            return
        yield page
        after = page[-1].id


def notice_key(case_id: int, seq: int, template: str, role: str) -> str:
    """The outbox key a step's notice is written under (`workflow.notices`)."""
    return f"case-{case_id}-{seq}-{template}-{role}"


def step_notices_in_outbox(
    connection: sa.Connection, expected: ExpectedNotices, *, chunk: int = CHUNK
) -> Found:
    """Every history row of a step that sends notices has each of them in the outbox, under the
    step's own key (the notices commit with the step, so none may be missing)."""
    triggers = sorted({trigger for _d, trigger, _s in expected})
    checked, missing = 0, list[dict[str, Any]]()
    for page in _history_pages(connection, triggers, chunk):
        wanted: dict[str, Any] = {}
        for row in page:
            for template, role in expected.get(
                (row.definition_id, row.trigger, row.from_state), ()
            ):
                wanted[notice_key(row.case_id, row.seq, template, role)] = row
        checked += len(wanted)
        if not wanted:
            continue
        present = set(
            connection.execute(
                sa.select(outbox.c.idempotency_key).where(
                    outbox.c.idempotency_key.in_(list(wanted))
                )
            ).scalars()
        )
        missing.extend(
            {"case_id": row.case_id, "seq": row.seq, "trigger": row.trigger, "key": key}
            for key, row in wanted.items()
            if key not in present
        )
    return Found(checked, missing[:SHOWN], len(missing))


def soak_counts(connection: sa.Connection) -> dict[str, Any]:
    """What a run left behind, for its report: steps (history rows), cases by state, outbox by
    status, seats, participations, visits."""

    def grouped(column: sa.ColumnElement[Any]) -> dict[str, int]:
        rows = connection.execute(sa.select(column, sa.func.count()).group_by(column)).all()
        return {str(key): int(count) for key, count in sorted(rows, key=lambda r: str(r[0]))}

    return {
        "history_rows": _count(connection, history),
        "cases": _count(connection, cases),
        "cases_by_state": grouped(cases.c.state),
        "outbox_by_status": grouped(outbox.c.status),
        "seats": _count(connection, batch_seats),
        "participations": _count(connection, participations),
        "visits": _count(connection, visit_keys),
        # the scheduler's own work: reminders and escalations (timer marks), officers' tasks
        "timers_fired": _count(connection, timer_marks),
        "tasks_by_kind": grouped(tasks.c.kind),
    }
