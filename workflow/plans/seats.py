"""Seats in a batch (A6.2): kept at this path for the approval step and host programs.

The statements live in `workflow.store.seats` (every SQL statement sits behind
`workflow/store/`); the names here are the same functions, so ``from workflow.plans import
seats`` and ``seats.take_seat(connection, …)`` keep working.
"""

from __future__ import annotations

from workflow.store.seats import batch_facts, held_seat, release_seat, take_seat

__all__ = ["batch_facts", "held_seat", "release_seat", "take_seat"]
