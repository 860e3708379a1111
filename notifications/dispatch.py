"""The dispatcher: claims due outbox rows, hands each to its channel, records the outcome.

Three short steps per run, so no transaction is held open while a mail server thinks:

1. **Claim** (one write transaction): pick due rows (``pending``, or ``sending`` whose claim
   expired) for the configured channels and mark them ``sending`` with ``claimed_until = now +
   lease`` and ``attempts + 1``. PostgreSQL skips rows another dispatcher holds
   (``FOR UPDATE SKIP LOCKED``); SQLite has no row locks and serialises the claim with
   ``BEGIN IMMEDIATE``. Either way, two dispatchers never claim the same row at once.
2. **Deliver**, outside any transaction, each row whose claim is still held with at least half
   the lease left (below).
3. **Record** each outcome in its own write transaction, right after its delivery: ``sent``;
   or back to ``pending`` with exponential back-off; or ``dead`` when the error is permanent or
   the attempts are used up. The update only applies while the row still carries this claim's
   attempt count, so a dispatcher that lost its claim cannot overwrite a newer one.

**The lease is short and kept alive by a heartbeat.** A claim lasts 30 s (`DEFAULT_LEASE`);
while the batch is being delivered, a thread renews the rows not yet recorded every sixth of
the lease (5 s) to ``now + lease``, one statement for the batch. So a live dispatcher keeps its
rows however slow a mail server is, and a dispatcher killed with SIGKILL leaves its claims for
at most one lease (they used to wait out a 5-minute lease). A renewal only extends a claim that
is still held under its token and not yet run out (`OutboxQueue.renew`): a lapsed claim is
lost for good and its row is skipped. A delivery starts only while the claim has at least half
the lease left, so if the heartbeat cannot reach the database, the dispatcher stops starting
deliveries a good while before another could take the rows over (a single delivery would have
to outlast that half lease, 15 s against the channels' 10 s timeout, for two live dispatchers
to send one notice). Claim times are the injected clock's: the nodes' clocks must agree (NTP)
to well within half a lease.

A dispatcher killed after claiming loses nothing: its claims expire and a later run delivers
those rows again, under the same idempotency key, so the receiver can drop a duplicate.

The dispatcher works the outbox through a port (`workflow.ports.OutboxQueue`); the SQL adapter
is `workflow.store.outbox.SqlOutbox`, so this package never imports the store.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from notifications.channels import Channel
from notifications.errors import DeliveryError
from notifications.masking import mask_address, mask_text
from notifications.outbox import OutboxMessage
from workflow.i18n import _
from workflow.ports import Clock, OutboxQueue

log = logging.getLogger(__name__)

DEFAULT_BATCH = 50
DEFAULT_MAX_ATTEMPTS = 6
DEFAULT_BASE_DELAY = timedelta(seconds=30)
DEFAULT_MAX_DELAY = timedelta(hours=6)
DEFAULT_LEASE = timedelta(seconds=30)
HEARTBEATS_PER_LEASE = 6  # the claims are renewed every lease / 6: 5 s for the default lease
MAX_ERROR_LENGTH = 1000


@dataclass(frozen=True)
class Failure:
    """One delivery that did not succeed this run; ``next_attempt_at`` is None when the row
    went dead."""

    id: int
    idempotency_key: str
    channel: str
    attempts: int
    error: str
    retryable: bool
    next_attempt_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {
            **self.__dict__,
            "next_attempt_at": self.next_attempt_at.isoformat() if self.next_attempt_at else None,
        }


@dataclass(frozen=True)
class DispatchReport:
    """What one run did. ``unrouted`` counts due rows for channels this dispatcher was not
    given (left pending for one that is); ``expired`` counts claimed rows whose claim was lost
    or ran low before their turn (left for the next run); ``abandoned`` counts rows whose claim
    had expired after their last allowed attempt, i.e. the dispatcher died delivering them every
    time."""

    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    dead: int = 0
    expired: int = 0
    abandoned: int = 0
    unrouted: int = 0
    failures: tuple[Failure, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__, "failures": [f.to_json() for f in self.failures]}

    def __add__(self, other: DispatchReport) -> DispatchReport:
        return DispatchReport(
            claimed=self.claimed + other.claimed,
            sent=self.sent + other.sent,
            retrying=self.retrying + other.retrying,
            dead=self.dead + other.dead,
            expired=self.expired + other.expired,
            abandoned=self.abandoned + other.abandoned,
            unrouted=other.unrouted,  # a count of what is waiting now, not a running total
            failures=self.failures + other.failures,
        )


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a failing notice is tried again."""

    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    base_delay: timedelta = DEFAULT_BASE_DELAY
    max_delay: timedelta = DEFAULT_MAX_DELAY

    def backoff(self, attempts: int) -> timedelta:
        """The wait after the ``attempts``-th failed try: base, 2×base, 4×base, … up to a cap,
        so a server that is down for an hour is not hammered, nor waited for a day."""
        delay: timedelta = self.base_delay * 2 ** max(attempts - 1, 0)
        return min(delay, self.max_delay)


def dispatch(
    outbox: OutboxQueue,
    channels: Mapping[str, Channel],
    clock: Clock,
    *,
    batch: int = DEFAULT_BATCH,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    base_delay: timedelta = DEFAULT_BASE_DELAY,
    max_delay: timedelta = DEFAULT_MAX_DELAY,
    lease: timedelta = DEFAULT_LEASE,
    heartbeat: timedelta | None = None,
) -> DispatchReport:
    """Deliver up to ``batch`` due notices once; returns what happened.

    ``outbox`` is the queue, e.g. ``SqlOutbox(engine.db)`` (`workflow.store.outbox`).
    ``channels`` maps the outbox's ``channel`` values to channels; rows for other channels
    stay pending. The claims last ``lease`` and are renewed every ``heartbeat`` (default: a
    sixth of the lease) while the batch is delivered; the heartbeat must be shorter than half
    the lease, or the renewals could not keep a delivery's claim above that half.
    """
    if batch < 1 or max_attempts < 1:
        raise ValueError("batch and max_attempts must be at least 1")
    every = lease / HEARTBEATS_PER_LEASE if heartbeat is None else heartbeat
    if not timedelta(0) < every < lease / 2:
        raise ValueError("the heartbeat must be shorter than half the lease")
    policy = RetryPolicy(max_attempts, base_delay, max_delay)
    names = sorted(channels)
    now = clock.now()
    rows, abandoned = outbox.claim(
        names,
        now=now,
        batch=batch,
        lease=lease,
        max_attempts=max_attempts,
        # A row whose claim ran out after its last allowed attempt killed (or hung) every
        # dispatcher that tried it: stop there rather than crash the next one too.
        abandoned_error=_(
            "每次尝试（{attempts} 次）发送程序都在投递中途停止；请先检查渠道再重试"
        ).format(attempts=max_attempts),
    )
    messages = [OutboxMessage.from_row(row) for row in rows]
    sent = expired = 0
    failures: list[Failure] = []
    with Heartbeat(outbox, clock, messages, now=now, lease=lease, every=every) as claims:
        for message in messages:
            if not claims.may_deliver(message.id):
                # Lost, or about to run out: another dispatcher may re-claim it while this
                # delivery runs. Leave it (no more renewals): the expired claim makes it due.
                claims.done(message.id)
                expired += 1
                continue
            try:
                channels[message.channel].deliver(message)
            except DeliveryError as error:
                failure = _record_failure(outbox, message, clock, error, policy)
            except Exception as error:
                # A channel bug (or a library error it did not translate) must not stop the
                # batch or lose the row: it is recorded like a retryable failure, with its type,
                # so the attempts run out into a dead letter an officer can read instead of a
                # crash loop.
                log.exception(
                    "outbox %s: channel %s failed unexpectedly", message.id, message.channel
                )
                unexpected = DeliveryError(
                    message.channel, f"{type(error).__name__}: {error}", retryable=True
                )
                failure = _record_failure(outbox, message, clock, unexpected, policy)
            else:
                if _record_sent(outbox, message, clock.now()):
                    sent += 1
                continue
            finally:
                claims.done(message.id)
            if failure is not None:
                failures.append(failure)
    dead = sum(1 for f in failures if f.next_attempt_at is None)
    return DispatchReport(
        claimed=len(messages),
        sent=sent,
        retrying=len(failures) - dead,
        dead=dead,
        expired=expired,
        abandoned=abandoned,
        unrouted=outbox.count_unrouted(names, now=clock.now()),
        failures=tuple(failures),
    )


class Heartbeat:
    """Keeps one batch's claims alive while it is delivered: a thread renews the rows not yet
    recorded every ``every`` (`OutboxQueue.renew`), and tells the delivering thread which rows
    it still holds with enough time left.

    The renewal runs on its own connection, beside the deliveries, so a mail server that takes
    its time does not stop it; a renewal that fails (the database unreachable) is logged and
    tried again at the next beat, while the claims' time runs down. A row the renewal does not
    find held (run out, or taken over after running out) is lost for this batch.
    """

    def __init__(
        self,
        outbox: OutboxQueue,
        clock: Clock,
        messages: list[OutboxMessage],
        *,
        now: datetime,
        lease: timedelta,
        every: timedelta,
    ) -> None:
        self._outbox, self._clock, self._lease, self._every = outbox, clock, lease, every
        self._lock = threading.Lock()
        self._open = {message.id: message.attempts for message in messages}
        self._lost: set[int] = set()
        self._held_until = now + lease
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Heartbeat:
        if self._open:
            self._thread = threading.Thread(target=self._run, name="outbox-heartbeat", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def may_deliver(self, outbox_id: int) -> bool:
        """Still held, with at least half the lease left: the heartbeat has time to renew it
        (or the dispatcher to finish) long before anyone else may take the row."""
        with self._lock:
            if outbox_id in self._lost:
                return False
            return self._clock.now() + self._lease / 2 <= self._held_until

    def done(self, outbox_id: int) -> None:
        """The row's outcome is recorded (or it was skipped): no more renewals for it."""
        with self._lock:
            self._open.pop(outbox_id, None)

    def beat(self) -> None:
        """Renew the open claims once."""
        with self._lock:
            claims = dict(self._open)
        if not claims:
            return
        now = self._clock.now()
        until = now + self._lease
        try:
            held = self._outbox.renew(claims, now=now, until=until)
        except Exception:
            log.warning("outbox claims %s not renewed", sorted(claims), exc_info=True)
            return
        with self._lock:
            lost = (claims.keys() & self._open.keys()) - held  # not those recorded meanwhile
            if lost:
                log.warning("outbox %s: claim lost before delivery", sorted(lost))
            self._lost |= lost
            self._held_until = until

    def _run(self) -> None:
        seconds = self._every.total_seconds()
        while not self._stop.wait(seconds):
            self.beat()


def _record_sent(outbox: OutboxQueue, message: OutboxMessage, now: datetime) -> bool:
    if not outbox.mark_sent(message.id, message.attempts, now=now):
        log.warning("outbox %s: delivered, but its claim was taken over meanwhile", message.id)
        return False
    log.info(
        "outbox %s sent: %s to %s %s (%s) via %s",
        message.id,
        message.template,
        message.recipient_role,
        message.recipient_name,
        mask_address(message.address),
        message.channel,
    )
    return True


def _record_failure(
    outbox: OutboxQueue,
    message: OutboxMessage,
    clock: Clock,
    error: DeliveryError,
    policy: RetryPolicy,
) -> Failure | None:
    now = clock.now()
    text = mask_text(error.message)[:MAX_ERROR_LENGTH]
    give_up = not error.retryable or message.attempts >= policy.max_attempts
    next_attempt_at = None if give_up else now + policy.backoff(message.attempts)
    recorded = outbox.mark_failed(
        message.id, message.attempts, error=text, next_attempt_at=next_attempt_at
    )
    if not recorded:
        log.warning("outbox %s: failed, and its claim was taken over meanwhile", message.id)
        return None
    log.warning(
        "outbox %s attempt %s/%s failed (%s): %s",
        message.id,
        message.attempts,
        policy.max_attempts,
        "dead" if next_attempt_at is None else f"retry at {next_attempt_at.isoformat()}",
        text,
    )
    return Failure(
        id=message.id,
        idempotency_key=message.idempotency_key,
        channel=message.channel,
        attempts=message.attempts,
        error=text,
        retryable=error.retryable,
        next_attempt_at=next_attempt_at,
    )
