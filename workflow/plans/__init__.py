"""Annual plans, cycles, batches and contractors (art. 6, 9-16, 18): the use cases.

`rules` holds the pure checks, `service` the functions the CLI, the API and host programs call;
every statement they need is `workflow.store.plans`'s, the seat counter the approval step calls
inside its own transaction is `workflow.store.seats` (re-exported as `seats` and below, the
names host programs and the engine have always imported).
"""

from __future__ import annotations

from workflow.plans.seats import release_seat, take_seat

__all__ = ["release_seat", "take_seat"]
