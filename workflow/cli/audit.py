"""``convalescence audit verify`` and ``audit checkpoint``: check that the append-only history
still is what was written (A19.1), and anchor it outside the database.

A broken chain is a `TamperedError` (exit 6) naming the first broken record, raised to the one
error boundary in `workflow.cli.main` like every other failure; an intact one prints how much was
checked and the digest over every chain's head, which an auditor can note outside the database.
``--against`` also compares the database with checkpoint files (`workflow.audit.checkpoint`),
naming every case, chain tail or row that disappeared or was rewritten since.
"""

from __future__ import annotations

from pathlib import Path

import click

from workflow.audit import checkpoint, verify_database
from workflow.cli import output
from workflow.cli.db import open_engine
from workflow.i18n import _


@click.group(help=_("防篡改的历史记录（A19.1）：历史与例外上的哈希链。"))
def audit() -> None:
    """The audit commands (help above, through the catalogue)."""


@audit.command(
    "verify",
    help=_("校验每条哈希链；链损坏时退出状态为 6，并指出第一条被篡改的记录。"),
    epilog=output.examples(
        "convalescence audit verify",
        "convalescence audit verify --json",
    ),
)
@click.option(
    "--against",
    "against",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="CHECKPOINT",
    help=_("也与检查点文件比对（可重复），列出此后消失或被改写的内容。"),
)
@click.option(
    "--key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="CONVALESCENCE_CHECKPOINT_KEY_FILE",
    help=_("检查点签名密钥文件；给出时每一行检查点都须有有效签名。"),
)
@output.json_option
def verify_command(*, against: tuple[Path, ...], key_file: Path | None, as_json: bool) -> None:
    """The digest printed is over every chain's head, to be noted outside the database."""
    engine = open_engine()
    engine.ensure_schema()  # refuses a database without the schema, like every other command
    report = verify_database(engine.db)
    if report.broken is not None:
        raise report.broken.error()
    compared = 0
    if against:
        key = None if key_file is None else checkpoint.read_key(key_file)
        compared, findings = checkpoint.check(engine.db, list(against), key=key)
        if findings:
            raise checkpoint.mismatch(findings, compared)
    if as_json:
        result = {
            "intact": True,
            "records": report.records,
            "cases": report.cases,
            "batches": report.batches,
            "digest": report.digest,
        }
        if against:
            result["checkpoints"] = compared
        output.print_json(result)
        return
    click.echo(
        _("审计链完好：{cases} 个案件、{batches} 个批次共 {records} 条记录。").format(
            cases=report.cases, batches=report.batches, records=report.records
        )
    )
    click.echo(_("摘要 {digest}").format(digest=report.digest))
    if against:
        click.echo(_("与 {count} 个检查点相符。").format(count=compared))


@audit.command(
    "checkpoint",
    help=_(
        "先校验哈希链，再把每条链的链头与长度、各只增表的行数写入数据库之外的检查点文件"
        "（每行一个，与上一行哈希相连；给出密钥时以 HMAC 签名）。"
    ),
    epilog=output.examples(
        "convalescence audit checkpoint --file checkpoints.jsonl",
    ),
)
@click.option(
    "--file",
    "path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="CONVALESCENCE_CHECKPOINT_FILE",
    help=_("检查点文件（追加一行）；应放在数据库管理员改不了的地方。"),
)
@click.option(
    "--key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="CONVALESCENCE_CHECKPOINT_KEY_FILE",
    help=_("签名密钥文件（至少 16 字节）；不给则只以哈希相连。"),
)
@output.json_option
def checkpoint_command(*, path: Path, key_file: Path | None, as_json: bool) -> None:
    """A broken chain is refused (exit 6) before anything is written."""
    engine = open_engine()
    engine.ensure_schema()
    key = None if key_file is None else checkpoint.read_key(key_file)
    written = checkpoint.write(engine.db, path, at=engine.clock.now(), key=key)
    if as_json:
        output.print_json(
            {
                "file": str(path),
                "at": written.at,
                "hash": written.hash,
                "signed": written.hmac is not None,
                "cases": len(written.cases),
                "batches": len(written.batches),
            }
        )
        return
    click.echo(
        _("检查点已写入 {path}：{cases} 个案件、{batches} 个批次，哈希 {hash}。").format(
            path=path, cases=len(written.cases), batches=len(written.batches), hash=written.hash
        )
    )


# -- issue 18: the invariants benchmarks/soak.py checks after killing its nodes ---------------


@audit.command(
    "invariants",
    help=_(
        "核对案件、历史、批次名额、参加记录、重点走访和发件箱之间必须成立的关系，以及审计链；"
        "有违反时退出状态为 6，并列出违反的记录。"
    ),
    epilog=output.examples(
        "convalescence audit invariants",
        "convalescence audit invariants --json",
    ),
)
@output.json_option
@click.pass_context
def invariants_command(ctx: click.Context, *, as_json: bool) -> None:
    """Read-only; each invariant on its own read (`workflow.invariants`)."""
    from workflow.invariants import check_invariants  # noqa: PLC0415 (loads the definitions)

    engine = open_engine()
    engine.ensure_schema()
    report = check_invariants(engine)
    if as_json:
        output.print_json(report.to_json())
    else:
        rows = [(r.name, r.article, r.checked, r.violations) for r in report.results]
        columns = [_("不变量"), _("条款"), _("核对数"), _("违反数")]
        output.stdout().print(output.table(_("不变量"), columns, rows))
        for result in report.results:
            for example in result.examples:
                output.warn(f"{result.name}: {example}")
    if report.violations:
        output.warn(_("{count} 处违反不变量（见上表）").format(count=report.violations))
        ctx.exit(6)
    if not as_json:
        output.say(_("不变量全部成立：共核对 {count} 项。").format(count=len(report.results)))
