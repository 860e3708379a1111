"""The outbox as the notifications side reads it: messages to deliver, listings for officers,
and putting dead letters back in the queue.

The engine writes outbox rows in the transaction of the step that causes them; everything here
runs later, through the outbox ports (`workflow.ports.OutboxLog`, `OutboxQueue`; the SQL
adapter is `workflow.store.outbox.SqlOutbox`), and never touches a case.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from notifications.masking import mask_address, mask_text
from workflow.errors import InputError, NotFoundError
from workflow.i18n import _
from workflow.ports import OUTBOX_STATUSES, Clock, OutboxLog

PENDING, SENDING, SENT, DEAD = STATUSES = OUTBOX_STATUSES


@dataclass(frozen=True)
class OutboxMessage:
    """What a channel needs to deliver one notice. ``attempts`` counts this try, and is also
    the claim's token: a result is only recorded while the row still has this count."""

    id: int
    idempotency_key: str
    case_id: int | None
    template: str
    channel: str
    recipient_role: str
    recipient_name: str
    address: str | None
    subject: str
    body: str
    body_html: str | None
    attempts: int

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> OutboxMessage:
        return cls(**{name: row[name] for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class OutboxEntry:
    """One row as ``notifications list`` shows it: the address and the error already masked."""

    id: int
    idempotency_key: str
    case_id: int | None
    template: str
    channel: str
    recipient_role: str
    recipient_name: str
    address: str
    subject: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> OutboxEntry:
        values = {name: row[name] for name in cls.__dataclass_fields__}
        values["address"] = mask_address(row["address"])
        values["last_error"] = mask_text(row["last_error"]) if row["last_error"] else None
        return cls(**values)

    def to_json(self) -> dict[str, Any]:
        return {
            name: value.isoformat() if isinstance(value, datetime) else value
            for name, value in self.__dict__.items()
        }


def list_entries(
    outbox: OutboxLog,
    *,
    status: str | None = None,
    case_id: int | None = None,
    limit: int = 100,
    after: int | None = None,
) -> list[OutboxEntry]:
    """Newest first, so the officer sees what just happened before older history; ``after``
    (an id from the previous page) continues with the older ones."""
    if status is not None and status not in STATUSES:
        raise InputError(
            _("状态 {status!r} 不是以下之一：{options}").format(
                status=status, options=", ".join(STATUSES)
            ),
            field="status",
        )
    rows = outbox.entries(status=status, case_id=case_id, limit=limit, after=after)
    return [OutboxEntry.from_row(row) for row in rows]


def retry_dead(
    outbox: OutboxLog, clock: Clock, ids: Sequence[int] = (), *, all_dead: bool = False
) -> list[int]:
    """Put dead letters back in the queue, due now, with their attempts reset; returns the ids.

    All or nothing: an id that does not exist, or a row that is not dead (it may be on its way
    or already sent, and sending it again would duplicate it), refuses the whole request. The
    last error stays on the row until the next attempt replaces it, so the officer still sees
    why it had died.
    """
    if not ids and not all_dead:
        raise InputError(_("请给出要重试的通知编号，或用 --all-dead"), field="ids")
    outcome = outbox.retry_dead(None if all_dead else list(ids), now=clock.now())
    for missing in outcome.missing:
        raise NotFoundError(_("通知"), missing)
    if outcome.not_dead:
        listed = _("、").join(
            _("{id} 为 {status}").format(id=i, status=s)
            for i, s in sorted(outcome.not_dead.items())
        )
        raise InputError(_("只有死信可以重试：{listed}").format(listed=listed), field="ids")
    return list(outcome.requeued)
