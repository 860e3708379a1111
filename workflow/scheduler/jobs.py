"""The scheduler's jobs, and the two ways to run them: `run_due` (once, at the engine clock's
moment: `scheduler run --once --now`, the demo and the tests) and `run_job` (APScheduler's
target in the service).

Every job is a sweep whose effects are guarded by unique keys (timer marks, visit keys, task and
outbox keys), so running one twice creates nothing twice. On top of that each run first inserts a
``scheduler_runs`` row unique per (job, slot): the slot is the business moment for `run_due`, and
the wall-clock period for the service, so two nodes that both believe they hold the lease for a
moment still run a period's sweep once, and officers can see when each job last ran.

Jobs run on their own: `run_due` runs every job even when one fails, and reports the failure in
that job's result. A run whose result says it could not do everything (a timer failed, or
working-day timers wait for holiday data) is kept but left unfinished, so the next attempt for
the same slot runs it again once the cause is mended.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from notifications.channels import Channel, ChannelSettings, build_channels
from notifications.dispatch import DEFAULT_BATCH, DispatchReport, dispatch
from workflow.audit import checkpoint
from workflow.calendar import WorkingCalendar
from workflow.clock import SHANGHAI
from workflow.engine import Engine
from workflow.errors import WorkflowError
from workflow.observability.records import log_batch
from workflow.scheduler.condolence import sweep_condolence
from workflow.scheduler.timers import sweep_timers
from workflow.store import scheduler as store
from workflow.store.outbox import SqlOutbox

log = logging.getLogger(__name__)

JobResult = dict[str, Any]
INCOMPLETE_KEYS = ("problems", "calendar_missing")  # a result with one of these ran only in part


@dataclass(frozen=True)
class JobContext:
    """What a job needs beside the engine: delivery channels (``None``: from the environment)
    and the working-day calendar (``None``: the built-in notices)."""

    channels: Mapping[str, Channel] | None = None
    calendar: WorkingCalendar | None = None


@dataclass(frozen=True)
class JobSpec:
    """A job: what it runs, and how often the service runs it (seconds, or a daily hour)."""

    name: str
    run: Callable[[Engine, JobContext], JobResult]
    every_seconds: float | None = None
    daily_at_hour: int | None = None
    label: str = ""
    due: bool = True  # run by `run_due` too (the sweeps); False: only on the service's schedule


def _condolence(engine: Engine, _context: JobContext) -> JobResult:
    return sweep_condolence(engine).to_json()


def _timers(engine: Engine, context: JobContext) -> JobResult:
    return sweep_timers(engine, calendar=context.calendar).to_json()


def _dispatch(engine: Engine, context: JobContext) -> JobResult:
    """Deliver everything due (issue 6): batches until a batch comes back short."""
    channels = context.channels
    if channels is None:
        channels = build_channels(ChannelSettings.from_env())
    total = DispatchReport()
    while True:
        report = dispatch(SqlOutbox(engine.db), channels, engine.clock, batch=DEFAULT_BATCH)
        log_batch(report)  # one line per batch (issue 18; workflow.observability.records)
        total = total + report
        if report.claimed < DEFAULT_BATCH:
            break
    result = total.to_json()
    result.pop("failures", None)
    return result


CHECKPOINT_FILE = "CONVALESCENCE_CHECKPOINT_FILE"
CHECKPOINT_KEY_FILE = "CONVALESCENCE_CHECKPOINT_KEY_FILE"


def _checkpoint(engine: Engine, _context: JobContext) -> JobResult:
    """An audit checkpoint (A19.1) appended to ``$CONVALESCENCE_CHECKPOINT_FILE`` (strftime codes
    in the name, e.g. ``%Y-%m``, start a new file each period), signed with the key in
    ``$CONVALESCENCE_CHECKPOINT_KEY_FILE`` when set. A broken chain fails the job (exit 6 in its
    result) and writes nothing."""
    target = os.environ.get(CHECKPOINT_FILE)
    if not target:
        log.warning("no audit checkpoint: %s is not set", CHECKPOINT_FILE)
        return {"skipped": f"{CHECKPOINT_FILE} is not set"}
    now = engine.clock.now()
    key_file = os.environ.get(CHECKPOINT_KEY_FILE)
    key = checkpoint.read_key(Path(key_file)) if key_file else None
    path = Path(now.strftime(target))
    written = checkpoint.write(engine.db, path, at=now, key=key)
    return {
        "file": str(path),
        "hash": written.hash,
        "signed": written.hmac is not None,
        "cases": len(written.cases),
    }


# In the order `run_due` runs them: new visits first, so their timers and notices follow at once.
JOBS: dict[str, JobSpec] = {
    spec.name: spec
    for spec in (
        JobSpec("condolence", _condolence, daily_at_hour=2, label="重点走访慰问排查（A9.3）"),
        JobSpec("timers", _timers, every_seconds=3600, label="状态期限提醒与督办"),
        JobSpec("dispatch", _dispatch, every_seconds=60, label="发送通知（发件箱）"),
        JobSpec("checkpoint", _checkpoint, daily_at_hour=3, label="审计检查点（A19.1）", due=False),
    )
}
DUE = tuple(name for name, spec in JOBS.items() if spec.due)


def claim_run(engine: Engine, job: str, slot: datetime, holder: str) -> int | None:
    """The (job, slot) run's id if this caller is the one to run it, else None (see
    `workflow.store.scheduler.claim_run`: a killed or incomplete run is taken over)."""
    with engine.transaction(write=True) as connection:
        return store.claim_run(connection, job, slot, holder, datetime.now(UTC))


def release_run(engine: Engine, run_id: int) -> None:
    """Give a failed run's slot back, so the next attempt for that moment runs it."""
    with engine.transaction(write=True) as connection:
        store.release_run(connection, run_id)


def is_complete(result: JobResult) -> bool:
    return not any(result.get(key) for key in INCOMPLETE_KEYS)


def finish_run(engine: Engine, run_id: int, result: JobResult) -> None:
    """Store the run's result; an incomplete one stays unfinished so its slot can run again."""
    finished = datetime.now(UTC) if is_complete(result) else None
    with engine.transaction(write=True) as connection:
        store.finish_run(connection, run_id, result, finished)


def run_one(
    engine: Engine,
    name: str,
    *,
    slot: datetime,
    holder: str,
    context: JobContext | None = None,
) -> JobResult | None:
    """Run job ``name`` for ``slot`` unless some node already did; None when skipped."""
    run_id = claim_run(engine, name, slot, holder)
    # each run's record carries its fields (issue 18): the JSON log line and the scheduler's
    # run counters are both made from it (workflow.observability.records)
    fields: dict[str, object] = {"job": name, "slot": slot.isoformat(), "holder": holder}
    if run_id is None:
        log.info(
            "job %s for %s already ran",
            name,
            slot.isoformat(),
            extra=fields | {"outcome": "skipped"},
        )
        return None
    fields["run_id"] = run_id
    try:
        result = JOBS[name].run(engine, context or JobContext())
    except Exception:
        release_run(engine, run_id)
        log.warning("job %s failed; slot given back", name, extra=fields | {"outcome": "failed"})
        raise
    finish_run(engine, run_id, result)
    outcome = "done" if is_complete(result) else "incomplete"
    log.info(
        "job %s ran for %s: %s",
        name,
        slot.isoformat(),
        outcome,
        extra=fields | {"outcome": outcome, "result": result},
    )
    return result


def run_due(
    engine: Engine,
    *,
    holder: str = "once",
    context: JobContext | None = None,
    jobs: tuple[str, ...] = DUE,
) -> dict[str, JobResult | None]:
    """Run every sweep (or ``jobs``) as of the engine clock's moment, in order; a job already
    run for that moment is skipped (``None``). The demo and tests move a `SimulatedClock` and
    call this. The audit checkpoint is not a sweep: it runs on the service's schedule, or by
    ``audit checkpoint``, or when named in ``jobs``.

    A job that raises does not stop the others: its result is ``{"error": message,
    "exit_code": n}`` (the error's exit code; 70 for an unexpected one, logged with its
    traceback) and its slot is given back, so the next run for that moment tries again."""
    slot = engine.clock.now()
    results: dict[str, JobResult | None] = {}
    for name in jobs:
        try:
            results[name] = run_one(engine, name, slot=slot, holder=holder, context=context)
        except WorkflowError as error:
            log.warning("job %s failed: %s", name, error)
            results[name] = {"error": str(error), "exit_code": error.exit_code}
        except Exception as error:
            log.exception("job %s failed", name)
            results[name] = {"error": f"{type(error).__name__}: {error}", "exit_code": 70}
    return results


# -- the APScheduler side -------------------------------------------------------------------


@dataclass
class Runtime:
    """What a job run needs in this process; set by the service that holds the lease.

    APScheduler pickles a job's callable reference and arguments only, so the engine cannot
    travel with the job: `run_job` finds it here."""

    engine: Engine
    holder: str
    holds_lease: Callable[[], bool]
    periods: dict[str, float]
    context: JobContext | None = None


_runtime: list[Runtime] = []  # at most one: the lease holder's, in this process


def install(runtime: Runtime | None) -> None:
    _runtime[:] = [] if runtime is None else [runtime]


def period_slot(moment: float, period: float) -> datetime:
    """The start of the period ``moment`` falls in, counted in Asia/Shanghai: a daily job's slot
    is the Shanghai calendar day, so a run caught up after midnight UTC cannot take the next
    day's slot."""
    offset = datetime.fromtimestamp(moment, SHANGHAI).utcoffset() or timedelta(0)
    local = moment + offset.total_seconds()
    return datetime.fromtimestamp(math.floor(local / period) * period - offset.total_seconds(), UTC)


def run_job(name: str) -> None:
    """APScheduler's target (``workflow.scheduler.jobs:run_job``; keep the name: the job table
    stores it). Runs only while this process holds the lease."""
    runtime = _runtime[0] if _runtime else None
    if runtime is None:
        log.error("job %s fired in a process with no scheduler runtime; skipped", name)
        return
    if not runtime.holds_lease():
        log.warning("job %s skipped: this node no longer holds the scheduler lease", name)
        return
    slot = period_slot(time.time(), runtime.periods.get(name, 60.0))
    try:
        result = run_one(
            runtime.engine, name, slot=slot, holder=runtime.holder, context=runtime.context
        )
    except Exception:
        # APScheduler would log it too; this names the job in our own log, and the next period
        # tries again (every effect is keyed, so a half-done run is simply finished then).
        log.exception("job %s failed", name)
        raise
    if result is not None and result.get("problems"):
        # a calendar gap alone is not repeated here: the timers sweep says it once a day
        log.warning("job %s ran only in part: %s", name, result["problems"])
