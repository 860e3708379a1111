"""The folder a closed cycle leaves for the office to archive (A18.2, A19.1; `workflow.cycles`).

One folder per cycle, ``cycle-ID`` by default:

* ``performance-YEAR.html`` and ``.xlsx`` for each year of the cycle: the final A18.2 report,
  from the report generator (`workflow.reports`), which reports by plan year;
* ``visits-ID.html`` and ``.xlsx``: the cycle's condolence visits (A9.3), late ones marked;
* ``audit-verify.json``: the ``audit verify`` result (A19.1) and its digest over every chain's
  head, and ``audit-checkpoint.jsonl``: every chain's head and length, a checkpoint file that
  ``convalescence audit verify --against`` reads later, both from one read-only snapshot;
* ``manifest.json``: the cycle, who closed it and when, the audit digest, and every other file
  with its SHA-256 and size. The manifest's own SHA-256 is stored with the closing in the
  database, so the archived folder and the database vouch for each other.

The folder is built aside (a hidden sibling) and put in place only after the closing committed
(`Built.publish`), so no folder exists for a closing that was refused, lost a race or failed;
a database whose chains do not hold is not archived at all (`TamperedError`, exit 6).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from workflow.audit import checkpoint
from workflow.audit.chain import GENESIS
from workflow.audit.verify import verify
from workflow.definition.policy_rules import Cycle
from workflow.engine import Engine
from workflow.errors import InputError
from workflow.i18n import _
from workflow.reports.files import FORMATS, performance_bytes, visits_bytes
from workflow.store import checkpoint as checkpoint_store

FORMAT = 1
MANIFEST = "manifest.json"
AUDIT_VERIFY = "audit-verify.json"
AUDIT_CHECKPOINT = "audit-checkpoint.jsonl"


def default_name(cycle_id: str) -> str:
    return f"cycle-{cycle_id}"


def target_folder(out: Path | None, cycle_id: str) -> Path:
    """``--out`` (default ``./cycle-ID``): a folder that does not exist yet or is empty, in a
    folder that exists (a typo should not create a tree of folders somewhere)."""
    folder = (out if out is not None else Path.cwd() / default_name(cycle_id)).absolute()
    if folder.exists():
        if not folder.is_dir():
            raise InputError(_("--out {out}：不是目录").format(out=folder), field="out")
        if any(folder.iterdir()):
            raise InputError(
                _("--out {out}：目录已存在且不为空，归档不会覆盖已有文件").format(out=folder),
                field="out",
            )
    elif not folder.parent.is_dir():
        raise InputError(
            _("--out {out}：目录 {parent} 不存在").format(out=folder, parent=folder.parent),
            field="out",
        )
    return folder


@dataclass(frozen=True)
class Built:
    """An archive written aside, waiting for its closing to commit."""

    staging: Path
    folder: Path
    files: tuple[dict[str, Any], ...]  # every file but the manifest: name, sha256, bytes
    audit_digest: str
    manifest_digest: str

    def publish(self) -> Path:
        """Put the folder in place (an empty one there already is replaced)."""
        if self.folder.is_dir() and not any(self.folder.iterdir()):
            self.folder.rmdir()
        os.replace(self.staging, self.folder)
        _sync(self.folder.parent)
        return self.folder

    def discard(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)


def build(engine: Engine, cycle: Cycle, *, closed_by: str, at: datetime, folder: Path) -> Built:
    """Write every file of the archive into a hidden sibling of ``folder``; nothing of it
    remains if anything fails."""
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        files: list[dict[str, Any]] = []
        for year in range(cycle.start.year, cycle.end.year + 1):
            for fmt in FORMATS:
                name = f"performance-{year}.{fmt}"
                files.append(_write(staging, name, performance_bytes(engine, year, fmt)))
        for fmt in FORMATS:
            content = visits_bytes(engine, cycle.id, False, fmt)
            files.append(_write(staging, f"visits-{cycle.id}.{fmt}", content))
        audit = _audit(engine, at)
        files.append(_write(staging, AUDIT_VERIFY, _json(audit["verify"])))
        files.append(_write(staging, AUDIT_CHECKPOINT, (audit["checkpoint"] + "\n").encode()))
        manifest = {
            "format": FORMAT,
            "cycle": {
                "id": cycle.id,
                "start": cycle.start.isoformat(),
                "end": cycle.end.isoformat(),
            },
            "closed_by": closed_by,
            "closed_at": at.isoformat(),
            "audit_digest": audit["verify"]["digest"],
            "files": files,
        }
        written = _write(staging, MANIFEST, _json(manifest))
        _sync(staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Built(
        staging=staging,
        folder=folder,
        files=tuple(files),
        audit_digest=str(audit["verify"]["digest"]),
        manifest_digest=str(written["sha256"]),
    )


def _audit(engine: Engine, at: datetime) -> dict[str, Any]:
    """``audit verify`` and a checkpoint on one read-only snapshot; a broken chain is refused
    (exit 6) rather than archived as if it held."""
    engine.ensure_schema()
    with checkpoint_store.snapshot(engine.db, chunk=checkpoint.CHUNK) as rows:
        report = verify(rows)
        if report.broken is not None:
            raise report.broken.error()
        taken = checkpoint.take(rows, at=at)
    sealed = checkpoint.seal(taken, GENESIS, None)
    return {
        "verify": {
            "intact": True,
            "verified_at": at.isoformat(),
            "records": report.records,
            "admin_records": report.admin_records,
            "cases": report.cases,
            "batches": report.batches,
            "digest": report.digest,
            "checkpoint_hash": sealed.hash,
        },
        "checkpoint": sealed.line(),
    }


def _json(value: Any) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode()


def _write(folder: Path, name: str, content: bytes) -> dict[str, Any]:
    path = folder / name
    with path.open("wb") as stream:
        stream.write(content)
        stream.flush()
        os.fsync(stream.fileno())
    return {"name": name, "sha256": hashlib.sha256(content).hexdigest(), "bytes": len(content)}


def _sync(folder: Path) -> None:
    """Make the folder's entries durable (its renames and new files)."""
    handle = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)
