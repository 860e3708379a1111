"""What someone on call sees of a running node: Prometheus metrics and structured logs.

* `workflow.observability.steps`: the facade's hook where every step ends (standard library
  only: the engine imports it, a host embedding the engine pays nothing for it).
* `workflow.observability.metrics`: one `Metrics` per app or process, each with its own
  Prometheus registry, so two apps in one process (the tests) never share a counter.
* `workflow.observability.database`: the figures that describe the database rather than the
  process (outbox depth, scheduler runs), read at scrape time, so every node reports the same.
* `workflow.observability.logs`: JSON (or text) log lines with the request id and actor.
* `workflow.observability.http`: the ASGI middleware that gives each request its id, its
  access-log line and its duration.
"""
