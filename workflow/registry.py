"""The definition registry: which policy version is in force, each text compiled once, and the
stored row that pins a case to the exact text it started under (A21.1).

Compiling a definition (its `transitions` machine) costs far more than a step, and a process
serves many steps, so the registry keeps every compiled version by stored id and by content
hash. A case opened under a version no longer in the catalog still finishes on its stored text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from time import monotonic
from typing import TYPE_CHECKING, Any

from workflow.definition.model import Definition
from workflow.errors import DefinitionError, NotFoundError, Problem, RuleRefused
from workflow.i18n import _
from workflow.machine import CompiledWorkflow
from workflow.ports import CaseStore, CaseTransaction, PublishedVersions
from workflow.rules import RULES, GuardContext

if TYPE_CHECKING:
    from workflow.definition.catalog import Catalog

PARTICIPATIONS = "participations_in_cycle"  # the fact once_per_cycle needs (A9.2)


class DefinitionRegistry:
    """``catalog`` holds the definition files the engine was built with; ``published`` (the
    store) adds the versions an office published and the days versions were cut short. They
    are re-read when their mark changes, checked at most every ``check_every`` seconds, so a
    node sees a version another node published without a restart (A21.1)."""

    def __init__(
        self,
        catalog: Catalog,
        published: PublishedVersions | None = None,
        *,
        check_every: float = 2.0,
    ) -> None:
        self._files = tuple(catalog)
        self._catalog = catalog
        self._published = published
        self._check_every = check_every
        self._checked_at: float | None = None
        self._mark: object = ()
        self._by_id: dict[int, CompiledWorkflow] = {}  # by stored definition id
        self._by_hash: dict[str, CompiledWorkflow] = {}  # by content hash
        self._stored_ids: dict[str, int] = {}  # content hash -> stored id
        self._participations: dict[str, tuple[str, ...] | None] = {}  # by trigger

    @property
    def catalog(self) -> Catalog:
        """The files and the published versions, each cut short where an office said so."""
        return self.catalog_within(None)

    def catalog_within(self, within: Any) -> Catalog:
        """`catalog`, asking the database on the host's connection ``within`` if given."""
        if self._published is not None:
            moment = monotonic()
            due = self._checked_at is None or moment - self._checked_at >= self._check_every
            if due and self._refresh(self._published, within):
                self._checked_at = moment
        return self._catalog

    def forget_published(self) -> None:
        """Read the published versions again on next use (after this process published one)."""
        self._checked_at = None

    def _refresh(self, published: PublishedVersions, within: Any) -> bool:
        """Read the published versions if their mark changed; False when the database could
        not say (not migrated yet, or unreachable): the files serve meanwhile (a server starts
        and reports itself not ready rather than failing), and the next use asks again."""
        mark = published.mark(within)
        if mark is None:
            return False
        if mark == self._mark:
            return True
        # the YAML loader only when a published text must be read (see `Engine.__init__`)
        from workflow.definition.loader import load_definition_text  # noqa: PLC0415

        known = {(d.name, d.version): d for d in self._files}
        last_days: dict[tuple[str, int], date] = {}
        for row in published.versions(within):
            key = (row.name, row.version)
            if row.published and key not in known:
                known[key] = load_definition_text(row.source_text, row.source_name)
                self._stored_ids.setdefault(row.content_hash, row.id)
            if row.ends_early_on is not None:
                last_days[key] = row.ends_early_on
        self._catalog = type(self._catalog)(
            cut_short(definition, last_days.get(key)) for key, definition in known.items()
        )
        self._mark = mark
        self._participations.clear()
        return True

    def in_force(self, name: str, today: date, within: Any = None) -> Definition:
        """The version of ``name`` in force on ``today``; refused citing art. 21 if none is."""
        catalog = self.catalog_within(within)
        chosen = catalog.in_force(name, today)
        if chosen is not None:
            return chosen
        latest = catalog.get(name)
        refusal = RULES["policy_in_force"](
            GuardContext(today=today, policy=latest.policy, cadre={})
        )
        assert refusal is not None  # no version in force on that day is this rule's refusal
        raise RuleRefused([refusal])

    def compile(self, definition: Definition) -> CompiledWorkflow:
        """Building a machine costs far more than a transition, so each text is built once."""
        workflow = self._by_hash.get(definition.content_hash)
        if workflow is None:
            workflow = self._by_hash[definition.content_hash] = CompiledWorkflow(definition)
        return workflow

    def workflow(self, definition_id: int, tx: CaseTransaction) -> CompiledWorkflow:
        """The compiled version a stored case runs on; read from the store only the first time
        this process meets that id."""
        cached = self._by_id.get(definition_id)
        if cached is not None:
            return cached
        stored = tx.definition_text(definition_id)
        if stored is None:
            raise NotFoundError("工作流定义", definition_id)
        # the YAML loader only when a stored text must be read (see `Engine.__init__`)
        from workflow.definition.loader import load_definition_text  # noqa: PLC0415

        workflow = self.compile(load_definition_text(*stored))
        self._by_id[definition_id] = workflow
        self._stored_ids.setdefault(workflow.definition.content_hash, definition_id)
        return workflow

    def stored_id(
        self, definition: Definition, store: CaseStore, within: Any, now: datetime
    ) -> int:
        """The stored row of ``definition``, inserted the first time any case uses it. Its
        own short transaction (the host's, with ``within``); remembered per process once it is
        committed."""
        known = self._stored_ids.get(definition.content_hash)
        if known is not None:
            return known
        for _attempt in range(2):
            with store.transaction(within, write=True) as tx:
                definition_id = _find_or_insert(tx, definition, now)
            if definition_id is not None:
                break
        else:  # inserted by another process twice between our reads: not a race, a fault
            raise RuntimeError(f"definition {definition.name} v{definition.version} not stored")
        if within is None:
            # remembered only once our own transaction committed it: a host's transaction
            # (``within``) may still roll the row back, and a remembered id would then point
            # every later case at a row that does not exist
            self._stored_ids[definition.content_hash] = definition_id
            self._by_id.setdefault(definition_id, self.compile(definition))
        return definition_id

    def participation_states(self, trigger: str, within: Any = None) -> tuple[str, ...] | None:
        """The states that count as taking part (A9.2) if a step named ``trigger`` needs the
        cadre's participations in any known definition, so the step's one read gathers them;
        None if no such step needs them (or definitions disagree: the step then reads them
        separately once it knows its definition)."""
        if trigger in self._participations:
            return self._participations[trigger]
        found: set[tuple[str, ...]] = set()
        known = self.catalog_within(within)
        for definition in [*known, *(w.definition for w in self._by_hash.values())]:
            for spec in definition.transitions:
                if spec.trigger == trigger and needs_participations(spec.guards):
                    rules = definition.rules
                    found.add(tuple(rules.participation_states) if rules else ())
        states = found.pop() if len(found) == 1 else None
        self._participations[trigger] = states
        return states

    def listing_scopes(self, within: Any = None) -> dict[str, str]:
        """Role → scope kind over every loaded definition, for lists that span definitions."""
        merged: dict[str, str] = {}
        for definition in self.catalog_within(within):
            for role, kind in definition.scopes.items():
                merged.setdefault(role, kind)
        return merged


def cut_short(definition: Definition, last_day: date | None) -> Definition:
    """``definition`` in force only until ``last_day`` if that is earlier than its own end:
    the text (and its content hash) stays as published, the window is what an office decided
    when it published a successor (A21.1)."""
    until = definition.policy.effective_until
    if last_day is None or (until is not None and until <= last_day):
        return definition
    return replace(definition, policy=replace(definition.policy, effective_until=last_day))


def definition_row(definition: Definition, now: datetime) -> dict[str, Any]:
    """The ``definitions`` row that pins ``definition``'s text (A21.1), as the engine stores it
    on first use and an office publishes it (`workflow.publishing` adds who and when)."""
    return {
        "name": definition.name,
        "version": definition.version,
        "content_hash": definition.content_hash,
        "source_name": Path(definition.source_name).name,
        "source_text": definition.source_text,
        "effective_from": definition.policy.effective_from,
        "effective_until": definition.policy.effective_until,
        "stored_at": now,
    }


def needs_participations(guards: Sequence[str]) -> bool:
    return any(PARTICIPATIONS in RULES[name].needs for name in guards)


def _find_or_insert(tx: CaseTransaction, definition: Definition, now: datetime) -> int | None:
    found = tx.find_definition(definition.name, definition.version)
    if found is None:
        return tx.insert_definition(definition_row(definition, now))
    definition_id, content_hash = found
    if content_hash != definition.content_hash:
        raise DefinitionError(
            [
                Problem(
                    definition.source_name,
                    1,
                    1,
                    _(
                        "{name} 第 {version} 版已以不同的内容存入数据库；按该版办理的案件须按原文"
                        "办结（A21.1）：修改后的文件请另编版本号"
                    ).format(name=definition.name, version=definition.version),
                )
            ]
        )
    return definition_id
