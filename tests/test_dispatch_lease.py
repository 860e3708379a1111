"""The dispatcher's lease: short, renewed by a heartbeat while a batch is delivered, and never a
way for two live dispatchers to send one notice (`notifications.dispatch`, issue 18).

The main test runs two real dispatcher processes against a slow HTTP receiver that really
listens on 127.0.0.1: the first holds its batch longer than a lease (so only the heartbeat
keeps the other off its rows), is SIGKILLed mid-batch, and its claims must come back within one
lease and be sent by the survivor, once each. Both databases.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from notifications.dispatch import DEFAULT_LEASE, dispatch
from notifications.outbox import OutboxMessage
from workflow import Engine, SimulatedClock
from workflow.clock import SHANGHAI
from workflow.store.outbox import SqlOutbox
from workflow.store.schema import outbox

START = datetime(2024, 5, 6, 9, 30, tzinfo=SHANGHAI)


@pytest.fixture
def db(db_url: str) -> Iterator[sa.Engine]:
    with Engine(db_url) as engine:
        engine.upgrade_schema()
        yield engine.db


def add_rows(db: sa.Engine, count: int, *, channel: str, at: datetime) -> list[str]:
    """Pending rows due at ``at``, in id order; their idempotency keys."""
    keys = [f"lease-{i:03d}" for i in range(count)]
    rows = [
        {
            "idempotency_key": key,
            "case_id": None,
            "template": "approval_notice",
            "channel": channel,
            "recipient_role": "cadre",
            "recipient_name": f"张建国{i}",
            "address": "13812345678",
            "subject": "荣誉疗养审核通过通知",
            "body": "您好！\n",
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": at,
            "created_at": at,
        }
        for i, key in enumerate(keys)
    ]
    with db.begin() as connection:
        connection.execute(sa.insert(outbox), rows)
    return keys


def rows_by_key(db: sa.Engine) -> dict[str, Any]:
    with db.connect() as connection:
        return {row.idempotency_key: row for row in connection.execute(sa.select(outbox))}


# -- the store's renewal ----------------------------------------------------------------------


def test_a_renewal_extends_only_claims_still_held(db: sa.Engine) -> None:
    add_rows(db, 4, channel="file", at=START)
    queue = SqlOutbox(db)
    lease = timedelta(seconds=30)
    rows, _ = queue.claim(
        ["file"], now=START, batch=4, lease=lease, max_attempts=6, abandoned_error="gone"
    )
    held, stolen, sent, lapsed = (row["id"] for row in rows)
    later = START + timedelta(seconds=20)
    assert queue.mark_sent(sent, 1, now=later)
    with db.begin() as connection:  # another claim (token 2) after ours ran out, and one lapsed
        connection.execute(sa.update(outbox).where(outbox.c.id == stolen).values(attempts=2))
        connection.execute(
            sa.update(outbox).where(outbox.c.id == lapsed).values(claimed_until=later)
        )
    claims = {held: 1, stolen: 1, sent: 1, lapsed: 1}
    assert queue.renew(claims, now=later, until=later + lease) == {held}
    after = {row.id: row for row in rows_by_key(db).values()}
    assert after[held].claimed_until == later + lease
    assert after[stolen].claimed_until == START + lease  # the other claim's, untouched
    assert after[lapsed].claimed_until == later  # a claim that ran out is never revived
    assert (after[sent].status, after[sent].claimed_until) == ("sent", None)
    assert queue.renew({}, now=later, until=later + lease) == set()


def test_the_heartbeat_keeps_a_slow_batch_past_its_lease(db: sa.Engine) -> None:
    """Each delivery takes 20 s of (simulated) time, three take a minute against a 30 s lease:
    the heartbeat renews the open claims meanwhile, so a second dispatcher finds nothing to
    take and the first delivers the whole batch."""
    clock = SimulatedClock(START)
    keys = add_rows(db, 3, channel="slow", at=START)
    queue = SqlOutbox(db)
    delivered: list[str] = []
    rival: list[int] = []

    def renewed_to(until: datetime) -> bool:
        open_rows = [r for r in rows_by_key(db).values() if r.status == "sending"]
        return all(r.claimed_until == until for r in open_rows)

    class Slow:
        name = "slow"

        def deliver(self, message: OutboxMessage) -> None:
            delivered.append(message.idempotency_key)
            clock.advance(timedelta(seconds=20))
            deadline = time.monotonic() + 20
            while not renewed_to(clock.now() + DEFAULT_LEASE):  # the next beat renews them
                assert time.monotonic() < deadline, "the claims were not renewed"
                time.sleep(0.01)
            rival.append(dispatch(queue, {"slow": Slow()}, clock).claimed)

    report = dispatch(queue, {"slow": Slow()}, clock, heartbeat=timedelta(seconds=0.05))
    assert (report.claimed, report.sent, report.expired) == (3, 3, 0)
    assert delivered == keys
    assert rival == [0, 0, 0]
    assert {(r.status, r.attempts) for r in rows_by_key(db).values()} == {("sent", 1)}


def test_the_lease_is_short_and_its_heartbeat_shorter() -> None:
    assert timedelta(seconds=30) >= DEFAULT_LEASE
    with pytest.raises(ValueError, match="half the lease"):
        dispatch(
            SqlOutbox(sa.create_engine("sqlite://")),
            {},
            SimulatedClock(START),
            heartbeat=timedelta(seconds=15),
        )


# -- two dispatcher processes, one killed --------------------------------------------------------

DISPATCHER = """
import sys, time
from datetime import timedelta
from notifications.channels import WebhookChannel
from notifications.dispatch import dispatch
from workflow.clock import SystemClock
from workflow.store.database import create_engine
from workflow.store.outbox import SqlOutbox

url, hook, lease, batch = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
queue, channels = SqlOutbox(create_engine(url)), {"webhook": WebhookChannel(hook)}
print("ready", flush=True)
while True:
    report = dispatch(queue, channels, SystemClock(), batch=batch, lease=timedelta(seconds=lease))
    if report.claimed < batch:
        time.sleep(0.1)
"""


@dataclass(frozen=True)
class Request:
    who: str  # the dispatcher, by the path it posts to
    key: str
    started: float  # time.monotonic()


class SlowReceiver:
    """A webhook receiver that takes ``delay`` per notice and notes any notice that arrives
    while the same one is still being received (two dispatchers sending it at once)."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.lock = threading.Lock()
        self.requests: list[Request] = []
        self.in_flight: set[str] = set()
        self.overlaps: list[str] = []

    def receive(self, who: str, key: str) -> None:
        with self.lock:
            if key in self.in_flight:
                self.overlaps.append(key)
            self.in_flight.add(key)
            self.requests.append(Request(who, key, time.monotonic()))
        time.sleep(self.delay)
        with self.lock:
            self.in_flight.discard(key)

    def by(self, who: str) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.who == who]


@pytest.fixture
def receiver() -> Iterator[tuple[SlowReceiver, str]]:
    state = SlowReceiver(delay=0.2)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            state.receive(self.path.rsplit("/", 1)[-1], self.headers["Idempotency-Key"])
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *_args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, *_args: Any) -> None:
            pass  # the killed dispatcher's connection breaks off

    server = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}/notices"
    finally:
        server.shutdown()
        server.server_close()


def start_dispatcher(db_url: str, hook: str, lease: float, batch: int) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", DISPATCHER, db_url, hook, str(lease), str(batch)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parent,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    return process


def wait_for(condition: Callable[[], object], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_a_killed_dispatchers_claims_come_back_within_a_lease_and_go_out_once(
    db: sa.Engine, db_url: str, receiver: tuple[SlowReceiver, str]
) -> None:
    state, hook = receiver
    lease = 2.0  # seconds; the heartbeat beats every sixth of it
    keys = add_rows(db, 30, channel="webhook", at=datetime.now(SHANGHAI) - timedelta(minutes=1))
    first = start_dispatcher(db_url, f"{hook}/first", lease, batch=25)  # 25 x 0.2 s: 5 s
    second: subprocess.Popen[str] | None = None
    try:
        wait_for(lambda: state.by("first"), 30, "the first dispatcher's first delivery")
        first_started = state.by("first")[0].started
        second = start_dispatcher(db_url, f"{hook}/second", lease, batch=25)
        # the first is killed after 20 deliveries, ~4 s into its batch: past its own lease,
        # while the second, idle since its 5 rows went out, polls every 0.1 s
        wait_for(lambda: len(state.by("first")) >= 20, 30, "20 deliveries by the first")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        killed = time.monotonic()
        assert killed - first_started > lease  # only the heartbeat kept the second off
        assert first.returncode == -signal.SIGKILL
        orphans = {k for k, r in rows_by_key(db).items() if r.status == "sending"}
        assert orphans, "the first dispatcher finished before it was killed"

        def taken_back() -> bool:
            rows = rows_by_key(db)
            return all(rows[k].attempts == 2 for k in orphans)

        wait_for(taken_back, lease + 10, "the killed dispatcher's claims to come back")
        came_back = time.monotonic() - killed
        wait_for(lambda: all(r.status == "sent" for r in rows_by_key(db).values()), 20, "all sent")
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait(timeout=10)

    # not released early: the first's last delivery started with at least half a lease on its
    # claims (just before the kill); and back within one lease, plus the second's poll and
    # some slack for a loaded machine (the old lease was 5 minutes)
    assert lease / 2 - 0.2 <= came_back <= lease + 2.0, came_back
    assert state.overlaps == []  # never two dispatchers on one notice at once
    first_batch, second_batch = set(keys[:25]), set(keys[25:])  # each claim's, in id order
    assert orphans < first_batch
    rows = rows_by_key(db)
    assert {k for k, r in rows.items() if r.attempts == 2} == orphans  # claimed once more
    # the second sent its own batch and the killed one's claims, each once, nothing else
    assert Counter(r.key for r in state.by("second")) == dict.fromkeys(second_batch | orphans, 1)
    # and before the kill none of the first's batch, though that batch outlived a lease
    assert {r.key for r in state.by("second") if r.started < killed} <= second_batch
    assert {r.key for r in state.by("first")} <= first_batch
    # every notice reached the receiver; only the one cut off by the kill arrived twice
    seen = Counter(r.key for r in state.requests)
    assert set(seen) == set(keys)
    twice = {k for k, n in seen.items() if n > 1}
    assert len(twice) <= 1
    assert twice <= orphans
    assert max(seen.values()) <= 2
