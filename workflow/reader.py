"""Scoped reads: cases, their history, exceptions and eligibility, cadres, as typed views.

Reads obey the same scopes as steps (A5.2): with ``viewer`` a case outside the viewer's scope
is refused before anything of it is returned, and a listing is narrowed to the viewer's scope
by the database. Each read is one transaction; a case and its exceptions are one statement.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workflow.access import CaseScope, list_filter, missing_scope, role_outside, scope_refusal
from workflow.definition.model import Definition
from workflow.errors import NotFoundError, RuleRefused
from workflow.machine import Actor
from workflow.ports import CaseStore, CaseTransaction
from workflow.registry import DefinitionRegistry
from workflow.snapshot import CaseRow
from workflow.views import CaseView, ExceptionView, HistoryEntry, NextStep


class Reader:
    def __init__(self, registry: DefinitionRegistry, store: CaseStore) -> None:
        self.registry = registry
        self.store = store

    def case(self, case_id: int, *, viewer: Actor | None = None, within: Any = None) -> CaseView:
        """One case with its exceptions; with ``viewer`` only if it lies in its scope."""
        with self.store.transaction(within) as tx:
            row, exceptions, definition = self._visible_case(tx, case_id, viewer)
            names = _cadre_names(tx, [row.cadre_id])
        return case_view(row, definition, exceptions, cadre_name=names.get(row.cadre_id))

    def history(
        self, case_id: int, *, viewer: Actor | None = None, within: Any = None
    ) -> list[HistoryEntry]:
        with self.store.transaction(within) as tx:
            self._visible_case(tx, case_id, viewer)
            return tx.history(case_id)

    def exceptions(
        self, case_id: int, *, viewer: Actor | None = None, within: Any = None
    ) -> list[ExceptionView]:
        with self.store.transaction(within) as tx:
            return list(self._visible_case(tx, case_id, viewer)[1])

    def cases(
        self,
        *,
        filters: Mapping[str, str | None],
        state: str | None,
        open_only: bool,
        limit: int,
        offset: int,
        viewer: Actor | None,
        within: Any,
        after: int | None = None,
    ) -> list[CaseView]:
        """Cases by filter, oldest first, after the case id ``after`` if given (keyset
        paging); a ``viewer`` sees only its own scope (A5.2)."""
        narrowed = {"contractor_id": None, **filters}
        if viewer is not None:
            scopes = self.registry.listing_scopes(within)
            unscoped = missing_scope(viewer, scopes, {})
            if unscoped is not None:
                raise RuleRefused([unscoped])
            for column, value in list_filter(viewer, scopes).items():
                if narrowed.get(column) not in (None, value):
                    return []  # asked for another scope than its own: nothing is visible
                narrowed[column] = value
        with self.store.transaction(within) as tx:
            rows = tx.cases(
                state=state,
                **narrowed,
                open_only=open_only,
                limit=limit,
                offset=offset,
                after=after,
            )
            workflows = {r.definition_id: self.registry.workflow(r.definition_id, tx) for r in rows}
            names = _cadre_names(tx, [r.cadre_id for r in rows])
        return [
            case_view(r, workflows[r.definition_id].definition, cadre_name=names.get(r.cadre_id))
            for r in rows
        ]

    def cadre(self, cadre_id: str) -> dict[str, Any]:
        with self.store.transaction(single_read=True) as tx:
            record = tx.cadre_record(cadre_id)
        if record is None:
            raise NotFoundError("军休干部", cadre_id)
        return record

    def count_by_state(self) -> dict[str, int]:
        """Cases per state; not a single read: on PostgreSQL it folds the steps' moves into
        the totals first (`workflow.store.cases`)."""
        with self.store.transaction() as tx:
            return tx.count_by_state()

    def _visible_case(
        self, tx: CaseTransaction, case_id: int, viewer: Actor | None
    ) -> tuple[CaseRow, tuple[ExceptionView, ...], Definition]:
        found = tx.case(case_id)
        if found is None:
            raise NotFoundError("案件", case_id)
        row, exceptions = found
        definition = self.registry.workflow(row.definition_id, tx).definition
        if viewer is not None:
            if viewer.role not in definition.roles:  # e.g. a cadre's token on a visit case
                raise RuleRefused([role_outside(viewer, definition.title)])
            contractor = (
                tx.case_contractor(case_id)
                if definition.scopes.get(viewer.role) == "contractor"
                else None
            )
            check_scope(definition, viewer, case_scope(row, contractor), action="read")
        return row, exceptions, definition


def case_scope(row: CaseRow, contractor: str | None) -> CaseScope:
    return CaseScope(row.county, row.agency, row.cadre_id, contractor)


def check_scope(definition: Definition, actor: Actor, case: CaseScope, action: str) -> None:
    """Refuse (A5.2) unless ``actor`` may do ``action`` on ``case`` as far as scope goes."""
    refusal = scope_refusal(actor, definition.scopes, definition.roles, case, action=action)
    if refusal is not None:
        raise RuleRefused([refusal])


def _cadre_names(tx: CaseTransaction, cadre_ids: list[str]) -> dict[str, str]:
    """The roster name of each cadre (issue 19 item 5: a case shows whom it is about), read in
    the listing's own transaction, in one statement for the page (a read per cadre made a page
    of 100 cases cost 100 round trips, issue 14)."""
    return tx.cadre_names(list(dict.fromkeys(cadre_ids)))


def roster_name(record: Mapping[str, Any] | None) -> str | None:
    """The name a roster record gives (None without one): what a case view shows beside the
    cadre's id, from a read or from the record a step already holds."""
    name = None if record is None else record.get("name")
    return name if isinstance(name, str) else None


def case_view(
    row: CaseRow,
    definition: Definition,
    exceptions: tuple[ExceptionView, ...] = (),
    *,
    cadre_name: str | None = None,
) -> CaseView:
    """The case as callers see it: labels and the steps open to it from its definition."""
    return CaseView(
        id=row.id,
        definition=definition.name,
        definition_version=definition.version,
        cadre_id=row.cadre_id,
        county=row.county,
        agency=row.agency,
        state=row.state,
        state_label=definition.state(row.state).label,
        terminal=row.terminal,
        version=row.version,
        evidence=dict(row.evidence),
        opened_at=row.opened_at,
        updated_at=row.updated_at,
        cycle=row.cycle,
        tier=row.tier,
        next_steps=tuple(
            NextStep(t.trigger, t.label, t.dest, t.roles)
            for t in definition.transitions_from(row.state)
        ),
        exceptions=exceptions,
        eligibility_json=row.eligibility_json,
        cadre_name=cadre_name,
    )
