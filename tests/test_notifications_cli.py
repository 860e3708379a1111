"""``convalescence notifications``: dispatch, list, retry and preview through the real CLI.

The commands are thin shells over functions the dispatch tests run on both databases, so these
run on SQLite only; what they add is the wiring: options, environment, masking, exit codes.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from workflow import Engine
from workflow.cli.main import main
from workflow.clock import SHANGHAI
from workflow.i18n import set_language
from workflow.store.schema import outbox

NOW = "2024-05-06T09:30"
CREATED = datetime(2024, 5, 1, 9, 0, tzinfo=SHANGHAI)


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cases.db'}"


@pytest.fixture
def notices(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "notices"
    monkeypatch.setenv("CONVALESCENCE_NOTICES_DIR", str(directory))
    monkeypatch.delenv("CONVALESCENCE_SMTP", raising=False)
    monkeypatch.delenv("CONVALESCENCE_WEBHOOK_URL", raising=False)
    return directory


def insert(url: str, *rows: dict[str, Any]) -> None:
    with Engine(url) as engine:
        engine.upgrade_schema()
        with engine.db.begin() as connection:
            for row in rows:
                connection.execute(
                    sa.insert(outbox).values(
                        case_id=None,
                        template="consent_request",
                        recipient_role="family",
                        recipient_name="张丽",
                        subject="请确认是否同意张建国同志参加荣誉疗养",
                        body="尊敬的张丽：\n",
                        body_html=None,
                        attempts=0,
                        next_attempt_at=CREATED,
                        created_at=CREATED,
                        **row,
                    )
                )


def run(url: str, *args: str) -> Result:
    return CliRunner().invoke(main, ["--db", url, "--now", NOW, "notifications", *args])


def test_dispatch_once_list_and_retry(url: str, notices: Path) -> None:
    insert(
        url,
        {
            "idempotency_key": "k-file",
            "channel": "file",
            "address": "13800000000",
            "status": "pending",
        },
        {
            "idempotency_key": "k-mail",
            "channel": "smtp",
            "address": "zl@example.org",
            "status": "pending",
        },
        {
            "idempotency_key": "k-dead",
            "channel": "file",
            "address": "371502194603120017",
            "status": "dead",
            "last_error": "webhook: 400 bad phone 13912345678",
        },
    )
    result = run(url, "dispatch", "--once", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["claimed"], report["sent"], report["unrouted"]) == (1, 1, 1)
    assert (notices / "k-file.txt").read_text(encoding="utf-8").startswith("主题：请确认")

    listed = json.loads(run(url, "list", "--json").stdout)
    assert [e["idempotency_key"] for e in listed] == ["k-dead", "k-mail", "k-file"]
    shown = json.dumps(listed, ensure_ascii=False)
    for secret in ("13800000000", "371502194603120017", "13912345678", "zl@example.org"):
        assert secret not in shown
    assert {e["address"] for e in listed} == {
        "138****0000",
        "371502********0017",
        "z***@example.org",
    }
    dead = json.loads(run(url, "list", "--status", "dead", "--json").stdout)
    assert [e["idempotency_key"] for e in dead] == ["k-dead"]
    table = run(url, "list")
    assert table.exit_code == 0
    assert "138****0000" in table.stdout
    assert "13800000000" not in table.stdout

    result = run(url, "retry", "--all-dead", "--json")
    assert json.loads(result.stdout) == {"retried": [dead[0]["id"]]}
    result = run(url, "dispatch", "--once")
    assert result.exit_code == 0
    assert "已发送 1" in result.stdout
    assert "在等待未配置的渠道" in result.stdout
    assert (notices / "k-dead.txt").exists()


def test_retry_refuses_what_is_not_dead(url: str, notices: Path) -> None:
    insert(url, {"idempotency_key": "k", "channel": "file", "address": None, "status": "sent"})
    (row,) = json.loads(run(url, "list", "--json").stdout)
    result = run(url, "retry", str(row["id"]), "--json")
    assert result.exit_code == 2
    assert json.loads(result.stdout)["error"] == "bad_input"
    assert run(url, "retry", "4242").exit_code == 4
    assert run(url, "retry").exit_code == 2
    assert run(url, "retry", "1", "--all-dead").exit_code == 2


def test_preview_renders_a_shipped_notice(url: str) -> None:
    result = run(url, "preview", "refusal_notice")
    assert result.exit_code == 0
    assert result.stdout.startswith("主题：荣誉疗养申请审核结果通知")
    args = ["--lang", "en", "--db", url, "notifications", "preview", "refusal_notice"]
    english = CliRunner().invoke(main, args)
    set_language(None)  # the next test speaks as the environment says
    assert english.stdout.startswith("Subject: 荣誉疗养申请审核结果通知"), english.output
    assert "依据聊退役军人发〔2023〕2号第八条" in result.stdout
    html = run(url, "preview", "refusal_notice", "--html")
    assert html.stdout.startswith("<!DOCTYPE html>")
    assert run(url, "preview", "no_such").exit_code == 2
