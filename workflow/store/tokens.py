"""API tokens' life in the database (issue 17): revocation and last use, by token digest.

The token file says who a token acts as; this table says whether it is still honoured and when
it was last used, so a revocation reaches every worker at once without editing the file.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from workflow.store.schema import api_tokens

Transaction = Callable[..., AbstractContextManager[sa.Connection]]
TOUCH_EVERY = timedelta(minutes=1)  # last use is written at most this often per token


@dataclass(frozen=True)
class TokenState:
    digest: str
    last_used_at: datetime | None
    revoked_at: datetime | None
    revoked_by: str | None
    revoke_reason: str | None


def state(transaction: Transaction, digest: str) -> TokenState | None:
    with transaction() as connection:
        row = connection.execute(sa.select(api_tokens).where(api_tokens.c.digest == digest)).first()
    return None if row is None else TokenState(**row._mapping)


def used(transaction: Transaction, digest: str, now: datetime) -> bool:
    """Record a use of ``digest`` at ``now``; False if the token is revoked (nothing written).
    The read comes first and the write only once a minute, so requests do not queue on it."""
    found = state(transaction, digest)
    if found is not None and found.revoked_at is not None:
        return False
    last = None if found is None else found.last_used_at
    if last is not None and now - last < TOUCH_EVERY:
        return True
    with transaction(write=True) as connection:
        connection.execute(_insert_missing(connection, digest))
        connection.execute(
            sa.update(api_tokens)
            .where(api_tokens.c.digest == digest, api_tokens.c.revoked_at.is_(None))
            .values(last_used_at=now)
        )
    return True


def revoke(
    transaction: Transaction, digest: str, *, now: datetime, by: str, reason: str
) -> TokenState:
    """Revoke ``digest`` from ``now`` on; revoking twice keeps the first record."""
    with transaction(write=True) as connection:
        connection.execute(_insert_missing(connection, digest))
        connection.execute(
            sa.update(api_tokens)
            .where(api_tokens.c.digest == digest, api_tokens.c.revoked_at.is_(None))
            .values(revoked_at=now, revoked_by=by[:200], revoke_reason=reason)
        )
    found = state(transaction, digest)
    assert found is not None
    return found


def _insert_missing(connection: sa.Connection, digest: str) -> sa.Executable:
    """The token's row, unless it exists (two first uses at once insert it once)."""
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    return insert(api_tokens).values(digest=digest).on_conflict_do_nothing()
