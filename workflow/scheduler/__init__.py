"""The scheduler (A9.3): timers declared on states, condolence visits, outbox delivery.

``run_due(engine)`` runs every job once as of the engine clock's moment (the demo and tests move
a `SimulatedClock` and call it); `SchedulerService` runs APScheduler 3 on whichever node holds
the database lease (``convalescence scheduler run``).
"""

from workflow.scheduler.condolence import CondolenceReport, open_visit, sweep_condolence
from workflow.scheduler.jobs import JOBS, run_due, run_one
from workflow.scheduler.service import SchedulerService
from workflow.scheduler.timers import SCHEDULER, TimerReport, sweep_timers
from workflow.store.lease import LeaseKeeper, current_holder

__all__ = [
    "JOBS",
    "SCHEDULER",
    "CondolenceReport",
    "LeaseKeeper",
    "SchedulerService",
    "TimerReport",
    "current_holder",
    "open_visit",
    "run_due",
    "run_one",
    "sweep_condolence",
    "sweep_timers",
]
