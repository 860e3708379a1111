"""`Engine`: the one entry point for the CLI, the demo and host back-office systems.

It owns the order of work for every request: read a snapshot, decide with pure rules outside any
lock, then write the new state and its history row in one short transaction that fails with
`ConflictError` if the case changed since the snapshot. A host may pass its own connection or
session as ``within=`` so the move joins the host's transaction; the engine then never commits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from definitions import bundled_directory
from workflow.access import CaseScope, list_filter, missing_scope, role_outside, scope_refusal
from workflow.cadres import cadre_row
from workflow.clock import Clock, SystemClock, shanghai_date
from workflow.definition.catalog import Catalog
from workflow.definition.loader import load_definition_text
from workflow.definition.model import Definition, StepSpec, TransitionSpec
from workflow.eligibility import explain
from workflow.errors import (
    ConflictError,
    DatabaseNotReadyError,
    DefinitionError,
    InputError,
    NotFoundError,
    Problem,
    Refusal,
    RuleRefused,
)
from workflow.fields import coerce_fields
from workflow.machine import Actor, CompiledWorkflow, Decision
from workflow.notify import notice_rows
from workflow.plans import seats
from workflow.views import CaseView, HistoryEntry, NextStep
from workflow.rules import RULES, GuardContext
from workflow.store import cases as store
from workflow.store.database import SINGLE_READ, WRITE, create_engine, resolve_url
from workflow.store.migrate import current_revision, head_revision, upgrade

DEFAULT_DEFINITION = "honor_convalescence"
GRANT_EXCEPTION = "grant_exception"  # history trigger of an exception record
EXCEPTIONS_APPLIED = "_exceptions_applied"  # history data key; no declared field can clash


class _Owned:
    """A pooled connection the engine checked out for all phases of one step (snapshot, then
    write), so a step costs one pool checkout; each phase is still its own transaction."""

    def __init__(self, connection: sa.Connection) -> None:
        self.connection = connection


Within = sa.Connection | Session | _Owned | None


class Engine:
    """Build one per process (it pools connections and caches compiled definitions).

    ``db`` is a URL or the host's own SQLAlchemy engine; an engine passed in is never disposed
    by us. ``clock`` defaults to the wall clock in Asia/Shanghai; tests and the demo pass a
    `SimulatedClock`. ``definition_dirs`` add directories of YAML definitions to the bundled ones.
    """

    def __init__(
        self,
        db: sa.Engine | str | None = None,
        *,
        clock: Clock | None = None,
        definition_dirs: Sequence[str | Path] = (),
        auto_upgrade: bool = False,
        notice_channels: Mapping[str, str] | None = None,
    ) -> None:
        if isinstance(db, sa.Engine):
            self.db, self._owns_db = db, False
        else:
            self.db, self._owns_db = create_engine(resolve_url(db)), True
        self.clock = clock or SystemClock()
        self.catalog = Catalog.from_directories([bundled_directory(), *map(Path, definition_dirs)])
        self._auto_upgrade = auto_upgrade
        self.notice_channels = dict(notice_channels or {})  # role -> channel; default "file"
        self._schema_checked = False
        self._compiled: dict[int, CompiledWorkflow] = {}  # by stored definition id
        self._by_hash: dict[str, CompiledWorkflow] = {}  # by content hash
        self._stored_ids: dict[str, int] = {}

    @classmethod
    def from_url(cls, url: str | None = None, **kwargs: Any) -> Engine:
        return cls(url, **kwargs)

    def close(self) -> None:
        if self._owns_db:
            self.db.dispose()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- schema ---------------------------------------------------------------------------

    def upgrade_schema(self) -> tuple[str | None, str | None]:
        """Create or migrate the schema (``convalescence db upgrade``)."""
        result = upgrade(self.db)
        self._schema_checked = True
        return result

    def _ensure_schema(self) -> None:
        if self._schema_checked:
            return
        current, head = current_revision(self.db), head_revision()
        if current != head:
            if not self._auto_upgrade:
                raise DatabaseNotReadyError(
                    f"the database is at schema revision {current or 'none'}, the engine needs "
                    f"{head}: run `convalescence db upgrade` first"
                )
            self.upgrade_schema()
        self._schema_checked = True

    @contextmanager
    def transaction(
        self, within: Within = None, *, write: bool = False, single_read: bool = False
    ) -> Iterator[sa.Connection]:
        """A connection in a transaction on a migrated schema: the host's own when ``within``
        is given (never committed here), else a new one committed on success. ``write=True``
        takes SQLite's write lock up front (BEGIN IMMEDIATE) so read-then-write cannot fail;
        ``single_read=True`` promises one SELECT, which SQLite runs atomically without BEGIN."""
        self._ensure_schema()
        options = {WRITE: write, SINGLE_READ: single_read and not write}
        if isinstance(within, Session):
            yield within.connection()
        elif isinstance(within, _Owned):
            within.connection.execution_options(**options)
            with within.connection.begin():
                yield within.connection
        elif within is not None:
            yield within
        else:
            with self.db.connect() as connection:
                connection.execution_options(**options)
                with connection.begin():
                    yield connection

    @contextmanager
    def _one_connection(self, within: Within) -> Iterator[Within]:
        """The host's connection as given, or one pooled connection for the whole step."""
        if within is not None:
            yield within
        else:
            with self.db.connect() as connection:
                yield _Owned(connection)

    # -- cadres ---------------------------------------------------------------------------

    def put_cadres(self, records: Sequence[Mapping[str, Any]], *, within: Within = None) -> int:
        """Insert or update cadre records (all or nothing); returns how many were written."""
        rows = [cadre_row(record) for record in records]
        now = self.clock.now()
        with self.transaction(within, write=True) as connection:
            for row in rows:
                store.upsert_cadre(connection, row, now)
        return len(rows)

    def cadre(self, cadre_id: str) -> dict[str, Any]:
        with self.transaction(None, write=False) as connection:
            record = store.cadre_record(connection, cadre_id)
        if record is None:
            raise NotFoundError("军休干部", cadre_id)
        return record

    # -- cases ----------------------------------------------------------------------------

    def open_case(
        self,
        cadre_id: str,
        *,
        actor: Actor | str,
        definition: str = DEFAULT_DEFINITION,
        data: Mapping[str, Any] | None = None,
        reason: str | None = None,
        on_behalf_of: str | None = None,
        within: Within = None,
    ) -> CaseView:
        """Register a cadre (A7.1 个人报名) under the policy version in force today (A21.1).

        The eligibility explanation of that day is stored with the case (A4.2), so an audit
        later sees what the officer saw, and the case is filed under the day's cycle (A9.1).
        """
        actor = actor if isinstance(actor, Actor) else Actor.parse(actor)
        now = self.clock.now()
        today = shanghai_date(now)
        chosen = self._definition_in_force(definition, today)
        workflow = self._compile(chosen)
        with self.transaction(within, single_read=True) as connection:
            filing = store.cadre_filed(connection, cadre_id)
        if filing is None:
            raise NotFoundError("军休干部", cadre_id)
        if actor.role in chosen.roles:  # an unknown role is bad input (machine)
            self._check_scope(
                chosen, actor, CaseScope(filing.county, filing.agency, cadre_id), action="open"
            )
        record = dict(filing.record)
        context = GuardContext(
            today=today,
            policy=chosen.policy,
            cadre=record,
            rules=chosen.rules,
            facts={"on_behalf_of": on_behalf_of},
        )
        decision = workflow.decide_open(actor, data or {}, context)
        cycle, tier, explanation = self._eligibility_at_opening(chosen, record, decision, today)
        definition_id = self._store_definition(chosen, within)
        self._compiled.setdefault(definition_id, workflow)
        values = {
            "definition_id": definition_id,
            "cadre_id": cadre_id,
            "county": filing.county,
            "agency": filing.agency,
            "state": decision.dest,
            "terminal": chosen.state(decision.dest).terminal,
            "version": 1,
            "evidence": decision.fields,
            "opened_at": now,
            "updated_at": now,
            "cycle": cycle,
            "tier": tier,
            "eligibility": explanation,
        }
        with self.transaction(within, write=True) as connection:
            case_id = store.insert_case(connection, values)
            head = store.insert_history(
                connection,
                _history_values(
                    case_id=case_id,
                    seq=1,
                    trigger=decision.trigger,
                    from_state=None,
                    to_state=decision.dest,
                    actor=actor,
                    on_behalf_of=on_behalf_of,
                    now=now,
                    data=_recorded(decision),
                    reason=reason,
                ),
            )
            store.set_chain_head(connection, case_id, head)
            # the row as inserted; no need to read it back
            row = {**values, "id": case_id, "chain_head": head}
            store.insert_notices(
                connection,
                notice_rows(
                    chosen.open,
                    step_name="open",
                    definition=chosen,
                    case=row,
                    cadre=record,
                    seq=1,
                    now=now,
                    reason=reason,
                    routing=self.notice_channels,
                ),
            )
        return self._view(row, within)

    def fire(
        self,
        case_id: int,
        trigger: str,
        *,
        actor: Actor | str,
        data: Mapping[str, Any] | None = None,
        reason: str | None = None,
        on_behalf_of: str | None = None,
        expected_version: int | None = None,
        within: Within = None,
    ) -> CaseView:
        """Move a case by one step. Raises RuleRefused (with articles), InputError,
        ConflictError (someone moved it first; nothing written) or NotFoundError.

        ``on_behalf_of`` names the person the actor acts for, e.g. the family member whose
        paper consent an agency officer records (history keeps both)."""
        actor = actor if isinstance(actor, Actor) else Actor.parse(actor)
        with self._one_connection(within) as step_within:
            return self._fire(
                case_id,
                trigger,
                actor=actor,
                data=data,
                reason=reason,
                on_behalf_of=on_behalf_of,
                expected_version=expected_version,
                within=step_within,
            )

    def _fire(
        self,
        case_id: int,
        trigger: str,
        *,
        actor: Actor,
        data: Mapping[str, Any] | None,
        reason: str | None,
        on_behalf_of: str | None,
        expected_version: int | None,
        within: Within,
    ) -> CaseView:
        now = self.clock.now()
        row, record = self._snapshot(case_id, expected_version, within)
        workflow = self._workflow(row.definition_id, within)
        if actor.role in workflow.definition.roles:  # an unknown role is bad input (machine)
            # scope before anything else: an out-of-scope caller learns nothing of the case,
            # not even its state from a refusal of the step (A5.2)
            self._check_scope(
                workflow.definition, actor, self._case_scope(row, actor, workflow, within), trigger
            )
        spec = workflow.definition.transition(trigger, row.state)
        batch_id = _batch_id(spec, data, trigger) if spec is not None else None
        batch: dict[str, Any] = {}
        batch_waivers: frozenset[str] = frozenset()
        if batch_id is not None:
            with self.transaction(within, write=False) as connection:
                batch, batch_waivers = seats.batch_facts(connection, batch_id)
        context = GuardContext(
            today=shanghai_date(now),
            policy=workflow.definition.policy,
            cadre=record,
            evidence={**row.evidence, **batch},
            rules=workflow.definition.rules,
            facts={
                "on_behalf_of": on_behalf_of,
                **self._facts_for(spec.guards if spec else (), row, within),
            },
            waived=self._waivers_for(workflow, spec.guards if spec else (), case_id, within)
            | batch_waivers,
        )
        decision = workflow.decide(
            case_id=case_id,
            state=row.state,
            trigger=trigger,
            actor=actor,
            raw_fields=data or {},
            context=context,
        )
        assert spec is not None  # decide() refused any trigger without a transition
        return self._write_step(
            row,
            workflow,
            step=spec,
            cadre=record,
            dest=decision.dest,
            evidence={**row.evidence, **batch, **decision.fields},
            history=_history_values(
                case_id=case_id,
                seq=row.version + 1,
                trigger=trigger,
                from_state=row.state,
                to_state=decision.dest,
                actor=actor,
                on_behalf_of=on_behalf_of,
                now=now,
                data={**batch, **_recorded(decision)},
                reason=reason,
            ),
            extra=_seat_change(
                spec, case_id=case_id, version=row.version, batch_id=batch_id, now=now, seen=batch
            ),
            within=within,
        )

    def grant_exception(
        self,
        case_id: int,
        rule: str,
        *,
        actor: Actor | str,
        reason: str,
        expected_version: int | None = None,
        within: Within = None,
    ) -> CaseView:
        """Record an exception to an "in principle" rule (A8.2 age, A9.2 once per cycle).

        Only a role the policy lists as approver may grant it, the reason is mandatory, and the
        grant is a history row of its own (A19.1); later steps then let that rule pass and
        say so in their history."""
        actor = actor if isinstance(actor, Actor) else Actor.parse(actor)
        now = self.clock.now()
        row, record = self._snapshot(case_id, expected_version, within)
        workflow = self._workflow(row.definition_id, within)
        self._check_scope(
            workflow.definition,
            actor,
            self._case_scope(row, actor, workflow, within),
            action=GRANT_EXCEPTION,
        )
        rules = workflow.definition.rules
        allowed = rules.exception_for(rule) if rules else None
        if allowed is None:
            waivable = ", ".join(e.rule for e in rules.exceptions) if rules else "none"
            raise InputError(
                f"rule '{rule}' admits no exception (rules that do: {waivable})", field="rule"
            )
        if actor.role not in allowed.approvers:
            names = "、".join(workflow.definition.roles[r] for r in allowed.approvers)
            raise RuleRefused(
                [
                    Refusal(
                        article="A5.2",
                        rule="exception_approver",
                        message=f"{allowed.article} 的例外只能由{names}批准（缺少权限 {rule}）",
                    )
                ],
                case_id=case_id,
            )
        if not reason or not reason.strip():
            raise InputError("an exception needs a reason (A19.1)", field="reason")
        if row.terminal:
            raise InputError(f"case {case_id} is closed ({row.state}); no exception can apply")
        if rule in self._granted(case_id, within):
            raise InputError(
                f"case {case_id} already has an exception to '{rule}'; one record is enough",
                field="rule",
            )
        seq = row.version + 1
        exception_row = {
            "case_id": case_id,
            "seq": seq,
            "rule": rule,
            "article": allowed.article,
            "approver_role": actor.role,
            "approver_name": actor.name,
            "reason": reason.strip(),
            "at": now,
        }
        return self._write_step(
            row,
            workflow,
            step=None,
            cadre=record,
            dest=row.state,
            evidence=dict(row.evidence),
            history=_history_values(
                case_id=case_id,
                seq=seq,
                trigger=GRANT_EXCEPTION,
                from_state=row.state,
                to_state=row.state,
                actor=actor,
                on_behalf_of=None,
                now=now,
                data={"rule": rule, "article": allowed.article},
                reason=reason.strip(),
            ),
            extra=lambda connection: _insert_exception_once(connection, exception_row),
            within=within,
        )

    def exceptions(
        self, case_id: int, *, viewer: Actor | None = None, within: Within = None
    ) -> list[dict[str, Any]]:
        self._case_row(case_id, viewer, within)
        with self.transaction(within, write=False) as connection:
            return [dict(r._mapping) for r in store.exception_rows(connection, case_id)]

    def eligibility(
        self, case_id: int, *, viewer: Actor | None = None, within: Within = None
    ) -> dict[str, Any] | None:
        """The explanation stored when the case was opened (A4.2)."""
        row = self._case_row(case_id, viewer, within)
        return dict(row["eligibility"]) if row["eligibility"] is not None else None

    def _case_row(self, case_id: int, viewer: Actor | None, within: Within) -> Mapping[str, Any]:
        with self.transaction(within, write=False) as connection:
            row = store.case_row(connection, case_id)
        if row is None:
            raise NotFoundError("案件", case_id)
        mapping: Mapping[str, Any] = dict(row._mapping)
        self._visible(mapping, viewer, within)
        return mapping

    def _check_scope(
        self, definition: Definition, actor: Actor, case: CaseScope, action: str
    ) -> None:
        refusal = scope_refusal(actor, definition.scopes, definition.roles, case, action=action)
        if refusal is not None:
            raise RuleRefused([refusal])

    def _case_scope(
        self,
        row: Mapping[str, Any] | store.Record,
        actor: Actor,
        workflow: CompiledWorkflow,
        within: Within,
    ) -> CaseScope:
        values = row if isinstance(row, Mapping) else row._mapping
        contractor = None
        if workflow.definition.scopes.get(actor.role) == "contractor":
            with self.transaction(within, single_read=True) as connection:
                contractor = store.case_contractor(connection, values["id"])
        return CaseScope(values["county"], values["agency"], values["cadre_id"], contractor)

    def _visible(self, row: Mapping[str, Any], viewer: Actor | None, within: Within) -> None:
        """Reads obey the same scope as steps (A5.2): a county officer reads only its county."""
        if viewer is None:
            return
        workflow = self._workflow(row["definition_id"], within)
        if viewer.role not in workflow.definition.roles:  # e.g. a cadre's token on a visit case
            raise RuleRefused([role_outside(viewer, workflow.definition.title)])
        self._check_scope(
            workflow.definition, viewer, self._case_scope(row, viewer, workflow, within), "read"
        )

    def _snapshot(
        self, case_id: int, expected_version: int | None, within: Within
    ) -> tuple[store.Record, dict[str, Any]]:
        with self.transaction(within, single_read=True) as connection:
            row = store.case_with_cadre(connection, case_id)
        if row is None:
            raise NotFoundError("案件", case_id)
        record = dict(row.cadre_record or {})
        if expected_version is not None and row.version != expected_version:
            raise ConflictError(
                case_id=case_id, expected_version=expected_version, actual_version=row.version
            )
        return row, record

    def _write_step(
        self,
        row: store.Record,
        workflow: CompiledWorkflow,
        *,
        step: StepSpec | None,
        cadre: Mapping[str, Any],
        dest: str,
        evidence: dict[str, Any],
        history: dict[str, Any],
        within: Within,
        extra: Callable[[sa.Connection], None] | None = None,
    ) -> CaseView:
        """Compare-and-set the case, append its history row, its notices (and ``extra`` rows)
        in one transaction; if the version moved since the snapshot, nothing is written."""
        terminal = workflow.definition.state(dest).terminal
        now = history["at"]
        moved_row = {
            **row._mapping,
            "state": dest,
            "terminal": terminal,
            "version": row.version + 1,
            "evidence": evidence,
            "updated_at": now,
        }
        notices = (
            notice_rows(
                step,
                step_name=history["trigger"],
                definition=workflow.definition,
                case=moved_row,
                cadre=cadre,
                seq=history["seq"],
                now=now,
                reason=history["reason"],
                routing=self.notice_channels,
            )
            if step is not None
            else []
        )
        with self.transaction(within, write=True) as connection:
            # The snapshot's chain head is the case's last history row: the compare-and-set on
            # the version below proves nobody appended since (A19.1); no read of the chain.
            head = row.chain_head or store.previous_hash(connection, row.id, history["seq"])
            linked = store.chained(history, head)
            moved_row["chain_head"] = linked["hash"]
            moved = store.move_case(
                connection,
                case_id=row.id,
                expected_version=row.version,
                state=dest,
                terminal=terminal,
                evidence=evidence,
                now=now,
                chain_head=linked["hash"],
            )
            if not moved:
                raise ConflictError(
                    case_id=row.id,
                    expected_version=row.version,
                    actual_version=store.case_version(connection, row.id),
                )
            store.insert_chained_history(connection, linked)
            store.insert_notices(connection, notices)
            if extra is not None:
                extra(connection)
        # The compare-and-set succeeded, so the stored row is exactly this; no need to re-read.
        return self._view(moved_row, within)

    def _facts_for(
        self, guards: Sequence[str], row: store.Record, within: Within
    ) -> dict[str, Any]:
        """Look up only what the step's rules declare they need, in one read."""
        needed = {fact for name in guards for fact in RULES[name].needs}
        if not needed:
            return {}
        facts: dict[str, Any] = {"cycle": row.cycle}
        with self.transaction(within, write=False) as connection:
            if "participations_in_cycle" in needed:
                workflow = self._workflow(row.definition_id, within)
                states = (
                    workflow.definition.rules.participation_states
                    if (workflow.definition.rules)
                    else ()
                )
                facts["participations_in_cycle"] = (
                    store.other_cases_in_cycle(
                        connection,
                        cadre_id=row.cadre_id,
                        cycle=row.cycle,
                        states=states,
                        excluding=row.id,
                    )
                    if row.cycle
                    else []
                )
        return facts

    def _waivers_for(
        self, workflow: CompiledWorkflow, guards: Sequence[str], case_id: int, within: Within
    ) -> frozenset[str]:
        rules = workflow.definition.rules
        if rules is None or not any(rules.exception_for(g) for g in guards):
            return frozenset()
        return self._granted(case_id, within)

    def _granted(self, case_id: int, within: Within) -> frozenset[str]:
        """Rules the case already holds an exception to; the snapshot proved the case exists."""
        with self.transaction(within, write=False) as connection:
            return frozenset(r.rule for r in store.exception_rows(connection, case_id))

    def _eligibility_at_opening(
        self,
        definition: Definition,
        record: Mapping[str, Any],
        decision: Decision,
        today: date,
    ) -> tuple[str | None, str | None, dict[str, Any] | None]:
        rules = definition.rules
        if rules is None:
            # a workflow that keeps no cycles of its own (a condolence visit, A9.3) is filed
            # under the cycle it serves, which its opening step records
            served = decision.fields.get("cycle")
            return (served if isinstance(served, str) else None), None, None
        cycle = rules.cycle_on(today)
        level = decision.fields.get("plan_level")
        if level is None:
            return (cycle.id if cycle else None), None, None
        explanation = explain(record, rules=rules, policy=definition.policy, level=level, on=today)
        return (cycle.id if cycle else None), explanation.tier, explanation.to_json()

    def case(self, case_id: int, *, viewer: Actor | None = None, within: Within = None) -> CaseView:
        """One case; with ``viewer`` only if it lies in the viewer's scope (A5.2)."""
        return self._view(self._case_row(case_id, viewer, within), within)

    def history(
        self, case_id: int, *, viewer: Actor | None = None, within: Within = None
    ) -> list[HistoryEntry]:
        self._case_row(case_id, viewer, within)
        with self.transaction(within, write=False) as connection:
            rows = store.history_rows(connection, case_id)
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
            for r in rows
        ]

    def cases(
        self,
        *,
        state: str | None = None,
        county: str | None = None,
        agency: str | None = None,
        cadre_id: str | None = None,
        open_only: bool = False,
        limit: int = 100,
        offset: int = 0,
        viewer: Actor | None = None,
        within: Within = None,
    ) -> list[CaseView]:
        """Cases by filter, oldest first; a ``viewer`` sees only its own scope (A5.2)."""
        filters: dict[str, str | None] = {
            "county": county,
            "agency": agency,
            "cadre_id": cadre_id,
            "contractor_id": None,
        }
        if viewer is not None:
            scopes = self._listing_scopes()
            unscoped = missing_scope(viewer, scopes, {})
            if unscoped is not None:
                raise RuleRefused([unscoped])
            for column, value in list_filter(viewer, scopes).items():
                if filters[column] not in (None, value):
                    return []  # asked for another scope than its own: nothing is visible
                filters[column] = value
        with self.transaction(within, write=False) as connection:
            rows = store.case_rows(
                connection,
                state=state,
                **filters,
                open_only=open_only,
                limit=limit,
                offset=offset,
            )
        return [self._view(row._mapping, within) for row in rows]

    def count_by_state(self) -> dict[str, int]:
        with self.transaction(None, write=False) as connection:
            return store.count_by_state(connection)

    # -- definitions ----------------------------------------------------------------------

    def _listing_scopes(self) -> dict[str, str]:
        """Role → scope kind over every loaded definition, for lists that span definitions."""
        merged: dict[str, str] = {}
        for definition in self.catalog:
            for role, kind in definition.scopes.items():
                merged.setdefault(role, kind)
        return merged

    def _definition_in_force(self, name: str, today: date) -> Definition:
        chosen = self.catalog.in_force(name, today)
        if chosen is not None:
            return chosen
        latest = self.catalog.get(name)
        refusal = RULES["policy_in_force"](
            GuardContext(today=today, policy=latest.policy, cadre={})
        )
        assert refusal is not None
        raise RuleRefused([refusal])

    def _store_definition(self, definition: Definition, within: Within) -> int:
        """The row that pins a case to the exact text it started under (A21.1)."""
        known = self._stored_ids.get(definition.content_hash)
        if known is not None:
            return known
        for attempt in range(2):
            try:
                with self.transaction(within, write=True) as connection:
                    definition_id = self._find_or_insert(connection, definition)
                break
            except IntegrityError:  # another process stored it between our read and insert
                if attempt or within is not None:
                    raise
        self._stored_ids[definition.content_hash] = definition_id
        return definition_id

    def _find_or_insert(self, connection: sa.Connection, definition: Definition) -> int:
        row = store.find_definition(connection, definition.name, definition.version)
        if row is None:
            return store.insert_definition(
                connection,
                {
                    "name": definition.name,
                    "version": definition.version,
                    "content_hash": definition.content_hash,
                    "source_name": Path(definition.source_name).name,
                    "source_text": definition.source_text,
                    "effective_from": definition.policy.effective_from,
                    "effective_until": definition.policy.effective_until,
                    "stored_at": self.clock.now(),
                },
            )
        if row.content_hash != definition.content_hash:
            raise DefinitionError(
                [
                    Problem(
                        definition.source_name,
                        1,
                        1,
                        f"{definition.name} version {definition.version} is already stored with "
                        "different content; cases under it must finish on that text (A21.1): "
                        "give the changed file a new version number",
                    )
                ]
            )
        return int(row.id)

    def _workflow(self, definition_id: int, within: Within = None) -> CompiledWorkflow:
        cached = self._compiled.get(definition_id)
        if cached is not None:
            return cached
        with self.transaction(within, write=False) as connection:
            row = store.definition_by_id(connection, definition_id)
        if row is None:
            raise NotFoundError("工作流定义", definition_id)
        workflow = self._compile(load_definition_text(row.source_text, row.source_name))
        self._compiled[definition_id] = workflow
        self._stored_ids.setdefault(workflow.definition.content_hash, definition_id)
        return workflow

    def _compile(self, definition: Definition) -> CompiledWorkflow:
        """Building a machine costs far more than a transition, so each text is built once."""
        workflow = self._by_hash.get(definition.content_hash)
        if workflow is None:
            workflow = self._by_hash[definition.content_hash] = CompiledWorkflow(definition)
        return workflow

    def _view(self, row: Mapping[Any, Any], within: Within = None) -> CaseView:
        definition = self._workflow(row["definition_id"], within).definition
        return CaseView(
            id=row["id"],
            definition=definition.name,
            definition_version=definition.version,
            cadre_id=row["cadre_id"],
            county=row["county"],
            agency=row["agency"],
            state=row["state"],
            state_label=definition.state(row["state"]).label,
            terminal=row["terminal"],
            version=row["version"],
            evidence=dict(row["evidence"]),
            opened_at=row["opened_at"],
            updated_at=row["updated_at"],
            cycle=row["cycle"],
            tier=row["tier"],
            next_steps=tuple(
                NextStep(t.trigger, t.label, t.dest, t.roles)
                for t in definition.transitions_from(row["state"])
            ),
        )


def _insert_exception_once(connection: sa.Connection, row: Mapping[str, Any]) -> None:
    """Two identical grants at the same moment: the case's compare-and-set lets one through on
    PostgreSQL and SQLite alike; the unique (case, rule) index is the last line."""
    try:
        store.insert_exception(connection, row)
    except IntegrityError as exc:
        raise InputError(
            f"case {row['case_id']} already has an exception to '{row['rule']}'", field="rule"
        ) from exc


def _batch_id(spec: TransitionSpec, data: Mapping[str, Any] | None, trigger: str) -> int | None:
    """The batch a seat-taking step names, checked by the step's own field rule (so "+5" or a
    superscript digit is read, or refused naming the field, exactly as the step would)."""
    if spec.batch != "take":
        return None
    field = next(f for f in spec.fields if f.name == "batch_id")  # the definition checks it
    return int(
        coerce_fields((field,), {"batch_id": (data or {}).get("batch_id")}, step=trigger)[
            "batch_id"
        ]
    )


# what the approval's rules and evidence depend on; the seat count moves with every approval and
# is guarded by take_seat's own compare-and-set
_BATCH_FACTS_RULED_ON = (
    "batch_start",
    "batch_end",
    "destination",
    "province",
    "batch_contractor_id",
    "batch_plan_level",
    "batch_plan_county",
    "batch_cycle",
)


def _seat_change(
    spec: StepSpec,
    *,
    case_id: int,
    version: int,
    batch_id: int | None,
    now: datetime,
    seen: Mapping[str, Any],
) -> Callable[[sa.Connection], None] | None:
    """The seat a step takes or gives back, written in the step's own transaction (A6.2): a
    refused or conflicting step leaves the batch's count as it was."""
    if not isinstance(spec, TransitionSpec) or spec.batch is None:
        return None
    if spec.batch == "take":
        if batch_id is None:  # unreachable: the required field was checked by _batch_id
            return None

        def take(connection: sa.Connection) -> None:
            # The rules ran on the batch as read before this transaction: if its dates, place or
            # contractor changed since, the approval would record facts that are no longer true.
            now_facts, _ = seats.batch_facts(connection, batch_id)
            if any(now_facts[k] != seen.get(k) for k in _BATCH_FACTS_RULED_ON):
                raise ConflictError(
                    case_id=case_id,
                    expected_version=version,
                    actual_version=None,
                    changed=f"批次 {batch_id} 在审批期间被修改（日期、地点、计划或承办单位）",
                )
            try:
                seats.take_seat(connection, batch_id=batch_id, case_id=case_id, now=now)
            except IntegrityError as exc:  # the same case seated by a concurrent step
                raise ConflictError(
                    case_id=case_id, expected_version=version, actual_version=None
                ) from exc

        return take

    def release(connection: sa.Connection) -> None:
        held = seats.held_seat(connection, case_id)
        if held is not None:
            seats.release_seat(connection, batch_id=held, case_id=case_id)

    return release


def _recorded(decision: Decision) -> dict[str, Any]:
    """The step's evidence, plus the exceptions it relied on: an exception that let a rule
    pass is part of the step's history, not only of the grant (A19.1)."""
    if not decision.waived:
        return dict(decision.fields)
    applied = [
        {"article": r.article, "rule": r.rule, "message": r.message} for r in decision.waived
    ]
    return {**decision.fields, EXCEPTIONS_APPLIED: applied}


def _history_values(
    *,
    case_id: int,
    seq: int,
    trigger: str,
    from_state: str | None,
    to_state: str,
    actor: Actor,
    now: datetime,
    data: Mapping[str, Any],
    reason: str | None,
    on_behalf_of: str | None = None,
) -> dict[str, Any]:
    return {
        "on_behalf_of": on_behalf_of,
        "case_id": case_id,
        "seq": seq,
        "trigger": trigger,
        "from_state": from_state,
        "to_state": to_state,
        "actor": actor.name,
        "role": actor.role,
        "at": now,
        "data": dict(data),
        "reason": reason,
    }
