"""The ``--as ROLE:NAME@SCOPE`` option of the commands that write without a case step
(publishing a definition, carrying cases over): who acts, recorded in the admin log or the
case's history (A19.1) and checked against the definition's ``rules.permissions`` (A5.2).

Light on purpose: it imports no engine, so a group's ``--help`` stays cheap.
"""

from __future__ import annotations

import click

from workflow.errors import InputError
from workflow.i18n import _
from workflow.machine import Actor


def _actor(_ctx: click.Context, _param: click.Parameter, value: str) -> Actor:
    try:
        return Actor.parse(value)
    except InputError as error:
        raise click.BadParameter(error.message) from None


as_option = click.option(
    "--as",
    "actor",
    required=True,
    callback=_actor,
    metavar="ROLE:NAME@SCOPE",
    help=_(
        "谁在操作（必填），如 city_officer:张伟@聊城市；按流程定义的 rules.permissions 检查"
        "（A5.2），并记入审计记录（A19.1）。"
    ),
)
