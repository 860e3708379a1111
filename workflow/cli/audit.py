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
from workflow.i18n import _


@click.group(help=_("防篡改的历史记录（A19.1）：历史与例外上的哈希链。"))
def audit() -> None:
    """The audit commands (help above, through the catalogue)."""


@audit.command(
    "verify",
    help=_("校验每条哈希链；链损坏时退出状态为 6，并指出第一条被篡改的记录。"),
    epilog=output.examples("convalescence audit verify", "convalescence audit verify --json"),
)
@output.json_option
def verify_command(*, as_json: bool) -> None:
    """The digest printed is over every chain's head, to be noted outside the database."""
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
        _("审计链完好：{cases} 个案件、{batches} 个批次共 {records} 条记录。").format(
            cases=report.cases, batches=report.batches, records=report.records
        )
    )
    click.echo(_("摘要 {digest}").format(digest=report.digest))
