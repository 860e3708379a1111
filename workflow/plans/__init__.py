"""Annual plans, cycles, batches and contractors (art. 6, 9-16, 18): the data layer.

`rules` holds the pure checks, `seats` the compare-and-set seat counter the approval step will
call inside its own transaction, `service` the engine-level functions the CLI uses.
"""

from __future__ import annotations

from workflow.plans.seats import release_seat, take_seat

__all__ = ["release_seat", "take_seat"]
