"""``convalescence audit verify``: check that the append-only history still is what was written
(A19.1).

A broken chain is a `TamperedError` (exit 6) naming the first broken record, raised to the one
error boundary in `workflow.cli.main` like every other failure; an intact one prints how much was
checked and the digest over every chain's head, which an auditor can note outside the database.
"""

from __future__ import annotations

import click

from workflow.audit import verify_database
from workflow.cli import output
from workflow.cli.db import open_engine


@click.group()
def audit() -> None:
    """Tamper-evident history (A19.1): hash chains over history and exceptions."""


@audit.command("verify")
@output.json_option
def verify_command(*, as_json: bool) -> None:
    """Check every hash chain; exit 6 naming the first broken record."""
    engine = open_engine()
    engine.ensure_schema()  # refuses a database without the schema, like every other command
    report = verify_database(engine.db)
    if report.broken is not None:
        raise report.broken.error()
    if as_json:
        output.print_json(
            {
                "intact": True,
                "records": report.records,
                "cases": report.cases,
                "batches": report.batches,
                "digest": report.digest,
            }
        )
        return
    click.echo(
        f"审计链完好：{report.cases} 个案件、{report.batches} 个批次共 {report.records} 条记录。"
        f"chain intact: {report.records} records in {report.cases} cases"
        f" and {report.batches} batches"
    )
    click.echo(f"digest {report.digest}")
