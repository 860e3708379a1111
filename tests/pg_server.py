"""The PostgreSQL server the tests run on, and a database of their own on it.

Every PostgreSQL test gets a brand-new database of its own, so no run ever sees another's rows
(`fresh_database` makes one for a ``with`` block; the conftest's fixtures take theirs from a
`DatabaseFactory`, which makes them ahead and drops them behind, off the test's clock). The
databases are created through the server's maintenance database (``postgres``, the one ``createdb``
uses), so the suite needs nothing on the server but a role that may create databases: no database
of the project's own has to exist first. The server is the machine's (127.0.0.1:5432, user
``postgres``, trust auth) unless ``CONVALESCENCE_TEST_PG`` gives another URL, whose database part
is then the maintenance database to connect to.

When something is missing, the failure says exactly what: the server is not reachable (and how
to start it), or it is running but has no such role or database, or the role may not create
databases. Both backends must pass the same suite, so none of this skips a test.

A database's name carries the process that made it (``cv_test_<ns>x<pid>_<random>``): pytest-xdist
workers and other runs on the machine never collide, and a run killed before its ``finally``
(a timeout, a second Ctrl-C) leaves databases that the next run on this machine drops
(`drop_abandoned`) once their process is gone.
"""

from __future__ import annotations

import os
import queue
import re
import threading
import uuid
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

ADMIN_URL = os.environ.get("CONVALESCENCE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
START_HINT = "`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`"
# cv_<prefix>_<pid namespace>x<pid>_<random>: who made the database, so that leftovers of a
# killed run can be told from the databases of a run still going (see drop_abandoned)
OWNED = re.compile(r"^cv_[a-z0-9_]+_([0-9a-f]+)x([0-9]+)_[0-9a-f]{8}$")
LOOPBACK = {None, "", "localhost", "127.0.0.1", "::1"}


def _pid_namespace() -> str:
    """The PID namespace's inode, in hex: a PID means this process's only inside it."""
    try:
        return f"{Path('/proc/self/ns/pid').stat().st_ino:x}"
    except OSError:
        return "0"


NAMESPACE = _pid_namespace()
OWNER = f"{NAMESPACE}x{os.getpid()}"


def diagnose(error: psycopg.Error, admin_url: str = ADMIN_URL) -> str:
    """What is missing, in words a developer can act on. libpq reports connection failures as
    text only (no SQLSTATE), so the server's FATAL message is read for the missing name."""
    url, text = make_url(admin_url), str(error)
    where = f"{url.host or 'localhost'}:{url.port or 5432}"
    setting = "CONVALESCENCE_TEST_PG" if "CONVALESCENCE_TEST_PG" in os.environ else "the default"
    if found := re.search(r'database "([^"]+)" does not exist', text):
        return (
            f"PostgreSQL at {where} is running, but has no database {found[1]!r} to connect "
            f"to ({setting} {admin_url}). The tests create their databases through the server's "
            "maintenance database: point CONVALESCENCE_TEST_PG at one that exists, normally "
            f"{url.set(database='postgres').render_as_string(hide_password=True)}"
        )
    if found := re.search(r'role "([^"]+)" does not exist', text):
        return (
            f"PostgreSQL at {where} is running, but has no role {found[1]!r} ({setting} "
            f"{admin_url}): create it with `createuser --createdb {found[1]}` as the server's "
            "superuser, or name an existing role in CONVALESCENCE_TEST_PG"
        )
    if "authentication failed" in text or "no pg_hba.conf entry" in text:
        return (
            f"PostgreSQL at {where} is running, but refused the login of role "
            f"{url.username!r} ({text.strip().splitlines()[-1]}); give its password in "
            "CONVALESCENCE_TEST_PG or allow it in pg_hba.conf"
        )
    if isinstance(error, psycopg.errors.InsufficientPrivilege):
        return (
            f"PostgreSQL at {where} is running, but role {url.username!r} may not create "
            f"databases: `ALTER ROLE {url.username} CREATEDB` as the server's superuser "
            f"({text.strip()})"
        )
    if "FATAL" in text or (isinstance(error, psycopg.DatabaseError) and error.sqlstate):
        return f"PostgreSQL at {where} is running, but refused the tests: {text.strip()}"
    return (
        f"PostgreSQL at {where} is not reachable ({text.strip()}); "
        f"if it is this machine's server, start it with {START_HINT}"
    )


def _fail(error: psycopg.Error) -> NoReturn:
    pytest.fail(diagnose(error), pytrace=False)


@contextmanager
def _admin() -> Iterator[psycopg.Connection[Any]]:
    try:
        connection = psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        failure = error  # fail outside the handler: the message alone, no chained traceback
    else:
        with connection:
            yield connection
        return
    _fail(failure)


def _new_name(prefix: str) -> str:
    return f"{prefix}_{OWNER}_{uuid.uuid4().hex[:8]}"


def _url(name: str) -> str:
    return make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def _create(admin: psycopg.Connection[Any], name: str, template: str | None) -> None:
    statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template is not None:
        statement = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
            sql.Identifier(name), sql.Identifier(template)
        )
    admin.execute(statement)


def _drop(admin: psycopg.Connection[Any], name: str) -> None:
    admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _drop_quietly(name: str) -> str | None:
    """Drop ``name`` on a connection of its own; what went wrong, if anything."""
    try:
        with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5) as admin:
            _drop(admin, name)
    except psycopg.Error as error:
        return f"{name}: {str(error).strip()}"
    return None


def create_database(prefix: str = "cv_test", *, template: str | None = None) -> str:
    """A new database on the test server, empty or a copy of ``template``; its name. The
    caller drops it (`fresh_database` does, so does a `DatabaseFactory` that adopted it)."""
    name = _new_name(prefix)
    with _admin() as admin:
        try:
            _create(admin, name, template)
        except psycopg.Error as error:
            refused: psycopg.Error | None = error
        else:
            refused = None
    if refused is not None:
        _fail(refused)
    return name


def url_of(name: str) -> str:
    """The SQLAlchemy URL of database ``name`` on the test server."""
    return _url(name)


@contextmanager
def fresh_database(prefix: str = "cv_test", *, template: str | None = None) -> Iterator[str]:
    """A new database on the test server for the ``with`` block; its SQLAlchemy URL. Empty, or
    a copy of the database ``template`` (PostgreSQL copies it file by file: far cheaper than
    running the migrations again). Dropped when the block ends."""
    name = create_database(prefix, template=template)
    try:
        yield _url(name)
    finally:
        with _admin() as admin:
            _drop(admin, name)


class Dropper:
    """Drops databases on a thread of its own, all that are waiting at once.

    ``DROP DATABASE`` makes the server write a checkpoint and waits for it: 0.05 s on an idle
    server, seconds while other runs write (it syncs every file written since the last one).
    Drops sent at the same moment, each on its own connection, share one checkpoint (8 drops:
    0.08 s, against 0.45 s one after another), so whatever is waiting is dropped together.

    `close` drops what is left, waiting at most ``close_wait`` seconds: a run ending does not
    wait a minute for a busy machine's checkpoint; what is left is dropped by the next run
    (`drop_abandoned`), as is what a killed run leaves.
    """

    def __init__(self, *, close_wait: float = 30.0, connections: int = 8) -> None:
        self.close_wait = close_wait
        self.connections = connections
        self.errors: list[str] = []
        self._queue: queue.Queue[list[str] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="cv-db-dropper", daemon=True)
        self._thread.start()

    def drop(self, names: list[str]) -> None:
        """Drop ``names`` soon, off the caller's clock."""
        if names:
            self._queue.put(list(names))

    def _run(self) -> None:
        closing = False
        while not closing:
            first = self._queue.get()
            names, closing = ([], True) if first is None else (first, False)
            while True:  # everything waiting goes in the same round
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    closing = True
                else:
                    names.extend(more)
            if names:
                with ThreadPoolExecutor(max_workers=min(len(names), self.connections)) as pool:
                    self.errors.extend(error for error in pool.map(_drop_quietly, names) if error)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=self.close_wait)
        if self._thread.is_alive():
            warnings.warn(
                f"test databases still being dropped after {self.close_wait:.0f} s (the server "
                "is slow to checkpoint); the next run drops what is left",
                stacklevel=2,
            )
        elif self.errors:
            raise RuntimeError("test databases not dropped: " + "; ".join(self.errors))

    def __enter__(self) -> Dropper:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class DatabaseFactory:
    """Databases for one test each, made ahead on a thread of its own and dropped behind.

    ``CREATE DATABASE`` (~0.1 s) and the drop's checkpoint cost more than most tests
    themselves, and the time is the server waiting on the disk, not working. So from the first
    `take` on a thread keeps ``ahead`` copies of ``template`` (None: an empty database) ready,
    and the databases tests are done with go to the `Dropper` ``batch`` at a time. `close`
    hands it the rest, those made ahead and those the factory was given (`adopt`).
    """

    def __init__(
        self,
        dropper: Dropper,
        template: str | None = None,
        *,
        prefix: str = "cv_test",
        ahead: int = 2,
        batch: int = 8,
    ) -> None:
        self.dropper = dropper
        self.template = template
        self.prefix = prefix
        self.batch = batch
        self._adopted: list[str] = []
        self._ready: queue.Queue[str] = queue.Queue(maxsize=ahead)
        self._done: list[str] = []
        self._stop = threading.Event()
        self._refused: psycopg.Error | None = None
        self._maker = threading.Thread(target=self._make, name="cv-db-maker", daemon=True)

    def _make(self) -> None:
        try:
            with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5) as admin:
                while not self._stop.is_set():
                    name = _new_name(self.prefix)
                    _create(admin, name, self.template)
                    while True:
                        try:
                            self._ready.put(name, timeout=0.2)
                            break
                        except queue.Full:
                            if self._stop.is_set():
                                self.dropper.drop([name])
                                return
        except psycopg.Error as error:
            self._refused = error

    def take(self) -> str:
        """A database of its own for a test (its name), made ahead; waits for the next one."""
        if self._maker.ident is None and not self._stop.is_set():
            self._maker.start()  # not before: the template may still have been being built
        while True:
            try:
                return self._ready.get(timeout=0.5)
            except queue.Empty:
                if self._refused is not None:
                    _fail(self._refused)
                if not self._maker.is_alive():
                    raise RuntimeError("the database maker stopped") from None

    def give_back(self, name: str) -> None:
        """The test is done with ``name``: dropped with the next batch."""
        self._done.append(name)
        if len(self._done) >= self.batch:
            self.dropper.drop(self._done)
            self._done = []

    @contextmanager
    def database(self) -> Iterator[str]:
        """A database of its own for the ``with`` block; its SQLAlchemy URL."""
        name = self.take()
        try:
            yield _url(name)
        finally:
            self.give_back(name)

    def adopt(self, name: str) -> None:
        """Drop ``name`` too when the factory closes (its template: no copy is made after)."""
        self._adopted.append(name)

    def close(self) -> None:
        """Stop making copies; hand every database left to the dropper."""
        self._stop.set()
        if self._maker.ident is not None:
            self._maker.join()
        while True:
            try:
                self._done.append(self._ready.get_nowait())
            except queue.Empty:
                break
        self.dropper.drop([*self._done, *self._adopted])
        self._done, self._adopted = [], []

    def __enter__(self) -> DatabaseFactory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _gone(namespace: str, pid: int) -> bool:
    """Whether the process that made a database is no more (only decidable in our namespace)."""
    if namespace != NAMESPACE or namespace == "0":
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def drop_abandoned(admin_url: str = ADMIN_URL) -> list[str]:
    """Drop the databases a killed run on this machine left behind; their names.

    Only on a server on this machine, and only databases whose maker (pid namespace and pid in
    the name) is gone: a run going on beside this one (another xdist worker, another checkout)
    keeps its databases. Quietly nothing when the server cannot be reached: the tests that need
    it say so themselves.
    """
    if make_url(admin_url).host not in LOOPBACK:
        return []
    dropped: list[str] = []
    try:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as admin:
            rows = admin.execute("SELECT datname FROM pg_database WHERE datname LIKE 'cv%'")
            for (name,) in rows.fetchall():
                owner = OWNED.match(name)
                if owner and _gone(owner[1], int(owner[2])):
                    _drop(admin, name)
                    dropped.append(name)
    except psycopg.Error:
        return dropped
    return dropped
