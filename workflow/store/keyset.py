"""Keyset paging in SQL: the rows of a listing that sort after a cursor (issue 14 item 2).

A page ends at some row; the next begins with the rows whose sort key compares after that
row's, written as one row-value comparison, ``(due_on, id) > (:due_on, :id)``, which both
SQLite and PostgreSQL turn into a range on an index whose columns are the listing's filter
followed by its sort key (``ix_tasks_open_county_due_on_id``). So a page deep in a million rows
costs what the first one does, and a filter that matches nothing is an empty range, not a scan.
Every listing's order ends with its unique ``id``, so the order is total and no row is skipped
or shown twice between pages even when sort keys tie.

Used by the case, task and outbox listings here, and meant for any other (cadres, the console's
lists): build the listing's SELECT with its filters, then `page_after` adds the cursor, the
order and the limit (one row more than the page, see `workflow.paging.Page`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa


def after(
    order: Sequence[sa.ColumnElement[Any]], last: Sequence[Any], *, descending: bool = False
) -> sa.ColumnElement[bool]:
    """The rows that come after ``last`` (the sort key of a page's last row) in ``order``."""
    if len(order) == 1:
        single: sa.ColumnElement[bool] = order[0] < last[0] if descending else order[0] > last[0]
        return single
    key = sa.tuple_(*order)
    pairs = zip(order, last, strict=True)  # a cursor has one value per column of the order
    values = sa.tuple_(*(sa.literal(value, column.type) for column, value in pairs))
    return key < values if descending else key > values


def page_after(
    query: sa.Select[Any],
    order: Sequence[sa.ColumnElement[Any]],
    last: Sequence[Any] | None,
    *,
    limit: int,
    descending: bool = False,
) -> sa.Select[Any]:
    """``query`` continued after ``last`` (from the start when None), in ``order``, reading
    ``limit`` rows (callers ask for one more than they show)."""
    if last is not None:
        query = query.where(after(order, last, descending=descending))
    ordered = [column.desc() if descending else column for column in order]
    return query.order_by(*ordered).limit(limit)
