"""The small interfaces the core needs from the outside world, in one place.

The core (definitions, the step path, the notices a step declares) and the ``notifications``
package depend on these Protocols only; the adapters live at the edges: `workflow.store`
implements the outbox ports on SQLAlchemy, ``notifications.render`` implements the renderer and
the template check on Jinja2. So ``notifications`` never imports `workflow.store`, and loading a
definition never imports ``notifications`` (the registry wires the real template check in).

Rows cross the outbox ports as plain mappings keyed by the ``outbox`` table's column names:
the typed views (``notifications.OutboxMessage``, ``OutboxEntry``) are built on the
notifications side, so the store needs no notifications types either.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol, get_args

from workflow.clock import Clock

if TYPE_CHECKING:  # the case ports' values; only types, so importing the ports stays cheap
    from workflow.snapshot import BatchRow, CadreFiling, CaseRow, Snapshot
    from workflow.store.definitions import StoredVersion
    from workflow.views import ExceptionView, HistoryEntry

__all__ = [
    "OUTBOX_STATUSES",
    "CaseStore",
    "CaseTransaction",
    "Clock",
    "NoticeRenderer",
    "OutboxLog",
    "OutboxQueue",
    "OutboxStatus",
    "PublishedVersions",
    "RenderedNotice",
    "RetryOutcome",
    "TemplateCheck",
]


# An outbox row's life: pending -> sending (claimed) -> sent, or back to pending, or dead.
OutboxStatus = Literal["pending", "sending", "sent", "dead"]
OUTBOX_STATUSES: Final[tuple[OutboxStatus, ...]] = get_args(OutboxStatus)


class TemplateCheck(Protocol):
    """What definition validation needs to know about notice templates: which exist, and what
    is wrong with one (``FILE:LINE: message`` strings). A port, so definition checks can be
    tested without rendering anything, and `workflow.definition` imports no template engine."""

    def names(self) -> frozenset[str]: ...

    def problems(self, name: str) -> list[str]: ...

    def fingerprint(self) -> str:
        """A digest of the templates, so a definition validated against them is not validated
        again until they change (`workflow.definition.validated`)."""
        ...


class RenderedNotice(Protocol):
    """One rendered notice: subject and plain body always, HTML when there is an HTML twin."""

    @property
    def subject(self) -> str: ...

    @property
    def body(self) -> str: ...

    @property
    def body_html(self) -> str | None: ...


class NoticeRenderer(Protocol):
    """Renders notice ``name`` with a step's context (the shape ``notifications.render``
    documents); raises a `workflow.errors.InputError` naming the template when it fails."""

    def __call__(
        self, name: str, context: Mapping[str, Any], *, html: bool = False
    ) -> RenderedNotice: ...


class OutboxQueue(Protocol):
    """The outbox as the dispatcher works it: claim due rows, record each outcome.

    Each call is its own short write transaction, so no transaction is open while a channel
    delivers. A result is recorded only while the row still carries the claim's ``attempts``
    (the claim token), so a dispatcher that lost its claim cannot overwrite a newer one.
    """

    def claim(
        self,
        channels: Sequence[str],
        *,
        now: datetime,
        batch: int,
        lease: timedelta,
        max_attempts: int,
        abandoned_error: str,
    ) -> tuple[list[Mapping[str, Any]], int]:
        """Up to ``batch`` due rows for ``channels``, marked sending until ``now + lease`` with
        one more attempt; and how many expired claims had used their last attempt (those go
        dead with ``abandoned_error`` instead of being claimed again)."""
        ...

    def renew(self, claims: Mapping[int, int], *, now: datetime, until: datetime) -> set[int]:
        """The dispatcher's heartbeat: move the expiry of the claims ``claims`` (outbox id ->
        the claim's ``attempts``) to ``until``, for those still held, i.e. sending under that
        token with their expiry still after ``now``; returns their ids. A claim that ran out or
        was taken over is never revived: the caller must not deliver it."""
        ...

    def mark_sent(self, outbox_id: int, attempts: int, *, now: datetime) -> bool: ...

    def mark_failed(
        self, outbox_id: int, attempts: int, *, error: str, next_attempt_at: datetime | None
    ) -> bool:
        """Back to pending until ``next_attempt_at``, or dead when it is None."""
        ...

    def count_unrouted(self, channels: Sequence[str], *, now: datetime) -> int:
        """Due rows for channels other than ``channels``."""
        ...


class RetryOutcome(Protocol):
    """What a request to put dead letters back in the queue came to: the rows requeued, or
    (with nothing written) the ids that do not exist and the rows that are not dead."""

    @property
    def requeued(self) -> list[int]: ...

    @property
    def missing(self) -> list[int]: ...

    @property
    def not_dead(self) -> Mapping[int, str]: ...


class OutboxLog(Protocol):
    """The outbox as an officer sees it: a listing, and dead letters put back in the queue."""

    def entries(
        self, *, status: str | None, case_id: int | None, limit: int, after: int | None = None
    ) -> list[Mapping[str, Any]]:
        """Newest first; with ``after``, the rows older than that id (keyset paging)."""
        ...

    def retry_dead(self, ids: Sequence[int] | None, *, now: datetime) -> RetryOutcome:
        """All dead rows when ``ids`` is None; else those ids, all or nothing."""
        ...


class CaseTransaction(Protocol):
    """One transaction's reads and writes of cases, as the step path and the reader use them
    (`workflow.store.cases.SqlCaseTransaction` on SQLAlchemy). It speaks in the typed values
    of `workflow.snapshot` and `workflow.views`, and maps database errors to the engine's:
    a second exception to a rule is `InputError`, a lost compare-and-set `ConflictError`."""

    def snapshot(
        self, case_id: int, *, participation_states: Sequence[str] | None = None
    ) -> Snapshot | None: ...

    def participations(
        self, *, cadre_id: str, cycle: str, states: Sequence[str], excluding: int
    ) -> tuple[int, ...]: ...

    def batch(self, batch_id: int) -> BatchRow | None: ...

    def cadre_filing(self, cadre_id: str, cycle: str | None = None) -> CadreFiling | None: ...

    def annual_plans(self, year: int) -> list[dict[str, Any]]: ...

    def live_registrations(
        self, *, cadre_id: str, cycle: str, workflow: str
    ) -> tuple[int, ...]: ...

    def take_part(self, *, case: CaseRow, claim: str | None, now: datetime) -> int | None: ...

    def leave(self, case_id: int) -> None: ...

    def insert_case(self, values: Mapping[str, Any]) -> int: ...

    def start_chain(self, case_id: int, first: Mapping[str, Any]) -> str: ...

    def move_case(
        self,
        *,
        case: CaseRow,
        state: str,
        terminal: bool,
        evidence: Mapping[str, Any],
        history_row: Mapping[str, Any],
        sweep_on: date | Literal["step day"] | None = "step day",
    ) -> str: ...

    def insert_notices(self, rows: Sequence[Mapping[str, Any]]) -> None: ...

    def insert_exception(self, values: Mapping[str, Any]) -> None: ...

    def take_seat(self, *, batch_id: int, case_id: int, version: int, now: datetime) -> None: ...

    def release_seat(self, *, batch_id: int, case_id: int) -> None: ...

    def definition_text(self, definition_id: int) -> tuple[str, str] | None: ...

    def find_definition(self, name: str, version: int) -> tuple[int, str] | None: ...

    def insert_definition(self, values: Mapping[str, Any]) -> int | None: ...

    def case(self, case_id: int) -> tuple[CaseRow, tuple[ExceptionView, ...]] | None: ...

    def case_contractor(self, case_id: int) -> str | None: ...

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
    ) -> list[CaseRow]: ...

    def history(self, case_id: int) -> list[HistoryEntry]: ...

    def cadre_names(self, cadre_ids: Sequence[str]) -> dict[str, str]: ...

    def cadre_record(self, cadre_id: str) -> dict[str, Any] | None: ...

    def upsert_cadre(self, row: Mapping[str, Any], now: datetime) -> None: ...

    def count_by_state(self) -> dict[str, int]: ...


class CaseStore(Protocol):
    """Opens case transactions. ``within`` is a host's own session or connection, passed
    through untouched (the host's commit or rollback decides); None opens and commits one.
    ``write`` takes the write lock up front; ``single_read`` promises one SELECT."""

    def transaction(
        self, within: Any = None, *, write: bool = False, single_read: bool = False
    ) -> AbstractContextManager[CaseTransaction]: ...


class PublishedVersions(Protocol):
    """The definition versions an office published, and the versions it cut short (A21.1), as
    the definition registry reads them to add to the files it was built with."""

    def mark(self, within: Any = None) -> object | None:
        """A cheap value that changes whenever a version is published or cut short; None when
        the database cannot be read (no schema yet, or unreachable)."""
        ...

    def versions(self, within: Any = None) -> Sequence[StoredVersion]:
        """Those versions' stored rows, oldest first."""
        ...
