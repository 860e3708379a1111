"""``convalescence backup``: a copy of the database taken while the engine keeps writing, with
the audit digest of exactly that copy, so a restore can be checked against it (A19.1).

SQLite: the online backup API into a temporary file beside FILE (mode 0600: the copy holds the
cadres' ID numbers), checked (``quick_check``, then the audit chains read from the copy itself),
flushed to disk and only then moved into place: FILE is whole or absent, never half-written.
An existing FILE is refused unless ``force``, and the database's own file always.

PostgreSQL: ``pg_dump --format=custom`` of a snapshot exported by a transaction that also reads
the audit rows (`workflow.store.backup.postgresql_snapshot`), when ``pg_dump`` is installed;
otherwise an `InputError` (exit 2) that spells out the routine to run by hand. Restoring is
documented in docs/operations.md ("Backups"): put the copy back, run ``audit verify``, compare
the digest with the one printed here.

The audit check needs this engine's schema. A database on an older schema is still backed up
(before ``db upgrade`` is when a backup matters most), without a digest, saying why.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workflow.audit.verify import CHUNK, Report, verify, verify_database
from workflow.errors import InputError, WorkflowError
from workflow.i18n import _
from workflow.store import backup as store

PG_DUMP = "pg_dump"
SQLITE, PG_DUMP_FORMAT = "sqlite", "pg_dump"


class BackupFailed(WorkflowError):
    """The database could not be read, or the copy not written (a full disk, a read-only
    folder, pg_dump refusing): exit 7, the status for a database that cannot be read or written.
    Nothing is left at FILE."""

    exit_code = 7


@dataclass(frozen=True)
class Backup:
    """What was written: the file, its size, its format, and the audit check of the copy
    (None when the schema is not this engine's, with the reason in ``unchecked``)."""

    file: Path
    size: int
    format: str  # sqlite | pg_dump
    audit: Report | None
    unchecked: str | None = None

    def to_json(self) -> dict[str, Any]:
        audit = self.audit
        return {
            "file": str(self.file),
            "size": self.size,
            "format": self.format,
            "intact": None if audit is None else audit.intact,
            "records": None if audit is None else audit.records,
            "cases": None if audit is None else audit.cases,
            "batches": None if audit is None else audit.batches,
            "digest": None if audit is None else audit.digest,
            "unchecked": self.unchecked,
        }


def routine() -> str:
    """The PostgreSQL routine in words, for when ``pg_dump`` is not installed here."""
    return _(
        "PostgreSQL 的备份用 pg_dump（PostgreSQL 客户端，大版本不低于服务器）：\n"
        "  pg_dump --format=custom --file=FILE --dbname=URL\n"
        "恢复到新建的空库后校验审计链：\n"
        "  createdb NEW\n"
        "  pg_restore --exit-on-error --no-owner --dbname=NEW FILE\n"
        "  convalescence --db postgresql://…/NEW audit verify\n"
        "详见 docs/operations.md“Backups”。"
    )


def back_up(db: store.Db, target: Path, *, force: bool = False) -> Backup:
    """Back ``db`` up into ``target``; see the module's note."""
    source = store.sqlite_file(db)
    _check_target(target, force=force, source=source)
    if source is None and not store.is_postgresql(db):
        raise InputError(_("只能备份 SQLite 文件或 PostgreSQL 数据库"), field="db")
    pg_dump = None
    if source is None:
        pg_dump = shutil.which(PG_DUMP)
        if pg_dump is None:
            raise InputError(
                _("此机器上找不到 pg_dump。") + "\n" + routine(),
                field="db",
            )
    unchecked = store.schema_problem(db)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    os.close(fd)
    temporary = Path(name)
    try:
        if source is not None:
            audit = _copy_sqlite(source, temporary, check=unchecked is None)
            kind = SQLITE
        else:
            assert pg_dump is not None
            audit = _dump_postgresql(db, pg_dump, temporary, check=unchecked is None)
            kind = PG_DUMP_FORMAT
        _settle(temporary, target, force=force)
    except OSError as error:
        raise BackupFailed(
            _("无法写入备份 {file}：{reason}").format(file=target, reason=error.strerror or error)
        ) from error
    finally:
        temporary.unlink(missing_ok=True)
    return Backup(target, target.stat().st_size, kind, audit, unchecked)


def _check_target(target: Path, *, force: bool, source: Path | None) -> None:
    if target.is_dir():
        raise InputError(_("{file} 是目录：请给出备份文件名").format(file=target), field="file")
    if not target.parent.is_dir():
        raise InputError(
            _("{file} 所在的目录不存在（不会自动建目录）").format(file=target), field="file"
        )
    if source is not None and _same_file(source, target):
        raise InputError(
            _("{file} 就是数据库本身：备份须写到另一个文件").format(file=target), field="file"
        )
    if target.exists() and not force:
        raise InputError(
            _("{file} 已存在：换一个文件名，或加 --force 覆盖").format(file=target), field="file"
        )


def _same_file(source: Path, target: Path) -> bool:
    """The database, or its WAL or shared-memory file, by path or by inode."""
    names = {
        source.resolve(),
        *(source.resolve().with_name(source.name + s) for s in ("-wal", "-shm")),
    }
    if target.resolve() in names:
        return True
    return target.exists() and source.exists() and os.path.samefile(source, target)


def _copy_sqlite(source: Path, temporary: Path, *, check: bool) -> Report | None:
    try:
        store.sqlite_copy(source, temporary)
    except sqlite3.Error as error:
        raise BackupFailed(
            _("无法备份 {file}：{reason}").format(file=source, reason=error)
        ) from error
    if not check:
        return None
    with store.sqlite_reader(temporary) as copy:
        return verify_database(copy)


def _dump_postgresql(db: store.Db, pg_dump: str, temporary: Path, *, check: bool) -> Report | None:
    dbname, environment = store.libpq_target(db)
    with store.postgresql_snapshot(db, chunk=CHUNK) as (snapshot, rows):
        command = [
            pg_dump,
            "--format=custom",
            f"--snapshot={snapshot}",
            f"--file={temporary}",
            f"--dbname={dbname}",
        ]
        done = subprocess.run(
            command,
            env=os.environ | environment,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            lines = done.stderr.strip().splitlines() or [f"exit {done.returncode}"]
            raise BackupFailed(_("pg_dump 失败：{reason}").format(reason=lines[-1]))
        return verify(rows) if check else None


def _settle(temporary: Path, target: Path, *, force: bool) -> None:
    """Flush the copy to disk, then move it to ``target``: a link, which refuses a file that
    appeared meanwhile, or with ``force`` a rename over it; then flush the folder's entry."""
    _fsync(temporary, os.O_RDONLY)
    if force:
        os.replace(temporary, target)
    else:
        try:
            os.link(temporary, target)
        except FileExistsError:
            raise InputError(
                _("{file} 已存在：换一个文件名，或加 --force 覆盖").format(file=target),
                field="file",
            ) from None
    _fsync(target.parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))


def _fsync(path: Path, flags: int) -> None:
    descriptor = os.open(path, flags)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
