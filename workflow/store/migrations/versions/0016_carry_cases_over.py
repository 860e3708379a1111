"""Cases carried over to a successor definition (A21.1, issue 13): a case's definition and cycle
may now change, but only as the case's state does, with the history row of its new version.

Revision 0011 fixed both columns when a case opened. ``cases migrate`` moves an open case onto
a successor version (and the successor's cycle) in one step with its own history row; the
triggers are recreated so that ``definition_id`` and ``cycle`` are among the columns that move
only with a history row, and everything else 0011 fixed stays fixed. ``audit verify`` checks the
columns against the last carry-over row of the chain.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01
"""

from __future__ import annotations

import importlib

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

CARRIED = ("definition_id", "cycle")
_guard = importlib.import_module("workflow.store.migrations.versions.0011_case_row_guard")


def upgrade() -> None:
    connection = op.get_bind()
    _guard.drop_triggers(connection)
    _guard.create_triggers(
        connection,
        fixed_columns=tuple(c for c in _guard.FIXED if c not in CARRIED),
        moved_columns=(*_guard.MOVED, *CARRIED),
    )


def downgrade() -> None:
    connection = op.get_bind()
    _guard.drop_triggers(connection)
    _guard.create_triggers(connection)
