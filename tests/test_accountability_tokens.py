"""Issue 17: API tokens are strong, can expire, can be revoked, and record their last use.
Both databases for what the database keeps (revocation, last use)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from click.testing import CliRunner, Result
from fastapi.testclient import TestClient

from workflow import Engine, InputError
from workflow.api import TokenRegistry, create_app, hash_token
from workflow.api.tokens import weak_token
from workflow.cli.main import main
from workflow.clock import SimulatedClock
from workflow.store.schema import api_tokens

STRONG = "Vb3x-Qm7_kT2pZr9LwYc4NhJ8sDf6GuEa1"  # 34 characters, 32 different
AUDITOR = "auditor:审计员"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(
    ("token", "weak"),
    [
        ("abcdefgh", True),  # the 8-character token the adversarial run got accepted
        ("a" * 64, True),  # long but one character
        ("1234567890" * 4, True),  # 40 characters, 10 kinds
        (STRONG, False),
    ],
    ids=["short", "repeated", "few-kinds", "strong"],
)
def test_a_weak_token_is_refused_by_tokens_hash(token: str, weak: bool) -> None:
    assert (weak_token(token) is not None) is weak
    result = CliRunner().invoke(main, ["tokens", "hash", "--as", AUDITOR, "--token", token])
    assert result.exit_code == (2 if weak else 0), result.output
    if weak:
        assert "令牌太弱" in result.stderr
        assert "Traceback" not in result.output
    else:
        assert hash_token(token) in result.stdout


def test_an_expired_token_is_refused(tmp_path: Path, engine: Engine, clock: SimulatedClock) -> None:
    result = CliRunner().invoke(
        main, ["tokens", "hash", "--as", AUDITOR, "--token", STRONG, "--expires", "2024-05-31"]
    )
    assert result.exit_code == 0, result.output
    entry = yaml.safe_load(result.stdout)
    assert entry[hash_token(STRONG)]["expires"] == "2024-05-31"
    path = tmp_path / "tokens.yaml"
    path.write_text(yaml.safe_dump({"tokens": entry}, allow_unicode=True), encoding="utf-8")
    registry = TokenRegistry.load(path)
    assert registry.actor_for(STRONG, date(2024, 5, 31)) is not None
    assert registry.actor_for(STRONG, date(2024, 6, 1)) is None
    with TestClient(create_app(engine, registry)) as client:
        assert client.get("/plans", headers=auth(STRONG)).status_code == 200
        clock.advance(timedelta(days=26))  # 2024-06-01
        assert client.get("/plans", headers=auth(STRONG)).status_code == 401


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(engine, TokenRegistry.from_tokens({STRONG: AUDITOR}))) as made:
        yield made


def _row(engine: Engine) -> dict[str, object] | None:
    with engine.db.connect() as connection:
        row = connection.execute(sa.select(api_tokens)).mappings().first()
    return None if row is None else dict(row)


def _revoke(db_url: str, *args: str) -> Result:
    return CliRunner().invoke(
        main, ["--db", db_url, "tokens", "revoke", *args, "--as", "city_officer:赵敏"]
    )


def test_a_revoked_token_is_refused_at_once_and_its_last_use_is_kept(
    client: TestClient, engine: Engine, clock: SimulatedClock, db_url: str
) -> None:
    assert _row(engine) is None
    assert client.get("/plans", headers=auth(STRONG)).status_code == 200
    first = _row(engine)
    assert first is not None
    assert first["last_used_at"] == clock.now()
    clock.advance(timedelta(minutes=5))
    assert client.get("/plans", headers=auth(STRONG)).status_code == 200
    again = _row(engine)
    assert again is not None
    assert again["last_used_at"] == clock.now()

    missing_reason = _revoke(db_url, "--token", STRONG, "--reason", " ")
    assert missing_reason.exit_code == 2
    done = _revoke(db_url, "--digest", hash_token(STRONG), "--reason", "人员调离")
    assert done.exit_code == 0, done.output
    assert client.get("/plans", headers=auth(STRONG)).status_code == 401
    revoked = _row(engine)
    assert revoked is not None
    assert revoked["revoked_by"] == "city_officer:赵敏"
    assert revoked["revoke_reason"] == "人员调离"
    assert revoked["last_used_at"] == again["last_used_at"]  # the refused call is no use


def test_a_digest_that_is_not_hexadecimal_or_not_in_the_file_is_not_revoked(
    tmp_path: Path, engine: Engine, db_url: str
) -> None:
    """A digest copied with one wrong character must not be "revoked" while the real token
    keeps working (review finding): not hexadecimal is refused; with the token file given,
    a whole digest must be one of its entries."""
    wrong = hash_token(STRONG)[:-1] + "z"
    refused = _revoke(db_url, "--digest", wrong, "--reason", "人员调离")
    assert refused.exit_code == 2
    assert "十六进制" in refused.stderr
    path = tmp_path / "tokens.yaml"
    path.write_text(
        yaml.safe_dump({hash_token(STRONG): {"role": "city_officer", "name": "赵敏"}}),
        encoding="utf-8",
    )
    other = hash_token(STRONG)[:-1] + ("0" if hash_token(STRONG)[-1] != "0" else "1")
    unknown = _revoke(db_url, "--digest", other, "--tokens", str(path), "--reason", "人员调离")
    assert unknown.exit_code == 2
    assert "0 个" in unknown.stderr
    assert _row(engine) is None


def test_a_digest_listed_twice_in_the_token_file_is_refused(tmp_path: Path) -> None:
    """Which of two entries for one token counts must not depend on the file's layout: an
    admin lowering a token's role under tokens: while an older top-level line still says
    city_officer (review finding)."""
    digest = hash_token(STRONG)
    both = tmp_path / "both.yaml"
    both.write_text(
        f"{digest}: {{role: city_officer, name: 赵敏}}\n"
        f"tokens:\n  {digest}: {{role: auditor, name: 赵敏}}\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError, match="只能写一处"):
        TokenRegistry.load(both)
    twice = tmp_path / "twice.yaml"
    twice.write_text(
        f"{digest}: {{role: city_officer, name: 赵敏}}\n{digest}: {{role: auditor, name: 赵敏}}\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError, match=r"twice\.yaml:2"):
        TokenRegistry.load(twice)
