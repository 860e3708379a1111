"""``convalescence cases rebook`` and ``cases correct``: put a record right without pretending.

Moving a cadre to another batch, or fixing a mistyped agreement number, used to mean a
withdrawal (本人撤回, counted as a non-completion) and a new case. These two commands record what
happened instead: one history row each, with a mandatory reason and both values (A19.1); the case
keeps its state. Each is a thin shell over `Engine.rebook` / `Engine.correct`, attached to the
``cases`` group by the last line of `workflow.cli.cases`, and prints the case as every ``cases``
command prints it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from workflow.cli import output
from workflow.cli.cases import (
    CASE_ID,
    _print_case,
    actor_option,
    cases,
    expect_version_option,
    parse_data,
)
from workflow.cli.db import open_engine
from workflow.fields import INT_MAX
from workflow.i18n import _
from workflow.machine import Actor

Command = TypeVar("Command", bound=Callable[..., Any])

required_reason_option = click.option(
    "--reason",
    required=True,
    help=_("理由；必填，记入案件历史（A19.1）。"),
)


def field_option(help_text: str, *, required: bool) -> Callable[[Command], Command]:
    """``--field FIELD=VALUE``, repeatable, read as ``cases fire`` reads ``--data``."""
    return click.option(
        "--field",
        "fields",
        multiple=True,
        required=required,
        metavar="FIELD=VALUE",
        callback=parse_data,
        help=help_text,
    )


@cases.command(
    help=_(
        "将案件 CASE_ID 改签到同一年度计划的另一批次 BATCH，名额随之转移（A6.2）。\n\n"
        "不是撤回，也不另开案件：案件状态不变，改签单独记为一条历史（原批次、新批次、理由）。"
        "新批次须通过原批次当初通过的规则（A4.4、A6.2、A8.2、A9.2、A21.1），已投保的还须"
        "保险覆盖新批次的日期（A7.3），可用 --field 同时更正保险；两个批次均须尚未开始（A13.1）。"
        "哪些角色、在哪些状态下可以改签，由流程定义的 corrections.rebook 规定。"
    ),
)
@click.argument("case_id", type=CASE_ID, metavar="CASE_ID")
@click.option(
    "--batch",
    "batch_id",
    required=True,
    type=click.IntRange(1, INT_MAX),
    metavar="BATCH",
    help=_("新批次的编号（见 batches list）。"),
)
@actor_option
@required_reason_option
@field_option(
    _("同时更正的字段，如 covered_until=2024-06-16（可更正的字段由流程定义规定），可重复给出。"),
    required=False,
)
@expect_version_option
@output.json_option
def rebook(
    *,
    case_id: int,
    batch_id: int,
    actor: Actor,
    reason: str,
    fields: dict[str, str],
    expect_version: int | None,
    as_json: bool,
) -> None:
    """The rebook, a history row of its own (help above, through the catalogue)."""
    view = open_engine().rebook(
        case_id,
        batch_id,
        actor=actor,
        reason=reason,
        fields=fields,
        expected_version=expect_version,
    )
    _print_case(view, as_json, explain=False)


@cases.command(
    help=_(
        "更正案件 CASE_ID 已记录的证据，如录错的协议编号、保单号或日期（A7.2）。\n\n"
        "案件状态不变；更正单独记为一条历史，保留更正前后的值和理由（A19.1），此后案件显示"
        "更正后的值。新值按记录该字段的步骤所规定的类型核对，该步骤的规则（如 A7.3 保险覆盖疗养"
        "期间）对更正后的记录重新适用。可更正哪些字段、由哪些角色、在哪些状态下更正，由流程定义的"
        " corrections.correct 规定。"
    ),
)
@click.argument("case_id", type=CASE_ID, metavar="CASE_ID")
@field_option(_("要更正的字段及其新值，每个选项写一项 FIELD=VALUE，可重复给出。"), required=True)
@actor_option
@required_reason_option
@expect_version_option
@output.json_option
def correct(
    *,
    case_id: int,
    fields: dict[str, str],
    actor: Actor,
    reason: str,
    expect_version: int | None,
    as_json: bool,
) -> None:
    """The correction, a history row of its own (help above, through the catalogue)."""
    view = open_engine().correct(
        case_id, fields, actor=actor, reason=reason, expected_version=expect_version
    )
    _print_case(view, as_json, explain=False)
