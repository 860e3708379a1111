"""`Metrics`: one process's counters, in a Prometheus registry of its own.

Each app (`workflow.api.app.create_app`) and each long-running command (``scheduler run``,
``notifications dispatch``) builds one `Metrics`; nothing is registered in prometheus_client's
global registry, so two apps in one process (the tests, a host serving two databases) never
count into each other. What these counters say is what this process did since it started:
Prometheus scrapes every process and sums them (``sum by (trigger, outcome)``). What describes
the database itself (the outbox, the scheduler's runs) is read at scrape time instead
(`workflow.observability.database`), so it is the same whichever node answers.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest, start_http_server
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from workflow.observability.steps import OUTCOMES, StepEnded

if TYPE_CHECKING:
    from workflow.engine import Engine

# step names that are no trigger of a definition (`workflow.engine.Engine`)
ENGINE_STEPS = ("open", "grant_exception", "rebook", "correct")
OTHER = "other"  # the label of a trigger no definition knows (a typo in a URL, say)
# request and step latencies: a step is ~5-50 ms, a report or a what-if several seconds
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# ``serve --workers N`` sets it for its workers: each worker's counters go to files there, and
# whichever worker a scrape reaches adds them all up (prometheus_client's multiprocess mode)
MULTIPROCESS_VAR = "PROMETHEUS_MULTIPROC_DIR"
JOB_OUTCOMES = ("done", "incomplete", "failed", "skipped")
DISPATCH_FAILURES = ("retrying", "dead")


class Metrics:
    """The per-process metrics. ``known_triggers`` returns the triggers the definitions know:
    a trigger outside it is counted as ``other``, so a caller cannot mint label values (and
    with them time series) by posting to made-up step names."""

    def __init__(self, *, known_triggers: Callable[[], Collection[str]] | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._known = known_triggers
        r = self.registry
        self.steps = Counter(
            "convalescence_steps",
            "Steps this process ran, by trigger and outcome "
            "(done, refused, conflict, bad_input, not_found, unavailable, error).",
            ["trigger", "outcome"],
            registry=r,
        )
        self.step_seconds = Histogram(
            "convalescence_step_duration_seconds",
            "How long a step took in the engine, whatever its outcome.",
            ["trigger"],
            buckets=BUCKETS,
            registry=r,
        )
        self.refusals = Counter(
            "convalescence_refusals",
            "Policy refusals, one per article cited (a step refused by two rules counts twice).",
            ["article"],
            registry=r,
        )
        self.conflicts = Counter(
            "convalescence_conflicts",
            "Steps that lost a race: the case moved between the caller's read and its write.",
            ["trigger"],
            registry=r,
        )
        self.requests = Counter(
            "convalescence_http_requests",
            "API requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "convalescence_http_request_duration_seconds",
            "API request durations, from the first byte in to the last byte out.",
            ["method", "route"],
            buckets=BUCKETS,
            registry=r,
        )
        self.dispatch_failures = Counter(
            "convalescence_dispatch_failures",
            "Notice deliveries that failed in this process: retrying later, or dead.",
            ["outcome"],
            registry=r,
        )
        self.dispatch_sent = Counter(
            "convalescence_dispatch_sent", "Notices this process delivered.", registry=r
        )
        self.job_runs = Counter(
            "convalescence_scheduler_job_runs",
            "Scheduler job runs in this process: done, incomplete (runs again), failed, "
            "skipped (another node ran that slot).",
            ["job", "outcome"],
            registry=r,
        )
        shared = os.environ.get(MULTIPROCESS_VAR)
        if shared:
            # the counters above write to files in ``shared``; a scrape reads every worker's
            self.exposed = CollectorRegistry()
            MultiProcessCollector(self.exposed, path=shared)  # type: ignore[no-untyped-call]
        else:
            self.exposed = r
            ProcessCollector(registry=r)  # process_cpu_seconds_total, resident memory, open fds
        for outcome in DISPATCH_FAILURES:  # present from the first scrape, at 0
            self.dispatch_failures.labels(outcome)

    # -- what the process reports ---------------------------------------------------------

    def step_ended(self, ended: StepEnded) -> None:
        """The engine's step observer (`workflow.observability.steps`)."""
        trigger = self._trigger_label(ended.trigger)
        outcome = ended.outcome if ended.outcome in OUTCOMES else "error"
        self.steps.labels(trigger, outcome).inc()
        self.step_seconds.labels(trigger).observe(ended.seconds)
        for article in ended.articles:
            self.refusals.labels(article).inc()
        if outcome == "conflict":
            self.conflicts.labels(trigger).inc()

    def dispatched(self, *, sent: int, retrying: int, dead: int) -> None:
        """One dispatcher batch's outcome (``notifications dispatch``, the scheduler's job)."""
        self.dispatch_sent.inc(sent)
        self.dispatch_failures.labels("retrying").inc(retrying)
        self.dispatch_failures.labels("dead").inc(dead)

    def job_ran(self, job: str, outcome: str) -> None:
        self.job_runs.labels(job, outcome if outcome in JOB_OUTCOMES else "failed").inc()

    def request_done(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.request_seconds.labels(method, route).observe(seconds)

    # -- exposition -------------------------------------------------------------------------

    def add_collector(self, collector: Collector) -> None:
        """Expose ``collector``'s figures beside the counters (the database's, on the API)."""
        self.exposed.register(collector)

    def exposition(self) -> tuple[bytes, str]:
        """The Prometheus text format of everything exposed, and its content type."""
        return generate_latest(self.exposed), CONTENT_TYPE_LATEST

    def serve(self, host: str, port: int) -> Any:
        """Serve ``/metrics`` on ``host:port`` from a daemon thread (the scheduler and the
        dispatcher, which have no API of their own); returns the server (``shutdown()``)."""
        server, _thread = start_http_server(port, addr=host, registry=self.exposed)
        return server

    def _trigger_label(self, trigger: str) -> str:
        if trigger in ENGINE_STEPS or self._known is None:
            return trigger
        return trigger if trigger in self._known() else OTHER


class CatalogTriggers:
    """The triggers of an engine's definitions, gathered again only when the catalogue
    changes (a version published on another node): the known-trigger check of `Metrics`."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._catalog: object = None
        self._triggers: frozenset[str] = frozenset()

    def __call__(self) -> frozenset[str]:
        catalog = self._engine.catalog
        with self._lock:
            if catalog is not self._catalog:
                self._triggers = frozenset(t for d in catalog for t in d.triggers)
                self._catalog = catalog
            return self._triggers
