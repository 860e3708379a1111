"""`Engine`: the one entry point for the CLI, the demo and host back-office systems.

A thin facade over three parts with one job each: the step runner (`workflow.steps`: gather
once, decide purely, write once, in one transaction), the reader (`workflow.reader`: scoped
reads returning typed views) and the definition registry (`workflow.registry`: the version in
force, each text compiled once). A host may pass its own connection or session as ``within=``
so a step or a read joins the host's transaction; the engine then never commits.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from definitions import DEFAULT_DEFINITION, bundled_directory
from workflow.cadres import cadre_row
from workflow.clock import Clock, SystemClock, shanghai_date
from workflow.correction_steps import CorrectionRunner
from workflow.machine import Actor
from workflow.observability.steps import StepObservers
from workflow.reader import Reader
from workflow.registry import DefinitionRegistry
from workflow.roster.vocabulary import ADMIN_LIST, AdminList
from workflow.steps import EXCEPTIONS_APPLIED, GRANT_EXCEPTION, StepRunner
from workflow.store.cases import SqlCaseStore
from workflow.store.corrections import SqlCorrectionStore
from workflow.store.database import Database
from workflow.store.definitions import SqlPublishedVersions
from workflow.views import CaseView, HistoryEntry

if TYPE_CHECKING:
    # Typing only: a host hands us its own SQLAlchemy engine, or its session or connection as
    # ``within=``, and `transaction` yields a connection; the engine never runs SQL itself.
    from workflow.definition.catalog import Catalog
    from workflow.definition.model import Definition
    from workflow.store.database import Connection, HostEngine, Within

__all__ = ["DEFAULT_DEFINITION", "EXCEPTIONS_APPLIED", "GRANT_EXCEPTION", "Engine"]


class Engine:
    """Build one per process (it pools connections and caches compiled definitions).

    ``db`` is a URL or the host's own SQLAlchemy engine; an engine passed in is never disposed
    by us. ``clock`` defaults to the wall clock in Asia/Shanghai; tests and the demo pass a
    `SimulatedClock`. ``definition_dirs`` add directories of YAML definitions to the bundled ones;
    versions published into the database join them (seen by every node within
    ``published_check_seconds``).
    ``admin_list`` is the administrative list (counties and their agencies) every cadre record
    is checked against; the shipped one by default (`workflow.roster.admin_list` reads a file).
    """

    def __init__(
        self,
        db: HostEngine | str | None = None,
        *,
        clock: Clock | None = None,
        definition_dirs: Sequence[str | Path] = (),
        auto_upgrade: bool = False,
        notice_channels: Mapping[str, str] | None = None,
        admin_list: AdminList | None = None,
        published_check_seconds: float = 2.0,
    ) -> None:
        self._database = Database(db, auto_upgrade=auto_upgrade)
        # the counties and agencies a cadre record may name (`workflow.roster.admin_list`)
        self.admin_list: AdminList = admin_list or ADMIN_LIST
        self.db: HostEngine = self._database.engine
        self.clock = clock or SystemClock()
        # The real template check is wired here, at the facade: workflow.definition takes it as
        # a port and imports no notifications (imported late: notifications imports workflow).
        from notifications.shipped import ShippedTemplates  # noqa: PLC0415

        # the YAML loader (PyYAML, jsonschema) loads here, when definitions are read, not with
        # `import workflow.engine`: a host importing the facade pays for it only when it builds one
        from workflow.definition.catalog import Catalog  # noqa: PLC0415

        files = Catalog.from_directories(
            [bundled_directory(), *map(Path, definition_dirs)], templates=ShippedTemplates()
        )
        self.notice_channels = dict(notice_channels or {})  # role -> channel; default "file"
        self._store = SqlCaseStore(self._database)
        # the versions an office published (`workflow.publishing`) join the files; a node
        # looks for newly published ones at most every ``published_check_seconds``
        published = SqlPublishedVersions(self._database.transaction)
        self._registry = DefinitionRegistry(files, published, check_every=published_check_seconds)
        self._reader = Reader(self._registry, self._store)
        self._steps = StepRunner(self._registry, self._store, self.clock, self.notice_channels)
        # told how each step ended (metrics: `workflow.observability`); none unless one is added
        self.observers = StepObservers()

    @property
    def catalog(self) -> Catalog:
        """Every definition version known: the files, and the versions published into the
        database (A21.1), each in force for its window as an office may have cut it short."""
        return self._registry.catalog

    def stored_definition_id(self, definition: Definition) -> int:
        """The stored row of ``definition`` (inserted the first time it is used), for a case
        carried over onto it (`workflow.carry_over`)."""
        return self._registry.stored_id(definition, self._store, None, self.clock.now())

    def published_changed(self) -> None:
        """This process published or cut short a version: read the stored versions again."""
        self._registry.forget_published()

    def close(self) -> None:
        self._database.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- schema and transactions ----------------------------------------------------------

    def upgrade_schema(self) -> tuple[str | None, str | None]:
        """Create or migrate the schema (``convalescence db upgrade``)."""
        return self._database.upgrade_schema()

    def ensure_schema(self) -> None:
        """Refuse a database whose schema is not this engine's (`DatabaseNotReadyError`), or
        migrate it when built with ``auto_upgrade``: for commands that use a store module
        directly (reports, audit, outbox) before they read anything."""
        self._database.ensure_schema()

    @contextmanager
    def transaction(
        self, within: Within = None, *, write: bool = False, single_read: bool = False
    ) -> Iterator[Connection]:
        """A connection in a transaction on a migrated schema: the host's own when ``within``
        is given (never committed here), else a new one committed on success. ``write=True``
        takes SQLite's write lock up front (BEGIN IMMEDIATE) so read-then-write cannot fail;
        ``single_read=True`` promises one SELECT, which SQLite runs atomically without BEGIN."""
        with self._database.transaction(within, write=write, single_read=single_read) as c:
            yield c

    # -- cadres ---------------------------------------------------------------------------

    def put_cadres(self, records: Sequence[Mapping[str, Any]], *, within: Within = None) -> int:
        """Insert or update cadre records (all or nothing); returns how many were written."""
        now = self.clock.now()
        today = shanghai_date(now)  # validated as `cadres import` validates (issue 17)
        rows = [cadre_row(record, today=today, admin=self.admin_list) for record in records]
        with self._store.transaction(within, write=True) as tx:
            for row in rows:
                tx.upsert_cadre(row, now)
        return len(rows)

    def cadre(self, cadre_id: str) -> dict[str, Any]:
        return self._reader.cadre(cadre_id)

    # -- steps ----------------------------------------------------------------------------

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
        with self.observers.step("open"):
            return self._steps.open(
                cadre_id,
                actor=_actor(actor),
                definition=definition,
                data=data or {},
                reason=reason,
                on_behalf_of=on_behalf_of,
                within=within,
            )

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
        with self.observers.step(trigger):
            return self._steps.fire(
                case_id,
                trigger,
                actor=_actor(actor),
                data=data or {},
                reason=reason,
                on_behalf_of=on_behalf_of,
                expected_version=expected_version,
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
        with self.observers.step("grant_exception"):
            return self._steps.grant_exception(
                case_id,
                rule,
                actor=_actor(actor),
                reason=reason,
                expected_version=expected_version,
                within=within,
            )

    # -- reads ----------------------------------------------------------------------------

    def case(self, case_id: int, *, viewer: Actor | None = None, within: Within = None) -> CaseView:
        """One case; with ``viewer`` only if it lies in the viewer's scope (A5.2)."""
        return self._reader.case(case_id, viewer=viewer, within=within)

    def history(
        self, case_id: int, *, viewer: Actor | None = None, within: Within = None
    ) -> list[HistoryEntry]:
        return self._reader.history(case_id, viewer=viewer, within=within)

    def exceptions(
        self, case_id: int, *, viewer: Actor | None = None, within: Within = None
    ) -> list[dict[str, Any]]:
        """The exceptions granted on the case, oldest first (each also on `CaseView`)."""
        found = self._reader.exceptions(case_id, viewer=viewer, within=within)
        return [exception.as_row() for exception in found]

    def eligibility(
        self, case_id: int, *, viewer: Actor | None = None, within: Within = None
    ) -> dict[str, Any] | None:
        """The explanation stored when the case was opened (A4.2)."""
        stored = self._reader.case(case_id, viewer=viewer, within=within).eligibility
        return dict(stored) if stored is not None else None

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
        after: int | None = None,
    ) -> list[CaseView]:
        """Cases by filter, oldest first; a ``viewer`` sees only its own scope (A5.2).
        ``after`` continues after that case id (keyset paging, `workflow.paging.Page`);
        ``offset`` is the slow path."""
        return self._reader.cases(
            filters={"county": county, "agency": agency, "cadre_id": cadre_id},
            state=state,
            open_only=open_only,
            limit=limit,
            offset=offset,
            after=after,
            viewer=viewer,
            within=within,
        )

    def count_by_state(self) -> dict[str, int]:
        return self._reader.count_by_state()

    # -- corrections (issue 13): a record put right without pretending ----------------------

    def rebook(
        self,
        case_id: int,
        batch_id: int,
        *,
        actor: Actor | str,
        reason: str,
        fields: Mapping[str, Any] | None = None,
        expected_version: int | None = None,
        within: Within = None,
    ) -> CaseView:
        """Move the case to batch ``batch_id`` of the same plan, its seat with it, in one
        transaction (A6.2): not a withdrawal, not a new case. The new batch must pass the rules
        the first one passed; ``fields`` may amend the insurance at the same time (A7.3). Roles
        and states are the definition's ``corrections.rebook``; the reason is mandatory."""
        with self.observers.step("rebook"):
            return self._corrections().rebook(
                case_id,
                batch_id,
                actor=_actor(actor),
                fields=fields or {},
                reason=reason,
                expected_version=expected_version,
                within=within,
            )

    def correct(
        self,
        case_id: int,
        fields: Mapping[str, Any],
        *,
        actor: Actor | str,
        reason: str,
        expected_version: int | None = None,
        within: Within = None,
    ) -> CaseView:
        """Amend evidence a step recorded (e.g. a mistyped agreement number, A7.2) with a
        reason; the case keeps its state, the history row keeps both values (A19.1). Which
        fields, roles and states: the definition's ``corrections.correct``."""
        with self.observers.step("correct"):
            return self._corrections().correct(
                case_id,
                fields,
                actor=_actor(actor),
                reason=reason,
                expected_version=expected_version,
                within=within,
            )

    def _corrections(self) -> CorrectionRunner:
        return CorrectionRunner(self._registry, SqlCorrectionStore(self._database), self.clock)


def _actor(actor: Actor | str) -> Actor:
    return actor if isinstance(actor, Actor) else Actor.parse(actor)
