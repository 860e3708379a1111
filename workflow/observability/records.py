"""The scheduler's and the dispatcher's log records, and the counters made from them.

A scheduler run (`workflow.scheduler.jobs.run_one`) and a dispatcher batch (`log_batch`, from
``notifications dispatch`` and the scheduler's dispatch job) each write one log record whose
fields say what happened: ``run_id``, ``job``, ``outcome`` for a run; ``claimed``, ``sent``,
``retrying``, ``dead`` for a batch. `count_into` attaches a handler that turns those same
records into the process's counters, so the log line and the metric are one account of the run
and cannot disagree; the modules that run jobs and batches need no metrics object at hand.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from workflow.observability.metrics import Metrics

if TYPE_CHECKING:
    from notifications.dispatch import DispatchReport

JOB_LOGGER = "workflow.scheduler.jobs"
BATCH_LOGGER = "notifications.dispatch"

batch_log = logging.getLogger(BATCH_LOGGER)


def log_batch(report: DispatchReport) -> None:
    """One line per dispatcher batch that did anything (an idle poll writes nothing)."""
    if not (report.claimed or report.abandoned):
        return
    batch_log.info(
        "dispatch batch: %s claimed, %s sent, %s retrying, %s dead",
        report.claimed,
        report.sent,
        report.retrying,
        report.dead,
        extra={
            "batch": True,
            "claimed": report.claimed,
            "sent": report.sent,
            "retrying": report.retrying,
            "dead": report.dead,
            "expired": report.expired,
            "abandoned": report.abandoned,
            "unrouted": report.unrouted,
        },
    )


class RecordCounter(logging.Handler):
    """Counts run and batch records into ``metrics``; writes nothing anywhere."""

    def __init__(self, metrics: Metrics) -> None:
        super().__init__(logging.INFO)
        self.metrics = metrics

    def emit(self, record: logging.LogRecord) -> None:
        fields = vars(record)
        if record.name == JOB_LOGGER and "job" in fields and "outcome" in fields:
            self.metrics.job_ran(str(fields["job"]), str(fields["outcome"]))
        elif record.name == BATCH_LOGGER and fields.get("batch"):
            self.metrics.dispatched(
                sent=int(fields["sent"]),
                retrying=int(fields["retrying"]),
                # a row abandoned by dispatchers that died on it is dead as well
                dead=int(fields["dead"]) + int(fields.get("abandoned") or 0),
            )


def count_into(metrics: Metrics) -> Callable[[], None]:
    """Count this process's run and batch records into ``metrics``; returns the function that
    stops it. The records are INFO: the process's logging must let INFO through (`logs.configure`
    does), or neither the lines nor the counts appear."""
    handler = RecordCounter(metrics)
    loggers = [logging.getLogger(JOB_LOGGER), batch_log]
    for logger in loggers:
        logger.addHandler(handler)

    def stop() -> None:
        for logger in loggers:
            logger.removeHandler(handler)

    return stop
