"""The annual plans a registration is checked against (A3.2, `annual_plan_for_registration`):
one small read the registration step makes in its own transaction."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from workflow.store.schema import plans


def annual_plans(connection: sa.Connection, year: int) -> list[dict[str, Any]]:
    """Every plan of ``year``: id, organiser level, county, year and cycle."""
    rows = connection.execute(
        sa.select(
            plans.c.id, plans.c.organiser_level, plans.c.county, plans.c.year, plans.c.cycle
        ).where(plans.c.year == year)
    )
    return [dict(row._mapping) for row in rows]
