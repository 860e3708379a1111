"""The store's contract for the outbox (`workflow.store.outbox.SqlOutbox`, the adapter of
`workflow.ports.OutboxQueue` and `OutboxLog`), run over SQLite and PostgreSQL.

Called directly, without the dispatcher, so what is pinned is the store's promise to any
caller: a claim takes due rows of the named channels only, in due order, one attempt more; an
outcome is recorded only under the claim's token; a claim that expired after the last attempt
goes dead instead of being claimed again; putting dead letters back is all or nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from workflow import Engine
from workflow.clock import SHANGHAI
from workflow.store.outbox import SqlOutbox
from workflow.store.schema import outbox

NOW = datetime(2024, 5, 6, 9, 30, tzinfo=SHANGHAI)
LEASE = timedelta(minutes=5)


def _add(engine: Engine, key: str, **changes: Any) -> int:
    row: dict[str, Any] = {
        "idempotency_key": key,
        "case_id": None,
        "template": "approval_notice",
        "channel": "file",
        "recipient_role": "cadre",
        "recipient_name": "张建国",
        "address": None,
        "subject": "荣誉疗养审核通过通知",
        "body": "您好！\n",
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": NOW,
        "created_at": NOW,
    }
    with engine.db.begin() as connection:
        query = sa.insert(outbox).values(row | changes).returning(outbox.c.id)
        return int(connection.execute(query).scalar_one())


def _row(engine: Engine, outbox_id: int) -> Any:
    with engine.db.connect() as connection:
        return connection.execute(sa.select(outbox).where(outbox.c.id == outbox_id)).one()


def _claim(queue: SqlOutbox, *channels: str, now: datetime = NOW, max_attempts: int = 3) -> Any:
    return queue.claim(
        channels, now=now, batch=10, lease=LEASE, max_attempts=max_attempts, abandoned_error="gone"
    )


def test_a_claim_takes_due_rows_of_its_channels_in_due_order(engine: Engine) -> None:
    later = _add(engine, "later", next_attempt_at=NOW - timedelta(minutes=1))
    first = _add(engine, "first", next_attempt_at=NOW - timedelta(minutes=2))
    _add(engine, "not-yet", next_attempt_at=NOW + timedelta(seconds=1))
    _add(engine, "smtp", channel="smtp")
    _add(engine, "sent", status="sent")
    queue = SqlOutbox(engine.db)
    rows, abandoned = _claim(queue, "file")
    assert [r["id"] for r in rows] == [first, later]
    assert abandoned == 0
    assert all(r["status"] == "sending" and r["attempts"] == 1 for r in rows)
    assert _row(engine, first).claimed_until == NOW + LEASE
    assert queue.count_unrouted(["file"], now=NOW) == 1  # the smtp row waits for its channel
    assert _claim(queue, "file") == ([], 0)  # under claim: not taken twice


def test_an_outcome_is_recorded_only_under_the_claims_token(engine: Engine) -> None:
    queue = SqlOutbox(engine.db)
    sent, failed = _add(engine, "a"), _add(engine, "b")
    _claim(queue, "file")
    assert not queue.mark_sent(sent, 2, now=NOW)  # a stale or foreign token changes nothing
    assert _row(engine, sent).status == "sending"
    assert queue.mark_sent(sent, 1, now=NOW)
    assert (_row(engine, sent).status, _row(engine, sent).sent_at) == ("sent", NOW)
    retry_at = NOW + timedelta(minutes=1)
    assert queue.mark_failed(failed, 1, error="busy", next_attempt_at=retry_at)
    row = _row(engine, failed)
    assert (row.status, row.next_attempt_at, row.last_error, row.claimed_until) == (
        "pending",
        retry_at,
        "busy",
        None,
    )
    assert not queue.mark_failed(failed, 1, error="again", next_attempt_at=None)  # not sending


def test_an_expired_claim_after_the_last_attempt_goes_dead(engine: Engine) -> None:
    expired = NOW - timedelta(minutes=1)
    worn = _add(engine, "worn", status="sending", attempts=3, claimed_until=expired)
    fresh = _add(engine, "fresh", status="sending", attempts=1, claimed_until=expired)
    rows, abandoned = _claim(SqlOutbox(engine.db), "file", max_attempts=3)
    assert [r["id"] for r in rows] == [fresh]
    assert abandoned == 1
    assert (_row(engine, worn).status, _row(engine, worn).last_error) == ("dead", "gone")


def test_putting_dead_letters_back_is_all_or_nothing(engine: Engine) -> None:
    queue = SqlOutbox(engine.db)
    dead = _add(engine, "dead", status="dead", attempts=3, last_error="refused")
    sent = _add(engine, "sent", status="sent", attempts=1)
    refused = queue.retry_dead([dead, sent, 999_999], now=NOW)
    assert (refused.requeued, refused.missing, dict(refused.not_dead)) == (
        [],
        [999_999],
        {sent: "sent"},
    )
    assert _row(engine, dead).status == "dead"  # nothing written
    later = NOW + timedelta(hours=1)
    assert queue.retry_dead(None, now=later).requeued == [dead]
    row = _row(engine, dead)
    assert (row.status, row.attempts, row.next_attempt_at, row.last_error) == (
        "pending",
        0,
        later,
        "refused",  # kept until the next attempt replaces it
    )


def test_entries_are_newest_first_and_filtered(engine: Engine) -> None:
    queue = SqlOutbox(engine.db)
    old, new = _add(engine, "old"), _add(engine, "new", status="dead")
    assert [r["id"] for r in queue.entries(status=None, case_id=None, limit=10)] == [new, old]
    assert [r["id"] for r in queue.entries(status="dead", case_id=None, limit=10)] == [new]
    assert queue.entries(status=None, case_id=None, limit=1)[0]["id"] == new
