"""``convalescence backup`` (issue 18): a live database is backed up while a writer thread fires
steps, the backup is restored into a fresh file or database, and ``audit verify`` on the
restored copy is intact with the digest the backup printed. SQLite (online backup API, restored
by copying the file back) and PostgreSQL (pg_dump -Fc, restored with pg_restore into a brand-new
database), as docs/operations.md "Backups" says.

The command runs as a subprocess of the real entry point, beside the test's own writer.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from factories import AS_CADRE, CONSENT, REGISTRATION, cadre
from tampering import tamper

from workflow import Engine
from workflow.store.schema import cases, history

SCRIPT = Path(sys.executable).parent / "convalescence"
CADRES = 400


def run(*args: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
    environment = os.environ | ({"PATH": path} if path is not None else {})
    return subprocess.run(
        [str(SCRIPT), *args], capture_output=True, text=True, check=False, env=environment
    )


def counts(db: sa.Engine) -> tuple[int, int]:
    with db.connect() as connection:
        found = connection.execute(
            sa.select(
                sa.select(sa.func.count()).select_from(cases).scalar_subquery(),
                sa.select(sa.func.count()).select_from(history).scalar_subquery(),
            )
        ).one()
    return int(found[0]), int(found[1])


class Writer:
    """Registers cadre after cadre and has the family consent at once: two steps per case, each
    committed with its history row, until stopped."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.stop = threading.Event()
        self.steps = 0
        self.errors: list[BaseException] = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            for i in range(1, CADRES + 1):
                if self.stop.is_set():
                    return
                cadre_id = f"LC-DCF-{i:04d}"
                actor = AS_CADRE.replace("LC-DCF-0001", cadre_id)
                case = self.engine.open_case(cadre_id, actor=actor, data=REGISTRATION)
                self.engine.fire(case.id, "consent", actor=f"family:张丽@{cadre_id}", data=CONSENT)
                self.steps += 2
        except BaseException as error:
            self.errors.append(error)

    def __enter__(self) -> Writer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=60)


@pytest.fixture
def restored(db_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """Where the backup is restored: a new file, or a brand-new empty PostgreSQL database."""
    if db_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'restored.db'}"
    else:
        yield str(request.getfixturevalue("pg_url"))


def restore(backup: Path, url: str) -> None:
    """As docs/operations.md says: copy the file back, or pg_restore into a new database."""
    if url.startswith("sqlite"):
        shutil.copyfile(backup, url.removeprefix("sqlite:///"))
        return
    done = subprocess.run(
        ["pg_restore", "--exit-on-error", "--no-owner", f"--dbname={url}", str(backup)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_a_live_database_is_backed_up_restored_and_verified(
    engine: Engine, db_url: str, restored: str, tmp_path: Path
) -> None:
    engine.put_cadres([cadre(f"LC-DCF-{i:04d}") for i in range(1, CADRES + 1)])
    backup = tmp_path / "office.backup"
    with Writer(engine) as writer:
        while writer.steps < 20 and writer.thread.is_alive():
            threading.Event().wait(0.01)
        before = counts(engine.db)
        done = run("--db", db_url, "backup", str(backup), "--json")
        after = counts(engine.db)
    assert writer.errors == []
    assert done.returncode == 0, done.stderr
    assert after[1] > before[1], "the writer did not write while the backup ran"
    printed = json.loads(done.stdout)
    assert printed["intact"] is True
    assert printed["size"] == backup.stat().st_size > 0
    assert backup.stat().st_mode & 0o077 == 0  # the copy holds ID numbers: the owner's only

    restore(backup, restored)
    verified = run("--db", restored, "audit", "verify", "--json")
    assert verified.returncode == 0, verified.stderr
    audit = json.loads(verified.stdout)
    assert (audit["intact"], audit["digest"]) == (True, printed["digest"])
    assert audit["records"] == printed["records"]
    with Engine(restored) as copy:
        copy.ensure_schema()  # the restored database is at this engine's schema
        restored_cases, restored_history = counts(copy.db)
    # one moment of the live database, between what was there before and after (and each
    # case's version matching its history rows: audit verify checked that above)
    assert before[0] <= restored_cases <= after[0]
    assert before[1] <= restored_history <= after[1]
    assert printed["cases"] == restored_cases


def test_an_existing_file_is_kept_unless_forced(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    url = db_url
    target = tmp_path / "office.backup"
    target.write_text("yesterday's backup")
    refused = run("--db", url, "backup", str(target), "--lang", "en")
    assert refused.returncode == 2
    assert "exists" in refused.stderr
    assert "--force" in refused.stderr
    assert target.read_text() == "yesterday's backup"
    assert run("--db", url, "backup", str(target), "--force").returncode == 0
    assert target.stat().st_size > len("yesterday's backup")
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_database_itself_and_missing_folders_are_refused(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    database = Path(db_url.removeprefix("sqlite:///"))
    size = database.stat().st_size
    itself = run("--db", db_url, "backup", str(database), "--force", "--lang", "en")
    assert itself.returncode == 2
    assert "is the database itself" in itself.stderr
    assert database.stat().st_size == size
    nowhere = run("--db", db_url, "backup", str(tmp_path / "no" / "such.db"), "--lang", "en")
    assert nowhere.returncode == 2
    assert "does not exist" in nowhere.stderr


def test_without_pg_dump_the_routine_is_explained(pg_url: str, tmp_path: Path) -> None:
    target = tmp_path / "office.dump"
    bare = str(Path(sys.executable).parent)  # this interpreter, but no PostgreSQL client
    done = run("--db", pg_url, "backup", str(target), "--lang", "en", path=bare)
    assert done.returncode == 2
    assert "pg_dump is not installed" in done.stderr
    assert "pg_dump --format=custom" in done.stderr
    assert "pg_restore --exit-on-error --no-owner" in done.stderr
    assert not target.exists()


def test_a_broken_chain_is_backed_up_and_named(engine: Engine, db_url: str, tmp_path: Path) -> None:
    """The copy is evidence: it is written, and the command exits 6 naming the broken row."""
    engine.put_cadres([cadre()])
    case = engine.open_case("LC-DCF-0001", actor=AS_CADRE, data=REGISTRATION)
    engine.fire(case.id, "consent", actor="family:张丽@LC-DCF-0001", data=CONSENT)
    row = sa.and_(history.c.case_id == case.id, history.c.seq == 1)
    tamper(engine, sa.update(history).where(row).values(reason="改过"))
    target = tmp_path / "evidence.backup"
    done = run("--db", db_url, "backup", str(target), "--lang", "en")
    assert done.returncode == 6, done.stderr
    assert f"Backed up to {target}" in done.stdout
    assert f"case {case.id}" in done.stderr
    assert target.stat().st_size > 0
    scripted = run("--db", db_url, "backup", str(tmp_path / "again.backup"), "--json")
    assert scripted.returncode == 6
    error: dict[str, Any] = json.loads(scripted.stdout)  # one document: the error
    assert (error["error"], error["problem"]) == ("tampered", "edited")
