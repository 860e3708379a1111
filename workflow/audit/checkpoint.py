"""Audit checkpoints (A19.1, issue 17): every chain's head and length, and the size of every
append-only table, written to a file outside the database, so what disappears *with* its traces
(a whole case, or a chain's tail together with a rolled-back case row) is still named later.

A checkpoint file holds one JSON document per line. Each line carries ``prev`` (the previous
line's ``hash``; 64 zeros on the first line) and ``hash`` = SHA-256 over its own canonical
content, so a line edited, removed or put in between breaks the file's own chain; with a key
(``--key-file``, at least 16 bytes, kept away from the database and its administrators) each line
also carries ``hmac`` = HMAC-SHA256(key, hash), which whoever lacks the key cannot forge.

`compare` checks the database against one checkpoint: every case it recorded still exists, the
history row at the version it recorded still has the hash it recorded, the same for each batch's
exception chain and the admin log, and no append-only table holds fewer rows up to the highest id
it recorded. Each checkpoint costs one pass over the cases and the history, with only that
checkpoint in memory; an office starts a new file now and then (the scheduled job's file name may
contain ``%Y-%m``) and checks the files it wants.

The database reads are in `workflow.store.checkpoint`; here is only what to record, how to seal
and read the file, and what to compare.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from workflow.audit.chain import GENESIS
from workflow.audit.verify import verify_database
from workflow.errors import InputError, TamperedError
from workflow.i18n import N_, _
from workflow.store import checkpoint as store

FORMAT = 1
KEY_MIN_BYTES = 16
CHUNK = 1000

_FINDINGS: Mapping[str, str] = {  # translated with `_` when shown
    "case_vanished": N_("案件 {key} 在检查点 {at} 时存在（版本 {then}），现已不存在（被删除）"),
    "case_behind": N_("案件 {key} 的版本 {now} 低于检查点 {at} 时的 {then}（案件行被回退）"),
    "history_missing": N_(
        "案件 {key} 的历史记录 seq {then} 在检查点 {at} 时存在，现已缺失（链尾被删除）"
    ),
    "history_rewritten": N_(
        "案件 {key} 的历史记录 seq {then} 与检查点 {at} 记录的哈希不符（被改写）"
    ),
    "batch_missing": N_("批次 {key} 的第 {then} 条例外在检查点 {at} 时存在，现已缺失（被删除）"),
    "batch_rewritten": N_("批次 {key} 的第 {then} 条例外与检查点 {at} 记录的哈希不符（被改写）"),
    "admin_missing": N_("管理日志 seq {then} 在检查点 {at} 时存在，现已缺失（被删除）"),
    "admin_rewritten": N_("管理日志 seq {then} 与检查点 {at} 记录的哈希不符（被改写）"),
    "rows_deleted": N_(
        "表 {key} 中 id 不超过 {top} 的记录在检查点 {at} 时有 {then} 条，现只有 {now} 条（被删除）"
    ),
}
_FILE_PROBLEMS: Mapping[str, str] = {
    "unreadable": N_("不是本程序写的检查点（无法解析）"),
    "edited": N_("内容与其哈希不符（写入后被修改）"),
    "relinked": N_("prev 与上一行的哈希不符（有行被删除、插入或替换）"),
    "unsigned": N_("没有签名，而校验时给出了密钥"),
    "forged": N_("签名与密钥不符（不是持有密钥者写的）"),
}


@dataclass(frozen=True)
class Finding:
    """Something a checkpoint recorded that the database no longer shows as it was."""

    kind: str  # a key of _FINDINGS
    key: int | str  # case id, batch id, table name; 0 for the admin log
    at: str  # the checkpoint's moment
    then: int  # what the checkpoint recorded (version, seq, count)
    now: int | None = None  # what the database shows, where a number says it
    top: int | None = None  # rows_deleted: the highest id the checkpoint recorded

    @property
    def message(self) -> str:
        return _(_FINDINGS[self.kind]).format(
            key=self.key, at=self.at, then=self.then, now=self.now, top=self.top
        )


_TABLE_OF = {
    "case": "cases",
    "history": "history",
    "batch": "batch_exceptions",
    "admin": "admin_log",
}


def mismatch(findings: list[Finding], compared: int) -> TamperedError:
    """The error naming every finding (exit 6); its table, key and seq are the first's."""
    first = findings[0]
    prefix = first.kind.split("_")[0]
    table = str(first.key) if first.kind == "rows_deleted" else _TABLE_OF[prefix]
    key = first.key if isinstance(first.key, int) else 0
    lines = "\n".join(f"- {finding.message}" for finding in findings)
    message = _("与 {count} 个检查点比对，发现 {found} 处不符：").format(
        count=compared, found=len(findings)
    )
    return TamperedError(
        table=table, key=key, seq=None, problem=first.kind, message=f"{message}\n{lines}"
    )


@dataclass
class Checkpoint:
    """One line of a checkpoint file."""

    at: str
    cases: list[list[Any]]  # [case id, version, hash of history seq = version]
    batches: list[list[Any]]  # [batch id, number of exceptions, hash of the last]
    admin_log: list[Any] | None  # [last seq, its hash]; None when the log is empty
    tallies: dict[str, list[int]]  # table: [rows, highest id]
    prev: str = GENESIS
    hash: str = ""
    hmac: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def content(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "at": self.at,
            "cases": self.cases,
            "batches": self.batches,
            "admin_log": self.admin_log,
            "tallies": self.tallies,
            "prev": self.prev,
            **self.extra,
        }

    def digest(self) -> str:
        text = json.dumps(self.content(), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def line(self) -> str:
        document = {**self.content(), "hash": self.hash}
        if self.hmac is not None:
            document["hmac"] = self.hmac
        return json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def take(rows: store.CheckpointRows, *, at: datetime) -> Checkpoint:
    """The checkpoint of one snapshot: each case's version and the hash of its history row at
    that seq, each batch's exception chain, the admin log's head, the tallies."""
    versions = {row.id: row.version for row in rows.cases()}
    heads: dict[int, str] = {}
    for row in rows.history_hashes():
        if versions.get(row.case_id) == row.seq:
            heads[row.case_id] = row.hash
    cases = [[case_id, version, heads.get(case_id)] for case_id, version in versions.items()]
    batches: dict[int, list[Any]] = {}
    for row in rows.batch_exception_hashes():
        entry = batches.setdefault(row.batch_id, [row.batch_id, 0, None])
        entry[1] += 1
        entry[2] = row.hash
    admin: list[Any] | None = None
    for row in rows.admin_log_hashes():
        admin = [row.seq, row.hash]
    return Checkpoint(
        at=at.isoformat(),
        cases=cases,
        batches=list(batches.values()),
        admin_log=admin,
        tallies={table: list(rows.tally(table)) for table in store.TALLIED},
    )


def seal(checkpoint: Checkpoint, prev: str, key: bytes | None) -> Checkpoint:
    """Link ``checkpoint`` after the line whose hash is ``prev``, hash it and, with a key, sign
    the hash."""
    checkpoint.prev = prev
    checkpoint.hash = checkpoint.digest()
    checkpoint.hmac = None if key is None else _sign(key, checkpoint.hash)
    return checkpoint


def _sign(key: bytes, digest: str) -> str:
    return hmac.new(key, digest.encode(), hashlib.sha256).hexdigest()


def read(path: Path, key: bytes | None) -> Iterator[Checkpoint]:
    """The checkpoints of a file, one at a time, each checked against its own hash, the line
    before it and, with a key, its signature; `TamperedError` naming the first bad line."""
    prev = GENESIS
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise InputError(
            _("无法读取检查点文件 {path}：{reason}").format(path=path, reason=exc.strerror or exc),
            field="against",
        ) from exc
    with handle:
        for number, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            checkpoint = _parse(text)
            problem = _file_problem(checkpoint, prev, key)
            if problem is not None:
                raise _file_error(path, number, problem)
            assert checkpoint is not None  # _file_problem names an unreadable line
            prev = checkpoint.hash
            yield checkpoint


def last_hash(path: Path, key: bytes | None) -> str:
    """The hash the next line of ``path`` links to (64 zeros for a new file), after checking
    the whole file: a checkpoint is never appended to a file already broken."""
    if not path.exists():
        return GENESIS
    prev = GENESIS
    for checkpoint in read(path, key):
        prev = checkpoint.hash
    return prev


def _parse(text: str) -> Checkpoint | None:
    try:
        document = json.loads(text)
        if not isinstance(document, dict) or document.pop("format", None) != FORMAT:
            return None
        signature = document.get("hmac")
        if signature is not None and not isinstance(signature, str):
            return None  # a crafted line: unreadable, not a traceback in compare_digest
        known = {"at", "cases", "batches", "admin_log", "tallies", "prev", "hash", "hmac"}
        extra = {k: v for k, v in document.items() if k not in known}
        return Checkpoint(
            at=str(document["at"]),
            cases=list(document["cases"]),
            batches=list(document["batches"]),
            admin_log=document["admin_log"],
            tallies=dict(document["tallies"]),
            prev=str(document["prev"]),
            hash=str(document["hash"]),
            hmac=signature,
            extra=extra,
        )
    except (ValueError, KeyError, TypeError):
        return None


def _file_problem(checkpoint: Checkpoint | None, prev: str, key: bytes | None) -> str | None:
    if checkpoint is None:
        return "unreadable"
    if checkpoint.digest() != checkpoint.hash:
        return "edited"
    if checkpoint.prev != prev:
        return "relinked"
    if key is not None:
        if checkpoint.hmac is None:
            return "unsigned"
        if not hmac.compare_digest(checkpoint.hmac, _sign(key, checkpoint.hash)):
            return "forged"
    return None


def _file_error(path: Path, number: int, problem: str) -> TamperedError:
    message = _("检查点文件 {path} 第 {line} 行：{problem}。").format(
        path=path, line=number, problem=_(_FILE_PROBLEMS[problem])
    )
    return TamperedError(table="checkpoint", key=number, seq=None, problem=problem, message=message)


def append(path: Path, checkpoint: Checkpoint) -> None:
    """Add the sealed line to ``path`` and make it durable before returning."""
    try:
        with path.open("a", encoding="utf-8") as handle:
            handle.write(checkpoint.line() + "\n")
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        raise InputError(
            _("无法写入检查点文件 {path}：{reason}").format(path=path, reason=exc.strerror or exc),
            field="file",
        ) from exc


def read_key(path: Path) -> bytes:
    """The signing key: a file's bytes, surrounding whitespace removed; at least 16 bytes."""
    try:
        key = path.read_bytes().strip()
    except OSError as exc:
        raise InputError(
            _("无法读取密钥文件 {path}：{reason}").format(path=path, reason=exc.strerror or exc),
            field="key-file",
        ) from exc
    if len(key) < KEY_MIN_BYTES:
        raise InputError(
            _("密钥文件 {path} 太短：至少需要 {minimum} 字节").format(
                path=path, minimum=KEY_MIN_BYTES
            ),
            field="key-file",
        )
    return key


def compare(rows: store.CheckpointRows, checkpoint: Checkpoint) -> list[Finding]:
    """Everything ``checkpoint`` recorded that the database (one snapshot) no longer shows as
    it was. A vanished case is named once, not once per history row."""
    at = checkpoint.at
    found: list[Finding] = []
    expected = {int(case_id): (int(version), head) for case_id, version, head in checkpoint.cases}
    present: set[int] = set()
    for row in rows.cases():
        recorded = expected.get(row.id)
        if recorded is None:
            continue
        present.add(row.id)
        if row.version < recorded[0]:
            found.append(Finding("case_behind", row.id, at, recorded[0], now=row.version))
    for case_id, (version, _head) in expected.items():
        if case_id not in present:
            found.append(Finding("case_vanished", case_id, at, version))
    seen: set[int] = set()
    for row in rows.history_hashes():
        recorded = expected.get(row.case_id)
        if recorded is None or recorded[0] != row.seq:
            continue
        seen.add(row.case_id)
        if recorded[1] is not None and row.hash != recorded[1]:
            found.append(Finding("history_rewritten", row.case_id, at, row.seq))
    for case_id in sorted(present - seen):
        found.append(Finding("history_missing", case_id, at, expected[case_id][0]))
    found += _compare_batches(rows, checkpoint)
    found += _compare_admin_log(rows, checkpoint)
    for table, (count, top) in sorted(checkpoint.tallies.items()):
        now = rows.count_up_to(table, top)
        if now < count:
            found.append(Finding("rows_deleted", table, at, count, now=now, top=top))
    return found


def _compare_batches(rows: store.CheckpointRows, checkpoint: Checkpoint) -> list[Finding]:
    expected = {int(batch): (int(count), head) for batch, count, head in checkpoint.batches}
    counts: dict[int, int] = {}
    found: list[Finding] = []
    for row in rows.batch_exception_hashes():
        position = counts[row.batch_id] = counts.get(row.batch_id, 0) + 1
        recorded = expected.get(row.batch_id)
        if recorded is not None and recorded[0] == position and recorded[1] != row.hash:
            found.append(Finding("batch_rewritten", row.batch_id, checkpoint.at, position))
    for batch, (count, _head) in sorted(expected.items()):
        if counts.get(batch, 0) < count:
            found.append(Finding("batch_missing", batch, checkpoint.at, count))
    return found


def _compare_admin_log(rows: store.CheckpointRows, checkpoint: Checkpoint) -> list[Finding]:
    if checkpoint.admin_log is None:
        return []
    seq, head = int(checkpoint.admin_log[0]), checkpoint.admin_log[1]
    for row in rows.admin_log_hashes():
        if row.seq == seq:
            if row.hash != head:
                return [Finding("admin_rewritten", 0, checkpoint.at, seq)]
            return []
    return [Finding("admin_missing", 0, checkpoint.at, seq)]


def write(
    db: store.Db, path: Path, *, at: datetime, key: bytes | None, chunk: int = CHUNK
) -> Checkpoint:
    """Take a checkpoint of the database and append it to ``path``, linked to the file's last
    line (checked first) and signed with ``key`` if one is given."""
    report = verify_database(db, chunk=chunk)
    if report.broken is not None:  # never anchor a database already tampered with
        raise report.broken.error()
    prev = last_hash(path, key)
    with store.snapshot(db, chunk=chunk) as rows:
        checkpoint = take(rows, at=at)
    append(path, seal(checkpoint, prev, key))
    return checkpoint


def check(
    db: store.Db, paths: list[Path], *, key: bytes | None, chunk: int = CHUNK
) -> tuple[int, list[Finding]]:
    """Every checkpoint in ``paths`` checked (file chain, signature) and compared with the
    database; returns how many were compared and the findings, each named once."""
    compared = 0
    findings: dict[tuple[str, int | str], Finding] = {}  # the latest checkpoint's word
    for path in paths:
        for checkpoint in read(path, key):
            with store.snapshot(db, chunk=chunk) as rows:
                for finding in compare(rows, checkpoint):
                    findings[finding.kind, finding.key] = finding
            compared += 1
    return compared, list(findings.values())
