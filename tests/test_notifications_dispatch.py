"""The dispatcher against real receivers: an SMTP server (aiosmtpd) and an HTTP server, both
listening on 127.0.0.1, and files on disk. Outbox rows are inserted directly (the engine's own
writer is tested with the engine); every test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import email
import email.policy
import json
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from notifications.channels import (
    ChannelSettings,
    FileChannel,
    SmtpChannel,
    WebhookChannel,
    build_channels,
    file_stem,
)
from notifications.dispatch import RetryPolicy, dispatch
from notifications.errors import ChannelConfigError, DeliveryError
from notifications.outbox import OutboxMessage, list_entries, retry_dead
from workflow import Engine, SimulatedClock
from workflow.clock import SHANGHAI
from workflow.errors import InputError, NotFoundError
from workflow.store.outbox import SqlOutbox
from workflow.store.schema import outbox

START = datetime(2024, 5, 6, 9, 30, tzinfo=SHANGHAI)


# -- the database and its rows --------------------------------------------------------------


@pytest.fixture
def db(db_url: str) -> Iterator[sa.Engine]:
    with Engine(db_url) as engine:
        engine.upgrade_schema()
        yield engine.db


def add_rows(
    db: sa.Engine,
    count: int,
    *,
    channel: str,
    at: datetime = START,
    prefix: str = "case-7:approve",
    address: Callable[[int], str | None] = lambda i: f"cadre{i}@example.org",
    html: bool = False,
) -> list[str]:
    """Outbox rows as the engine writes them: pending, due at ``at``; returns their keys."""
    keys = [f"{prefix}:{i}" for i in range(count)]
    rows = [
        {
            "idempotency_key": key,
            "case_id": None,
            "template": "approval_notice",
            "channel": channel,
            "recipient_role": "cadre",
            "recipient_name": f"张建国{i}",
            "address": address(i),
            "subject": f"荣誉疗养审核通过通知（{i}）",
            "body": f"尊敬的张建国{i}同志：\n\n　　您好！经审核，您参加荣誉疗养的申请已获批准。\n",
            "body_html": f"<p>您好！{i}</p>" if html else None,
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
        return {
            row.idempotency_key: row
            for row in connection.execute(sa.select(outbox).order_by(outbox.c.id))
        }


def statuses(db: sa.Engine) -> Counter[str]:
    return Counter(row.status for row in rows_by_key(db).values())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# -- a real SMTP server --------------------------------------------------------------------


class Inbox:
    """aiosmtpd handler: refuses ``nobody@`` (550) and defers ``busy@`` (451) recipients."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address.startswith("nobody@"):
            return "550 5.1.1 no such mailbox here"
        if address.startswith("busy@"):
            return "451 4.3.0 mailbox busy, try later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        parsed = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 Message accepted"


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield inbox, controller.port
    finally:
        controller.stop()


def test_smtp_delivers_every_message_once(db: sa.Engine, smtp_server: tuple[Inbox, int]) -> None:
    inbox, port = smtp_server
    clock = SimulatedClock(START)
    keys = add_rows(db, 12, channel="smtp", html=True)
    channel = SmtpChannel("127.0.0.1", port, "荣誉疗养 <notices@dcf.example.org>")

    report = dispatch(SqlOutbox(db), {"smtp": channel}, clock, batch=5)
    assert (report.claimed, report.sent) == (5, 5)
    while dispatch(SqlOutbox(db), {"smtp": channel}, clock, batch=5).claimed:
        pass
    assert dispatch(SqlOutbox(db), {"smtp": channel}, clock).claimed == 0  # nothing is sent twice

    ids = Counter(message["Message-ID"] for message in inbox.messages)
    assert len(ids) == 12
    assert set(ids.values()) == {1}
    assert {m["X-Idempotency-Key"] for m in inbox.messages} == set(keys)
    first = next(m for m in inbox.messages if m["X-Idempotency-Key"] == keys[0])
    assert first["Subject"] == "荣誉疗养审核通过通知（0）"
    assert first["To"].addresses[0].addr_spec == "cadre0@example.org"
    assert first["To"].addresses[0].display_name == "张建国0"
    plain = first.get_body(("plain",))
    html = first.get_body(("html",))
    assert plain is not None
    assert html is not None
    assert "经审核" in plain.get_content()
    assert "<p>您好！0</p>" in html.get_content()
    rows = rows_by_key(db)
    assert all(r.status == "sent" and r.attempts == 1 and r.sent_at == START for r in rows.values())


def test_smtp_refusals_die_and_deferrals_retry(
    db: sa.Engine, smtp_server: tuple[Inbox, int]
) -> None:
    inbox, port = smtp_server
    clock = SimulatedClock(START)
    addresses = ["nobody@example.org", "busy@example.org", None]
    keys = add_rows(db, 3, channel="smtp", address=lambda i: addresses[i])
    report = dispatch(SqlOutbox(db), {"smtp": SmtpChannel("127.0.0.1", port)}, clock)
    assert (report.sent, report.dead, report.retrying) == (0, 2, 1)
    rows = rows_by_key(db)
    assert rows[keys[0]].status == "dead"
    assert "550" in rows[keys[0]].last_error
    assert "n***@example.org" in rows[keys[0]].last_error  # the address is masked
    assert rows[keys[1]].status == "pending"
    assert "451" in rows[keys[1]].last_error
    assert rows[keys[1]].next_attempt_at == START + timedelta(seconds=30)
    assert rows[keys[2]].status == "dead"
    assert "没有电子邮件地址" in rows[keys[2]].last_error
    assert inbox.messages == []


def test_smtp_server_down_is_retryable() -> None:
    message = OutboxMessage(
        1, "k", None, "approval_notice", "smtp", "cadre", "张", "a@example.org", "s", "b", None, 1
    )
    with pytest.raises(DeliveryError) as info:
        SmtpChannel("127.0.0.1", free_port(), timeout=2).deliver(message)
    assert info.value.retryable


# -- a real HTTP receiver --------------------------------------------------------------------


class Receiver:
    """Records every POST (idempotency key and JSON body) and answers what ``answer`` says
    for the n-th request carrying a key; notes any key that arrives while already in flight."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.tries: Counter[str] = Counter()
        self.accepted: list[str] = []
        self.in_flight: set[str] = set()
        self.overlaps: list[str] = []
        self.delay = 0.0
        self.answer: Callable[[str, int], tuple[int, str]] = lambda key, n: (200, "ok")

    def handle(self, key: str, body: dict[str, Any]) -> tuple[int, str]:
        with self.lock:
            if key in self.in_flight:
                self.overlaps.append(key)
            self.in_flight.add(key)
            self.requests.append((key, body))
            self.tries[key] += 1
            status, text = self.answer(key, self.tries[key])
        time.sleep(self.delay)
        with self.lock:
            self.in_flight.discard(key)
            if status < 300:
                self.accepted.append(key)
        return status, text


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            body = json.loads(self.rfile.read(length).decode("utf-8"))
            status, text = state.handle(self.headers["Idempotency-Key"], body)
            payload = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *_args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, *_args: Any) -> None:
            pass  # a client killed mid-request (the kill test) is expected

    server = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}/notices"
    finally:
        server.shutdown()
        server.server_close()


def test_webhook_503s_are_retried_with_backoff_until_delivered_once(
    db: sa.Engine, receiver: tuple[Receiver, str]
) -> None:
    state, url = receiver
    state.answer = lambda key, n: (503, "maintenance") if n <= 2 else (200, "ok")
    clock = SimulatedClock(START)
    keys = add_rows(db, 5, channel="webhook")
    channels = {"webhook": WebhookChannel(url, timeout=5)}

    first = dispatch(SqlOutbox(db), channels, clock)
    assert (first.claimed, first.retrying, first.sent) == (5, 5, 0)
    assert all(f.retryable and "503" in f.error for f in first.failures)
    assert {r.next_attempt_at for r in rows_by_key(db).values()} == {START + timedelta(seconds=30)}
    assert dispatch(SqlOutbox(db), channels, clock).claimed == 0  # not due yet

    clock.advance(timedelta(seconds=30))
    second = dispatch(SqlOutbox(db), channels, clock)
    assert (second.claimed, second.retrying) == (5, 5)
    due = clock.now() + timedelta(seconds=60)  # the wait doubles
    assert {r.next_attempt_at for r in rows_by_key(db).values()} == {due}
    clock.advance(timedelta(seconds=59))
    assert dispatch(SqlOutbox(db), channels, clock).claimed == 0
    clock.advance(timedelta(seconds=1))
    third = dispatch(SqlOutbox(db), channels, clock)
    assert (third.claimed, third.sent) == (5, 5)

    assert sorted(state.accepted) == sorted(keys)  # each delivered exactly once
    assert state.tries == dict.fromkeys(keys, 3)
    rows = rows_by_key(db)
    assert {(r.status, r.attempts) for r in rows.values()} == {("sent", 3)}
    assert all(r.sent_at == clock.now() for r in rows.values())
    body = dict(state.requests)[keys[0]]
    assert body["idempotency_key"] == keys[0]
    assert body["recipient"] == {
        "role": "cadre",
        "name": "张建国0",
        "address": "cadre0@example.org",
    }


def test_webhook_400_is_dead_at_once_with_the_error_masked(
    db: sa.Engine, receiver: tuple[Receiver, str]
) -> None:
    state, url = receiver
    state.answer = lambda key, n: (400, "invalid phone 13812345678")
    clock = SimulatedClock(START)
    (key,) = add_rows(db, 1, channel="webhook", address=lambda i: "13812345678")
    report = dispatch(SqlOutbox(db), {"webhook": WebhookChannel(url)}, clock)
    assert (report.dead, report.retrying) == (1, 0)
    assert not report.failures[0].retryable
    row = rows_by_key(db)[key]
    assert (row.status, row.attempts) == ("dead", 1)
    assert "400" in row.last_error
    assert "138****5678" in row.last_error
    assert "13812345678" not in row.last_error
    (entry,) = list_entries(SqlOutbox(db), status="dead")
    assert entry.address == "138****5678"


def test_dead_letter_after_max_attempts_and_retry_revives(
    db: sa.Engine, receiver: tuple[Receiver, str]
) -> None:
    state, url = receiver
    state.answer = lambda key, n: (503, "down")
    clock = SimulatedClock(START)
    keys = add_rows(db, 2, channel="webhook")
    channels = {"webhook": WebhookChannel(url)}
    for attempt in range(1, 4):
        report = dispatch(SqlOutbox(db), channels, clock, max_attempts=3)
        assert report.claimed == 2
        assert report.dead == (2 if attempt == 3 else 0)
        clock.advance(timedelta(hours=1))
    assert statuses(db) == {"dead": 2}
    assert dispatch(SqlOutbox(db), channels, clock, max_attempts=3).claimed == 0

    with pytest.raises(InputError, match="请给出要重试的通知编号"):
        retry_dead(SqlOutbox(db), clock, [])
    queue = SqlOutbox(db)
    assert retry_dead(queue, clock, [rows_by_key(db)[keys[0]].id]) == [rows_by_key(db)[keys[0]].id]
    assert retry_dead(queue, clock, all_dead=True) == [rows_by_key(db)[keys[1]].id]
    rows = rows_by_key(db)
    assert {(r.status, r.attempts) for r in rows.values()} == {("pending", 0)}
    assert all(r.last_error for r in rows.values())  # why it died stays visible

    state.answer = lambda key, n: (200, "ok")
    assert dispatch(SqlOutbox(db), channels, clock, max_attempts=3).sent == 2
    assert statuses(db) == {"sent": 2}
    assert sorted(state.accepted) == sorted(keys)
    sent_id = rows_by_key(db)[keys[0]].id
    with pytest.raises(InputError, match=f"{sent_id} 为 sent"):
        retry_dead(SqlOutbox(db), clock, [sent_id])
    with pytest.raises(NotFoundError):
        retry_dead(SqlOutbox(db), clock, [sent_id, 999_999])


def test_two_dispatchers_at_once_never_deliver_a_row_twice(
    db: sa.Engine, receiver: tuple[Receiver, str]
) -> None:
    state, url = receiver
    state.delay = 0.01
    clock = SimulatedClock(START)
    keys = add_rows(db, 30, channel="webhook")
    channels = {"webhook": WebhookChannel(url)}
    errors: list[BaseException] = []

    def run() -> None:
        try:
            while dispatch(SqlOutbox(db), channels, clock, batch=4).claimed:
                pass
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert state.overlaps == []
    assert sorted(state.accepted) == sorted(keys)
    assert statuses(db) == {"sent": 30}
    assert {r.attempts for r in rows_by_key(db).values()} == {1}


KILLED_DISPATCHER = """
import sys
from notifications.channels import WebhookChannel
from notifications.dispatch import dispatch
from workflow.clock import SystemClock
from workflow.store.database import create_engine
from workflow.store.outbox import SqlOutbox

outbox = SqlOutbox(create_engine(sys.argv[1]))
dispatch(outbox, {"webhook": WebhookChannel(sys.argv[2])}, SystemClock())
"""


def test_a_dispatcher_killed_mid_batch_loses_nothing(
    db: sa.Engine, db_url: str, receiver: tuple[Receiver, str]
) -> None:
    state, url = receiver
    state.delay = 0.3
    now = datetime.now(SHANGHAI)
    keys = add_rows(db, 8, channel="webhook", at=now - timedelta(minutes=1))
    process = subprocess.Popen([sys.executable, "-c", KILLED_DISPATCHER, db_url, url])
    try:
        deadline = time.monotonic() + 30
        while len(state.requests) < 3 and time.monotonic() < deadline:
            assert process.poll() is None, "the dispatcher ended before it was killed"
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    interrupted = {key for key, row in rows_by_key(db).items() if row.status == "sending"}
    assert statuses(db)["sent"] >= 2
    assert interrupted  # the row in flight and those not reached yet, claimed by the dead one

    state.delay = 0.0
    channels = {"webhook": WebhookChannel(url)}
    # still under its claim
    assert dispatch(SqlOutbox(db), channels, SimulatedClock(now)).claimed == 0
    later = SimulatedClock(now + timedelta(minutes=6))  # the 5-minute claim has expired
    report = dispatch(SqlOutbox(db), channels, later)
    assert report.sent == len(interrupted)
    assert statuses(db) == {"sent": 8}

    seen = Counter(key for key, _ in state.requests)
    assert set(seen) == set(keys)  # every notice reached the receiver
    assert set(state.accepted) == set(keys)  # after dropping duplicates by key: each once
    duplicates = {key for key, n in seen.items() if n > 1}
    assert duplicates <= interrupted  # only a delivery cut off by the kill is repeated


def test_a_claim_that_runs_out_is_handed_over_not_overwritten(db: sa.Engine) -> None:
    """A dispatcher that outlives its lease neither delivers the rest of its batch nor records
    over the dispatcher that took the rows over."""
    clock = SimulatedClock(START)
    keys = add_rows(db, 4, channel="slow")
    delivered: list[tuple[str, str]] = []

    class Slow:
        name = "slow"

        def __init__(self, who: str) -> None:
            self.who = who

        def deliver(self, message: OutboxMessage) -> None:
            delivered.append((self.who, message.idempotency_key))
            if self.who == "first" and len(delivered) == 1:
                clock.advance(timedelta(minutes=6))  # this delivery outlives the lease
                second = dispatch(SqlOutbox(db), {"slow": Slow("second")}, clock)
                assert (second.claimed, second.sent) == (4, 4)

    first = dispatch(SqlOutbox(db), {"slow": Slow("first")}, clock)
    assert (first.claimed, first.sent, first.expired) == (4, 0, 3)
    assert delivered == [("first", keys[0])] + [("second", key) for key in keys]
    assert {(r.status, r.attempts) for r in rows_by_key(db).values()} == {("sent", 2)}


def test_a_row_whose_dispatcher_always_dies_becomes_dead(db: sa.Engine) -> None:
    clock = SimulatedClock(START)
    (key,) = add_rows(db, 1, channel="file")
    with db.begin() as connection:
        connection.execute(
            sa.update(outbox).values(status="sending", attempts=6, claimed_until=START)
        )
    report = dispatch(SqlOutbox(db), {"file": FileChannel("/nonexistent")}, clock)
    assert (report.claimed, report.abandoned) == (0, 1)
    row = rows_by_key(db)[key]
    assert row.status == "dead"
    assert "投递中途停止" in row.last_error


def test_rows_for_an_unconfigured_channel_wait(db: sa.Engine, tmp_path: Path) -> None:
    clock = SimulatedClock(START)
    add_rows(db, 3, channel="smtp")
    add_rows(db, 1, channel="file", prefix="file")
    report = dispatch(SqlOutbox(db), {"file": FileChannel(tmp_path)}, clock)
    assert (report.claimed, report.sent, report.unrouted) == (1, 1, 3)
    assert statuses(db) == {"pending": 3, "sent": 1}


# -- files ---------------------------------------------------------------------------------


def test_file_channel_writes_notices_an_officer_can_open(db: sa.Engine, tmp_path: Path) -> None:
    clock = SimulatedClock(START)
    keys = add_rows(db, 3, channel="file", html=True, prefix="case/7:approve")
    directory = tmp_path / "notices"
    channel = FileChannel(directory)
    assert dispatch(SqlOutbox(db), {"file": channel}, clock).sent == 3

    files = sorted(p.name for p in directory.iterdir())
    assert len(files) == 6  # one .txt and one .html each, no temporary files left
    assert all(name.endswith((".txt", ".html")) and not name.startswith(".") for name in files)
    text = (directory / f"{file_stem(keys[0])}.txt").read_text(encoding="utf-8")
    assert "主题：荣誉疗养审核通过通知（0）" in text
    assert "收件人：张建国0（cadre）" in text
    assert "尊敬的张建国0同志" in text
    assert (directory / f"{file_stem(keys[0])}.html").read_text(
        encoding="utf-8"
    ) == "<p>您好！0</p>"

    # a re-delivery (after a crash between writing and marking sent) does not duplicate
    (row,) = [r for r in rows_by_key(db).values() if r.idempotency_key == keys[0]]
    channel.deliver(OutboxMessage.from_row(row._mapping))
    assert sorted(p.name for p in directory.iterdir()) == files
    assert (directory / f"{file_stem(keys[0])}.txt").read_text(encoding="utf-8") == text


def test_file_names_stay_distinct_and_safe() -> None:
    assert file_stem("case-7.approve.cadre") == "case-7.approve.cadre"
    unsafe = [file_stem("case/7:a"), file_stem("case:7/a"), file_stem("../../etc/passwd")]
    assert len(set(unsafe)) == 3
    assert all("/" not in stem and not stem.startswith(".") for stem in unsafe)


def test_unwritable_directory_is_a_retryable_failure(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    message = OutboxMessage(
        1, "k", None, "approval_notice", "file", "cadre", "张", None, "s", "b", None, 1
    )
    with pytest.raises(DeliveryError) as info:
        FileChannel(blocker / "notices").deliver(message)
    assert info.value.retryable


# -- configuration ---------------------------------------------------------------------------


def test_channels_come_from_the_environment(tmp_path: Path) -> None:
    settings = ChannelSettings.from_env(
        {
            "CONVALESCENCE_NOTICES_DIR": str(tmp_path),
            "CONVALESCENCE_SMTP": "mail.example.org:2525",
            "CONVALESCENCE_WEBHOOK_URL": "https://sms.example.org/send?token=secret",
        }
    )
    channels = build_channels(settings)
    assert sorted(channels) == ["file", "smtp", "webhook"]
    assert (settings.smtp_host, settings.smtp_port) == ("mail.example.org", 2525)
    assert "secret" not in repr(settings)
    assert sorted(build_channels(ChannelSettings.from_env({}))) == ["file"]
    with pytest.raises(ChannelConfigError, match="HOST:PORT"):
        ChannelSettings.from_env({"CONVALESCENCE_SMTP": "mail.example.org"})


def test_backoff_doubles_up_to_a_cap() -> None:
    policy = RetryPolicy(base_delay=timedelta(seconds=30), max_delay=timedelta(minutes=5))
    waits = [policy.backoff(n).total_seconds() for n in range(1, 7)]
    assert waits == [30, 60, 120, 240, 300, 300]
