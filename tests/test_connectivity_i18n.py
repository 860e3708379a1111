"""One voice for the database's state (issue 11, item 8): what ``/ready`` and the engine say
about an unreachable database or an old schema is one catalogue message, Chinese by default and
English when asked, instead of the two languages glued together."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from workflow import i18n
from workflow.cli.main import main
from workflow.errors import DatabaseNotReadyError
from workflow.store.connectivity import readiness
from workflow.store.database import Database, create_engine


@pytest.fixture
def restore_language() -> Iterator[None]:
    yield
    i18n.set_language(None)


def _closed_port() -> int:
    """A local port nothing listens on (bound, read, released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_an_old_schema_is_named_in_one_language(tmp_path: Path, restore_language: None) -> None:
    db = create_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        i18n.set_language("zh")
        revision, problems = readiness(db)
        assert revision is None
        (problem,) = problems
        assert problem.startswith("数据库结构版本为 无，本程序需要 ")
        assert problem.endswith("：请先运行 convalescence db upgrade")
        assert "schema" not in problem
        with pytest.raises(DatabaseNotReadyError) as refused:
            Database(db).ensure_schema()
        assert refused.value.message == problem
        i18n.set_language("en")
        (english,) = readiness(db)[1]
        assert english.startswith("the database is at schema revision none, this program needs ")
        assert english.endswith(": run convalescence db upgrade first")
    finally:
        db.dispose()


def test_an_unreachable_database_is_named_in_one_language(restore_language: None) -> None:
    db = create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{_closed_port()}/nothing")
    try:
        i18n.set_language("zh")
        assert readiness(db) == (None, ["数据库无法连接：OperationalError"])
        i18n.set_language("en")
        assert readiness(db) == (None, ["database unreachable: OperationalError"])
    finally:
        db.dispose()


@pytest.mark.parametrize(
    ("url", "chinese", "english"),
    [
        pytest.param(
            "nonsense",
            "错误：数据库 URL 无效：应形如 sqlite:///FILE 或 postgresql://",
            "error: the database URL is not valid: expected sqlite:///FILE or postgresql://",
            id="not-a-url",
        ),
        pytest.param(
            "mysql://officer@db.example/convalescence",
            "错误：不支持数据库 'mysql'：请用 sqlite:///FILE 或 postgresql://USER@HOST/DB",
            "error: database 'mysql' is not supported: use sqlite:///FILE or postgresql://",
            id="unsupported",
        ),
    ],
)
def test_a_bad_database_url_is_bad_input_in_one_language(
    url: str, chinese: str, english: str, restore_language: None
) -> None:
    runner = CliRunner(env=dict.fromkeys(("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")))
    result = runner.invoke(main, ["--db", url, "cases", "list"])
    assert result.exit_code == 2  # input wrong (README exit codes)
    assert result.stderr.startswith(chinese), result.stderr
    result = runner.invoke(main, ["--db", url, "cases", "list", "--lang", "en"])
    assert result.exit_code == 2
    assert result.stderr.startswith(english), result.stderr
