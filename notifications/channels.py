"""Delivery channels: where a notice goes once the dispatcher has claimed it.

A channel is anything with a ``name`` and ``deliver(message)`` (the `Channel` protocol); the
outbox row's ``channel`` column picks one by name. Three ship here:

* ``file`` (default): one UTF-8 ``.txt`` (and ``.html``) per notice in a directory, for an
  office that prints notices or reads them out on the phone;
* ``smtp``: e-mail through a mail server (`smtplib`);
* ``webhook``: a JSON POST to a host system, e.g. an SMS gateway (`urllib`).

Delivery is at least once: a dispatcher killed after a channel accepted a notice but before the
row was marked sent delivers it again later. So every channel passes the row's idempotency key
on (file name, ``Message-ID`` and ``X-Idempotency-Key``, ``Idempotency-Key`` header) and a
receiver can drop the duplicate. A failure raises `DeliveryError`, whose ``retryable`` flag
tells the dispatcher whether trying later can help.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import smtplib
import ssl
import tempfile
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formataddr, formatdate
from pathlib import Path
from typing import Protocol
from urllib.parse import quote

from notifications.errors import ChannelConfigError, DeliveryError
from notifications.masking import mask_address
from notifications.outbox import OutboxMessage
from workflow.i18n import _

NOTICES_DIR_ENV = "CONVALESCENCE_NOTICES_DIR"
SMTP_ENV = "CONVALESCENCE_SMTP"  # host:port
SMTP_FROM_ENV = "CONVALESCENCE_SMTP_FROM"
SMTP_USER_ENV = "CONVALESCENCE_SMTP_USER"
SMTP_PASSWORD_ENV = "CONVALESCENCE_SMTP_PASSWORD"
SMTP_STARTTLS_ENV = "CONVALESCENCE_SMTP_STARTTLS"
WEBHOOK_ENV = "CONVALESCENCE_WEBHOOK_URL"
DEFAULT_NOTICES_DIR = "notices"
DEFAULT_SENDER = "noreply@convalescence.invalid"
DEFAULT_TIMEOUT = 10.0


class Channel(Protocol):
    """A way to hand a notice over. ``deliver`` returns when the receiver has accepted it and
    raises `DeliveryError` otherwise; it must accept the same message twice (see above)."""

    @property
    def name(self) -> str: ...

    def deliver(self, message: OutboxMessage) -> None: ...


# -- file ---------------------------------------------------------------------------------

_SAFE_STEM = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,150}")


def file_stem(idempotency_key: str) -> str:
    """The file name for a key: the key itself when it is a safe file name, else a cleaned
    version plus a digest, so two keys that clean up alike still get two files."""
    if _SAFE_STEM.fullmatch(idempotency_key):
        return idempotency_key
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", idempotency_key).strip("._-")[:100]
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:12]
    return f"{cleaned}-{digest}" if cleaned else digest


class FileChannel:
    """Writes each notice as files an officer can open, named by its idempotency key.

    Each file is written to a temporary name and then linked into place, which fails if the
    name exists: a reader never sees half a notice, and writing the same key twice (a
    re-delivery after a crash) keeps the first file instead of duplicating it. The ``.txt``
    is written last, so its presence means the notice is complete.
    """

    name = "file"

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def paths(self, message: OutboxMessage) -> tuple[Path, Path]:
        stem = file_stem(message.idempotency_key)
        return self.directory / f"{stem}.txt", self.directory / f"{stem}.html"

    def deliver(self, message: OutboxMessage) -> None:
        text_path, html_path = self.paths(message)
        if text_path.exists():
            return
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            if message.body_html is not None:
                _write_once(html_path, message.body_html)
            _write_once(text_path, _as_text_file(message))
        except OSError as error:
            raise DeliveryError(
                self.name,
                _("无法写入 {path}：{reason}").format(
                    path=text_path, reason=error.strerror or error
                ),
                retryable=True,
            ) from error


def _as_text_file(message: OutboxMessage) -> str:
    header = [
        f"主题：{message.subject}",
        f"收件人：{message.recipient_name}（{message.recipient_role}）",
        f"地址：{message.address or '（无，请人工送达）'}",
        f"案件编号：{message.case_id if message.case_id is not None else '—'}",
        f"通知：{message.template} · 编号 {message.idempotency_key}",
    ]
    return "\n".join(header) + "\n" + "-" * 40 + "\n\n" + message.body


def _write_once(path: Path, content: str) -> None:
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)  # atomic, and refuses to replace an existing file
        except FileExistsError:
            pass
        except OSError:
            # a file system without hard links: a rename is atomic too, but may replace
            if not path.exists():
                os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


# -- smtp ---------------------------------------------------------------------------------


def message_id(idempotency_key: str, sender: str) -> str:
    """A ``Message-ID`` that is the same for every delivery of one notice, so a mail server or
    client that deduplicates by it drops the copy a re-delivery sends."""
    domain = sender.rpartition("@")[2] or "convalescence.invalid"
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]
    return f"<{digest}@{domain}>"


class SmtpChannel:
    """E-mail through a mail server; the row's address is the recipient's e-mail.

    A reply code 4xx or a dropped connection is retryable, a 5xx (unknown mailbox, refused
    sender) is not: sending the same thing again would get the same answer.
    """

    name = "smtp"

    def __init__(
        self,
        host: str,
        port: int = 25,
        sender: str = DEFAULT_SENDER,
        *,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.username, self.password = username, password
        self.starttls, self.timeout = starttls, timeout

    def build(self, message: OutboxMessage) -> EmailMessage:
        email = EmailMessage()
        email["From"] = self.sender
        email["To"] = formataddr((message.recipient_name, message.address or ""))
        email["Subject"] = message.subject
        email["Date"] = formatdate(localtime=True)
        email["Message-ID"] = message_id(message.idempotency_key, self.sender)
        email["X-Idempotency-Key"] = message.idempotency_key
        email.set_content(message.body)
        if message.body_html is not None:
            email.add_alternative(message.body_html, subtype="html")
        return email

    def deliver(self, message: OutboxMessage) -> None:
        if not message.address or "@" not in message.address:
            raise DeliveryError(
                self.name,
                _("{role} {name} 没有电子邮件地址（{address}）").format(
                    role=message.recipient_role,
                    name=message.recipient_name,
                    address=mask_address(message.address) or _("无"),
                ),
                retryable=False,
            )
        email = self.build(message)
        try:
            client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        except (OSError, smtplib.SMTPException) as error:
            raise DeliveryError(
                self.name,
                _("无法连接 {server}：{reason}").format(
                    server=f"{self.host}:{self.port}", reason=error
                ),
                retryable=True,
            ) from error
        try:
            if self.starttls:
                client.starttls(context=ssl.create_default_context())
            if self.username:
                client.login(self.username, self.password or "")
            client.send_message(email)
        except smtplib.SMTPRecipientsRefused as error:
            codes = [code for code, _ in error.recipients.values()]
            replies = "; ".join(
                f"{mask_address(address)}: {code} {_text(reply)}"
                for address, (code, reply) in error.recipients.items()
            )
            raise DeliveryError(
                self.name,
                _("收件人被拒：{replies}").format(replies=replies),
                retryable=all(400 <= code < 500 for code in codes),
            ) from error
        except smtplib.SMTPResponseException as error:
            raise DeliveryError(
                self.name,
                _("服务器回复 {code} {reply}").format(
                    code=error.smtp_code, reply=_text(error.smtp_error)
                ),
                retryable=400 <= error.smtp_code < 500,
            ) from error
        except (OSError, smtplib.SMTPException) as error:
            raise DeliveryError(
                self.name, f"{type(error).__name__}: {error}", retryable=True
            ) from error
        finally:
            # The message was accepted (or not) above; a failing QUIT must not turn an accepted
            # message into a retry, which would only send a duplicate.
            try:
                client.quit()
            except (OSError, smtplib.SMTPException):
                client.close()


def _text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)


# -- webhook ------------------------------------------------------------------------------


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """urllib would turn a redirected POST into a GET without the notice; refuse instead, so
    the 3xx surfaces as a configuration error."""

    def redirect_request(self, *_args: object, **_kwargs: object) -> None:
        return None


RETRYABLE_HTTP = frozenset({408, 425, 429})


class WebhookChannel:
    """A JSON POST of the notice to one configured URL, e.g. a host system or an SMS gateway.

    The URL comes from configuration, never from the row: the address in the row (a phone, an
    e-mail) is passed in the body for the receiver to use. 5xx, 408, 425, 429 and network
    errors are retryable; any other 4xx is not (the receiver rejected this notice); a redirect
    is not followed.
    """

    name = "webhook"

    def __init__(self, url: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        if not url.startswith(("http://", "https://")):
            raise ChannelConfigError(
                _("webhook 地址须以 http:// 或 https:// 开头：{url}").format(url=mask_address(url)),
                field=WEBHOOK_ENV,
            )
        self.url, self.timeout = url, timeout
        self._opener = urllib.request.build_opener(_NoRedirects)

    @staticmethod
    def payload(message: OutboxMessage) -> dict[str, object]:
        return {
            "idempotency_key": message.idempotency_key,
            "outbox_id": message.id,
            "case_id": message.case_id,
            "template": message.template,
            "recipient": {
                "role": message.recipient_role,
                "name": message.recipient_name,
                "address": message.address,
            },
            "subject": message.subject,
            "body": message.body,
            "body_html": message.body_html,
        }

    def deliver(self, message: OutboxMessage) -> None:
        data = json.dumps(self.payload(message), ensure_ascii=False).encode()
        request = urllib.request.Request(
            self.url,
            data=data,
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                # header values must be Latin-1; a key with other characters is percent-encoded
                "Idempotency-Key": quote(message.idempotency_key, safe="!#$&'()*+,/:;=?@[]~"),
                "User-Agent": "convalescence-notifications",
            },
        )
        shown = mask_address(self.url)
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                response.read()
        except urllib.error.HTTPError as error:
            detail = error.read(200).decode(errors="replace").strip()
            retryable = error.code >= 500 or error.code in RETRYABLE_HTTP
            raise DeliveryError(
                self.name,
                _("{server} 回复 {code} {reason}：{detail}").format(
                    server=shown, code=error.code, reason=error.reason, detail=detail
                ),
                retryable=retryable,
            ) from error
        except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
            reason = getattr(error, "reason", None) or error
            raise DeliveryError(
                self.name,
                _("无法连接 {server}：{reason}").format(server=shown, reason=reason),
                retryable=True,
            ) from error


# -- configuration ------------------------------------------------------------------------


@dataclass(frozen=True)
class ChannelSettings:
    """Where notices go, read from the environment so the same command works on every node
    (``CONVALESCENCE_NOTICES_DIR``, ``CONVALESCENCE_SMTP=host:port`` with ``_FROM``, ``_USER``,
    ``_PASSWORD``, ``_STARTTLS``, and ``CONVALESCENCE_WEBHOOK_URL``)."""

    notices_dir: Path = Path(DEFAULT_NOTICES_DIR)
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_sender: str = DEFAULT_SENDER
    smtp_username: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    smtp_starttls: bool = False
    webhook_url: str | None = field(default=None, repr=False)
    timeout: float = DEFAULT_TIMEOUT

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ChannelSettings:
        env = os.environ if environ is None else environ
        host, port = None, 25
        if env.get(SMTP_ENV):
            host, port = parse_host_port(env[SMTP_ENV])
        return cls(
            notices_dir=Path(env.get(NOTICES_DIR_ENV) or DEFAULT_NOTICES_DIR),
            smtp_host=host,
            smtp_port=port,
            smtp_sender=env.get(SMTP_FROM_ENV) or DEFAULT_SENDER,
            smtp_username=env.get(SMTP_USER_ENV) or None,
            smtp_password=env.get(SMTP_PASSWORD_ENV) or None,
            smtp_starttls=env.get(SMTP_STARTTLS_ENV, "").lower() in {"1", "true", "yes"},
            webhook_url=env.get(WEBHOOK_ENV) or None,
        )


def parse_host_port(text: str) -> tuple[str, int]:
    """``mail.example.org:25`` or ``[::1]:2525``; refused with the expected shape otherwise."""
    host, sep, port = text.strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ChannelConfigError(
            _("{name} 须为 HOST:PORT，如 mail.example.org:25，而不是 {text!r}").format(
                name=SMTP_ENV, text=text
            ),
            field=SMTP_ENV,
        )
    return host, int(port)


def build_channels(settings: ChannelSettings) -> dict[str, Channel]:
    """The channels the settings configure, by name: ``file`` always, the others when set.

    Rows for a channel that is not configured are left pending (the dispatcher reports them)
    rather than failed: configuring the channel later delivers them.
    """
    channels: dict[str, Channel] = {"file": FileChannel(settings.notices_dir)}
    if settings.smtp_host:
        channels["smtp"] = SmtpChannel(
            settings.smtp_host,
            settings.smtp_port,
            settings.smtp_sender,
            username=settings.smtp_username,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
            timeout=settings.timeout,
        )
    if settings.webhook_url:
        channels["webhook"] = WebhookChannel(settings.webhook_url, settings.timeout)
    return channels
