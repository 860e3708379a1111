"""The day from which a scheduler sweep has work on a case (``cases.sweep_on``, revision 0021).

The step that moves a case writes it, in the same statement that moves the case, so the sweeps
find their work through one partial index instead of reading every case each period:

* a state with timers: the entry day plus the smallest ``after``. A deadline of N working days
  is never earlier than N calendar days after the entry, whatever the holiday data says, so the
  bound needs no calendar; the timer sweep replaces it with the next real deadline
  (`workflow.scheduler.timers`);
* a terminal state outside the participating states of a definition that keeps cycles: the day
  the case ended. It may be a cadre who could not attend (A9.3), and the condolence sweep looks
  at it once (`workflow.scheduler.condolence`);
* anything else: no day.

A step that keeps the state (an exception granted, a correction) does not restart the stay's
clock, and the store keeps the day the stay already has.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from workflow.clock import shanghai_date
from workflow.definition.model import Definition


def sweep_on(definition: Definition, state: str, entered: datetime) -> date | None:
    """The day a case that enters ``state`` at ``entered`` first needs a sweep, or None."""
    spec = definition.state(state)
    day = shanghai_date(entered)
    if spec.timers:
        return day + timedelta(days=min(timer.after for timer in spec.timers))
    rules = definition.rules
    if spec.terminal and rules is not None and rules.cycles:
        return None if state in rules.participation_states else day
    return None
