"""The test suite's PostgreSQL set-up says exactly what is missing, against the real server.

Each case provokes the real failure (a database, a role, a privilege or the server itself
missing) and checks the words a developer gets: never "start a server" when it is running.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from pg_server import ADMIN_URL, diagnose, fresh_database
from psycopg import sql
from sqlalchemy.engine import make_url

pytestmark = pytest.mark.postgres


def _failure(url: str, statement: str | None = None) -> psycopg.Error:
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=5) as connection:
            if statement is not None:
                connection.execute(statement.encode())
    except psycopg.Error as error:
        return error
    raise AssertionError(f"{url} {statement} did not fail")


def _with(**parts: Any) -> str:
    return make_url(ADMIN_URL).set(**parts).render_as_string(hide_password=False)


def test_a_missing_database_is_named_and_the_server_is_said_to_run() -> None:
    url = _with(database="cv_no_such_database")
    message = diagnose(_failure(url), url)
    assert "is running" in message
    assert "'cv_no_such_database'" in message
    assert "maintenance database" in message
    assert "start" not in message


def test_a_missing_role_is_named_with_how_to_create_it() -> None:
    url = _with(username="cv_no_such_role")
    message = diagnose(_failure(url), url)
    assert "is running" in message
    assert "'cv_no_such_role'" in message
    assert "createuser --createdb cv_no_such_role" in message


def test_an_unreachable_server_is_said_to_be_unreachable_with_how_to_start_it() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = _with(host="127.0.0.1", port=port)
    message = diagnose(_failure(url), url)
    assert f"127.0.0.1:{port} is not reachable" in message
    assert "pg_ctlcluster" in message


@pytest.fixture
def role_without_createdb() -> Iterator[str]:
    name = f"cv_nocreatedb_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN NOCREATEDB").format(sql.Identifier(name)))
    try:
        yield name
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))


def test_a_role_that_may_not_create_databases_is_told_so(role_without_createdb: str) -> None:
    url = _with(username=role_without_createdb)
    error = _failure(url, 'CREATE DATABASE "cv_never_created"')
    message = diagnose(error, url)
    assert f"role '{role_without_createdb}' may not create databases" in message
    assert f"ALTER ROLE {role_without_createdb} CREATEDB" in message


def test_a_fresh_database_is_empty_usable_and_dropped_afterwards() -> None:
    with fresh_database("cv_probe") as url:
        name = make_url(url).database
        with psycopg.connect(url) as connection:
            tables = connection.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
            ).fetchone()
        assert tables == (0,)
    with psycopg.connect(ADMIN_URL) as admin:
        left = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    assert left is None
