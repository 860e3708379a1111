"""``convalescence definitions publish`` and ``definitions list``: the versions an office puts
into the database (A21.1), so a successor policy needs no release and no edit of installed files.

Attached to the ``definitions`` group (`workflow.cli.definitions`); unlike the other definition
commands these two use the database.
"""

from __future__ import annotations

from pathlib import Path

import click

from workflow.cli import output
from workflow.cli.actor import as_option
from workflow.errors import DefinitionError, Problem
from workflow.i18n import _
from workflow.machine import Actor


@click.command(
    "publish",
    short_help=_("把新版本发布到数据库（A21.1）"),
    help=_(
        "把流程定义的新版本发布到数据库（A21.1）：先像 validate 一样全面校验（问题逐条列出"
        "“文件:行:列”，退出状态 2），再与已有版本比对——同一版本号内容不同、有效期与其他版本"
        "重叠、migrates_from 映射写错或会让在办案件无处可去，均拒绝且不写入。发布后 CLI、API、"
        "定时任务和其他节点数秒内即按新版本办理，无需升级软件。\n\n"
        "有效期与前一版本重叠时，须加 --cut-short-previous 并以 --reason 说明，前一版本即到"
        "新版本生效前一日为止；谁、何时、为何均记入管理日志（A19.1）。"
    ),
    epilog=output.examples(
        "convalescence definitions publish honor_convalescence-v2.yaml "
        "--as city_officer:张伟@聊城市",
        "convalescence definitions publish honor_convalescence-v2.yaml "
        "--as city_officer:张伟@聊城市 --json",
    ),
)
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@as_option
@click.option(
    "--cut-short-previous",
    is_flag=True,
    help=_("有效期重叠时，让前一版本到本版本生效前一日为止（须同时给出 --reason）。"),
)
@click.option("--reason", help=_("提前终止前一版本的理由（记入管理日志）。"))
@output.json_option
def publish(
    file: Path, actor: Actor, cut_short_previous: bool, reason: str | None, as_json: bool
) -> None:
    """Publish ``file``; every refusal says why and writes nothing."""
    from workflow import publishing  # noqa: PLC0415 (the loader and store only when run)
    from workflow.cli.db import open_engine  # noqa: PLC0415

    if cut_short_previous and not (reason and reason.strip()):
        raise click.UsageError(_("--cut-short-previous 须同时用 --reason 说明理由（A19.1）"))
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DefinitionError(
            [Problem(str(file), 1, 1, _("无法读取文件：{reason}").format(reason=exc))]
        ) from exc
    engine = open_engine()
    outcome = publishing.publish(
        engine,
        text,
        str(file),
        actor=actor,
        cut_short_reason=reason if cut_short_previous else None,
    )
    if as_json:
        output.print_json(outcome.to_json())
        return
    if outcome.already:
        output.say(
            _("{name} 第 {version} 版已发布过（内容相同），未重复写入").format(
                name=outcome.name, version=outcome.version
            )
        )
        return
    if outcome.cut_short is not None:
        earlier, last_day = outcome.cut_short
        output.say(
            _("第 {version} 版提前至 {day} 终止（已记入管理日志）").format(
                version=earlier, day=last_day.isoformat()
            )
        )
    output.say(
        _("已发布 {name} 第 {version} 版，有效期 {start} 至 {end}（内容摘要 {digest}）").format(
            name=outcome.name,
            version=outcome.version,
            start=outcome.effective_from.isoformat(),
            end=outcome.effective_until.isoformat() if outcome.effective_until else _("另行通知"),
            digest=outcome.content_hash[:12],
        ),
        style="green",
    )


@click.command(
    "list",
    short_help=_("列出全部版本、有效期与案件数"),
    help=_(
        "列出每个流程定义的全部版本（内置文件与已发布的）：有效期（含提前终止）、今天是否施行、"
        "来源、发布人，以及按该版本办理的在办案件数和案件总数。"
    ),
    epilog=output.examples(
        "convalescence definitions list --as auditor:审计员",
        "convalescence definitions list --as city_officer:张伟@聊城市 --json",
    ),
)
@as_option
@output.json_option
def list_versions(actor: Actor, as_json: bool) -> None:
    from workflow import publishing  # noqa: PLC0415
    from workflow.cli.db import open_engine  # noqa: PLC0415

    listing = publishing.versions(open_engine(), actor=actor)
    if as_json:
        output.print_json([row.to_json() for row in listing])
        return
    rows = [
        (
            row.name,
            row.version,
            row.document,
            row.effective_from.isoformat(),
            (row.effective_until.isoformat() if row.effective_until else _("另行通知"))
            + (_("（提前终止）") if row.cut_short else ""),
            row.in_force,
            _("已发布：{who}").format(who=row.published_by)
            if row.source == "published"
            else _("内置文件"),
            row.open_cases,
            row.cases,
        )
        for row in listing
    ]
    output.stdout().print(
        output.table(
            _("流程定义版本"),
            [
                _("名称"),
                _("版本"),
                _("文号"),
                _("生效"),
                _("有效至"),
                _("今天施行"),
                _("来源"),
                _("在办案件"),
                _("案件总数"),
            ],
            rows,
        )
    )
