"""A page of a listing and the cursor to the next one (keyset paging, issue 14 item 2).

A listing continues *after* the last row a page showed (``--after ID``, ``?after=ID``) rather
than after skipping N rows: an ``OFFSET`` makes the database read and throw away every row
before the page (124 ms for a page at a million cases), a cursor is a range on an index and
costs the same on the first page and the ten-thousandth. The cursor is the last row's id; a
page is read with one row more than it shows, and that extra row only says a next page exists,
so the last page says so instead of sending the caller to an empty one.

No SQL here: `workflow.store.keyset` builds the comparison, and the CLI, the API and the console
all cut their pages with `Page.of`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
K = TypeVar("K", int, str)


@dataclass(frozen=True)
class Page(Generic[T, K]):
    """Up to ``limit`` items, and the cursor to pass as ``after`` for the next page (None on
    the last page)."""

    items: list[T]
    next_after: K | None

    @classmethod
    def of(cls, rows: Sequence[T], limit: int, key: Callable[[T], K]) -> Page[T, K]:
        """``rows`` as read with ``limit + 1``: a row beyond ``limit`` means there is more,
        and the next page starts after the last row shown."""
        items = list(rows[:limit])
        more = len(rows) > limit and bool(items)
        return cls(items, key(items[-1]) if more else None)
